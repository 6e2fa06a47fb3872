"""The state's repositories (programmes, recordings, cut plans, stages), over the
connection port of `store.connection`: SQLite (the embedded default) or PostgreSQL.

Calls are short; the pipeline makes a handful per stage.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from replay.domain.cutplan import Cut
from replay.domain.model import Event, Person, Session
from replay.domain.publication import Release
from replay.domain.stages import PlanReview, StageStatus
from replay.store.connection import Connection, Row
from replay.store.migrations import SQLITE_MIGRATIONS
from replay.store.migrations import migrate as migrate
from replay.store.sqlite import SQLiteConnection, sqlite_transaction
from replay.store.sqlite import private_database as private_database

#: The stage whose status is a `Release` (what people decided about a session).
PUBLISH_STAGE = "publish"

#: SQLite's migrations (`store.migrations` has both engines').
MIGRATIONS = SQLITE_MIGRATIONS


def connect(path: Path, *, check_same_thread: bool = True) -> SQLiteConnection:
    """The SQLite state database, migrated. `check_same_thread=False` for a connection
    that one dedicated thread other than its opener uses (`store.async_store`)."""
    connection = SQLiteConnection.open(path, check_same_thread=check_same_thread)
    migrate(connection)
    return connection


def transaction(connection: Connection | sqlite3.Connection) -> AbstractContextManager[None]:
    """A transaction on either a store connection or a raw sqlite3 one (the SQLite job
    queue's, in the same file); nested ones join the outer one."""
    if isinstance(connection, sqlite3.Connection):
        return sqlite_transaction(connection)
    return connection.transaction()


@dataclass(frozen=True, slots=True)
class Recording:
    id: int
    event_slug: str
    room: str
    sha256: str
    original: Path
    source_name: str
    started_at: datetime
    duration: float | None


@dataclass(frozen=True, slots=True)
class StageState:
    stage: str
    guid: str
    input_key: str
    status: StageStatus | Release  # a Release for the ``publish`` stage
    progress: float
    error: str | None


@dataclass(frozen=True, slots=True)
class EventSummary:
    """An event without its sessions, only their number: what lists need."""

    slug: str
    title: str
    start: date
    end: date
    timezone: str
    rooms: tuple[str, ...]
    session_count: int


@dataclass(frozen=True, slots=True)
class ImportSummary:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]


