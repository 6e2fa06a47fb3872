"""The state's schema and its forward-only migrations, for both engines.

The schema's version is in the one-row table ``schema_version`` (SQLite databases made
before it kept it in ``PRAGMA user_version``, read once). The pending migrations run
in one transaction with the version's update, so a failed one leaves the database as it
was, and concurrent openers apply them once (the transaction holds the writer's lock on
both engines).

SQLite has every version since the first. PostgreSQL starts at version 9, whose script
creates the whole schema as SQLite has it at 9 (versions 1 to 8 are empty there); the
migrations after it are written for both. The DDL differs where the engines do:
``AUTOINCREMENT`` vs identity columns, ``COLLATE NOCASE`` vs a unique index on
``lower(email)``, ``REAL`` vs ``double precision``, and SQLite's implicit ``rowid`` made
an explicit column of ``stages`` (listed in insertion order).
"""

from __future__ import annotations

from replay.domain.errors import ReplayError
from replay.locale import _
from replay.store.connection import Connection

RECORDING_AND_TAKE_INDEXES = """
    CREATE INDEX recordings_sha256 ON recordings (sha256);
    CREATE INDEX live_takes_status ON live_takes (status);
"""

SQLITE_MIGRATIONS: tuple[str, ...] = (
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
    # 10: lookups by checksum alone (an upload's duplicates) and the takes left live.
    RECORDING_AND_TAKE_INDEXES,
)


#: The whole schema of version 9, in PostgreSQL's words.
POSTGRESQL_BASELINE = """
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
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        event_slug TEXT NOT NULL REFERENCES events(slug),
        room TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        original TEXT NOT NULL,
        source_name TEXT NOT NULL,
        started_at TEXT NOT NULL,
        duration DOUBLE PRECISION,
        probe TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        UNIQUE (event_slug, room, sha256)
    );
    CREATE TABLE cuts (
        recording_id BIGINT NOT NULL REFERENCES recordings(id),
        guid TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (recording_id, guid)
    );
    CREATE TABLE stages (
        recording_id BIGINT NOT NULL REFERENCES recordings(id),
        guid TEXT NOT NULL,
        stage TEXT NOT NULL,
        input_key TEXT NOT NULL,
        status TEXT NOT NULL,
        progress DOUBLE PRECISION NOT NULL DEFAULT 0,
        error TEXT,
        updated_at DOUBLE PRECISION NOT NULL,
        rowid BIGINT GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (recording_id, guid, stage)
    );
    CREATE TABLE users (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        email TEXT NOT NULL,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('organiser', 'editor')),
        password_hash TEXT NOT NULL,
        event_slugs TEXT NOT NULL DEFAULT '[]',
        created_at DOUBLE PRECISION NOT NULL,
        disabled_at DOUBLE PRECISION
    );
    CREATE UNIQUE INDEX users_email ON users (lower(email));
    CREATE TABLE login_sessions (
        id_sha256 TEXT PRIMARY KEY,
        user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX login_sessions_expiry ON login_sessions (expires_at);
    CREATE TABLE api_tokens (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        token_sha256 TEXT NOT NULL UNIQUE,
        user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        revoked_at DOUBLE PRECISION
    );
    CREATE INDEX api_tokens_user ON api_tokens (user_id);
    CREATE TABLE caption_versions (
        recording_id BIGINT NOT NULL REFERENCES recordings(id),
        guid TEXT NOT NULL,
        lang TEXT NOT NULL,
        version INTEGER NOT NULL,
        cues TEXT NOT NULL,
        author TEXT NOT NULL,
        author_id BIGINT,
        created_at DOUBLE PRECISION NOT NULL,
        status TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (recording_id, guid, lang, version)
    );
    CREATE TABLE caption_state (
        recording_id BIGINT NOT NULL REFERENCES recordings(id),
        guid TEXT NOT NULL,
        lang TEXT NOT NULL,
        current_version INTEGER NOT NULL,
        status TEXT NOT NULL,
        claimed_by BIGINT,
        claimed_at DOUBLE PRECISION,
        reviewed_until DOUBLE PRECISION,
        source_sha256 TEXT NOT NULL DEFAULT '',
        validated_version INTEGER,
        validated_by BIGINT,
        PRIMARY KEY (recording_id, guid, lang)
    );
    CREATE TABLE event_options (
        event_slug TEXT PRIMARY KEY REFERENCES events(slug),
        captions_policy TEXT NOT NULL CHECK (captions_policy IN ('brouillons', 'valides')),
        editors_may_publish INTEGER NOT NULL DEFAULT 0,
        glossary TEXT NOT NULL DEFAULT '[]',
        publication_rule TEXT,
        podcast TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE live_keys (
        event_slug TEXT NOT NULL REFERENCES events(slug),
        room TEXT NOT NULL,
        stream_key TEXT NOT NULL UNIQUE,
        srt_passphrase TEXT NOT NULL,
        srt_port INTEGER NOT NULL UNIQUE,
        created_at DOUBLE PRECISION NOT NULL,
        revoked_at DOUBLE PRECISION,
        PRIMARY KEY (event_slug, room)
    );
    CREATE TABLE live_takes (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        event_slug TEXT NOT NULL,
        room TEXT NOT NULL,
        day TEXT NOT NULL,
        protocol TEXT NOT NULL,
        peer TEXT NOT NULL,
        wall_start TEXT NOT NULL,
        mpegts_origin BIGINT,
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
        take_id BIGINT NOT NULL REFERENCES live_takes(id),
        start DOUBLE PRECISION NOT NULL,
        duration DOUBLE PRECISION NOT NULL,
        discontinuity INTEGER NOT NULL,
        keep INTEGER NOT NULL,
        PRIMARY KEY (event_slug, room, day, rung, sequence)
    );
    CREATE TABLE live_chunks (
        take_id BIGINT NOT NULL REFERENCES live_takes(id),
        number INTEGER NOT NULL,
        start DOUBLE PRECISION NOT NULL,
        duration DOUBLE PRECISION NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'archived', 'dropped')),
        recording_id BIGINT,
        PRIMARY KEY (take_id, number)
    );
    CREATE TABLE live_replays (
        event_slug TEXT NOT NULL,
        guid TEXT NOT NULL,
        status TEXT NOT NULL,
        recording_id BIGINT,
        ended_at TEXT NOT NULL,
        published_at TEXT,
        PRIMARY KEY (event_slug, guid)
    );
    CREATE TABLE chapters (
        recording_id BIGINT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        guid TEXT NOT NULL,
        chapters TEXT NOT NULL,
        updated_by BIGINT,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (recording_id, guid)
    );
    CREATE TABLE plan_reviews (
        recording_id BIGINT PRIMARY KEY REFERENCES recordings(id),
        status TEXT NOT NULL CHECK (status IN ('edited', 'confirmed')),
        updated_at DOUBLE PRECISION NOT NULL
    );
"""

