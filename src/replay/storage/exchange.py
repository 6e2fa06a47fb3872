"""Files between machines: a recording's original and the work outputs that a later job
reads (the 16 kHz audio, the speech map, a session's `media/` and `speech/` folders) go
through the object store under a private prefix, `_private/`, that the public site never
links, lists or deletes (event keys are under the event's slug, never `_private`). On S3
it sits beside the site's prefix, not under it (`exchange_for`).

A file's key is its path relative to the data directory: the original
``<data>/originals/<sha256>.mp4`` is ``_private/originals/<sha256>.mp4`` on every machine,
so each process keeps the same layout in its own data directory. A folder is shared file
by file, then a manifest (each file's SHA-256) written last: a folder is complete in the
store once its manifest is there, and a machine whose own copy has the same manifest
downloads nothing. Everything fetched is written beside its place under a scratch name,
checked against its SHA-256, then renamed into place.

A session's media job needs only its span of the original: `readable_original` gives
it a presigned address of the object (`media.probe.StoreUrl`) that ffmpeg reads by HTTP
range requests, so a worker on another machine transfers the container's index and the
span's bytes, not the whole recording. Where the store has no such address (memory),
the original is fetched whole, as the analysis stages always do (they read all of it).

When the object store is a directory of this machine (the embedded default), every
process reads the data directory itself: `SameDisk` copies nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
import weakref
from pathlib import Path
from typing import Protocol

from replay.domain.errors import ReplayError
from replay.media.probe import MediaInput, StoreUrl
from replay.storage.local import LocalDirectoryStore
from replay.storage.port import ObjectStore, check_key, sha256_of_file
from replay.storage.s3 import S3Store

PRIVATE = "_private"
#: Beside a folder fetched or shared: the manifest its contents match.
MANIFEST = ".{name}.exchanged.json"
MANIFEST_KEY = "{key}.manifest.json"
FETCH_SCRATCH = ".{name}.fetch-{tag}.partial"


class ExchangeError(ReplayError):
    """A file fetched from the object store does not match its SHA-256."""


class FileExchange(Protocol):
    async def share(self, path: Path, sha256: str | None = None) -> None:
        """Make the file or folder `path` (in the data directory) readable by the other
        machines; `sha256`, a file's digest when already known."""
        ...

    async def fetch(self, path: Path) -> bool:
        """Make `path` present here, as shared last; False when it is nowhere."""
        ...

    async def original(self, recorded: Path, local: Path, sha256: str) -> Path:
        """Where this machine reads a recording's original: `local` (its place in this
        machine's data directory), fetched once, checked against `sha256`; `recorded`
        (where the admitting machine kept it) only when the store does not have it."""
        ...

    async def readable_original(self, recorded: Path, local: Path, sha256: str, *,
                                expires: float) -> MediaInput:
        """Where ffmpeg reads a part of a recording's original without this machine
        downloading all of it: a path here when it is here; else the object store's
        address of it, valid `expires` seconds (read by range requests); else, where the
        store gives none, `original`'s path (fetched whole)."""
        ...

    async def forget(self, path: Path) -> None:
        """Delete what was shared of the file or folder `path` (and below it)."""
        ...


def exchange_for(objects: ObjectStore, data_dir: Path) -> FileExchange:
    """Nothing to copy when the object store is a directory here; on S3, the files go
    beside the site's prefix, not under it (``s3://b/site`` publishes, the files are in
    ``s3://b/_private/``), so that a public-read policy on the site never exposes them."""
    if isinstance(objects, LocalDirectoryStore):
        return SameDisk()
    if isinstance(objects, S3Store):
        return ThroughObjects(objects.parent_store(), data_dir)
    return ThroughObjects(objects, data_dir)


class SameDisk:
    """Every process of the deployment reads the same data directory."""

    async def share(self, path: Path, sha256: str | None = None) -> None:
        return None

    async def fetch(self, path: Path) -> bool:
        return await asyncio.to_thread(path.exists)

    async def original(self, recorded: Path, local: Path, sha256: str) -> Path:
        return recorded

    async def readable_original(self, recorded: Path, local: Path, sha256: str, *,
                                expires: float) -> MediaInput:
        return recorded

    async def forget(self, path: Path) -> None:
        return None


