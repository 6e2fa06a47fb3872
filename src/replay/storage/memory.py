"""In-memory object store: the fake for tests of publishing logic."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from replay.storage.port import check_key, check_prefix


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.writes: list[str] = []

    async def put_file(self, key: str, source: Path) -> None:
        await self.put_bytes(key, await asyncio.to_thread(source.read_bytes))

    async def put_bytes(self, key: str, data: bytes) -> None:
        self.objects[check_key(key)] = data
        self.writes.append(key)

    async def get_bytes(self, key: str) -> bytes | None:
        return self.objects.get(check_key(key))

    async def get_file(self, key: str, dest: Path) -> bool:
        data = self.objects.get(check_key(key))
        if data is None:
            return False
        await asyncio.to_thread(dest.write_bytes, data)
        return True

    async def digest(self, key: str) -> str | None:
        data = self.objects.get(check_key(key))
        return None if data is None else hashlib.sha256(data).hexdigest()

    async def delete(self, key: str) -> None:
        self.objects.pop(check_key(key), None)

    async def list_keys(self, prefix: str) -> list[str]:
        check_prefix(prefix)
        return sorted(k for k in self.objects if k.startswith(prefix))

    async def presigned_url(self, key: str, expires: float) -> str | None:
        check_key(key)
        return None