#: PostgreSQL databases start at version 9 (`POSTGRESQL_BASELINE`).
POSTGRESQL_MIGRATIONS: tuple[str, ...] = (
    *([""] * 8),
    POSTGRESQL_BASELINE,
    RECORDING_AND_TAKE_INDEXES,
)
assert len(POSTGRESQL_MIGRATIONS) == len(SQLITE_MIGRATIONS)


def scripts_for(connection: Connection) -> tuple[str, ...]:
    return SQLITE_MIGRATIONS if connection.engine == "sqlite" else POSTGRESQL_MIGRATIONS


def latest_version() -> int:
    return len(SQLITE_MIGRATIONS)


def schema_version(connection: Connection) -> int:
    """The database's version (0: empty), the version table created where missing."""
    connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = connection.execute("SELECT version FROM schema_version").fetchone()
    if row is not None:
        return int(row[0])
    version = 0
    if connection.engine == "sqlite":  # made before the table: the version was a pragma
        version = int(connection.execute("PRAGMA user_version").fetchall()[0][0])
    connection.execute("INSERT INTO schema_version VALUES (?)", (version,))
    return version


def migrate(connection: Connection, target: int | None = None) -> int:
    """Bring the database to version ``target`` (default: the latest), forward only;
    returns the version it is at."""
    scripts = scripts_for(connection)
    target = len(scripts) if target is None else target
    with connection.transaction():
        version = schema_version(connection)
        if version > len(scripts):
            raise ReplayError(_("the database is at schema {version}, newer than this "
                                "program's ({known}): update replay").format(
                                    version=version, known=len(scripts)))
        for number in range(version + 1, target + 1):
            connection.executescript(scripts[number - 1])
            connection.execute("UPDATE schema_version SET version = ?", (number,))
        return max(version, target)
