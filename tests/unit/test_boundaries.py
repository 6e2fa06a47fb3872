"""Implausible boundary moves ask for a confirmation; the zoom window stays inside."""

from __future__ import annotations

import pytest

from replay.domain.boundaries import Window, implausible, speech_in, window_around
from replay.domain.cutplan import Cut, Interval
from replay.locale import describe

BEFORE = Cut("g", "Table ronde", 600.0, 3600.0, 605.0, 3590.0, True, True)


def moved(start: float, end: float) -> Cut:
    return Cut("g", "Table ronde", 600.0, 3600.0, start, end, False, False, True)


@pytest.mark.parametrize(("after", "expected"), [
    (moved(610.0, 3590.0), []),
    (moved(0.04, 3590.0), ["le début bougerait de 10\u00a0min\u00a005\u00a0s"]),
    (moved(605.0, 605.04), ["la séance ne durerait plus que 0,04\u00a0s",
                            "la fin bougerait de 49\u00a0min\u00a045\u00a0s"]),
    (moved(3580.0, 3590.0), ["la séance ne durerait plus que 10\u00a0s",
                             "le début bougerait de 49\u00a0min\u00a035\u00a0s"]),
])
def test_implausible_moves(after: Cut, expected: list[str]) -> None:
    assert [describe(reason) for reason in implausible(BEFORE, after)] == expected


@pytest.mark.parametrize(("at", "duration", "window"), [
    (100.0, 3600.0, Window(80.0, 120.0)),
    (5.0, 3600.0, Window(0.0, 40.0)),
    (3599.0, 3600.0, Window(3560.0, 3600.0)),
    (10.0, 25.0, Window(0.0, 25.0)),
])
def test_window_around_stays_inside_the_recording(at: float, duration: float,
                                                  window: Window) -> None:
    assert window_around(at, duration) == window


def test_speech_in_clips_to_the_window() -> None:
    speech = [Interval(0, 10), Interval(75, 90), Interval(110, 200), Interval(300, 310)]
    assert speech_in(Window(80, 120), speech) == [Interval(80, 90), Interval(110, 120)]
