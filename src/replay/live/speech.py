"""The live speech map: voice activity over a take's 16 kHz PCM as it grows.

The take's sound is appended to a raw s16le file; `LiveSpeechMap.update` runs the same
VAD as the VOD speech map over what arrived since the last pass (with an overlap, since
speech at the edge was cut short) in a thread, and keeps the intervals in a JSON file
beside it so that a restarted service still knows what was said before.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from faster_whisper.vad import get_speech_timestamps

from replay.domain.cutplan import Interval
from replay.speech.speechmap import MERGE_GAP, SAMPLE_RATE, VAD_OPTIONS, merge_intervals

#: Seconds read again before the settled point at each pass.
OVERLAP = 10.0
#: Speech closer than this to the end of what arrived may still grow.
UNSETTLED = 2.0
BYTES_PER_SECOND = SAMPLE_RATE * 2


def pcm_seconds(pcm: Path) -> float:
    return pcm.stat().st_size / BYTES_PER_SECOND if pcm.exists() else 0.0


def _read_pcm(pcm: Path, start: float) -> np.ndarray:
    with pcm.open("rb") as handle:
        handle.seek(int(start * SAMPLE_RATE) * 2)
        data = handle.read()
    data = data[: len(data) - len(data) % 2]
    return np.frombuffer(data, dtype=np.int16).astype(np.float32) / 32768.0


def detect(samples: np.ndarray, offset: float) -> list[Interval]:
    stamps = get_speech_timestamps(samples, VAD_OPTIONS, sampling_rate=SAMPLE_RATE)
    return [Interval(offset + s["start"] / SAMPLE_RATE, offset + s["end"] / SAMPLE_RATE)
            for s in stamps]


@dataclass
class LiveSpeechMap:
    pcm: Path
    saved: Path
    intervals: list[Interval] = field(default_factory=list)
    settled: float = 0.0

    @classmethod
    def load(cls, pcm: Path, saved: Path) -> LiveSpeechMap:
        if not saved.exists():
            return cls(pcm, saved)
        data = json.loads(saved.read_text(encoding="utf-8"))
        return cls(pcm, saved, [Interval(a, b) for a, b in data["speech"]],
                   float(data["settled"]))

    async def update(self) -> list[Interval]:
        """Scan what arrived since the last pass; returns every interval so far."""
        await asyncio.to_thread(self._update)
        return self.intervals

    def _update(self) -> None:
        heard = pcm_seconds(self.pcm)
        if heard - self.settled < 1.0:
            return
        start = max(0.0, self.settled - OVERLAP)
        fresh = detect(_read_pcm(self.pcm, start), start)
        kept = [i for i in self.intervals if i.start < start]
        self.intervals = merge_intervals([*kept, *fresh], MERGE_GAP)
        self.settled = max(self.settled, heard - UNSETTLED)
        partial = self.saved.with_suffix(".partial")
        partial.write_text(json.dumps({"settled": self.settled, "speech": [
            [i.start, i.end] for i in self.intervals]}), encoding="utf-8")
        partial.replace(self.saved)
