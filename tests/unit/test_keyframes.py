"""Cuts moved onto source keyframes: table tests and properties."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.domain.cutplan import Cut, Interval, check_plan
from replay.domain.keyframes import SPEECH_MARGIN, snap_to_keyframes
from replay.domain.ladder import is_keyframe

EVERY_2S = [2.0 * i for i in range(100)]


def cut(guid: str, start: float, end: float, *, moved: bool = False) -> Cut:
    return Cut(guid, guid, start, end, start, end, True, True, moved_by_organiser=moved)


def spans(cuts: list[Cut]) -> list[tuple[float, float]]:
    return [(c.start, c.end) for c in cuts]


@pytest.mark.parametrize(
    ("cuts", "speech", "expected"),
    [
        pytest.param([cut("a", 31.0, 90.0)], [Interval(32.0, 89.0)], [(30.0, 90.0)],
                     id="back-to-the-last-keyframe"),
        pytest.param([cut("a", 30.0, 90.0)], [Interval(31.0, 89.0)], [(30.0, 90.0)],
                     id="already-on-a-keyframe"),
        # Back-to-back sessions: the second moves back into the first's trailing silence.
        pytest.param([cut("a", 10.0, 61.5), cut("b", 62.5, 120.0)],
                     [Interval(11.0, 61.0), Interval(63.5, 119.0)],
                     [(10.0, 61.5), (62.0, 120.0)], id="into-the-previous-silence"),
        pytest.param([cut("a", 10.0, 62.4), cut("b", 62.5, 120.0)],
                     [Interval(11.0, 61.9), Interval(64.5, 119.0)],
                     [(10.0, 62.4), (64.0, 120.0)], id="forward-when-back-would-cut-speech"),
        pytest.param([cut("a", 10.0, 62.4), cut("b", 62.5, 120.0)],
                     [Interval(11.0, 61.9), Interval(63.9, 119.0)],
                     [(10.0, 62.4), (62.5, 120.0)], id="stays-when-both-would-cut-speech"),
        pytest.param([cut("a", 10.0, 59.5), cut("b", 61.0, 120.0)],
                     [Interval(11.0, 58.5), Interval(62.0, 119.0)],
                     [(10.0, 59.5), (60.0, 120.0)], id="previous-end-untouched-when-before"),
        pytest.param([cut("a", 10.0, 61.5), cut("b", 61.9, 120.0)],
                     [Interval(11.0, 59.0), Interval(62.9, 119.0)],
                     [(10.0, 60.0), (60.0, 120.0)], id="previous-end-shortened"),
        pytest.param([cut("a", 10.0, 61.5, moved=True), cut("b", 61.9, 120.0)],
                     [Interval(11.0, 59.0), Interval(62.9, 119.0)],
                     [(10.0, 61.5), (62.0, 120.0)], id="an-organiser-cut-is-a-wall"),
        pytest.param([cut("a", 11.0, 61.5), cut("b", 63.0, 120.0, moved=True)],
                     [Interval(12.0, 59.0), Interval(64.0, 119.0)],
                     [(10.0, 61.5), (63.0, 120.0)], id="an-organiser-cut-never-moves"),
    ],
)
def test_snap_to_keyframes(cuts: list[Cut], speech: list[Interval],
                           expected: list[tuple[float, float]]) -> None:
    assert spans(snap_to_keyframes(cuts, EVERY_2S, speech)) == expected


def test_without_keyframes_nothing_moves() -> None:
    cuts = [cut("a", 11.0, 61.5), cut("b", 63.0, 120.0)]

    assert snap_to_keyframes(cuts, [], [Interval(12.0, 60.0)]) == cuts


def test_other_fields_are_kept() -> None:
    original = replace(cut("a", 31.0, 90.0), title="Table ronde", start_snapped=False)

    (snapped,) = snap_to_keyframes([original], EVERY_2S, [])

    assert snapped == replace(original, start=30.0)


@given(
    st.lists(st.tuples(st.floats(0.5, 30.0), st.floats(5.0, 120.0)), min_size=1, max_size=5),
    st.floats(0.4, 4.0),
    st.floats(0.0, 3.0),
)
def test_snapping_never_overlaps_cuts_nor_cuts_into_speech(
    layout: list[tuple[float, float]], gop: float, phase: float
) -> None:
    cursor, cuts, speech = 0.0, [], []
    for i, (gap, length) in enumerate(layout):
        speech.append(Interval(cursor + gap, cursor + gap + length))
        cuts.append(cut(str(i), max(0.0, cursor + gap - min(1.0, gap / 2)),
                        cursor + gap + length + min(1.0, layout[i + 1][0] / 2
                                                    if i + 1 < len(layout) else 1.0)))
        cursor += gap + length
    keyframes = [phase + gop * k for k in range(int(cursor / gop) + 2)]

    snapped = snap_to_keyframes(cuts, keyframes, speech)

    check_plan(snapped, cursor + 2.0)
    for before, after, talk in zip(cuts, snapped, speech, strict=True):
        assert before.start - gop - 1e-9 <= after.start <= talk.start - SPEECH_MARGIN + 1e-9 \
            or after.start == before.start
        assert after.end >= talk.end + SPEECH_MARGIN - 1e-9 or after.end == before.end
        if after.start != before.start:
            assert is_keyframe(after.start, keyframes)
