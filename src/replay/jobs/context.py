"""The typed, frozen context every pipeline task receives."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from replay.settings import Settings
from replay.speech.transcriber import Transcriber
from replay.storage.exchange import FileExchange, SameDisk, exchange_for
from replay.storage.port import ObjectStore
from replay.store.ports import StoreRunner


class StaleAttempt(Exception):
    """This attempt of a job was superseded by a newer one: its output is discarded and
    nothing more is written for it."""


async def _always_current() -> bool:
    return True


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


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkContext:
    """What work that neither transcodes nor transcribes needs (admitting, publishing,
    withdrawing): the state (its work run where `db` runs it: off the event loop in the
    service), the object store, progress and the fence."""

    settings: Settings
    db: StoreRunner
    objects: ObjectStore
    progress: ProgressSink = field(default_factory=SilentProgress)
    #: Names this run's scratch files, so that two attempts never write the same ones.
    attempt_tag: str = field(default_factory=lambda: f"pid{os.getpid()}")
    #: The fence: True while this run may still publish (see `jobs.worker.JobContext`).
    still_current: Callable[[], Awaitable[bool]] = _always_current
    #: True when no other machine takes part in this run (`replay process`): its files
    #: are not put in the object store for others, whatever that store is.
    alone: bool = False

    def tracker(self, stage: str, label: str) -> StageTracker:
        return StageTracker(self.progress, stage, label)

    @property
    def files(self) -> FileExchange:
        """Files between machines (`storage.exchange`); on one machine, nothing moves."""
        return SameDisk() if self.alone else exchange_for(self.objects,
                                                          self.settings.data_dir)

    def scratch(self, target: Path) -> Path:
        """Where this attempt writes what will become `target` (its suffix kept, for
        tools that choose a format by it). What earlier attempts left there (killed, or
        superseded) is removed: their job is this attempt's now."""
        for leftover in target.parent.glob(f".{target.stem}.*.partial{target.suffix}"):
            discard(leftover)
        return target.with_name(f".{target.stem}.{self.attempt_tag}.partial{target.suffix}")

    async def ensure_current(self) -> None:
        """Raise `StaleAttempt` unless this attempt may still publish."""
        if not await self.still_current():
            raise StaleAttempt(f"attempt {self.attempt_tag} was superseded; its work is "
                               "discarded")

    async def commit(self, scratch: Path, target: Path) -> None:
        """Move this attempt's `scratch` output into place as `target`, if the attempt is
        still the current one; otherwise discard it and raise `StaleAttempt`. Nothing is
        awaited between the check and the rename."""
        try:
            await self.ensure_current()
        except StaleAttempt:
            discard(scratch)
            raise
        aside = target.with_name(f".{target.name}.{self.attempt_tag}.old")
        replaced = _swap(scratch, target, aside)
        if replaced is not None:
            await asyncio.to_thread(discard, replaced)


@dataclass(frozen=True, slots=True, kw_only=True)
class Context(WorkContext):
    """What the pipeline's media and speech stages need besides: Whisper and the lanes."""

    transcriber: Transcriber
    lanes: Lanes


def _swap(scratch: Path, target: Path, aside: Path) -> Path | None:
    """Put `scratch` in place of `target`; a directory it replaces is moved `aside` first
    (and returned, to be removed), files are replaced atomically."""
    moved = None
    if target.is_dir() and not target.is_symlink():
        discard(aside)
        os.replace(target, aside)
        moved = aside
    os.replace(scratch, target)
    return moved


def discard(path: Path) -> None:
    """Remove a scratch file or directory, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


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
