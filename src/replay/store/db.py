"""SQLite state of the embedded default: schema, migrations and repositories.

Calls are short and local; the pipeline makes a handful per stage.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from replay.domain.cutplan import Cut
from replay.domain.model import Event, Person, Session
from replay.domain.publication import Release
from replay.domain.stages import PlanReview, StageStatus

#: The stage whose status is a `Release` (what people decided about a session).
PUBLISH_STAGE = "publish"

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        slug TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        start_date TEXT NOT NULL,
        end_date TEXT NOT NULL,
        timezone TEXT NOT NULL,
        rooms TEXT NOT NULL
    );
    CREATE TABLE sessions (
        event_slug TEXT NOT NULL REFERENCES events(slug),
        guid TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (event_slug, guid)
    );
    CREATE TABLE recordings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_slug TEXT NOT NULL REFERENCES events(slug),
        room TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        original TEXT NOT NULL,
        source_name TEXT NOT NULL,
        started_at TEXT NOT NULL,
        duration REAL,
        probe TEXT,
        created_at REAL NOT NULL,
        UNIQUE (event_slug, room, sha256)
    );
    CREATE TABLE cuts (
        recording_id INTEGER NOT NULL REFERENCES recordings(id),
        guid TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (recording_id, guid)
    );
    CREATE TABLE stages (
        recording_id INTEGER NOT NULL REFERENCES recordings(id),
        guid TEXT NOT NULL,
        stage TEXT NOT NULL,
        input_key TEXT NOT NULL,
        status TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        error TEXT,
        updated_at REAL NOT NULL,
        PRIMARY KEY (recording_id, guid, stage)
    );
    """,
    # 2: accounts (replay.web.auth). Session ids and API tokens are stored as SHA-256 only.
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('organiser', 'editor')),
        password_hash TEXT NOT NULL,
        event_slugs TEXT NOT NULL DEFAULT '[]',
        created_at REAL NOT NULL
    );
    CREATE TABLE login_sessions (
        id_sha256 TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX login_sessions_expiry ON login_sessions (expires_at);
    CREATE TABLE api_tokens (
        token_sha256 TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
    # 3: caption review (replay.store.captions): versions, per-language state, event options.
    """
    CREATE TABLE caption_versions (
        recording_id INTEGER NOT NULL REFERENCES recordings(id),
        guid TEXT NOT NULL,
        lang TEXT NOT NULL,
        version INTEGER NOT NULL,
        cues TEXT NOT NULL,
        author TEXT NOT NULL,
        author_id INTEGER,
        created_at REAL NOT NULL,
        status TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (recording_id, guid, lang, version)
    );
    CREATE TABLE caption_state (
        recording_id INTEGER NOT NULL REFERENCES recordings(id),
        guid TEXT NOT NULL,
        lang TEXT NOT NULL,
        current_version INTEGER NOT NULL,
        status TEXT NOT NULL,
        claimed_by INTEGER,
        claimed_at REAL,
        reviewed_until REAL,
        source_sha256 TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (recording_id, guid, lang)
    );
    CREATE TABLE event_options (
        event_slug TEXT PRIMARY KEY REFERENCES events(slug),
        captions_policy TEXT NOT NULL CHECK (captions_policy IN ('brouillons', 'valides')),
        editors_may_publish INTEGER NOT NULL DEFAULT 0,
        glossary TEXT NOT NULL DEFAULT '[]'
    );
    """,
    # 4: the publication rule per event (replay.domain.publication; NULL: the default), and
    # which version of a caption track a person validated, and who (per language).
    """
    ALTER TABLE event_options ADD COLUMN publication_rule TEXT;
    UPDATE event_options SET publication_rule = 'apres_sous_titres'
        WHERE captions_policy = 'valides';
    ALTER TABLE caption_state ADD COLUMN validated_version INTEGER;
    ALTER TABLE caption_state ADD COLUMN validated_by INTEGER;
    UPDATE caption_state SET validated_version = current_version
        WHERE status = 'valide' OR (status = 'publie' AND EXISTS (
            SELECT 1 FROM caption_versions v WHERE v.recording_id = caption_state.recording_id
            AND v.guid = caption_state.guid AND v.lang = caption_state.lang
            AND v.version = caption_state.current_version AND v.author_id IS NOT NULL));
    """,
    # 5: the live (replay.live.store): stream keys per room, takes, published segments,
    # archive chunks and the sessions already given an instant replay.
    """
    CREATE TABLE live_keys (
        event_slug TEXT NOT NULL REFERENCES events(slug),
        room TEXT NOT NULL,
        stream_key TEXT NOT NULL UNIQUE,
        srt_passphrase TEXT NOT NULL,
        srt_port INTEGER NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        revoked_at REAL,
        PRIMARY KEY (event_slug, room)
    );
    CREATE TABLE live_takes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_slug TEXT NOT NULL,
        room TEXT NOT NULL,
        day TEXT NOT NULL,
        protocol TEXT NOT NULL,
        peer TEXT NOT NULL,
        wall_start TEXT NOT NULL,
        mpegts_origin INTEGER,
        status TEXT NOT NULL CHECK (status IN ('live', 'ended')),
        ended_at TEXT,
        folder TEXT NOT NULL
    );
    CREATE TABLE live_segments (
        event_slug TEXT NOT NULL,
        room TEXT NOT NULL,
        day TEXT NOT NULL,
        rung TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        take_id INTEGER NOT NULL REFERENCES live_takes(id),
        start REAL NOT NULL,
        duration REAL NOT NULL,
        discontinuity INTEGER NOT NULL,
        keep INTEGER NOT NULL,
        PRIMARY KEY (event_slug, room, day, rung, sequence)
    );
    CREATE TABLE live_chunks (
        take_id INTEGER NOT NULL REFERENCES live_takes(id),
        number INTEGER NOT NULL,
        start REAL NOT NULL,
        duration REAL NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'archived', 'dropped')),
        recording_id INTEGER,
        PRIMARY KEY (take_id, number)
    );
    CREATE TABLE live_replays (
        event_slug TEXT NOT NULL,
        guid TEXT NOT NULL,
        status TEXT NOT NULL,
        recording_id INTEGER,
        ended_at TEXT NOT NULL,
        published_at TEXT,
        PRIMARY KEY (event_slug, guid)
    );
    """,
    # 6: API tokens get an id (to list and revoke them), an expiry and a revocation time;
    # accounts can be disabled. Tokens made before expire 90 days after this migration.
    """
    CREATE TABLE api_tokens_v4 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        token_sha256 TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        revoked_at REAL
    );
    INSERT INTO api_tokens_v4 (token_sha256, user_id, label, created_at, expires_at)
        SELECT token_sha256, user_id, label, created_at,
               CAST(strftime('%s', 'now') AS REAL) + 90 * 86400 FROM api_tokens;
    DROP TABLE api_tokens;
    ALTER TABLE api_tokens_v4 RENAME TO api_tokens;
    CREATE INDEX api_tokens_user ON api_tokens (user_id);
    ALTER TABLE users ADD COLUMN disabled_at REAL;
    """,
    # 7: each event's podcast options (replay.domain.podcast, as JSON; '{}': the defaults).
    """
    ALTER TABLE event_options ADD COLUMN podcast TEXT NOT NULL DEFAULT '{}';
    """,
    # 8: the chapters editors mark in each session (replay.domain.chapters, as JSON).
    """
    CREATE TABLE chapters (
        recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        guid TEXT NOT NULL,
        chapters TEXT NOT NULL,
        updated_by INTEGER,
        updated_at REAL NOT NULL,
        PRIMARY KEY (recording_id, guid)
    );
    """,
    # 9: the organisers' review of a cut plan gets its own table (it was a stage row with
    # an empty guid, stage 'plan_review').
    """
    CREATE TABLE plan_reviews (
        recording_id INTEGER PRIMARY KEY REFERENCES recordings(id),
        status TEXT NOT NULL CHECK (status IN ('edited', 'confirmed')),
        updated_at REAL NOT NULL
    );
    INSERT INTO plan_reviews (recording_id, status, updated_at)
        SELECT recording_id, status, updated_at FROM stages
        WHERE guid = '' AND stage = 'plan_review' AND status IN ('edited', 'confirmed');
    DELETE FROM stages WHERE guid = '' AND stage = 'plan_review';
    """,
)


def private_database(path: Path) -> None:
    """Make the database's folder (when new: 0700) and the file itself (0600) private to
    the server's user; SQLite gives its -wal and -shm files the database file's mode.

    An existing file is only chmod'ed, never opened: closing any descriptor of it would
    drop the POSIX locks of this process's SQLite connections to it (and another process
    could then checkpoint and delete the WAL under them)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        os.chmod(path, 0o600)


def connect(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """The state database, migrated. `check_same_thread=False` for a connection that one
    dedicated thread other than its opener uses (`store.async_store`)."""
    private_database(path)
    connection = sqlite3.connect(path, isolation_level=None, timeout=30,
                                 check_same_thread=check_same_thread)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA busy_timeout=30000")
    migrate(connection)
    return connection


def migrate(connection: sqlite3.Connection) -> None:
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    if connection.in_transaction:
        yield
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


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
    """Repositories over one SQLite connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection
        #: `event_summaries` as of a `PRAGMA data_version` (see there).
        self._summaries: tuple[int, list[EventSummary]] | None = None

    @classmethod
    def open(cls, path: Path) -> Store:
        return cls(connect(path))

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[None]:
        """One transaction for a use case's writes (nested ones join it)."""
        return transaction(self.db)

    # -- programme ---------------------------------------------------------------

    def save_event(self, event: Event) -> ImportSummary:
        """Insert or update the event and its sessions, keyed by guid."""
        self._summaries = None
        with transaction(self.db):
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
        """Every event with its number of sessions, counted by SQLite: one light query
        whatever the size of the programmes, and kept until the programmes change (by
        `save_event` here, or by another connection: SQLite's data_version tells)."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
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
        with transaction(self.db):
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
        with transaction(self.db):
            for table in ("caption_state", "caption_versions", "stages", "plan_reviews",
                          "cuts"):
                self.db.execute(f"DELETE FROM {table} WHERE recording_id = ?",
                                (recording_id,))
            self.db.execute("DELETE FROM recordings WHERE id = ?", (recording_id,))

    def set_probe(self, recording_id: int, duration: float, probe: dict[str, Any]) -> None:
        self.db.execute("UPDATE recordings SET duration = ?, probe = ? WHERE id = ?",
                        (duration, json.dumps(probe, default=str), recording_id))

    # -- cut plan ----------------------------------------------------------------

    def save_cuts(self, recording_id: int, cuts: Sequence[Cut]) -> None:
        with transaction(self.db):
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


def _stage_state(row: sqlite3.Row) -> StageState:
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


def _recording(row: sqlite3.Row) -> Recording:
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
