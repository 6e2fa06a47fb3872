"""Resumable uploads on disk: one data file and one state file per upload.

``<root>/<id>.bin`` holds the bytes received so far; ``<root>/<id>.json`` holds the
state (declared length, committed offset, metadata, expiry). The offset in the state
file is written only after the data up to it has been fsync'ed, so after a crash the
committed offset is never ahead of the data; bytes past it are uncommitted and are cut
off before the next write. Upload ids are opaque random tokens checked against a strict
pattern before they come near a path: nothing a client sends ever becomes a file name.
Each upload records its owner (whoever created it); only the owner may see or touch it.
The directory is private to the server's user (0700), its files too (0600).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from hashlib import _Hash

#: ``secrets.token_urlsafe(24)``: 32 characters of the URL-safe base64 alphabet.
UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{32}")
_HASH_BLOCK = 1 << 20


class UploadNotFound(LookupError):
    """No upload with this id (or an id that cannot be one)."""


class UploadBusy(RuntimeError):
    """Another request is writing to this upload."""


def is_upload_id(value: str) -> bool:
    return UPLOAD_ID.fullmatch(value) is not None


def new_upload_id() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Upload:
    """One upload's state. ``metadata`` holds the decoded tus metadata values."""

    id: str
    length: int
    offset: int
    metadata: Mapping[str, str]
    created: float
    expires: float
    complete: bool = False
    sha256: str | None = None  # the whole file's, once complete and verified
    owner: str = ""  # who created it (the app's user id); "" when the app has no users
    path: Path = field(default=Path(), compare=False)  # the data file; not persisted

    @property
    def filename(self) -> str | None:
        """The client's file name, for display only: never a path."""
        return self.metadata.get("filename")

    @property
    def event(self) -> str | None:
        return self.metadata.get("event")

    @property
    def room(self) -> str | None:
        return self.metadata.get("room")

    @property
    def started_at(self) -> str | None:
        return self.metadata.get("started_at")

    @property
    def expected_sha256(self) -> str | None:
        return self.metadata.get("sha256")

    def to_json(self) -> str:
        state = asdict(self)
        del state["path"]
        state["metadata"] = dict(self.metadata)
        return json.dumps(state, ensure_ascii=False, sort_keys=True)


def _upload_from_json(text: str, path: Path) -> Upload:
    state: dict[str, Any] = json.loads(text)
    return Upload(
        id=str(state["id"]),
        length=int(state["length"]),
        offset=int(state["offset"]),
        metadata={str(k): str(v) for k, v in state["metadata"].items()},
        created=float(state["created"]),
        expires=float(state["expires"]),
        complete=bool(state["complete"]),
        sha256=state["sha256"],
        owner=str(state.get("owner", "")),
        path=path,
    )


class ChunkWriter:
    """Appends one request's bytes at the committed offset; commit or roll back.

    Its methods block: call them in a thread. They hold a lock, so a write still running
    in its thread after the request was cancelled finishes before a rollback starts.
    `running`, when given, is the SHA-256 of the bytes before the offset; it follows the
    writes, so that it always matches the bytes on disk.
    """

    def __init__(self, path: Path, start: int, running: _Hash | None = None) -> None:
        self.start = start
        self.written = 0
        self.running = running
        self._lock = threading.Lock()
        self._file: BinaryIO = path.open("r+b")
        self._file.truncate(start)  # cut off what a crash left past the committed offset
        self._file.seek(start)

    def write(self, data: bytes) -> None:
        with self._lock:
            self._file.write(data)
            self.written += len(data)
            if self.running is not None:
                self.running.update(data)

    def sync(self) -> None:
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())

    def rollback(self) -> None:
        with self._lock:
            self._file.flush()
            self._file.truncate(self.start)
            self.written, self.running = 0, None

    def close(self) -> None:
        with self._lock:
            self._file.close()


