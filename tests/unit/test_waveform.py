"""Waveform peaks: the highest level of each bucket, a partial last bucket included."""

from __future__ import annotations

import struct

import pytest

from replay.domain.waveform import peaks


@pytest.mark.parametrize(("samples", "rate", "per_second", "expected"), [
    ((), 16000, 20, []),
    ((0, -32768, 16384, 100), 40, 20, [1.0, 0.5]),
    ((0, 0, 0, 3277, 0), 40, 20, [0.0, 0.1, 0.0]),  # a last partial bucket
    ((1000,) * 10, 10, 20, [0.031] * 10),  # rate below the peaks' rate: one sample each
])
def test_peaks(samples: tuple[int, ...], rate: int, per_second: int,
               expected: list[float]) -> None:
    assert peaks(struct.pack(f"<{len(samples)}h", *samples), rate, per_second) == expected


def test_an_odd_byte_is_ignored() -> None:
    assert peaks(struct.pack("<2h", 0, 16384) + b"\x01", 40, 20) == [0.5]
