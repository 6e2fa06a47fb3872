"""Build the object store a command publishes to, from a target and the settings."""

from __future__ import annotations

from pathlib import Path

from replay.domain.errors import ReplayError
from replay.settings import Settings
from replay.storage.local import LocalDirectoryStore
from replay.storage.port import ObjectStore


def object_store_for(target: str | None, settings: Settings) -> ObjectStore:
    """None or "" is the settings' ``object_store_url``, itself by default the local site
    directory; "s3://bucket/prefix" an S3 bucket (endpoint and region from the settings,
    credentials from boto3's usual sources); a path or a file:// URL another local
    directory."""
    target = target or settings.object_store_url
    if not target:
        return LocalDirectoryStore(settings.site_dir)
    scheme, sep, rest = target.partition("://")
    if not sep:
        return LocalDirectoryStore(Path(target).expanduser())
    if scheme.lower() == "file":
        return LocalDirectoryStore(Path(rest))
    if scheme.lower() != "s3":
        raise ReplayError(f"cannot publish to {target!r}: write s3://BUCKET/PREFIX or a "
                          "directory")
    from replay.storage.s3 import parse_s3_url

    bucket, prefix = parse_s3_url(target)
    try:
        from replay.storage.s3 import S3Store

        return S3Store(bucket, prefix, endpoint_url=settings.s3_endpoint_url or None,
                       region=settings.s3_region or None)
    except ImportError as exc:
        raise ReplayError("publishing to S3 needs boto3: pip install 'replay[s3]'") from exc


def describe(target: str | None, settings: Settings) -> str:
    """Where a target publishes, for messages."""
    return target or settings.object_store_url or str(settings.site_dir)
