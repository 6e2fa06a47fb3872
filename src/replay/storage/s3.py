"""Object store adapter: S3 through boto3 (AWS, MinIO, any S3-compatible store).

Every object is written with its Content-Type and Cache-Control (from the port) and its
SHA-256 in the user metadata (`x-amz-meta-sha256`), which is what `digest` returns, so
re-publishing compares contents without downloading anything.

Integrity. A single-part PUT carries `Content-MD5`: the store refuses a body that arrived
different (BadDigest). A file above the multipart threshold goes up in parts through
s3transfer; afterwards `head_object` must show the file's size, its SHA-256 metadata, and
an ETag equal to the multipart ETag computed locally (the MD5 of the parts' MD5s, "-N").
When the ETag is not an MD5 of the content (SSE-KMS, SSE-C on AWS), pass
`verify_etag=False`; size and metadata are still checked. An object that fails the check
is deleted, so that a re-run uploads it again instead of trusting its metadata.

Blocking boto3 calls run in worker threads (`asyncio.to_thread`); the client is
thread-safe. botocore errors a user can act on become `ReplayError`s that say what to do.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from replay.domain.errors import ReplayError
from replay.storage.port import cache_control_for, check_key, check_prefix, content_type_for

MiB = 1 << 20
MULTIPART_THRESHOLD = 16 * MiB
MULTIPART_CHUNKSIZE = 8 * MiB
MULTIPART_THREADS = 4
SHA256_METADATA = "sha256"
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
#: The longest a SigV4 presigned URL may be valid: 7 days.
PRESIGNED_MAX_SECONDS = 7 * 24 * 3600
CREDENTIAL_VARIABLES = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"

T = TypeVar("T")


class S3IntegrityError(ReplayError):
    """An uploaded object does not match the file it was uploaded from."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """'s3://bucket/some/prefix' -> ('bucket', 'some/prefix'); the prefix may be empty."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "s3":
        raise ReplayError(f"{url!r} is not an S3 URL; write s3://BUCKET or s3://BUCKET/PREFIX")
    bucket, _, prefix = rest.partition("/")
    if not _valid_bucket(bucket):
        raise ReplayError(
            f"{url!r}: {bucket!r} is not a valid bucket name (3 to 63 lowercase letters, "
            "digits, dots and hyphens); write s3://BUCKET/PREFIX")
    prefix = prefix.strip("/")
    if "?" in prefix or "#" in prefix:
        raise ReplayError(f"{url!r}: an S3 URL takes no query or fragment; "
                          "write s3://BUCKET/PREFIX")
    try:
        if prefix:
            check_key(prefix)
    except ValueError:
        raise ReplayError(f"{url!r}: the prefix {prefix!r} has an empty, '.' or '..' part; "
                          "write s3://BUCKET/PREFIX") from None
    return bucket, prefix


def _valid_bucket(name: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-")
    return (3 <= len(name) <= 63 and set(name) <= allowed
            and name[0].isalnum() and name[-1].isalnum())


def client_config(endpoint_url: str | None) -> Any:
    """Standard retries; for non-AWS endpoints, checksums only where S3 requires them
    (boto3 >= 1.36 sends new checksum headers that many S3-compatible stores reject).
    Signature V4 named, so that presigned URLs are V4 too (botocore presigns with the
    deprecated V2 otherwise, which recent AWS regions refuse)."""
    from botocore.config import Config

    if endpoint_url:
        return Config(request_checksum_calculation="when_required",
                      response_checksum_validation="when_required",
                      retries={"mode": "standard"}, connect_timeout=10,
                      signature_version="s3v4")
    return Config(retries={"mode": "standard"}, connect_timeout=10, signature_version="s3v4")


def multipart_etag(path: Path, chunksize: int) -> str:
    """The ETag S3 gives a multipart upload of `path` in parts of `chunksize` bytes."""
    digests = []
    with path.open("rb") as handle:
        for part in iter(lambda: handle.read(chunksize), b""):
            digests.append(hashlib.md5(part, usedforsecurity=False).digest())
    whole = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{whole}-{len(digests)}"


def _file_digests(path: Path) -> tuple[int, str, str]:
    """Size, SHA-256 (hex) and MD5 (base64, for Content-MD5) of a file in one read."""
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(MiB), b""):
            sha256.update(block)
            md5.update(block)
            size += len(block)
    return size, sha256.hexdigest(), base64.b64encode(md5.digest()).decode()


