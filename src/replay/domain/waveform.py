"""A waveform to draw: the peak level of each short bucket of a session's audio."""

from __future__ import annotations

import numpy as np

#: Peaks a second: enough to place a cue's edge within 50 ms.
PEAKS_PER_SECOND = 20


def peaks(pcm: bytes, sample_rate: int, per_second: int = PEAKS_PER_SECOND) -> list[float]:
    """The highest absolute level (0 to 1, three decimals) of each 1/`per_second` s of
    `pcm` (signed 16-bit little-endian mono); a last partial bucket counts."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.int32)
    if samples.size == 0:
        return []
    size = max(1, sample_rate // per_second)
    padded = np.zeros(-(-samples.size // size) * size, dtype=np.int32)
    padded[: samples.size] = np.abs(samples)
    levels = padded.reshape(-1, size).max(axis=1) / 32768.0
    return [round(float(level), 3) for level in levels]
