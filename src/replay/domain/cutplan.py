"""Cut planning: programme slots -> offsets in a recording, snapped to speech gaps.

Sessions start late and overrun, so a scheduled boundary is only a hint: the real start
is the onset of speech after a long silence near the scheduled start, and the real end
is the last speech before a long silence near the scheduled end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import pairwise

from replay.domain.errors import N_, PlanError
from replay.domain.model import Session

GAP_SCORE_CAP = 30.0
DISTANCE_PENALTY = 0.02
MIN_SESSION_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Interval:
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class CutRules:
    window_before: float = 90.0
    window_after: float = 300.0
    min_gap: float = 2.5
    padding: float = 1.0


@dataclass(frozen=True, slots=True)
class Cut:
    """Where one session lies in the recording, in seconds from its start."""

    guid: str
    title: str
    scheduled_start: float
    scheduled_end: float
    start: float
    end: float
    start_snapped: bool
    end_snapped: bool
    #: An organiser set this cut by hand: planning again must not move it.
    moved_by_organiser: bool = False

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class _Slot:
    guid: str
    title: str
    start: float
    end: float


def silences(speech: Sequence[Interval], duration: float) -> list[Interval]:
    """The gaps between speech, including before the first and after the last."""
    gaps: list[Interval] = []
    cursor = 0.0
    for part in sorted(speech, key=lambda i: i.start):
        if part.start > cursor:
            gaps.append(Interval(cursor, min(part.start, duration)))
        cursor = max(cursor, part.end)
    if cursor < duration:
        gaps.append(Interval(cursor, duration))
    return [g for g in gaps if g.length > 0]


def covered_sessions(
    sessions: Sequence[Session], recording_start: datetime, duration: float
) -> list[Session]:
    """Publishable sessions that the recording covers for at least half their length."""
    covered = []
    for session in sessions:
        if not session.publishable:
            continue
        start = (session.start - recording_start).total_seconds()
        end = (session.end - recording_start).total_seconds()
        overlap = min(end, duration) - max(start, 0.0)
        if overlap > 0 and overlap >= min(0.5 * (end - start), 300.0):
            covered.append(session)
    return covered


def plan_cuts(
    sessions: Sequence[Session],
    *,
    recording_start: datetime,
    duration: float,
    speech: Sequence[Interval],
    rules: CutRules = CutRules(),
) -> list[Cut]:
    """One cut per covered session, in programme order, never overlapping."""
    slots = [
        _Slot(
            s.guid,
            s.title,
            (s.start - recording_start).total_seconds(),
            (s.end - recording_start).total_seconds(),
        )
        for s in sorted(covered_sessions(sessions, recording_start, duration),
                        key=lambda s: s.start)
    ]
    if not slots:
        raise PlanError("no programme session of this room lies within the recording")
    gaps = [g for g in silences(speech, duration) if g.length >= rules.min_gap or g.start == 0]
    starts = _snap_starts(slots, gaps, duration, rules)
    ends = _snap_ends(slots, starts, gaps, duration, rules)
    return [
        _padded_cut(slot, starts[i], ends[i], i, starts, ends, duration, rules)
        for i, slot in enumerate(slots)
    ]


def whole_recording_cut(
    guid: str, title: str, speech: Sequence[Interval], duration: float, rules: CutRules
) -> Cut:
    """A single replay for a recording that matches no programme session."""
    start = max(0.0, min((s.start for s in speech), default=0.0) - rules.padding)
    end = min(duration, max((s.end for s in speech), default=duration) + rules.padding)
    return Cut(guid, title, 0.0, duration, start, end, bool(speech), bool(speech))


def _best(candidates: list[tuple[float, float]], target: float) -> float | None:
    """Pick the candidate time with the longest silence beside it, nearest the target."""
    if not candidates:
        return None
    scored = [
        (min(gap, GAP_SCORE_CAP) - DISTANCE_PENALTY * abs(time - target), time)
        for time, gap in candidates
    ]
    return max(scored)[1]


def _snap_starts(
    slots: list[_Slot], gaps: list[Interval], duration: float, rules: CutRules
) -> list[tuple[float, bool]]:
    starts: list[tuple[float, bool]] = []
    floor = 0.0
    for slot in slots:
        low = max(floor, slot.start - rules.window_before)
        high = min(duration, slot.start + rules.window_after, slot.end)
        onsets = [(g.end, g.length) for g in gaps if low <= g.end <= high and g.end < duration]
        found = _best(onsets, slot.start)
        start = found if found is not None else min(max(slot.start, floor), duration)
        starts.append((start, found is not None))
        floor = start + MIN_SESSION_SECONDS
    return starts


def _snap_ends(
    slots: list[_Slot],
    starts: list[tuple[float, bool]],
    gaps: list[Interval],
    duration: float,
    rules: CutRules,
) -> list[tuple[float, bool]]:
    ends: list[tuple[float, bool]] = []
    for i, slot in enumerate(slots):
        ceiling = starts[i + 1][0] if i + 1 < len(slots) else duration
        earliest = starts[i][0] + MIN_SESSION_SECONDS
        low = max(earliest, slot.end - rules.window_before)
        high = min(ceiling, slot.end + rules.window_after)
        # A silence that reaches into the window from before it counts too: the session
        # ended early, and its speech stopped where that silence began.
        offsets = [(g.start, g.length) for g in gaps
                   if earliest <= g.start <= high and g.end >= low]
        found = _best(offsets, slot.end)
        fallback = min(max(slot.end, starts[i][0] + MIN_SESSION_SECONDS), ceiling)
        ends.append((found if found is not None else fallback, found is not None))
    return ends


def _padded_cut(
    slot: _Slot,
    start: tuple[float, bool],
    end: tuple[float, bool],
    index: int,
    starts: list[tuple[float, bool]],
    ends: list[tuple[float, bool]],
    duration: float,
    rules: CutRules,
) -> Cut:
    # Padding never reaches past the middle of the silence shared with a neighbour, so
    # that two sessions separated by less than twice the padding do not overlap.
    padded_start = max(start[0] - rules.padding, 0.0)
    if index > 0:
        padded_start = max(padded_start, (ends[index - 1][0] + start[0]) / 2)
    padded_end = min(end[0] + rules.padding, duration)
    if index + 1 < len(starts):
        padded_end = min(padded_end, (end[0] + starts[index + 1][0]) / 2)
    return Cut(
        slot.guid,
        slot.title,
        slot.start,
        slot.end,
        round(padded_start, 3),
        round(padded_end, 3),
        start[1],
        end[1],
    )


def move_boundary(cuts: Sequence[Cut], guid: str, *, start: float | None, end: float | None,
                  duration: float) -> list[Cut]:
    """Return the plan with one session's boundary moved by an organiser, checked."""
    updated = []
    for cut in cuts:
        if cut.guid == guid:
            cut = replace(cut, start=cut.start if start is None else start,
                          end=cut.end if end is None else end,
                          start_snapped=cut.start_snapped and start is None,
                          end_snapped=cut.end_snapped and end is None,
                          moved_by_organiser=True)
        updated.append(cut)
    check_plan(updated, duration)
    return updated


