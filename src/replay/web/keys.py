"""Typed keys of the application's resources (kept apart so handlers can import them
without importing the factory)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from replay.jobs.metrics import StageDurations
from replay.jobs.queue import JobQueue
from replay.settings import Settings
from replay.speech.transcriber import Transcriber
from replay.storage.port import ObjectStore
from replay.store.async_store import AsyncStore
from replay.web.offload import Offload

SETTINGS: Final = web.AppKey("settings", Settings)
#: The store off the event loop (`AsyncStore.run`): every request's, job's and the live's
#: store work runs there.
DB: Final = web.AppKey("db", AsyncStore)
QUEUE: Final[web.AppKey[JobQueue]] = web.AppKey("queue")
OBJECTS: Final[web.AppKey[ObjectStore]] = web.AppKey("objects")
TRANSCRIBER: Final[web.AppKey[Transcriber | None]] = web.AppKey("transcriber")
DURATIONS: Final = web.AppKey("stage_durations", StageDurations)
WORKER_QUEUES: Final[web.AppKey[tuple[str, ...]]] = web.AppKey("worker_queues")
#: Worker processes for CPU-bound pure work (parsing subtitle files) off the event loop.
OFFLOAD: Final = web.AppKey("offload", Offload)
