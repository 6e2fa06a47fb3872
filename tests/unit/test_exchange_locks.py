"""The per-path fetch locks of `storage.exchange`: one lock per path while it is used,
and none left once every fetch of it is done (a long-running worker fetches thousands
of paths)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from replay.storage import exchange
from replay.storage.exchange import ThroughObjects
from replay.storage.memory import MemoryStore


def _key(path: Path) -> tuple[int, Path]:
    return id(asyncio.get_running_loop()), path


async def test_one_lock_per_path_while_used_and_none_left_after(tmp_path: Path) -> None:
    path = tmp_path / "originals" / "a.mp4"
    held = exchange._lock(path)
    assert exchange._lock(path) is held
    assert exchange._lock(tmp_path / "originals" / "b.mp4") is not held
    order: list[str] = []

    async def waiting() -> None:
        async with exchange._lock(path):
            order.append("waiter")

    async with held:
        waiter = asyncio.create_task(waiting())
        await asyncio.sleep(0.01)
        order.append("holder")
    await waiter
    assert order == ["holder", "waiter"]
    assert _key(path) in exchange._LOCKS  # `held` still refers to it
    del held
    assert _key(path) not in exchange._LOCKS


async def test_fetches_leave_no_lock_behind(tmp_path: Path) -> None:
    files = ThroughObjects(MemoryStore(), tmp_path)
    paths = [tmp_path / "work" / f"{n:04d}" for n in range(50)]
    assert not any(await asyncio.gather(*(files.fetch(path) for path in paths)))
    assert not any(_key(path) in exchange._LOCKS for path in paths)
