"""The object store port: where published replays live."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".xml": "application/atom+xml; charset=utf-8",
    ".svg": "image/svg+xml",
}
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=60"


def content_type_for(key: str) -> str:
    return CONTENT_TYPES.get(Path(key).suffix.lower(), "application/octet-stream")


#: The live's playlists and status change every segment (`replay.live`): a CDN must not
#: keep them longer than that.
LIVE = "public, max-age=1"
LIVE_FOLDER = "/direct/"


def cache_control_for(key: str) -> str:
    """Segments never change once written; playlists, pages and indexes do; the live's
    playlists and status, every couple of seconds."""
    suffix = Path(key).suffix.lower()
    if suffix in {".ts", ".m4s"}:
        return IMMUTABLE
    if LIVE_FOLDER in f"/{key}" and suffix in {".m3u8", ".json"}:
        return LIVE
    return SHORT


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ObjectStore(Protocol):
    """Keys are relative, '/'-separated paths like 'event/session/hls/master.m3u8'."""

    async def put_file(self, key: str, source: Path) -> None: ...

    async def put_bytes(self, key: str, data: bytes) -> None: ...

    async def get_bytes(self, key: str) -> bytes | None: ...

    async def get_file(self, key: str, dest: Path) -> bool:
        """Write the object into the file `dest` (its folder exists); False when absent.
        A large object is not held in memory. `dest` may be left partial on error: the
        caller writes to a scratch name and renames."""
        ...

    async def digest(self, key: str) -> str | None:
        """SHA-256 of the stored object, or None when absent."""
        ...

    async def delete(self, key: str) -> None: ...

    async def list_keys(self, prefix: str) -> list[str]: ...

    async def presigned_url(self, key: str, expires: float) -> str | None:
        """A GET address of the object that anyone holding it may read for `expires`
        seconds, with HTTP range requests (S3: a presigned URL); None where the store has
        none (a directory, memory): the caller fetches the object instead. Whether the
        object exists is not checked."""
        ...


def check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in {"", ".", ".."} for p in parts):
        raise ValueError(f"invalid object key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key's beginning ("event/", "event/sess")."""
    if prefix:
        check_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix
