"""The live's clocks and the programme (pure functions).

Each take has its own clock (t = 0 at its first audio sample) and a wall-clock start; the
programme is on the wall clock. Here: which session is on now and next, when a session is
over (near its scheduled end, once the room has been silent long enough, or off air past
the reconnection grace), where its real start and end lie on the live speech map (the
VOD cut planner, `domain.cutplan`, run over what the live has seen so far), and which
segments and archive chunks that span covers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from replay.domain.cutplan import Cut, CutRules, Interval, plan_cuts
from replay.domain.errors import PlanError
from replay.domain.model import Session
from replay.live.store import Chunk, LiveSegment


@dataclass(frozen=True, slots=True)
class TakeClock:
    """Where a take's clock lies on the wall clock, and the speech heard in it."""

    take_id: int
    wall_start: datetime
    speech: tuple[Interval, ...] = ()

    def wall(self, t: float) -> datetime:
        return self.wall_start + timedelta(seconds=t)


@dataclass(frozen=True, slots=True)
class EndRules:
    before: float
    after: float
    silence: float
    grace: float


def on_now(sessions: Sequence[Session], now: datetime) -> tuple[Session | None, Session | None]:
    """The session scheduled now (if any) and the next one to start, in a room."""
    ordered = sorted(sessions, key=lambda s: s.start)
    current = next((s for s in ordered if s.start <= now < s.end), None)
    upcoming = next((s for s in ordered if s.start > now), None)
    return current, upcoming


def last_speech_end(clocks: Sequence[TakeClock]) -> datetime | None:
    ends = [clock.wall(part.end) for clock in clocks for part in clock.speech]
    return max(ends, default=None)


def session_over(session: Session, now: datetime, *, last_speech: datetime | None,
                 off_air_since: datetime | None, rules: EndRules) -> bool:
    """Whether `session` is over: only near or after its scheduled end, once speech heard
    during it has stopped for `rules.silence` seconds, or the room has been off air for
    `rules.grace` seconds, or at the latest `rules.after` seconds past the scheduled end."""
    window_opens = session.end - timedelta(seconds=rules.before)
    if now < window_opens:
        return False
    if now >= session.end + timedelta(seconds=rules.after):
        return True
    if off_air_since is not None and now - off_air_since >= timedelta(seconds=rules.grace):
        return True
    if last_speech is None or last_speech < max(session.start, window_opens):
        return False
    return now - last_speech >= timedelta(seconds=rules.silence)


def wall_speech(clocks: Sequence[TakeClock], origin: datetime) -> list[Interval]:
    """Speech of every take, in seconds from `origin` (before it is dropped)."""
    found = []
    for clock in clocks:
        offset = (clock.wall_start - origin).total_seconds()
        for part in clock.speech:
            start, end = max(0.0, part.start + offset), part.end + offset
            if end > start:
                found.append(Interval(start, end))
    return sorted(found, key=lambda i: i.start)


def plan_session(session: Session, room_sessions: Sequence[Session], *, origin: datetime,
                 now: datetime, clocks: Sequence[TakeClock], rules: CutRules) -> Cut | None:
    """The session's cut in seconds from `origin`, snapped on the speech heard so far
    the way the VOD planner does; None when what was received covers too little of it."""
    duration = (now - origin).total_seconds()
    if duration <= 0:
        return None
    try:
        cuts = plan_cuts(room_sessions, recording_start=origin, duration=duration,
                         speech=wall_speech(clocks, origin), rules=rules)
    except PlanError:
        return None
    return next((cut for cut in cuts if cut.guid == session.guid), None)


def segments_between(segments: Sequence[LiveSegment], clocks: Mapping[int, TakeClock],
                     start: datetime, end: datetime) -> list[LiveSegment]:
    """The kept segments of a day that overlap the wall-clock span [start, end)."""
    chosen = []
    for segment in segments:
        clock = clocks.get(segment.take)
        if clock is None or not segment.keep:
            continue
        seg_start = clock.wall(segment.start)
        if seg_start < end and clock.wall(segment.start + segment.duration) > start:
            chosen.append(segment)
    return chosen


def chunks_before(chunks: Sequence[Chunk], clocks: Mapping[int, TakeClock],
                  end: datetime) -> list[Chunk]:
    """The chunks that start before `end` (a stretch closed at a session's end)."""
    return [c for c in chunks if c.take_id in clocks and clocks[c.take_id].wall(c.start) < end]


def offset_in(chunks: Sequence[Chunk], clocks: Mapping[int, TakeClock],
              moment: datetime) -> float:
    """Seconds into the recording made of `chunks` end to end (the gaps between takes
    closed up) that correspond to the wall-clock `moment`."""
    elapsed = 0.0
    for chunk in chunks:
        start = clocks[chunk.take_id].wall(chunk.start)
        into = (moment - start).total_seconds()
        if into < chunk.duration:
            return elapsed + max(0.0, into)
        elapsed += chunk.duration
    return elapsed


def contiguous(chunks: Sequence[Chunk], clocks: Mapping[int, TakeClock],
               max_gap: float) -> list[list[Chunk]]:
    """`chunks` split where the wall clock jumps by more than `max_gap` seconds between
    one and the next (a session that must not be recorded, the room off air): each
    group can be one recording whose offsets are wall-clock seconds from its start
    (shorter gaps, a publisher reconnecting, are closed up)."""
    groups: list[list[Chunk]] = []
    previous_end: datetime | None = None
    for chunk in chunks:
        start = clocks[chunk.take_id].wall(chunk.start)
        if previous_end is None or (start - previous_end).total_seconds() > max_gap:
            groups.append([])
        groups[-1].append(chunk)
        previous_end = clocks[chunk.take_id].wall(chunk.start + chunk.duration)
    return groups
