"""Caption versions, review state and event options, over the store's connection.

Every save is a new version (never an update); ``caption_state.current_version`` is the
one editors see. Saving checks the version the editor started from inside one store
transaction (which holds the writer's lock on both engines), so of two editors saving
from the same version the second gets `VersionConflict`, never a silent overwrite.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from replay.domain.captions import CaptionStatus
from replay.domain.chapters import Chapter
from replay.domain.podcast import PodcastError, PodcastOptions, parse_podcast
from replay.domain.publication import PublicationRule, parse_rule
from replay.domain.transcript import Cue
from replay.store.connection import Connection, Row

Policy = Literal["brouillons", "valides"]
POLICIES: tuple[Policy, ...] = ("brouillons", "valides")
MACHINE_AUTHOR = "Whisper"


@dataclass(frozen=True, slots=True)
class CaptionVersion:
    version: int
    cues: tuple[Cue, ...]
    author: str
    author_id: int | None
    created_at: float
    status: CaptionStatus
    note: str


@dataclass(frozen=True, slots=True)
class CaptionState:
    current_version: int
    status: CaptionStatus
    claimed_by: int | None
    claimed_at: float | None
    reviewed_until: float | None
    source_sha256: str
    validated_version: int | None = None  # the version a person last validated
    validated_by: int | None = None

    @property
    def reviewed(self) -> bool:
        """A person has validated this track (its automatic label goes)."""
        return self.validated_version is not None


@dataclass(frozen=True, slots=True)
class EventOptions:
    publication_rule: PublicationRule
    editors_may_publish: bool
    glossary: tuple[str, ...] = ()
    podcast: PodcastOptions = field(default_factory=PodcastOptions)

    @property
    def captions_policy(self) -> Policy:
        """The older name of the caption half of the rule: drafts may go out, or not."""
        return "valides" if self.publication_rule is PublicationRule.SOUS_TITRES else \
            "brouillons"


class VersionConflict(Exception):
    def __init__(self, current: CaptionVersion) -> None:
        super().__init__(f"current version is {current.version}")
        self.current = current


class ClaimConflict(Exception):
    def __init__(self, user_id: int, since: float) -> None:
        super().__init__(f"claimed by user {user_id}")
        self.user_id, self.since = user_id, since


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    id: int | None = None


Key = tuple[int, str, str]  # recording id, session guid, language


def cues_json(cues: Sequence[Cue]) -> str:
    return json.dumps([{"start": c.start, "end": c.end, "lines": list(c.lines)} for c in cues],
                      ensure_ascii=False)


def cues_from_json(text: str) -> tuple[Cue, ...]:
    return tuple(Cue(item["start"], item["end"], tuple(item["lines"]))
                 for item in json.loads(text))


class Captions:
    """The caption repository; `clock` gives the times recorded."""

    def __init__(self, db: Connection, clock: Callable[[], float] = time.time) -> None:
        self.db, self.clock = db, clock

    # -- reading -----------------------------------------------------------------------

    def state(self, key: Key) -> CaptionState | None:
        row = self.db.execute("SELECT * FROM caption_state WHERE recording_id = ? AND guid = ? "
                              "AND lang = ?", key).fetchone()
        if row is None:
            return None
        return CaptionState(row["current_version"], CaptionStatus(row["status"]),
                            row["claimed_by"], row["claimed_at"], row["reviewed_until"],
                            row["source_sha256"], row["validated_version"],
                            row["validated_by"])

    def version(self, key: Key, number: int) -> CaptionVersion | None:
        row = self.db.execute("SELECT * FROM caption_versions WHERE recording_id = ? AND "
                              "guid = ? AND lang = ? AND version = ?", (*key, number)).fetchone()
        return None if row is None else _version(row)

    def current(self, key: Key) -> CaptionVersion | None:
        state = self.state(key)
        return None if state is None else self.version(key, state.current_version)

    def history(self, key: Key) -> list[CaptionVersion]:
        rows = self.db.execute("SELECT * FROM caption_versions WHERE recording_id = ? AND "
                               "guid = ? AND lang = ? ORDER BY version", key)
        return [_version(row) for row in rows]

    # -- writing -----------------------------------------------------------------------

    def import_machine(self, key: Key, cues: Sequence[Cue], source_sha256: str) -> bool:
        """A machine transcription as a new version, unless a human version is current:
        then only the digest is remembered elsewhere (see `machine_pending`). Returns
        whether it became current."""
        with self.db.transaction():
            current = self.current(key)
            if current is not None and current.author_id is not None:
                return False
            number = 1 if current is None else current.version + 1
            self._insert(key, number, cues, Author(MACHINE_AUTHOR), CaptionStatus.BROUILLON,
                         "transcription automatique")
            self.db.execute(
                "INSERT INTO caption_state (recording_id, guid, lang, current_version, status,"
                " source_sha256) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(recording_id, guid, "
                "lang) DO UPDATE SET current_version = excluded.current_version, status = "
                "excluded.status, source_sha256 = excluded.source_sha256, "
                "validated_version = NULL, validated_by = NULL",
                (*key, number, CaptionStatus.BROUILLON, source_sha256))
            return True

    def save(self, key: Key, cues: Sequence[Cue], author: Author, *, expected: int,
             status: CaptionStatus, note: str = "",
             reviewed_until: float | None = None) -> CaptionVersion:
        """A new version from `expected`; raises VersionConflict if another came first.
        Saved as validated by a person, it counts as their review of the track."""
        with self.db.transaction():
            current = self.current(key)
            assert current is not None, "import the machine version first"
            if current.version != expected:
                raise VersionConflict(current)
            number = current.version + 1
            self._insert(key, number, cues, author, status, note)
            self.db.execute(
                "UPDATE caption_state SET current_version = ?, status = ?, reviewed_until = "
                "COALESCE(?, reviewed_until) WHERE recording_id = ? AND guid = ? AND lang = ?",
                (number, status, reviewed_until, *key))
            if status is CaptionStatus.VALIDE and author.id is not None:
                self._validated(key, number, author.id)
        saved = self.version(key, number)
        assert saved is not None
        return saved

    def set_status(self, key: Key, status: CaptionStatus, *, by: int | None = None) -> None:
        """Move the track to `status`; validated by user `by`, it counts as their review
        of the current version."""
        with self.db.transaction():
            self.db.execute("UPDATE caption_state SET status = ? WHERE recording_id = ? AND "
                            "guid = ? AND lang = ?", (status, *key))
            state = self.state(key)
            if status is CaptionStatus.VALIDE and by is not None and state is not None:
                self._validated(key, state.current_version, by)

    def _validated(self, key: Key, version: int, user_id: int) -> None:
        self.db.execute("UPDATE caption_state SET validated_version = ?, validated_by = ? "
                        "WHERE recording_id = ? AND guid = ? AND lang = ?",
                        (version, user_id, *key))

    def set_source(self, key: Key, source_sha256: str) -> None:
        self.db.execute("UPDATE caption_state SET source_sha256 = ? WHERE recording_id = ? "
                        "AND guid = ? AND lang = ?", (source_sha256, *key))

    def claim(self, key: Key, user_id: int) -> CaptionState:
        """Claim the session's captions; raises ClaimConflict when someone else holds them."""
        with self.db.transaction():
            state = self.state(key)
            assert state is not None, "import the machine version first"
            if state.claimed_by is not None and state.claimed_by != user_id:
                raise ClaimConflict(state.claimed_by, state.claimed_at or 0.0)
            self.db.execute("UPDATE caption_state SET claimed_by = ?, claimed_at = ? WHERE "
                            "recording_id = ? AND guid = ? AND lang = ?",
                            (user_id, self.clock(), *key))
        claimed = self.state(key)
        assert claimed is not None
        return claimed

    def release(self, key: Key) -> None:
        self.db.execute("UPDATE caption_state SET claimed_by = NULL, claimed_at = NULL WHERE "
                        "recording_id = ? AND guid = ? AND lang = ?", key)

    def _insert(self, key: Key, number: int, cues: Sequence[Cue], author: Author,
                status: CaptionStatus, note: str) -> None:
        self.db.execute("INSERT INTO caption_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (*key, number, cues_json(cues), author.name, author.id, self.clock(),
                         status, note))

    # -- chapters ----------------------------------------------------------------------

    def chapters(self, recording_id: int, guid: str) -> tuple[Chapter, ...]:
        row = self.db.execute("SELECT chapters FROM chapters WHERE recording_id = ? AND "
                              "guid = ?", (recording_id, guid)).fetchone()
        if row is None:
            return ()
        return tuple(Chapter(float(c["start"]), str(c["title"]))
                     for c in json.loads(row["chapters"]))

    def save_chapters(self, recording_id: int, guid: str, chapters: Sequence[Chapter],
                      author: Author) -> None:
        self.db.execute(
            "INSERT INTO chapters (recording_id, guid, chapters, updated_by, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(recording_id, guid) DO UPDATE SET "
            "chapters = excluded.chapters, updated_by = excluded.updated_by, "
            "updated_at = excluded.updated_at",
            (recording_id, guid, json.dumps([c.as_json() for c in chapters],
                                            ensure_ascii=False), author.id, self.clock()))

    # -- event options -----------------------------------------------------------------

    def options(self, event_slug: str, default: EventOptions) -> EventOptions:
        row = self.db.execute("SELECT * FROM event_options WHERE event_slug = ?",
                              (event_slug,)).fetchone()
        if row is None:
            return default
        rule = parse_rule(row["publication_rule"]) or default.publication_rule
        return EventOptions(rule, bool(row["editors_may_publish"]),
                            tuple(json.loads(row["glossary"])), _podcast(row["podcast"]))

    def save_options(self, event_slug: str, options: EventOptions) -> None:
        self.db.execute(
            "INSERT INTO event_options (event_slug, captions_policy, editors_may_publish, "
            "glossary, publication_rule, podcast) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(event_slug) DO UPDATE SET captions_policy = excluded.captions_policy, "
            "editors_may_publish = excluded.editors_may_publish, glossary = excluded.glossary, "
            "publication_rule = excluded.publication_rule, podcast = excluded.podcast",
            (event_slug, options.captions_policy, int(options.editors_may_publish),
             json.dumps(list(options.glossary), ensure_ascii=False),
             str(options.publication_rule),
             json.dumps(options.podcast.as_json(), ensure_ascii=False)))


def _podcast(text: str) -> PodcastOptions:
    """The stored podcast options; the defaults for what no longer reads as valid."""
    try:
        value = json.loads(text)
        return parse_podcast(value) if isinstance(value, dict) else PodcastOptions()
    except (ValueError, PodcastError):
        return PodcastOptions()


def _version(row: Row) -> CaptionVersion:
    return CaptionVersion(row["version"], cues_from_json(row["cues"]), row["author"],
                          row["author_id"], row["created_at"], CaptionStatus(row["status"]),
                          row["note"])
