"""The speech map: voice activity over a whole recording, from its 16 kHz mono WAV."""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from replay.domain.cutplan import Interval

SAMPLE_RATE = 16000
CHUNK_SECONDS = 600
MERGE_GAP = 0.3
VAD_OPTIONS = VadOptions(threshold=0.5, min_silence_duration_ms=300, speech_pad_ms=100)


def read_wav_span(wav: Path, start: float = 0.0, end: float | None = None) -> np.ndarray:
    """Float32 samples of [start, end) seconds of a 16 kHz mono s16 WAV."""
    with wave.open(str(wav), "rb") as handle:
        _check_format(handle, wav)
        first = int(start * SAMPLE_RATE)
        last = handle.getnframes() if end is None else min(handle.getnframes(),
                                                              int(end * SAMPLE_RATE))
        handle.setpos(min(first, handle.getnframes()))
        frames = handle.readframes(max(0, last - first))
    return np.frombuffer(frames, dtype=np.int16).astype(np.float32) / 32768.0


def _check_format(handle: wave.Wave_read, wav: Path) -> None:
    if (handle.getframerate(), handle.getnchannels(), handle.getsampwidth()) != (SAMPLE_RATE, 1, 2):
        raise ValueError(f"{wav} is not 16 kHz mono 16-bit PCM")


def _chunks(wav: Path) -> Iterator[tuple[float, np.ndarray]]:
    with wave.open(str(wav), "rb") as handle:
        _check_format(handle, wav)
        step = CHUNK_SECONDS * SAMPLE_RATE
        offset = 0
        while True:
            frames = handle.readframes(step)
            if not frames:
                return
            yield offset / SAMPLE_RATE, np.frombuffer(frames, np.int16).astype(np.float32) / 32768.0
            offset += step


def wav_duration(wav: Path) -> float:
    with wave.open(str(wav), "rb") as handle:
        return handle.getnframes() / handle.getframerate()


def detect_speech(
    wav: Path, on_progress: Callable[[float], None] | None = None
) -> list[Interval]:
    """Speech intervals of the whole recording, chunk by chunk so memory stays flat."""
    total = wav_duration(wav) or 1.0
    found: list[Interval] = []
    for offset, samples in _chunks(wav):
        for stamp in get_speech_timestamps(samples, VAD_OPTIONS, sampling_rate=SAMPLE_RATE):
            found.append(Interval(offset + stamp["start"] / SAMPLE_RATE,
                                  offset + stamp["end"] / SAMPLE_RATE))
        if on_progress is not None:
            on_progress(min(1.0, (offset + len(samples) / SAMPLE_RATE) / total))
    return merge_intervals(found, MERGE_GAP)


def merge_intervals(intervals: list[Interval], max_gap: float) -> list[Interval]:
    merged: list[Interval] = []
    for part in sorted(intervals, key=lambda i: i.start):
        if merged and part.start - merged[-1].end <= max_gap:
            merged[-1] = Interval(merged[-1].start, max(merged[-1].end, part.end))
        else:
            merged.append(part)
    return [Interval(round(i.start, 3), round(i.end, 3)) for i in merged]