class ThroughObjects:
    def __init__(self, objects: ObjectStore, data_dir: Path) -> None:
        self.objects, self.data_dir = objects, data_dir

    def key_of(self, path: Path) -> str:
        """``_private/`` and `path` relative to the data directory (ValueError outside)."""
        return f"{PRIVATE}/{path.relative_to(self.data_dir).as_posix()}"

    # -- share ---------------------------------------------------------------------

    async def share(self, path: Path, sha256: str | None = None) -> None:
        if await asyncio.to_thread(path.is_dir):
            await self._share_folder(path)
        else:
            await self._share_file(self.key_of(path), path, sha256)

    async def _share_file(self, key: str, path: Path, sha256: str | None) -> None:
        digest = sha256 or await asyncio.to_thread(sha256_of_file, path)
        if await self.objects.digest(key) != digest:
            await self.objects.put_file(key, path)

    async def _share_folder(self, folder: Path) -> None:
        key = self.key_of(folder)
        manifest = await asyncio.to_thread(_manifest_of, folder)
        # Until the new manifest is written, the folder is absent rather than mixed.
        await self.objects.delete(MANIFEST_KEY.format(key=key))
        for name, digest in manifest.items():
            if await self.objects.digest(f"{key}/{name}") != digest:
                await self.objects.put_file(f"{key}/{name}", folder / name)
        for stale in await self.objects.list_keys(f"{key}/"):
            if stale[len(key) + 1:] not in manifest:
                await self.objects.delete(stale)
        data = json.dumps(manifest, sort_keys=True).encode()
        await self.objects.put_bytes(MANIFEST_KEY.format(key=key), data)
        _manifest_path(folder).write_bytes(data)

    async def forget(self, path: Path) -> None:
        key = self.key_of(path)
        await self.objects.delete(MANIFEST_KEY.format(key=key))  # a folder: absent first
        for below in await self.objects.list_keys(f"{key}/"):
            await self.objects.delete(below)
        await self.objects.delete(key)

    # -- fetch ---------------------------------------------------------------------

    async def fetch(self, path: Path) -> bool:
        async with _lock(path):
            key = self.key_of(path)
            manifest = await self.objects.get_bytes(MANIFEST_KEY.format(key=key))
            if manifest is not None:
                await self._fetch_folder(path, key, manifest)
                return True
            if await asyncio.to_thread(path.exists):
                return True
            digest = await self.objects.digest(key)
            return digest is not None and await self._fetch_file(key, path, digest)

    async def original(self, recorded: Path, local: Path, sha256: str) -> Path:
        async with _lock(local):
            if await asyncio.to_thread(local.is_file) or await self._fetch_file(
                    self.key_of(local), local, sha256):
                return local
        # Kept on this machine before files were exchanged:
        if await asyncio.to_thread(recorded.is_file):
            return recorded
        raise ExchangeError(f"the original {local.name} is neither on this machine nor in "
                            "the object store")

    async def readable_original(self, recorded: Path, local: Path, sha256: str, *,
                                expires: float) -> MediaInput:
        """The object's presigned address when the store has it with the right SHA-256
        (the digest recorded at upload, one HEAD request: the bytes read by range cannot
        be checked whole, as a fetch checks them)."""
        if await asyncio.to_thread(local.is_file):  # fetched (and checked) before
            return local
        key = self.key_of(local)
        if await self.objects.digest(key) == sha256:
            address = await self.objects.presigned_url(key, expires)
            if address is not None:
                return StoreUrl(address)
        return await self.original(recorded, local, sha256)

    async def _fetch_file(self, key: str, path: Path, sha256: str) -> bool:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = _fresh_scratch(path)
        try:
            if not await self.objects.get_file(key, scratch):
                return False
            await _verify(scratch, sha256, key)
            os.replace(scratch, path)
        finally:
            scratch.unlink(missing_ok=True)
        return True

    async def _fetch_folder(self, folder: Path, key: str, data: bytes) -> None:
        if await asyncio.to_thread(_has_copy, folder, data):
            return
        manifest: dict[str, str] = json.loads(data)
        for name in manifest:
            check_key(name)  # stays inside the folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        scratch = _fresh_scratch(folder)
        try:
            scratch.mkdir()
            for name, digest in manifest.items():
                target = scratch / name
                target.parent.mkdir(parents=True, exist_ok=True)
                if not await self.objects.get_file(f"{key}/{name}", target):
                    raise ExchangeError(f"{key}/{name} is listed in its folder's manifest "
                                        "but missing from the object store")
                await _verify(target, digest, f"{key}/{name}")
            await asyncio.to_thread(_swap_in, scratch, folder, data)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _manifest_of(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_of_file(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _has_copy(folder: Path, manifest: bytes) -> bool:
    """Whether `folder` is here as `manifest` describes (fetched or made here)."""
    mark = _manifest_path(folder)
    return folder.is_dir() and mark.is_file() and mark.read_bytes() == manifest


def _swap_in(scratch: Path, folder: Path, manifest: bytes) -> None:
    aside = folder.with_name(f".{folder.name}.fetch-{uuid.uuid4().hex}.old")
    if folder.exists():
        os.replace(folder, aside)
    os.replace(scratch, folder)
    shutil.rmtree(aside, ignore_errors=True)
    _manifest_path(folder).write_bytes(manifest)


def _manifest_path(folder: Path) -> Path:
    return folder.with_name(MANIFEST.format(name=folder.name))


def _fresh_scratch(path: Path) -> Path:
    """A scratch name beside `path`; what an earlier, killed fetch left there is removed
    (fetches of one path in this process are serialised by `_lock`)."""
    for leftover in path.parent.glob(FETCH_SCRATCH.format(name=path.name, tag="*")):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    return path.with_name(FETCH_SCRATCH.format(name=path.name, tag=uuid.uuid4().hex))


async def _verify(path: Path, sha256: str, key: str) -> None:
    found = await asyncio.to_thread(sha256_of_file, path)
    if found != sha256:
        raise ExchangeError(f"{key}: downloaded content has SHA-256 {found[:12]}…, "
                            f"expected {sha256[:12]}…; fetch it again")


#: A path's lock while a fetch holds or awaits it (the `async with` keeps it alive): held
#: weakly, it goes with its last user, so that the table does not grow with every path
#: a long-running worker ever fetched.
_LOCKS: weakref.WeakValueDictionary[tuple[int, Path], asyncio.Lock] = (
    weakref.WeakValueDictionary())


def _lock(path: Path) -> asyncio.Lock:
    """One fetch of a path at a time in this process (two session jobs of one recording
    on one worker need the same original); a lock belongs to one event loop."""
    key = (id(asyncio.get_running_loop()), path)
    lock = _LOCKS.get(key)
    if lock is None:
        lock = _LOCKS[key] = asyncio.Lock()
    return lock
