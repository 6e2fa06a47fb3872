"""What the store's callers rely on, on both engines (`engine_url`), beyond the
repositories' own tests: transactions roll back whole, another connection's commits are
seen, deletions take what hangs off a recording, and concurrent writers are serialised
(an editor saving from a stale version gets a conflict, not a duplicate key)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from replay.domain.captions import CaptionStatus
from replay.domain.model import Event
from replay.domain.stages import StageStatus
from replay.domain.transcript import Cue
from replay.live.store import LiveStore
from replay.settings import Settings
from replay.store.captions import Author, Captions, VersionConflict
from replay.store.db import Store
from replay.store.factory import open_store
from replay.store.postgresql import PostgreSQLConnection
from tests.store_engines import PG_URL, fresh_pg_schema, in_schema

WALL = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def event(slug: str) -> Event:
    return Event(slug, slug.upper(), WALL.date(), WALL.date(), "Europe/Paris", ("Plénière",))


@pytest.fixture
def stores(engine_url: str) -> Iterator[tuple[Store, Store]]:
    """Two connections to one database (two processes, or the loop's and the thread's)."""
    first = open_store(Settings(database_url=engine_url))
    second = open_store(Settings(database_url=engine_url))
    yield first, second
    first.close()
    second.close()


def add_recording(store: Store, sha256: str = "ab" * 32) -> int:
    return store.add_recording(event_slug="ev", room="Plénière", sha256=sha256,
                               original=Path("/o.mp4"), source_name="o.mp4",
                               started_at=WALL).id


def save_then_fail(store: Store) -> None:
    with store.transaction():
        store.save_event(event("ev"))
        raise RuntimeError


def test_a_failed_transaction_leaves_nothing(stores: tuple[Store, Store]) -> None:
    store, _ = stores
    with pytest.raises(RuntimeError):
        save_then_fail(store)
    assert store.load_event("ev") is None


def test_each_connection_sees_the_others_commits(stores: tuple[Store, Store]) -> None:
    first, second = stores
    assert second.event_summaries() == []
    first.save_event(event("ev"))
    assert [e.slug for e in second.event_summaries()] == ["ev"]
    first.save_event(event("fr"))
    assert [e.slug for e in second.event_summaries()] == ["ev", "fr"]


def test_deleting_a_recording_takes_its_plan_stages_and_captions(
        stores: tuple[Store, Store]) -> None:
    store, _ = stores
    store.save_event(event("ev"))
    kept, gone = add_recording(store, "aa"), add_recording(store, "bb")
    for recording in (kept, gone):
        store.set_stage(recording, "g", "media", input_key="k", status=StageStatus.DONE)
        Captions(store.db).import_machine((recording, "g", "fr"), [Cue(0, 1, ("A.",))], "s")
    store.set_stage(gone, "g", "speech", input_key="k", status=StageStatus.RUNNING)
    assert [s.stage for s in store.stages_of(gone)] == ["media", "speech"]  # in order
    store.delete_recording(gone)
    assert store.recording(gone) is None
    assert store.stages_of(gone) == []
    assert Captions(store.db).current((gone, "g", "fr")) is None
    assert [r.id for r in store.recordings_with_sha256("aa")] == [kept]
    assert Captions(store.db).current((kept, "g", "fr")) is not None


def test_takes_are_listed_per_day_or_all(stores: tuple[Store, Store]) -> None:
    store, _ = stores
    store.save_event(event("ev"))
    live = LiveStore(store.db)
    for day in ("2026-03-03", "2026-03-04"):
        live.start_take("ev", "Plénière", day=day, protocol="rtmp", peer="x",
                        wall_start=WALL, folder=f"/w/{day}")
    assert [t.day for t in live.takes_of("ev", "Plénière")] == ["2026-03-03", "2026-03-04"]
    assert [t.folder for t in live.takes_of("ev", "Plénière", "2026-03-04")] == [
        "/w/2026-03-04"]


# SQLite's BEGIN IMMEDIATE is the same lock as the writers' lock; its waiting shows in pg_locks
@pytest.mark.parametrize("engine_url", ["postgresql"], indirect=True)
def test_a_save_from_a_version_another_editor_is_replacing_is_a_conflict(
        engine_url: str) -> None:
    """Editor A's transaction is open (its version written, not committed) when editor
    B saves from the same version on another connection: B waits for A's commit, then
    gets `VersionConflict` (on PostgreSQL, without the writers' lock, B would read the
    old version and fail on a duplicate key instead)."""
    a, b = (open_store(Settings(database_url=engine_url)) for _ in range(2))
    try:
        a.save_event(event("ev"))
        key = (add_recording(a), "g", "fr")
        Captions(a.db).import_machine(key, [Cue(0, 1, ("A.",))], "s")
        outcome: list[BaseException | None] = []

        def b_saves() -> None:
            try:
                Captions(b.db).save(key, [Cue(0, 1, ("B.",))], Author("B", 2), expected=1,
                                    status=CaptionStatus.BROUILLON)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        with a.transaction():
            Captions(a.db).save(key, [Cue(0, 1, ("A !",))], Author("A", 1), expected=1,
                                status=CaptionStatus.BROUILLON)
            other = threading.Thread(target=b_saves)
            other.start()
            wait_until_blocked(b)
        other.join()
        assert len(outcome) == 1
        assert isinstance(outcome[0], VersionConflict), outcome
        current = Captions(a.db).current(key)
        assert current is not None
        assert (current.version, current.author) == (2, "A")
    finally:
        a.close()
        b.close()


def wait_until_blocked(store: Store) -> None:
    """Until the backend of ``store`` waits for a lock."""
    assert isinstance(store.db, PostgreSQLConnection)
    pid = store.db.raw.info.backend_pid
    with psycopg.connect(PG_URL, autocommit=True) as watcher:
        while not watcher.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT "
                                  "granted", (pid,)).fetchall()[0][0]:
            watcher.execute("SELECT pg_sleep(0.01)")


def terminate_backend(store: Store) -> None:
    """What a PostgreSQL restart does to the store's connection."""
    assert isinstance(store.db, PostgreSQLConnection)
    pid = store.db.raw.info.backend_pid
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_lost_postgresql_connection_is_opened_again_at_its_next_use() -> None:
    """The statement that meets the loss fails (its outcome is unknown); the store works
    again after it, in the same schema, without a new process."""
    with fresh_pg_schema() as schema:
        store = open_store(Settings(database_url=in_schema(PG_URL, schema)))
        try:
            store.save_event(event("before"))
            terminate_backend(store)
            with pytest.raises(psycopg.OperationalError):
                store.save_event(event("lost"))
            store.save_event(event("after"))
            assert {"before", "after"} <= set(store.event_slugs())
        finally:
            store.close()


def save_across_a_loss(store: Store) -> None:
    with store.transaction():
        store.save_event(event("first"))
        terminate_backend(store)
        with contextlib.suppress(psycopg.OperationalError):
            store.save_event(event("lost"))
        store.save_event(event("second"))


def test_a_connection_lost_inside_a_transaction_is_not_replaced_there() -> None:
    """Inside a transaction the loss ends it: its later statements are not sent on a new
    connection, where they would commit without the ones before them."""
    with fresh_pg_schema() as schema:
        store = open_store(Settings(database_url=in_schema(PG_URL, schema)))
        try:
            with pytest.raises(psycopg.OperationalError):
                save_across_a_loss(store)
            assert set(store.event_slugs()).isdisjoint({"first", "second"})
        finally:
            store.close()
