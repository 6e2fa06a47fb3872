"""The state's migrations on both engines (`engine_url`): forward only, from an empty
database and from the previous version with its data kept, once when several processes
open the database together; and both engines end with the same tables and columns."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from replay.domain.captions import CaptionStatus
from replay.domain.errors import ReplayError
from replay.domain.model import Event
from replay.domain.transcript import Cue
from replay.live.store import LiveStore
from replay.settings import Settings
from replay.store.captions import Author, Captions
from replay.store.connection import Connection
from replay.store.db import MIGRATIONS, Store
from replay.store.factory import open_store
from replay.store.migrations import latest_version, migrate, schema_version
from replay.store.postgresql import PostgreSQLConnection
from replay.store.sqlite import SQLiteConnection
from replay.store.users import Users
from tests.store_engines import database_url

EVENT = Event("ev", "Évènement", datetime(2026, 3, 3).date(), datetime(2026, 3, 3).date(),
              "Europe/Paris", ("Plénière",))
WALL = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
PREVIOUS = latest_version() - 1


def unmigrated(url: str) -> Connection:
    """A connection to the database of ``url``, as it is (no migration)."""
    settings = Settings(database_url=url)
    if settings.uses_postgresql:
        return PostgreSQLConnection.open(url)
    return SQLiteConnection.open(settings.database_path)


def columns(connection: Connection) -> dict[str, set[str]]:
    if connection.engine == "sqlite":
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {table: {row["name"] for row in connection.execute(
            f"PRAGMA table_info({table})")} for table in tables}
    found: dict[str, set[str]] = {}
    for row in connection.execute("SELECT table_name, column_name FROM "
                                  "information_schema.columns WHERE table_schema = "
                                  "current_schema()"):
        found.setdefault(row["table_name"], set()).add(row["column_name"])
    return found


def indexes(connection: Connection) -> set[str]:
    if connection.engine == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    return {row[0] for row in connection.execute(query)}


def test_an_empty_database_gets_the_latest_schema_once(engine_url: str) -> None:
    connection = unmigrated(engine_url)
    try:
        assert migrate(connection) == latest_version()
        assert migrate(connection) == latest_version()  # nothing left to do
        with connection.transaction():
            assert schema_version(connection) == latest_version()
        assert {"recordings_sha256", "live_takes_status"} <= indexes(connection)
    finally:
        connection.close()


def test_both_engines_end_with_the_same_tables_and_columns(tmp_path: Path) -> None:
    found = []
    for engine in ("sqlite", "postgresql"):
        with database_url(engine, tmp_path) as url:
            connection = unmigrated(url)
            migrate(connection)
            found.append(columns(connection))
            connection.close()
    sqlite, postgresql = found
    postgresql["stages"].discard("rowid")  # SQLite's implicit one, made explicit
    assert postgresql == sqlite


def fill(store: Store) -> int:
    """One of everything that matters (programme, recording, captions, account, live)."""
    store.save_event(EVENT)
    recording = store.add_recording(event_slug="ev", room="Plénière", sha256="ab" * 32,
                                    original=Path("/o.mp4"), source_name="o.mp4",
                                    started_at=WALL)
    Captions(store.db).import_machine((recording.id, "g", "fr"),
                                      [Cue(0.0, 1.5, ("Bonjour.",))], "sha")
    Users(store.db).add("Orga@example.org", "Orga", "organiser", "mot de passe")
    LiveStore(store.db).start_take("ev", "Plénière", day="2026-03-03", protocol="rtmp",
                                   peer="x", wall_start=WALL, folder="/w")
    return recording.id


def test_the_previous_version_migrates_with_its_data(engine_url: str) -> None:
    old = unmigrated(engine_url)
    assert migrate(old, PREVIOUS) == PREVIOUS
    assert "recordings_sha256" not in indexes(old)
    recording_id = fill(Store(old))
    old.close()

    store = open_store(Settings(database_url=engine_url))  # the new program starts
    try:
        with store.transaction():
            assert schema_version(store.db) == latest_version()
        assert "recordings_sha256" in indexes(store.db)
        assert [r.id for r in store.recordings_with_sha256("ab" * 32)] == [recording_id]
        current = Captions(store.db).current((recording_id, "g", "fr"))
        assert current is not None
        assert current.cues[0].lines == ("Bonjour.",)
        assert Users(store.db).by_email("orga@EXAMPLE.org") is not None
        assert [t.folder for t in LiveStore(store.db).open_takes()] == ["/w"]
        saved = Captions(store.db).save((recording_id, "g", "fr"), [Cue(0.0, 1.0, ("Oui.",))],
                                        Author("Édith", 1), expected=current.version,
                                        status=CaptionStatus.VALIDE)
        assert saved.version == current.version + 1
    finally:
        store.close()


def test_processes_opening_a_new_database_together_migrate_it_once(engine_url: str) -> None:
    """Each opener reads the version under the writer's lock: the second finds the
    schema made, instead of making it again (which fails: the tables exist)."""
    start = threading.Barrier(3, timeout=60)
    failures: list[BaseException] = []

    def open_one() -> None:
        try:
            connection = unmigrated(engine_url)
        except BaseException as exc:
            failures.append(exc)
            start.abort()  # the others must not wait for this one
            return
        try:
            start.wait()
            migrate(connection)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_database_newer_than_the_program_is_refused(engine_url: str) -> None:
    connection = unmigrated(engine_url)
    try:
        migrate(connection)
        connection.execute("UPDATE schema_version SET version = ?", (latest_version() + 1,))
        with pytest.raises(ReplayError, match="plus récent que celui de ce programme"):
            migrate(connection)
    finally:
        connection.close()


def test_a_sqlite_database_from_before_the_version_table_keeps_its_data(
        tmp_path: Path) -> None:
    """Its version was ``PRAGMA user_version``: read once, then the table holds it."""
    path = tmp_path / "replay.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:PREVIOUS], start=1):
        old.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    old.execute("INSERT INTO events VALUES ('e', 'E', '2026-03-03', '2026-03-03', 'UTC', '[]')")
    old.close()
    store = Store.open(path)
    try:
        assert store.event_slugs() == ["e"]
        assert store.db.execute("SELECT version FROM schema_version").fetchall()[0][0] == \
            latest_version()
    finally:
        store.close()
