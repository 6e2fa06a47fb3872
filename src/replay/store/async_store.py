"""The state store off the event loop: one connection (SQLite or PostgreSQL, as the
settings choose), used on one dedicated thread.

`AsyncStore.run(use)` runs ``use(store)`` on that thread, with a `Store` whose connection
only that thread uses, and returns its result: a use case's reads and its transaction
run together there, and a wait for another writer's lock (``busy_timeout``) never stalls
the event loop. In `replay serve` every store statement runs here: the requests', the
embedded job workers' and the live ingest's; `replay worker` opens one of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from replay.settings import Settings
from replay.store.db import Store
from replay.store.factory import open_connection

T = TypeVar("T")


class AsyncStore:
    """A `Store` confined to its own thread (one at a time: the connection's use is
    serialised, as the store's one writer wants anyway)."""

    def __init__(self, thread: ThreadPoolExecutor, store: Store) -> None:
        self._thread, self._store = thread, store

    @classmethod
    async def open(cls, settings: Settings) -> AsyncStore:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="state-store")
        connection = await asyncio.get_running_loop().run_in_executor(
            thread, partial(open_connection, settings, check_same_thread=False))
        return cls(thread, Store(connection))

    async def run(self, use: Callable[[Store], T]) -> T:
        """``use(store)`` on the store's thread; its result (or its exception)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, partial(use, self._store))

    async def close(self) -> None:
        await self.run(Store.close)
        self._thread.shutdown(wait=True)