class UploadStore:
    """Uploads in a directory. Use it from one event loop; file I/O runs in threads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, asyncio.Lock] = {}

    def _paths(self, upload_id: str) -> tuple[Path, Path]:
        if not is_upload_id(upload_id):
            raise UploadNotFound(upload_id)
        return self.root / f"{upload_id}.bin", self.root / f"{upload_id}.json"

    async def create(
        self, length: int, metadata: Mapping[str, str], *, now: float, expires: float,
        owner: str = "",
    ) -> Upload:
        upload_id = new_upload_id()
        data, _ = self._paths(upload_id)
        upload = Upload(upload_id, length, 0, dict(metadata), now, expires, owner=owner,
                        path=data)
        await asyncio.to_thread(self._create_files, upload)
        return upload

    def _create_files(self, upload: Upload) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(upload.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._save_sync(upload)

    async def get(self, upload_id: str) -> Upload:
        """The upload's committed state; `UploadNotFound` when there is none."""
        return await asyncio.to_thread(self._load_sync, upload_id)

    def _load_sync(self, upload_id: str) -> Upload:
        data, state = self._paths(upload_id)
        try:
            return _upload_from_json(state.read_text(encoding="utf-8"), data)
        except FileNotFoundError:
            raise UploadNotFound(upload_id) from None

    async def save(self, upload: Upload) -> None:
        await asyncio.to_thread(self._save_sync, upload)

    def _save_sync(self, upload: Upload) -> None:
        """Replace the state file atomically and durably."""
        _, state = self._paths(upload.id)
        partial = state.with_name(f"{state.name}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as out:
            out.write(upload.to_json())
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, state)
        _fsync_dir(self.root)

    @contextlib.asynccontextmanager
    async def locked(self, upload_id: str) -> AsyncIterator[Upload]:
        """Hold the upload for writing; `UploadBusy` when another request holds it."""
        self._paths(upload_id)
        lock = self._locks.setdefault(upload_id, asyncio.Lock())
        if lock.locked():
            raise UploadBusy(upload_id)
        async with lock:
            try:
                yield await self.get(upload_id)
            finally:
                if not self._exists(upload_id):
                    self._locks.pop(upload_id, None)

    def _exists(self, upload_id: str) -> bool:
        return self._paths(upload_id)[1].exists()

    async def open_writer(self, upload: Upload, running: _Hash | None = None) -> ChunkWriter:
        """A writer at the committed offset; hold `locked` while it is open."""
        try:
            return await asyncio.to_thread(ChunkWriter, upload.path, upload.offset, running)
        except FileNotFoundError:
            raise UploadNotFound(upload.id) from None

    async def remove(self, upload_id: str) -> None:
        await asyncio.to_thread(self._remove_sync, upload_id)

    def _remove_sync(self, upload_id: str) -> None:
        data, state = self._paths(upload_id)
        state.unlink(missing_ok=True)  # the state first: no state, no upload
        data.unlink(missing_ok=True)
        state.with_name(f"{state.name}.tmp").unlink(missing_ok=True)

    async def sha256(self, upload: Upload) -> str:
        """The whole data file's SHA-256, read in blocks in a thread."""
        return await asyncio.to_thread(_sha256_of, upload.path)

    async def all(self) -> list[Upload]:
        return await asyncio.to_thread(lambda: list(self._iter_sync()))

    def _iter_sync(self) -> Iterator[Upload]:
        if not self.root.is_dir():
            return
        for state in sorted(self.root.glob("*.json")):
            with contextlib.suppress(UploadNotFound, ValueError, KeyError):
                yield self._load_sync(state.stem)

    async def purge_expired(self, now: float) -> list[str]:
        """Remove the uploads that expired at `now` and are not being written to.

        The expiry is read again once the upload's lock is held: a request that renewed
        it since the listing (a chunk received) keeps it alive."""
        removed = []
        for listed in await self.all():
            lock = self._locks.setdefault(listed.id, asyncio.Lock())
            if listed.expires > now or lock.locked():
                continue
            async with lock:
                try:
                    upload = await self.get(listed.id)
                except UploadNotFound:
                    continue
                if upload.expires > now:
                    continue
                await self.remove(upload.id)
            self._locks.pop(upload.id, None)
            removed.append(upload.id)
        await asyncio.to_thread(self._purge_orphans, now)
        return removed

    def _purge_orphans(self, now: float, grace: float = 3600.0) -> None:
        """Data or temporary files without a state file, left by a crash mid-creation."""
        if not self.root.is_dir():
            return
        for path in self.root.iterdir():
            upload_id = path.name.split(".", 1)[0]
            orphan = not is_upload_id(upload_id) or not self._exists(upload_id)
            if orphan and path.suffix in {".bin", ".tmp"} and path.stat().st_mtime < now - grace:
                path.unlink(missing_ok=True)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
