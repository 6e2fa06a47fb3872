"""One `replay worker` process: the pipeline's tasks on one queue, on the queue and object
store the settings choose, until SIGTERM or SIGINT (then a graceful shutdown)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path

from replay.jobs.context import Lanes
from replay.jobs.factory import open_queue
from replay.jobs.queue import JobQueue
from replay.jobs.tasks import QUEUES, TaskDeps, task_table, whisper_for
from replay.jobs.worker import Worker, install_signal_handlers
from replay.settings import Settings
from replay.storage.factory import object_store_for
from replay.store.async_store import AsyncStore

log = logging.getLogger(__name__)

#: Seconds running jobs get to finish when the worker is stopped, before being handed back
#: (docker compose's stop_grace_period must be longer).
SHUTDOWN_GRACE = 20.0


def worker_name(queue: str) -> str:
    """This process's worker id: host, process, queue (several processes per machine)."""
    return f"{socket.gethostname()}:{os.getpid()}/{queue}"


async def run_worker(settings: Settings, queue_name: str, *, concurrency: int = 1,
                     health_file: Path | None = None,
                     stop: asyncio.Event | None = None) -> None:
    """Work on ``queue_name`` until ``stop`` is set (by default: by SIGTERM or SIGINT)."""
    if queue_name not in QUEUES:
        raise ValueError(f"unknown queue {queue_name!r}; known: {', '.join(QUEUES)}")
    if stop is None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
    db = await AsyncStore.open(settings)  # the store's work off this loop, on its thread
    objects = object_store_for(None, settings)
    queue = await open_queue(settings)
    try:
        deps = TaskDeps(settings=settings, db=db, queue=queue, objects=objects,
                        transcriber=whisper_for(settings),  # models load on first use
                        lanes=Lanes.for_threads(settings.cpu_threads))
        worker = Worker(queue, task_table(deps), [queue_name], worker_id=worker_name(queue_name),
                        concurrency=concurrency, lease_seconds=settings.lease_seconds,
                        heartbeat_every=settings.heartbeat_seconds,
                        job_timeout=settings.job_timeout, shutdown_grace=SHUTDOWN_GRACE)
        probe = asyncio.create_task(_health(queue, health_file, settings.heartbeat_seconds,
                                            stop))
        log.info("worker %s started", worker.worker_id)
        try:
            await worker.run(stop)
        finally:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
    finally:
        await queue.close()
        close = getattr(objects, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
        await db.close()
        log.info("worker on %s stopped", queue_name)


async def _health(queue: JobQueue, path: Path | None, every: float,
                  stop: asyncio.Event) -> None:
    """Touch ``path`` each time the queue answers: a container's healthcheck reads its age."""
    if path is None:
        return
    while not stop.is_set():
        try:
            await queue.counts()
            await asyncio.to_thread(path.touch)
        except Exception:
            log.warning("health probe: the queue does not answer", exc_info=True)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            continue