class Store:
    """Repositories over one connection (`store.connection`)."""

    def __init__(self, connection: Connection) -> None:
        self.db = connection
        #: `event_summaries` as of the connection's data version (see there).
        self._summaries: tuple[int, list[EventSummary]] | None = None

    @classmethod
    def open(cls, path: Path) -> Store:
        return cls(connect(path))

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[None]:
        """One transaction for a use case's writes (nested ones join it)."""
        return self.db.transaction()

    # -- programme ---------------------------------------------------------------

    def save_event(self, event: Event) -> ImportSummary:
        """Insert or update the event and its sessions, keyed by guid."""
        self._summaries = None
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(slug) DO UPDATE SET "
                "title=excluded.title, start_date=excluded.start_date, "
                "end_date=excluded.end_date, timezone=excluded.timezone, rooms=excluded.rooms",
                (event.slug, event.title, event.start.isoformat(), event.end.isoformat(),
                 event.timezone, json.dumps(list(event.rooms))),
            )
            return self._save_sessions(event)

    def _save_sessions(self, event: Event) -> ImportSummary:
        summary = self.diff_event(event)
        self.db.executemany(
            "INSERT INTO sessions VALUES (?, ?, ?) ON CONFLICT(event_slug, guid) "
            "DO UPDATE SET data=excluded.data",
            [(event.slug, session.guid, _session_json(session)) for session in event.sessions])
        self.db.executemany("DELETE FROM sessions WHERE event_slug = ? AND guid = ?",
                            [(event.slug, guid) for guid in summary.removed])
        return summary

    def diff_event(self, event: Event) -> ImportSummary:
        """What `save_event` would add, change and remove (by guid), changing nothing."""
        before = {row["guid"]: row["data"] for row in self.db.execute(
            "SELECT guid, data FROM sessions WHERE event_slug = ?", (event.slug,))}
        added = [s.guid for s in event.sessions if s.guid not in before]
        changed = [s.guid for s in event.sessions
                   if s.guid in before and before[s.guid] != _session_json(s)]
        removed = sorted(set(before) - {s.guid for s in event.sessions})
        return ImportSummary(tuple(added), tuple(changed), tuple(removed))

    def event_summaries(self) -> list[EventSummary]:
        """Every event with its number of sessions, counted by the database: one light
        query whatever the size of the programmes, and kept on SQLite until the
        programmes change (by `save_event` here, or by another connection: SQLite's
        data_version tells; PostgreSQL has no such number, so it is read each time)."""
        version = self.db.data_version()
        if version is None:
            return self._read_summaries()
        if self._summaries is None or self._summaries[0] != version:
            self._summaries = (version, self._read_summaries())
        return list(self._summaries[1])

    def _read_summaries(self) -> list[EventSummary]:
        rows = self.db.execute(
            "SELECT e.*, (SELECT count(*) FROM sessions s WHERE s.event_slug = e.slug) "
            "AS session_count FROM events e ORDER BY e.slug")
        return [EventSummary(slug=r["slug"], title=r["title"],
                             start=date.fromisoformat(r["start_date"]),
                             end=date.fromisoformat(r["end_date"]), timezone=r["timezone"],
                             rooms=tuple(json.loads(r["rooms"])),
                             session_count=r["session_count"]) for r in rows]

    def event_slugs(self) -> list[str]:
        return [row["slug"] for row in self.db.execute("SELECT slug FROM events ORDER BY slug")]

    def load_event(self, slug: str) -> Event | None:
        row = self.db.execute("SELECT * FROM events WHERE slug = ?", (slug,)).fetchone()
        if row is None:
            return None
        sessions = [_session_from_json(r["data"]) for r in self.db.execute(
            "SELECT data FROM sessions WHERE event_slug = ?", (slug,))]
        return Event(
            slug=row["slug"], title=row["title"],
            start=date.fromisoformat(row["start_date"]), end=date.fromisoformat(row["end_date"]),
            timezone=row["timezone"], rooms=tuple(json.loads(row["rooms"])),
            sessions=tuple(sorted(sessions, key=lambda s: (s.start, s.room))),
        )

    # -- recordings --------------------------------------------------------------

    def add_recording(self, *, event_slug: str, room: str, sha256: str, original: Path,
                      source_name: str, started_at: datetime) -> Recording:
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO recordings (event_slug, room, sha256, original, source_name, "
                "started_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(event_slug, room, sha256) DO UPDATE SET "
                "started_at=excluded.started_at",
                (event_slug, room, sha256, str(original), source_name, started_at.isoformat(),
                 time.time()),
            )
        found = self.find_recording(event_slug, room, sha256)
        assert found is not None
        return found

    def find_recording(self, event_slug: str, room: str, sha256: str) -> Recording | None:
        row = self.db.execute(
            "SELECT * FROM recordings WHERE event_slug = ? AND room = ? AND sha256 = ?",
            (event_slug, room, sha256)).fetchone()
        return None if row is None else _recording(row)

    def recording(self, recording_id: int) -> Recording | None:
        row = self.db.execute("SELECT * FROM recordings WHERE id = ?",
                              (recording_id,)).fetchone()
        return None if row is None else _recording(row)

    def recordings_of(self, event_slug: str) -> list[Recording]:
        return [_recording(r) for r in self.db.execute(
            "SELECT * FROM recordings WHERE event_slug = ? ORDER BY id", (event_slug,))]

    def recordings_with_sha256(self, sha256: str) -> list[Recording]:
        return [_recording(r) for r in self.db.execute(
            "SELECT * FROM recordings WHERE sha256 = ? ORDER BY id", (sha256,))]

    def delete_recording(self, recording_id: int) -> None:
        """Forget the recording: its cut plan, stages and caption versions with it."""
        with self.db.transaction():
            for table in ("caption_state", "caption_versions", "stages", "plan_reviews",
                          "cuts"):
                self.db.execute(f"DELETE FROM {table} WHERE recording_id = ?",
                                (recording_id,))
            self.db.execute("DELETE FROM recordings WHERE id = ?", (recording_id,))

    def set_probe(self, recording_id: int, duration: float, probe: dict[str, Any]) -> None:
        self.db.execute("UPDATE recordings SET duration = ?, probe = ? WHERE id = ?",
                        (duration, json.dumps(probe, default=str), recording_id))

    def probe(self, recording_id: int) -> dict[str, Any] | None:
        """What `set_probe` stored (a `MediaInfo` as a dict, dates and fractions as text),
        or None before probing."""
        row = self.db.execute("SELECT probe FROM recordings WHERE id = ?",
                              (recording_id,)).fetchone()
        if row is None or not row["probe"]:
            return None
        data = json.loads(row["probe"])
        return data if isinstance(data, dict) else None

    # -- cut plan ----------------------------------------------------------------

    def save_cuts(self, recording_id: int, cuts: Sequence[Cut]) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM cuts WHERE recording_id = ?", (recording_id,))
            self.db.executemany("INSERT INTO cuts VALUES (?, ?, ?)", [
                (recording_id, cut.guid, json.dumps(asdict(cut))) for cut in cuts])

    def load_cuts(self, recording_id: int) -> list[Cut]:
        rows = self.db.execute("SELECT data FROM cuts WHERE recording_id = ?", (recording_id,))
        return sorted((Cut(**json.loads(r["data"])) for r in rows), key=lambda c: c.start)

    def published_cuts(self, event_slug: str) -> list[tuple[Recording, Cut]]:
        """Cuts whose `publish` stage is done, for the event index."""
        rows = self.db.execute(
            "SELECT r.*, c.data AS cut FROM cuts c JOIN recordings r ON r.id = c.recording_id "
            "JOIN stages s ON s.recording_id = c.recording_id AND s.guid = c.guid "
            "AND s.stage = 'publish' AND s.status = 'done' WHERE r.event_slug = ?",
            (event_slug,))
        return [(_recording(r), Cut(**json.loads(r["cut"]))) for r in rows]

    # -- stages ------------------------------------------------------------------

    def stage(self, recording_id: int, guid: str, stage: str) -> StageState | None:
        row = self.db.execute(
            "SELECT * FROM stages WHERE recording_id = ? AND guid = ? AND stage = ?",
            (recording_id, guid, stage)).fetchone()
        return None if row is None else _stage_state(row)

    def set_stage(self, recording_id: int, guid: str, stage: str, *, input_key: str,
                  status: StageStatus | Release, progress: float = 0.0,
                  error: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO stages VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(recording_id, guid, stage) DO UPDATE SET input_key=excluded.input_key,"
            " status=excluded.status, progress=excluded.progress, error=excluded.error,"
            " updated_at=excluded.updated_at",
            (recording_id, guid, stage, input_key, status, progress, error, time.time()))

    def stages_of(self, recording_id: int) -> list[StageState]:
        rows = self.db.execute("SELECT * FROM stages WHERE recording_id = ? ORDER BY rowid",
                               (recording_id,))
        return [_stage_state(row) for row in rows]

    # -- plan reviews ------------------------------------------------------------

    def plan_review(self, recording_id: int) -> PlanReview | None:
        row = self.db.execute("SELECT status FROM plan_reviews WHERE recording_id = ?",
                              (recording_id,)).fetchone()
        return None if row is None else PlanReview(row["status"])

    def set_plan_review(self, recording_id: int, review: PlanReview) -> None:
        self.db.execute(
            "INSERT INTO plan_reviews VALUES (?, ?, ?) ON CONFLICT(recording_id) DO UPDATE "
            "SET status=excluded.status, updated_at=excluded.updated_at",
            (recording_id, review.value, time.time()))


def _stage_state(row: Row) -> StageState:
    text = row["status"]
    status: StageStatus | Release
    if row["stage"] != PUBLISH_STAGE:
        status = StageStatus(text)
    elif text in {release.value for release in Release}:
        status = Release(text)
    else:  # written by no version of this service: nothing decided
        status = Release.UNDECIDED
    return StageState(row["stage"], row["guid"], row["input_key"], status, row["progress"],
                      row["error"])


def _recording(row: Row) -> Recording:
    return Recording(
        id=row["id"], event_slug=row["event_slug"], room=row["room"], sha256=row["sha256"],
        original=Path(row["original"]), source_name=row["source_name"],
        started_at=datetime.fromisoformat(row["started_at"]), duration=row["duration"],
    )


def _session_json(session: Session) -> str:
    data = asdict(session)
    data["start"] = session.start.isoformat()
    data["duration"] = session.duration.total_seconds()
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _session_from_json(text: str) -> Session:
    data = json.loads(text)
    data["start"] = datetime.fromisoformat(data["start"])
    data["duration"] = timedelta(seconds=data["duration"])
    data["persons"] = tuple(Person(**p) for p in data["persons"])
    return Session(**data)
