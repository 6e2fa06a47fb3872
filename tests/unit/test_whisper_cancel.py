"""A speech job cancelled (its timeout, a shutdown) stops Whisper's thread at its next
window instead of leaving it to run to the end on the machine's cores."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from replay.jobs import pipeline


class _Tracker:
    def bind_loop(self) -> _Tracker:
        return self

    def __call__(self, fraction: float) -> None:
        pass

    def done(self) -> None:
        pass


class _SlowWhisper:
    """One 'window' every 20 ms, 500 of them, reporting progress after each."""

    def __init__(self) -> None:
        self.windows = 0
        self.finished = threading.Event()

    def transcribe_and_translate(self, audio: np.ndarray, *, language: str,
                                 hotwords: str | None,
                                 on_progress: Callable[[float], None]) -> Any:
        try:
            for window in range(500):
                time.sleep(0.02)
                self.windows += 1
                on_progress(window / 500)
        finally:
            self.finished.set()
        return None


async def test_a_cancelled_speech_job_stops_its_whisper_thread() -> None:
    whisper = _SlowWhisper()
    ctx: Any = SimpleNamespace(transcriber=whisper, tracker=lambda stage, label: _Tracker())
    job = asyncio.create_task(pipeline._whisper(ctx, np.zeros(16000, np.float32), None, "s"))
    await asyncio.sleep(0.2)
    job.cancel()
    await asyncio.gather(job, return_exceptions=True)
    assert await asyncio.to_thread(whisper.finished.wait, 5), "the thread ran on"
    assert whisper.windows < 100, whisper.windows