def keep_organiser_moves(planned: Sequence[Cut], previous: Sequence[Cut],
                         duration: float) -> list[Cut]:
    """A new plan that keeps every cut an organiser moved by hand in the previous one.

    When the kept cuts no longer fit the new plan (the programme changed under them), the
    previous plan stands as it was: an organiser's edit is never silently undone.
    """
    moved = {cut.guid: cut for cut in previous if cut.moved_by_organiser}
    if not moved:
        return list(planned)
    merged = [moved.get(cut.guid, cut) for cut in planned]
    try:
        check_plan(merged, duration)
    except PlanError:
        return list(previous)
    return merged


def check_plan(cuts: Sequence[Cut], duration: float) -> None:
    """Refuse a plan whose sessions overlap, are empty or leave the recording."""
    for cut in cuts:
        if not 0 <= cut.start < cut.end <= duration:
            raise PlanError(
                N_("session “{title}”: {start}–{end} s is not a span inside the recording "
                   "(0–{duration} s)"), title=cut.title, start=f"{cut.start:.1f}",
                end=f"{cut.end:.1f}", duration=f"{duration:.1f}")
    ordered = sorted(cuts, key=lambda c: c.start)
    for first, second in pairwise(ordered):
        if second.start < first.end:
            raise PlanError(N_("sessions “{first}” and “{second}” overlap"),
                            first=first.title, second=second.title)
