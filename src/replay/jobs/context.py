"""The typed, frozen context every pipeline task receives."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from replay.settings import Settings
from replay.speech.transcriber import Transcriber
from replay.storage.port import ObjectStore
from replay.store.db import Store


class ProgressSink(Protocol):
    """Where stage progress goes: a terminal display, the database, or nowhere."""

    def report(self, stage: str, label: str, fraction: float, eta: float | None) -> None: ...

    def finished(self, stage: str, label: str, seconds: float, skipped: bool) -> None: ...


class SilentProgress:
    def report(self, stage: str, label: str, fraction: float, eta: float | None) -> None:
        return None

    def finished(self, stage: str, label: str, seconds: float, skipped: bool) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Lanes:
    """Media and speech work run side by side, sharing the CPU threads between them."""

    media: asyncio.Semaphore
    speech: asyncio.Semaphore
    media_threads: int
    speech_threads: int

    @classmethod
    def for_threads(cls, threads: int) -> Lanes:
        if threads <= 1:
            shared = asyncio.Semaphore(1)
            return cls(shared, shared, 1, 1)
        media = max(1, threads // 2)
        return cls(asyncio.Semaphore(1), asyncio.Semaphore(1), media, threads - media)


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    store: Store
    objects: ObjectStore
    transcriber: Transcriber
    lanes: Lanes
    progress: ProgressSink = field(default_factory=SilentProgress)

    def tracker(self, stage: str, label: str) -> StageTracker:
        return StageTracker(self.progress, stage, label)


@dataclass
class StageTracker:
    """Turns fractions into progress reports with an ETA; safe to call from a thread."""

    sink: ProgressSink
    stage: str
    label: str
    started: float = field(default_factory=time.monotonic)
    loop: asyncio.AbstractEventLoop | None = None

    def bind_loop(self) -> StageTracker:
        self.loop = asyncio.get_running_loop()
        return self

    def __call__(self, fraction: float) -> None:
        elapsed = time.monotonic() - self.started
        eta = elapsed * (1 - fraction) / fraction if fraction > 0.01 else None
        self._emit(lambda: self.sink.report(self.stage, self.label, fraction, eta))

    def done(self, skipped: bool = False) -> None:
        seconds = time.monotonic() - self.started
        self._emit(lambda: self.sink.finished(self.stage, self.label, seconds, skipped))

    def _emit(self, call: Callable[[], None]) -> None:
        if self.loop is not None and not _on_loop(self.loop):
            self.loop.call_soon_threadsafe(call)
        else:
            call()


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
