"""Session cuts moved onto the source's keyframes, so that the top rung can be copied.

A copied video stream can only start on a keyframe. Each cut's start moves back to the
last keyframe before it (less than one GOP), never into the previous session's speech;
where that is impossible, forward to the first keyframe before the session's first
words; otherwise it stays where it is (and that session is encoded, not copied). Cuts
an organiser set by hand never move. Pure logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from replay.domain.cutplan import MIN_SESSION_SECONDS, Cut, Interval
from replay.domain.ladder import is_keyframe

#: Silence kept between a session's last (or first) words and a moved boundary, seconds.
SPEECH_MARGIN = 0.2


def _last_speech_end(speech: Sequence[Interval], before: float) -> float:
    return max((min(part.end, before) for part in speech if part.start < before), default=0.0)


def _first_speech_start(speech: Sequence[Interval], after: float, end: float) -> float:
    return min((max(part.start, after) for part in speech
                if part.end > after and part.start < end), default=end)


def _snapped_start(cut: Cut, floor: float, ceiling: float,
                   keyframes: Sequence[float]) -> float:
    back = [k for k in keyframes if floor <= k <= cut.start]
    if back:
        return max(back)
    forward = [k for k in keyframes if cut.start < k <= ceiling]
    return min(forward) if forward else cut.start


def snap_to_keyframes(cuts: Sequence[Cut], keyframes: Sequence[float],
                      speech: Sequence[Interval]) -> list[Cut]:
    """``cuts`` (in recording order) with their starts on keyframes where possible.

    A start that moves back may shorten the previous cut's trailing silence, never its
    speech; the previous cut's end is then the new start, so cuts never overlap.
    """
    ordered = sorted(cuts, key=lambda c: c.start)
    out: list[Cut] = []
    for cut in ordered:
        previous = out[-1] if out else None
        if cut.moved_by_organiser or is_keyframe(cut.start, keyframes):
            out.append(cut)
            continue
        floor = 0.0
        if previous is not None:
            floor = (previous.end if previous.moved_by_organiser
                     else max(_last_speech_end(speech, previous.end) + SPEECH_MARGIN,
                              previous.start + MIN_SESSION_SECONDS))
        ceiling = _first_speech_start(speech, cut.start, cut.end) - SPEECH_MARGIN
        start = _snapped_start(cut, floor, ceiling, keyframes)
        if previous is not None and previous.end > start:
            out[-1] = replace(previous, end=start)
        out.append(replace(cut, start=start))
    return out
