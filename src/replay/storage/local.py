"""Object store adapter: a local directory (the embedded default, served by the app)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

from replay.storage.port import check_key, check_prefix, sha256_of_file

PARTIAL_SUFFIX = ".partial"


class LocalDirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put_file(self, key: str, source: Path) -> None:
        await asyncio.to_thread(self._write, key, source, None)

    async def put_bytes(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, key, None, data)

    def _write(self, key: str, source: Path | None, data: bytes | None) -> None:
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own per write, so that concurrent writes of one key never share
        # a partial file; it is renamed into place whole, or removed.
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
        try:
            if source is not None:
                shutil.copyfile(source, partial)
            else:
                partial.write_bytes(data or b"")
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    async def get_bytes(self, key: str) -> bytes | None:
        path = self.path_of(key)
        return await asyncio.to_thread(path.read_bytes) if path.is_file() else None

    async def get_file(self, key: str, dest: Path) -> bool:
        path = self.path_of(key)
        if not path.is_file():
            return False
        await asyncio.to_thread(shutil.copyfile, path, dest)
        return True

    async def digest(self, key: str) -> str | None:
        path = self.path_of(key)
        return await asyncio.to_thread(sha256_of_file, path) if path.is_file() else None

    async def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)

    async def presigned_url(self, key: str, expires: float) -> str | None:
        """None: every process of this machine reads the directory itself."""
        check_key(key)
        return None

    async def list_keys(self, prefix: str) -> list[str]:
        """Keys starting with `prefix`, as in S3: "e/s1" lists "e/s1/..." and "e/s10/..."."""
        folder = check_prefix(prefix).rpartition("/")[0]
        base = self.root / folder if folder else self.root
        if not base.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in base.rglob("*")
                if p.is_file() and not p.name.endswith(PARTIAL_SUFFIX))
        return sorted(k for k in keys if k.startswith(prefix))


