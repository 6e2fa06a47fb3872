"""CPU-bound pure work (parsing a large subtitle file, checking thousands of cues) in
worker processes: done in a thread of the server, it would hold the interpreter lock
against the event loop. A few requests at a time: past that, `Busy` (the API answers
429 with Retry-After) rather than a queue that grows with every client.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Final, TypeVar

T = TypeVar("T")

#: Worker processes: one keeps a core for the event loop on a two-core machine.
WORKERS: Final = 1
#: The workers yield the CPU to the event loop: on a busy machine, parsing one more file a
#: little later is better than every request waiting behind it.
WORKER_NICENESS: Final = 10
#: Requests that may be working or waiting for a worker at once.
WAITING: Final = 4
#: How long a refused client is told to wait (Retry-After), in seconds.
RETRY_AFTER: Final = 5
#: Refused clients remembered at most (the oldest promises are forgotten first).
_REMEMBERED: Final = 1024


class Busy(Exception):
    """Every slot is taken: try again in a moment."""


class Offload:
    def __init__(self, workers: int = WORKERS, waiting: int = WAITING, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # Processes come from a fork server, never from a fork of this threaded process;
        # they start on first use.
        self.executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("forkserver"),
            initializer=os.nice, initargs=(WORKER_NICENESS,))
        self._slots = asyncio.Semaphore(waiting)
        self._clock = clock
        self._told: dict[object, float] = {}

    @property
    def busy(self) -> bool:
        """Every slot is taken: a `slot` now would be `Busy`."""
        return self._slots.locked()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the slots (taken before reading a large body: a request that will
        be refused need not be received); `Busy` when none is free."""
        if self.busy:
            raise Busy
        async with self._slots:
            yield

    def refuse(self, client: object) -> bool:
        """Tell `client` (an account) to come back in `RETRY_AFTER` seconds; whether it had
        already been told so and came back sooner (it then deserves no more courtesy)."""
        now = self._clock()
        impatient = self._told.pop(client, now) > now
        self._told[client] = now + RETRY_AFTER
        if len(self._told) > _REMEMBERED:
            del self._told[next(iter(self._told))]
        return impatient

    async def call(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in a worker process, for a holder of a `slot`."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, work, *args)

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in a worker process; `Busy` when too many requests wait."""
        async with self.slot():
            return await self.call(work, *args)

    def shutdown(self) -> None:
        """Stop the workers; what waits is cancelled, what runs finishes."""
        self.executor.shutdown(wait=True, cancel_futures=True)