class S3Store:
    """An S3 bucket, optionally under a key prefix ('replays' puts 'e/x' at 'replays/e/x')."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunksize: int = MULTIPART_CHUNKSIZE,
        verify_etag: bool = True,
        list_page_size: int = 1000,
    ) -> None:
        prefix = prefix.strip("/")
        self.bucket = bucket
        self.prefix = f"{check_key(prefix)}/" if prefix else ""
        self.endpoint_url = endpoint_url
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        self.verify_etag = verify_etag
        self.list_page_size = list_page_size
        if client is None:
            import boto3

            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url or None, region_name=region or None,
                config=client_config(endpoint_url))
        self.client = client

    def __repr__(self) -> str:
        return f"S3Store(s3://{self.bucket}/{self.prefix})"

    def parent_store(self) -> S3Store:
        """The same bucket and client, one level above this prefix (``s3://b/site`` gives
        ``s3://b``): where `storage.exchange` keeps the files that must not be public
        when the site's prefix is (a bucket policy such as ``mc anonymous set download
        b/site``)."""
        parent = self.prefix.rstrip("/").rpartition("/")[0]
        return S3Store(self.bucket, parent, endpoint_url=self.endpoint_url, client=self.client,
                       multipart_threshold=self.multipart_threshold,
                       multipart_chunksize=self.multipart_chunksize,
                       verify_etag=self.verify_etag, list_page_size=self.list_page_size)

    def close(self) -> None:
        self.client.close()

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _headers(self, key: str, sha256: str) -> dict[str, Any]:
        return {"ContentType": content_type_for(key), "CacheControl": cache_control_for(key),
                "Metadata": {SHA256_METADATA: sha256}}

    async def _call(self, work: Callable[[], T]) -> T:
        def translated() -> T:
            with self._errors():
                return work()

        return await asyncio.to_thread(translated)

    # -- writes ----------------------------------------------------------------------

    async def put_file(self, key: str, source: Path) -> None:
        target = self._key(key)
        await self._call(lambda: self._put_file(key, target, source))

    def _put_file(self, key: str, target: str, source: Path) -> None:
        size, sha256, md5 = _file_digests(source)
        if size < self.multipart_threshold:
            with source.open("rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=target, Body=body,
                                       ContentLength=size, ContentMD5=md5,
                                       **self._headers(key, sha256))
            return
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=self.multipart_threshold,
                                multipart_chunksize=self.multipart_chunksize,
                                max_concurrency=MULTIPART_THREADS)
        self.client.upload_file(str(source), self.bucket, target,
                                ExtraArgs=self._headers(key, sha256), Config=config)
        self._verify_multipart(target, source, size, sha256)

    def _verify_multipart(self, target: str, source: Path, size: int, sha256: str) -> None:
        from s3transfer.utils import ChunksizeAdjuster

        head = self.client.head_object(Bucket=self.bucket, Key=target)
        problems = []
        if head["ContentLength"] != size:
            problems.append(f"{head['ContentLength']} bytes stored for {size}")
        if head.get("Metadata", {}).get(SHA256_METADATA) != sha256:
            problems.append("its sha256 metadata is missing or wrong")
        if self.verify_etag:
            chunksize = ChunksizeAdjuster().adjust_chunksize(self.multipart_chunksize, size)
            expected = multipart_etag(source, chunksize)
            if head["ETag"].strip('"') != expected:
                problems.append(f"ETag {head['ETag']} instead of {expected}")
        if problems:
            self.client.delete_object(Bucket=self.bucket, Key=target)
            raise S3IntegrityError(
                f"upload of {source} to s3://{self.bucket}/{target} is corrupt "
                f"({'; '.join(problems)}); it was deleted: publish again")

    async def put_bytes(self, key: str, data: bytes) -> None:
        target = self._key(key)
        sha256 = hashlib.sha256(data).hexdigest()
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        await self._call(lambda: self.client.put_object(
            Bucket=self.bucket, Key=target, Body=data, ContentMD5=md5,
            **self._headers(key, sha256)))

    async def delete(self, key: str) -> None:
        target = self._key(key)
        await self._call(lambda: self.client.delete_object(Bucket=self.bucket, Key=target))

    # -- reads -----------------------------------------------------------------------

    async def get_bytes(self, key: str) -> bytes | None:
        target = self._key(key)

        def get() -> bytes | None:
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=target)
            except Exception as exc:
                if _not_found(exc):
                    return None
                raise
            with response["Body"] as body:
                data: bytes = body.read()
            return data

        return await self._call(get)

    async def get_file(self, key: str, dest: Path) -> bool:
        """Downloaded by s3transfer (ranged parts in parallel above the threshold)."""
        target = self._key(key)

        def download() -> bool:
            from boto3.s3.transfer import TransferConfig

            config = TransferConfig(multipart_threshold=self.multipart_threshold,
                                    multipart_chunksize=self.multipart_chunksize,
                                    max_concurrency=MULTIPART_THREADS)
            try:
                self.client.download_file(self.bucket, target, str(dest), Config=config)
            except Exception as exc:
                if _not_found(exc):
                    return False
                raise
            return True

        return await self._call(download)

    async def digest(self, key: str) -> str | None:
        """The SHA-256 recorded at upload; None when absent or not written by replay."""
        target = self._key(key)

        def head() -> str | None:
            try:
                response = self.client.head_object(Bucket=self.bucket, Key=target)
            except Exception as exc:
                if _not_found(exc):
                    return None
                raise
            value = response.get("Metadata", {}).get(SHA256_METADATA)
            return str(value) if value else None

        return await self._call(head)

    async def presigned_url(self, key: str, expires: float) -> str | None:
        """A presigned GET (SigV4, signed here with the client's credentials: no request
        is made), valid `expires` seconds, clamped to SigV4's 1 s to 7 days. With
        temporary credentials (an instance role, STS), it also ends with them."""
        target = self._key(key)
        seconds = min(max(round(expires), 1), PRESIGNED_MAX_SECONDS)
        return await self._call(lambda: str(self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": target},
            ExpiresIn=seconds)))

    async def list_keys(self, prefix: str) -> list[str]:
        full = self.prefix + check_prefix(prefix)

        def listing() -> list[str]:
            paginator = self.client.get_paginator("list_objects_v2")
            pages = paginator.paginate(Bucket=self.bucket, Prefix=full,
                                       PaginationConfig={"PageSize": self.list_page_size})
            keys = [item["Key"][len(self.prefix):]
                    for page in pages for item in page.get("Contents", ())]
            return sorted(keys)

        return await self._call(listing)

    # -- errors ------------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the botocore errors a user can act on into one-line `ReplayError`s."""
        from botocore.exceptions import (
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        where = self.endpoint_url or "AWS S3"
        try:
            yield
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise ReplayError(f"no S3 credentials ({exc}); set {CREDENTIAL_VARIABLES}, or "
                              "configure ~/.aws/credentials") from exc
        except EndpointConnectionError as exc:
            raise ReplayError(f"cannot reach the S3 endpoint {where} ({exc}); check "
                              "REPLAY_S3_ENDPOINT_URL (setting s3_endpoint_url) and the "
                              "network") from exc
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket":
                raise ReplayError(f"the bucket {self.bucket!r} does not exist at {where}; "
                                  "create it or fix the s3:// URL") from exc
            if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}:
                raise ReplayError(f"{where} refused access to s3://{self.bucket}/{self.prefix} "
                                  f"({code}); check {CREDENTIAL_VARIABLES} and the bucket's "
                                  "policy") from exc
            raise


def _not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    return str(response.get("Error", {}).get("Code", "")) in NOT_FOUND
