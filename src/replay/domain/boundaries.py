"""Moves of a cut-plan boundary that look like a slip of the keyboard or the mouse, and
the speech-map and waveform views around a boundary. Pure logic, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from replay.domain.cutplan import Cut, Interval
from replay.domain.errors import N_, PlanError

NBSP = "\u00a0"
#: A session shorter than this after a move is most likely a typing slip (« 0.04 »).
SHORTEST_PLAUSIBLE = 30.0
#: A boundary moved further than this (seconds) is most likely a slip too.
LONGEST_PLAUSIBLE_MOVE = 600.0


def french_seconds(value: float) -> str:
    minutes, seconds = divmod(abs(value), 60)
    text = (f"{int(minutes)}{NBSP}min{NBSP}{seconds:02.0f}{NBSP}s" if minutes >= 1
            else f"{seconds:.2f}".rstrip("0").rstrip(".").replace(".", ",") + f"{NBSP}s")
    return text


def implausible(before: Cut, after: Cut) -> list[PlanError]:
    """Why moving `before` to `after` deserves a confirmation (reasons shown with
    `replay.locale.describe`), or nothing."""
    reasons = []
    if after.duration < SHORTEST_PLAUSIBLE:
        reasons.append(PlanError(N_("the session would last only {duration}"),
                                 duration=french_seconds(after.duration)))
    for message, old, new in ((N_("the start would move by {shift}"), before.start, after.start),
                              (N_("the end would move by {shift}"), before.end, after.end)):
        if abs(new - old) > LONGEST_PLAUSIBLE_MOVE:
            reasons.append(PlanError(message, shift=french_seconds(new - old)))
    return reasons


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of the recording shown around a boundary, in seconds."""

    start: float
    end: float


def window_around(at: float, duration: float, *, before: float = 20.0,
                  after: float = 20.0) -> Window:
    """`before` and `after` seconds around `at`, slid to stay inside the recording."""
    span = min(duration, before + after)
    start = min(max(0.0, at - before), max(0.0, duration - span))
    return Window(round(start, 3), round(start + span, 3))


def speech_in(window: Window, speech: Sequence[Interval]) -> list[Interval]:
    """The speech intervals that meet the window, clipped to it."""
    return [Interval(max(window.start, i.start), min(window.end, i.end)) for i in speech
            if i.end > window.start and i.start < window.end]
