"""The live's state on both engines (`engine_url`): keys, takes and the day's segments,
across a reopened store."""

from __future__ import annotations

from datetime import UTC, datetime

from replay.domain.model import Event
from replay.live.store import LiveStore
from replay.settings import Settings
from replay.store.db import Store
from replay.store.factory import open_store

EVENT = Event("ev", "Évènement", datetime(2026, 3, 3).date(), datetime(2026, 3, 3).date(),
              "Europe/Paris", ("Plénière", "Salle 2"))
WALL = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def open_live(engine_url: str) -> tuple[Store, LiveStore]:
    store = open_store(Settings(database_url=engine_url))
    store.save_event(EVENT)
    return store, LiveStore(store.db)


def test_keys_are_issued_regenerated_and_revoked_keeping_the_srt_port(engine_url: str) -> None:
    store, live = open_live(engine_url)
    first = live.issue_key("ev", "Plénière", 9000)
    second_room = live.issue_key("ev", "Salle 2", 9000)
    assert (first.srt_port, second_room.srt_port) == (9000, 9001)
    assert first.stream_key.isalnum()
    assert len(first.stream_key) >= 20
    assert 10 <= len(first.srt_passphrase) <= 79
    assert live.find_key(first.stream_key) == first
    again = live.issue_key("ev", "Plénière", 9000)
    assert again.stream_key != first.stream_key
    assert again.srt_port == 9000
    assert live.find_key(first.stream_key) is None, "the old key no longer exists"
    assert live.revoke_key("ev", "Plénière") is True
    assert live.revoke_key("ev", "Plénière") is False
    revoked = live.find_key(again.stream_key)
    assert revoked is not None
    assert revoked.revoked
    assert not live.issue_key("ev", "Plénière", 9000).revoked
    store.close()


def test_the_day_continues_across_takes_and_a_reopened_store(engine_url: str) -> None:
    store, live = open_live(engine_url)
    take = live.start_take("ev", "Plénière", day="2026-03-03", protocol="rtmp",
                           peer="192.0.2.7", wall_start=WALL, folder="/w/1")
    for n in range(3):
        live.add_segment(take, "720p", start=2.0 * n, duration=2.0, keep=True)
    store.close()

    store = open_store(Settings(database_url=engine_url))  # replay serve restarted
    live = LiveStore(store.db)
    assert [t.id for t in live.open_takes()] == [take.id]
    live.end_take(take.id, WALL)
    second = live.start_take("ev", "Plénière", day="2026-03-03", protocol="srt",
                             peer="127.0.0.1", wall_start=WALL, folder="/w/2")
    added = [live.add_segment(second, "720p", start=2.0 * n, duration=2.0, keep=n != 1)
             for n in range(2)]
    assert [(s.sequence, s.discontinuity) for s in added] == [(3, True), (4, False)]
    day = live.segments("ev", "Plénière", "2026-03-03", "720p")
    assert [s.sequence for s in day] == [0, 1, 2, 3, 4]
    assert [s.keep for s in day] == [True, True, True, True, False]
    other_day = live.start_take("ev", "Plénière", day="2026-03-04", protocol="rtmp",
                                peer="x", wall_start=WALL, folder="/w/3")
    assert live.add_segment(other_day, "720p", start=0, duration=2, keep=True).sequence == 0
    moved = live.move_start(second, datetime(2026, 3, 3, 7, 59, tzinfo=UTC))
    assert moved.wall_start.minute == 59
    assert live.open_takes()[0].id == second.id
    store.close()


def test_chunks_wait_for_their_stretch(engine_url: str) -> None:
    store, live = open_live(engine_url)
    take = live.start_take("ev", "Plénière", day="2026-03-03", protocol="rtmp", peer="x",
                           wall_start=WALL, folder="/w")
    live.add_chunk(take.id, 0, 0.0, 2.0, "/w/archive/000000.ts", keep=True)
    live.add_chunk(take.id, 1, 2.0, 2.0, "/w/archive/000001.ts", keep=False)
    live.add_chunk(take.id, 2, 4.0, 2.0, "/w/archive/000002.ts", keep=True)
    live.add_chunk(take.id, 2, 4.0, 2.0, "/w/archive/000002.ts", keep=True)  # seen twice
    pending = live.pending_chunks("ev", "Plénière")
    assert [c.number for c in pending] == [0, 2]
    live.archive_chunks(pending[:1], recording_id=7)
    assert [c.number for c in live.pending_chunks("ev", "Plénière")] == [2]
    assert live.chunk_count(take.id) == 3
    store.close()
