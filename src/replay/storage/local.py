"""Object store adapter: a local directory (the embedded default, served by the app)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from replay.storage.port import check_key, sha256_of_file


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
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        if source is not None:
            shutil.copyfile(source, partial)
        else:
            partial.write_bytes(data or b"")
        os.replace(partial, target)

    async def get_bytes(self, key: str) -> bytes | None:
        path = self.path_of(key)
        return await asyncio.to_thread(path.read_bytes) if path.is_file() else None

    async def digest(self, key: str) -> str | None:
        path = self.path_of(key)
        return await asyncio.to_thread(sha256_of_file, path) if path.is_file() else None

    async def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)

    async def list_keys(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.endswith(".partial")
        )


