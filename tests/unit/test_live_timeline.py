"""The live's programme logic: what is on, when a session is over, its cut on the live
speech map, and which segments and chunks a span covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from replay.domain.cutplan import CutRules, Interval
from replay.domain.model import Session
from replay.live.store import Chunk, LiveSegment
from replay.live.timeline import (
    EndRules,
    TakeClock,
    chunks_before,
    contiguous,
    last_speech_end,
    offset_in,
    on_now,
    plan_session,
    segments_between,
    session_over,
)

T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
RULES = EndRules(before=90, after=300, silence=8, grace=30)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def session(guid: str, start: float, minutes: float) -> Session:
    return Session(guid=guid, title=guid, room="Salle", start=at(start),
                   duration=timedelta(minutes=minutes))


FIRST = session("a", 60, 10)        # 60 - 660
SECOND = session("b", 720, 10)      # 720 - 1320


def test_on_now() -> None:
    assert on_now([FIRST, SECOND], at(30)) == (None, FIRST)
    assert on_now([FIRST, SECOND], at(100)) == (FIRST, SECOND)
    assert on_now([FIRST, SECOND], at(700)) == (None, SECOND)
    assert on_now([FIRST, SECOND], at(2000)) == (None, None)


@pytest.mark.parametrize(("now", "last", "off_air", "over"), [
    (400, 390, None, False),     # before the window opens (660 - 90)
    (600, 580, None, True),      # speech stopped 20 s ago inside the window: ended early
    (600, 595, None, False),     # only 5 s of silence
    (700, 650, None, True),      # overran a little, then silence
    (900, 899, None, False),     # still talking after the scheduled end
    (961, 960, None, True),      # at the latest 300 s past the scheduled end
    (600, None, None, False),    # nothing said at all yet
    (600, 30, None, False),      # only speech from before the session
    (650, 640, at(645), True),   # 8 s of silence: over, whatever the link
    (650, 649, at(610), True),   # off air for 40 s > 30 s grace
    (650, 649, at(630), False),  # off air for 20 s: the publisher may come back
])
def test_session_over(now: float, last: float | None, off_air: datetime | None,
                      over: bool) -> None:
    assert session_over(FIRST, at(now), last_speech=None if last is None else at(last),
                        off_air_since=off_air, rules=RULES) is over


def test_last_speech_across_takes() -> None:
    clocks = [TakeClock(1, at(0), (Interval(5, 10),)), TakeClock(2, at(100), (Interval(1, 3),))]
    assert last_speech_end(clocks) == at(103)
    assert last_speech_end([TakeClock(1, at(0))]) is None


def test_the_cut_snaps_on_the_speech_heard_within_five_seconds() -> None:
    # A late start (speech at 95 s instead of 60 s), an early end (610 s), pauses inside.
    speech = (Interval(95, 300), Interval(301.5, 450), Interval(452, 610))
    clock = TakeClock(1, at(10), tuple(Interval(i.start - 10, i.end - 10) for i in speech))
    cut = plan_session(FIRST, [FIRST, SECOND], origin=at(10), now=at(625), clocks=[clock],
                       rules=CutRules(padding=1.0))
    assert cut is not None
    assert cut.guid == "a"
    assert abs((10 + cut.start) - 95) <= 5
    assert abs((10 + cut.end) - 610) <= 5
    assert cut.start_snapped
    assert cut.end_snapped


def test_a_session_split_by_a_reconnection_is_one_cut() -> None:
    takes = [TakeClock(1, at(50), (Interval(40, 300),)),       # speech 90 - 350
             TakeClock(2, at(380), (Interval(2, 240),))]       # speech 382 - 620
    cut = plan_session(FIRST, [FIRST, SECOND], origin=at(50), now=at(640), clocks=takes,
                       rules=CutRules())
    assert cut is not None
    assert abs((50 + cut.start) - 90) <= 5
    assert abs((50 + cut.end) - 620) <= 5


def test_too_little_received_gives_no_cut() -> None:
    clock = TakeClock(1, at(640), (Interval(1, 10),))
    assert plan_session(FIRST, [FIRST], origin=at(640), now=at(660), clocks=[clock],
                        rules=CutRules()) is None


def test_segments_and_chunks_of_a_span_on_two_takes() -> None:
    clocks = {1: TakeClock(1, at(0)), 2: TakeClock(2, at(100))}
    day = [LiveSegment(n, 1, 2.0 * n, 2.0, False) for n in range(10)] + \
          [LiveSegment(10 + n, 2, 2.0 * n, 2.0, n == 0) for n in range(5)]
    day[3] = LiveSegment(3, 1, 6.0, 2.0, False, keep=False)
    chosen = segments_between(day, clocks, at(5), at(103))
    assert [s.sequence for s in chosen] == [2, 4, 5, 6, 7, 8, 9, 10, 11]
    chunks = [Chunk(1, n, 4.0 * n, 4.0, f"/c{n}", "pending") for n in range(5)] + \
             [Chunk(2, n, 4.0 * n, 4.0, f"/d{n}", "pending") for n in range(5)]
    before = chunks_before(chunks, clocks, at(105))
    assert [(c.take_id, c.number) for c in before] == \
        [(1, n) for n in range(5)] + [(2, 0), (2, 1)]
    # The recording joins the takes end to end: 100 s on the wall is 20 s in.
    assert offset_in(before, clocks, at(10)) == pytest.approx(10)
    assert offset_in(before, clocks, at(50)) == pytest.approx(20)  # in the gap: its end
    assert offset_in(before, clocks, at(106)) == pytest.approx(26)


def test_chunks_split_into_recordings_at_long_gaps_only() -> None:
    clocks = {1: TakeClock(1, at(0)), 2: TakeClock(2, at(50)), 3: TakeClock(3, at(200))}
    chunks = [Chunk(1, n, 2.0 * n, 2.0, "", "pending") for n in (0, 1, 2, 5, 6)] + \
             [Chunk(2, 0, 0.0, 2.0, "", "pending"), Chunk(3, 0, 0.0, 2.0, "", "pending")]
    groups = contiguous(chunks, clocks, 30.0)
    # 6 s of dropped chunks and a 36 s reconnection... the latter is too long.
    assert [[(c.take_id, c.number) for c in g] for g in groups] == [
        [(1, 0), (1, 1), (1, 2), (1, 5), (1, 6)], [(2, 0)], [(3, 0)]]
    assert contiguous([], clocks, 30.0) == []
