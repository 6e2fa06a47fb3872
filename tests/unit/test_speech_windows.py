"""Speech chunks merged into Whisper windows: table tests and properties."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.speech.transcriber import speech_windows, uncovered

S = 16000
W = 30 * S


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        pytest.param([], [], id="silence"),
        pytest.param([(S, 5 * S)], [(S, 5 * S)], id="one-chunk"),
        pytest.param([(0, 10 * S), (12 * S, 20 * S), (21 * S, 29 * S)], [(0, 29 * S)],
                     id="merged-up-to-30-s"),
        pytest.param([(0, 10 * S), (12 * S, 25 * S), (26 * S, 35 * S)],
                     [(0, 25 * S), (26 * S, 35 * S)], id="a-new-window-past-30-s"),
        pytest.param([(0, 70 * S)], [(0, W), (W, 2 * W), (2 * W, 70 * S)],
                     id="a-long-chunk-is-split"),
    ],
)
def test_speech_windows(chunks: list[tuple[int, int]], expected: list[tuple[int, int]]) -> None:
    assert speech_windows(chunks, W) == expected


@given(st.lists(st.tuples(st.integers(0, 40 * S), st.integers(1, 40 * S)), max_size=30))
def test_windows_cover_every_chunk_in_order_within_the_limit(
    gaps_and_lengths: list[tuple[int, int]]
) -> None:
    chunks, cursor = [], 0
    for gap, length in gaps_and_lengths:
        chunks.append((cursor + gap, cursor + gap + length))
        cursor += gap + length

    windows = speech_windows(chunks, W)

    assert all(0 < last - first <= W for first, last in windows)
    assert all(a[1] <= b[0] for a, b in pairwise(windows))
    for first, last in chunks:
        covered = sum(min(last, b) - max(first, a) for a, b in windows if a < last and b > first)
        assert covered == last - first


@pytest.mark.parametrize(("chunks", "spans", "skipped"), [
    ([], [], []),
    ([(0, 100)], [], [(0, 100)]),
    ([(0, 100), (200, 300)], [(10, 90), (210, 290)], []),
    # the decoder jumped over the first sentence (its text starts after it)
    ([(25, 100), (120, 200), (230, 290)], [(120, 195), (229, 285)], [(25, 100)]),
    # touching counts as covered; a span ending where the chunk starts does not touch it
    ([(100, 200)], [(190, 300)], []),
    ([(100, 200)], [(0, 100), (200, 300)], [(100, 200)]),
])
def test_uncovered_speech_is_what_no_segment_touches(
        chunks: list[tuple[int, int]], spans: list[tuple[int, int]],
        skipped: list[tuple[int, int]]) -> None:
    assert uncovered(chunks, spans) == skipped
