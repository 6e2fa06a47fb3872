"""The live's state in the store (migration 5 of `replay.store.migrations`): stream keys,
takes, the segments each room's playlists list, archive chunks and instant replays.

Everything a restart of `replay serve` needs to continue a room's day is here: the next
media sequence of each rung, the takes left `live` by a killed process and the archive
chunks not yet kept as a recording.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from replay.store.connection import Connection, Row
from replay.store.ports import StoreRunner

T = TypeVar("T")

#: Alphabet-safe keys: letters and digits only, so they survive copy and paste into
#: any encoder's form and any URL.
KEY_BYTES = 18


@dataclass(frozen=True, slots=True)
class StreamKey:
    event_slug: str
    room: str
    stream_key: str
    srt_passphrase: str
    srt_port: int
    revoked: bool


@dataclass(frozen=True, slots=True)
class Take:
    """One continuous publish of a room. Its clock's t = 0 is its first audio sample."""

    id: int
    event_slug: str
    room: str
    day: str
    protocol: str
    peer: str
    wall_start: datetime
    mpegts_origin: int | None
    status: str
    #: The take's work folder: its segment folders, archive chunks and PCM.
    folder: str


@dataclass(frozen=True, slots=True)
class LiveSegment:
    """A published segment of one rung (the contract with the live captions)."""

    sequence: int
    take: int
    start: float
    duration: float
    discontinuity: bool
    keep: bool = True


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of the archive: the input as received (copied), a few seconds long."""

    take_id: int
    number: int
    start: float
    duration: float
    path: str
    status: str


def _token() -> str:
    return secrets.token_urlsafe(KEY_BYTES).replace("-", "x").replace("_", "y")


class LiveStore:
    """Repositories of the live over the store's connection."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    # -- keys ------------------------------------------------------------------------

    def keys_of(self, event_slug: str) -> list[StreamKey]:
        rows = self.db.execute("SELECT * FROM live_keys WHERE event_slug = ? ORDER BY room",
                               (event_slug,))
        return [_key(row) for row in rows]

    def all_keys(self) -> list[StreamKey]:
        rows = self.db.execute("SELECT * FROM live_keys ORDER BY event_slug, room")
        return [_key(row) for row in rows]

    def key_for_room(self, event_slug: str, room: str) -> StreamKey | None:
        row = self.db.execute("SELECT * FROM live_keys WHERE event_slug = ? AND room = ?",
                              (event_slug, room)).fetchone()
        return None if row is None else _key(row)

    def find_key(self, stream_key: str) -> StreamKey | None:
        row = self.db.execute("SELECT * FROM live_keys WHERE stream_key = ?",
                              (stream_key,)).fetchone()
        return None if row is None else _key(row)

    def issue_key(self, event_slug: str, room: str, first_srt_port: int) -> StreamKey:
        """A new key and passphrase for the room (replacing any former one, revoked or
        not); the room keeps its SRT port."""
        with self.db.transaction():
            found = self.key_for_room(event_slug, room)
            port = found.srt_port if found else self._free_port(first_srt_port)
            self.db.execute(
                "INSERT INTO live_keys VALUES (?, ?, ?, ?, ?, ?, NULL) "
                "ON CONFLICT(event_slug, room) DO UPDATE SET stream_key=excluded.stream_key, "
                "srt_passphrase=excluded.srt_passphrase, created_at=excluded.created_at, "
                "revoked_at=NULL",
                (event_slug, room, _token(), _token(), port, time.time()))
        issued = self.key_for_room(event_slug, room)
        assert issued is not None
        return issued

    def revoke_key(self, event_slug: str, room: str) -> bool:
        cursor = self.db.execute(
            "UPDATE live_keys SET revoked_at = ? WHERE event_slug = ? AND room = ? "
            "AND revoked_at IS NULL", (time.time(), event_slug, room))
        return cursor.rowcount > 0

    def _free_port(self, first: int) -> int:
        used = {row[0] for row in self.db.execute("SELECT srt_port FROM live_keys")}
        port = first
        while port in used:
            port += 1
        return port

    # -- takes -----------------------------------------------------------------------

    def start_take(self, event_slug: str, room: str, *, day: str, protocol: str, peer: str,
                   wall_start: datetime, folder: str) -> Take:
        """`day` is the event's local date (ISO): the day playlists it continues."""
        # fetchall, not fetchone: SQLite commits once the statement has run to its end
        (row,) = self.db.execute(
            "INSERT INTO live_takes (event_slug, room, day, protocol, peer, wall_start, "
            "status, folder) VALUES (?, ?, ?, ?, ?, ?, 'live', ?) RETURNING id",
            (event_slug, room, day, protocol, peer, wall_start.isoformat(), folder)).fetchall()
        take = self.take(int(row["id"]))
        assert take is not None
        return take

    def take(self, take_id: int) -> Take | None:
        row = self.db.execute("SELECT * FROM live_takes WHERE id = ?", (take_id,)).fetchone()
        return None if row is None else _take(row)

    def takes_of(self, event_slug: str, room: str, day: str | None = None) -> list[Take]:
        rows = self.db.execute("SELECT * FROM live_takes WHERE event_slug = ? AND room = ? "
                               "AND (CAST(? AS TEXT) IS NULL OR day = ?) ORDER BY id",
                               (event_slug, room, day, day))
        return [_take(row) for row in rows]

    def segment_count(self, take_id: int, rung: str) -> int:
        rows = self.db.execute("SELECT COUNT(*) FROM live_segments WHERE take_id = ? AND "
                               "rung = ?", (take_id, rung)).fetchall()
        return int(rows[0][0])

    def chunk_count(self, take_id: int) -> int:
        rows = self.db.execute("SELECT COUNT(*) FROM live_chunks WHERE take_id = ?",
                               (take_id,)).fetchall()
        return int(rows[0][0])

    def open_takes(self) -> list[Take]:
        rows = self.db.execute("SELECT * FROM live_takes WHERE status = 'live' ORDER BY id")
        return [_take(row) for row in rows]

    def move_start(self, take: Take, wall_start: datetime) -> Take:
        self.db.execute("UPDATE live_takes SET wall_start = ? WHERE id = ?",
                        (wall_start.isoformat(), take.id))
        moved = self.take(take.id)
        assert moved is not None
        return moved

    def set_origin(self, take_id: int, mpegts_origin: int) -> None:
        self.db.execute("UPDATE live_takes SET mpegts_origin = ? WHERE id = ?",
                        (mpegts_origin, take_id))

    def end_take(self, take_id: int, ended_at: datetime) -> None:
        self.db.execute("UPDATE live_takes SET status = 'ended', ended_at = ? WHERE id = ?",
                        (ended_at.isoformat(), take_id))

    # -- segments --------------------------------------------------------------------

    def add_segment(self, take: Take, rung: str, *, start: float, duration: float,
                    keep: bool) -> LiveSegment:
        """Append a segment to the rung's day: the next sequence number, and a
        discontinuity when it is the first of a take that is not the day's first."""
        with self.db.transaction():
            last = self.db.execute(
                "SELECT sequence, take_id FROM live_segments WHERE event_slug = ? AND room = ? "
                "AND day = ? AND rung = ? ORDER BY sequence DESC LIMIT 1",
                (take.event_slug, take.room, take.day, rung)).fetchone()
            sequence = 0 if last is None else last["sequence"] + 1
            discontinuity = last is not None and last["take_id"] != take.id
            self.db.execute(
                "INSERT INTO live_segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (take.event_slug, take.room, take.day, rung, sequence, take.id, start,
                 duration, int(discontinuity), int(keep)))
        return LiveSegment(sequence, take.id, start, duration, discontinuity, keep)

    def segments(self, event_slug: str, room: str, day: str, rung: str) -> list[LiveSegment]:
        rows = self.db.execute(
            "SELECT * FROM live_segments WHERE event_slug = ? AND room = ? AND day = ? AND "
            "rung = ? ORDER BY sequence", (event_slug, room, day, rung))
        return [LiveSegment(r["sequence"], r["take_id"], r["start"], r["duration"],
                            bool(r["discontinuity"]), bool(r["keep"])) for r in rows]

    def rungs_of_day(self, event_slug: str, room: str, day: str) -> list[str]:
        rows = self.db.execute(
            "SELECT DISTINCT rung FROM live_segments WHERE event_slug = ? AND room = ? AND "
            "day = ?", (event_slug, room, day))
        return [row[0] for row in rows]

    # -- archive chunks ----------------------------------------------------------------

    def add_chunk(self, take_id: int, number: int, start: float, duration: float, path: str,
                  *, keep: bool) -> None:
        self.db.execute(
            "INSERT INTO live_chunks VALUES (?, ?, ?, ?, ?, ?, NULL) "
            "ON CONFLICT(take_id, number) DO NOTHING",
            (take_id, number, start, duration, path, "pending" if keep else "dropped"))

    def pending_chunks(self, event_slug: str, room: str) -> list[Chunk]:
        rows = self.db.execute(
            "SELECT c.* FROM live_chunks c JOIN live_takes t ON t.id = c.take_id WHERE "
            "t.event_slug = ? AND t.room = ? AND c.status = 'pending' "
            "ORDER BY c.take_id, c.number", (event_slug, room))
        return [_chunk(row) for row in rows]

    def chunks_of_take(self, take_id: int) -> list[Chunk]:
        rows = self.db.execute("SELECT * FROM live_chunks WHERE take_id = ? ORDER BY number",
                               (take_id,))
        return [_chunk(row) for row in rows]

    def archive_chunks(self, chunks: list[Chunk], recording_id: int) -> None:
        self.db.executemany(
            "UPDATE live_chunks SET status = 'archived', recording_id = ? WHERE take_id = ? "
            "AND number = ?", [(recording_id, c.take_id, c.number) for c in chunks])

    # -- instant replays ----------------------------------------------------------------

    def replay_status(self, event_slug: str, guid: str) -> str | None:
        row = self.db.execute("SELECT status FROM live_replays WHERE event_slug = ? AND "
                              "guid = ?", (event_slug, guid)).fetchone()
        return None if row is None else str(row[0])

    def set_replay(self, event_slug: str, guid: str, status: str, *, ended_at: datetime,
                   recording_id: int | None = None,
                   published_at: datetime | None = None) -> None:
        self.db.execute(
            "INSERT INTO live_replays VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(event_slug, guid) "
            "DO UPDATE SET status=excluded.status, recording_id=excluded.recording_id, "
            "published_at=excluded.published_at",
            (event_slug, guid, status, recording_id, ended_at.isoformat(),
             None if published_at is None else published_at.isoformat()))

    def forget_unfinished_replays(self) -> None:
        """Instant replays a killed process was making are made again."""
        self.db.execute("DELETE FROM live_replays WHERE status = 'making'")

    def replays_of(self, event_slug: str) -> dict[str, str]:
        rows = self.db.execute("SELECT guid, status FROM live_replays WHERE event_slug = ?",
                               (event_slug,))
        return {row[0]: row[1] for row in rows}


def _key(row: Row) -> StreamKey:
    return StreamKey(row["event_slug"], row["room"], row["stream_key"], row["srt_passphrase"],
                     row["srt_port"], row["revoked_at"] is not None)


def _take(row: Row) -> Take:
    return Take(row["id"], row["event_slug"], row["room"], row["day"], row["protocol"],
                row["peer"], datetime.fromisoformat(row["wall_start"]), row["mpegts_origin"],
                row["status"], row["folder"])


def _chunk(row: Row) -> Chunk:
    return Chunk(row["take_id"], row["number"], row["start"], row["duration"], row["path"],
                 row["status"])


class LiveRunner:
    """The live's repositories where the store's work runs (`StoreRunner.run`: off the
    event loop in the service), over that side's connection."""

    def __init__(self, db: StoreRunner) -> None:
        self.db = db

    async def run(self, use: Callable[[LiveStore], T]) -> T:
        """``use(LiveStore)`` on the store's side; its result (or its exception)."""
        return await self.db.run(lambda store: use(LiveStore(store.db)))
