"""A room's live HLS through the object store port: segments, then the playlists that
list them (a reader never follows a playlist to a missing segment).

Keys, under the event's folder of the site::

    direct/<room>/index.html, status.json           the live page and what it polls
    direct/<room>/<day>/live.m3u8, day.m3u8         master playlists (live window, day)
    direct/<room>/<day>/<rung>/live.m3u8, day.m3u8  media playlists
    direct/<room>/<day>/<rung>/000123.ts            segments (never rewritten)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from replay.domain.ladder import Rung
from replay.domain.programme import slugify
from replay.live.playlists import (
    DAY_PLAYLIST,
    LIVE_PLAYLIST,
    MASTER_DAY,
    MASTER_LIVE,
    day_playlist,
    live_window,
    master_playlist,
    segment_name,
)
from replay.live.store import LiveRunner, LiveSegment, Take
from replay.storage.port import ObjectStore

log = logging.getLogger(__name__)

LIVE_FOLDER = "direct"


def room_slug(room: str) -> str:
    return slugify(room) or "salle"


def feed_key(event_slug: str, room: str) -> str:
    """The room's key in the « transcription en direct » feeds' URLs (slugs have no
    dot)."""
    return f"{event_slug}.{room_slug(room)}"


def room_prefix(event_slug: str, room: str) -> str:
    return f"{event_slug}/{LIVE_FOLDER}/{room_slug(room)}"


@dataclass(frozen=True, slots=True)
class RoomDay:
    event_slug: str
    room: str
    day: str

    @property
    def prefix(self) -> str:
        return f"{room_prefix(self.event_slug, self.room)}/{self.day}"

    def segment_key(self, rung: str, sequence: int) -> str:
        return f"{self.prefix}/{rung}/{segment_name(sequence)}"


@dataclass
class RoomPublisher:
    objects: ObjectStore
    live: LiveRunner
    day: RoomDay
    window: int
    target: float
    #: Rungs whose segment files stay on disk after upload (instant replays remux them).
    keep_local: frozenset[str] = frozenset()
    cache: dict[str, list[LiveSegment]] = field(default_factory=dict)

    async def day_segments(self, rung: str) -> list[LiveSegment]:
        if rung not in self.cache:
            day = self.day
            listed = await self.live.run(
                lambda live: live.segments(day.event_slug, day.room, day.day, rung))
            return self.cache.setdefault(rung, listed)  # the first one read, if two were
        return self.cache[rung]

    async def publish_masters(self, rungs: tuple[Rung, ...],
                              subtitles: tuple[tuple[str, str, str], ...] = ()) -> None:
        await self.objects.put_bytes(f"{self.day.prefix}/{MASTER_LIVE}",
                                     master_playlist(rungs, LIVE_PLAYLIST, subtitles).encode())
        # The subtitle renditions follow the same pattern: live window, day's playlist.
        day_subtitles = tuple((language, name, uri.replace(LIVE_PLAYLIST, DAY_PLAYLIST))
                              for language, name, uri in subtitles)
        await self.objects.put_bytes(f"{self.day.prefix}/{MASTER_DAY}",
                                     master_playlist(rungs, DAY_PLAYLIST, day_subtitles).encode())

    async def segment(self, take: Take, rung: str, path: Path, *, start: float,
                      duration: float, keep: bool) -> LiveSegment:
        """Upload a finished segment, then list it in the rung's two playlists."""
        day = await self.day_segments(rung)
        segment = await self.live.run(lambda live: live.add_segment(
            take, rung, start=start, duration=duration, keep=keep))
        await self.objects.put_file(self.day.segment_key(rung, segment.sequence), path)
        if rung not in self.keep_local:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        day.append(segment)
        await self.publish_playlists(rung)
        if len(day) > self.window and not day[-self.window - 1].keep:
            # Shown live, never kept: gone once it leaves the live window.
            await self.objects.delete(self.day.segment_key(rung, day[-self.window - 1].sequence))
        return segment

    async def publish_playlists(self, rung: str, *, ended: bool = False) -> None:
        day = await self.day_segments(rung)
        await self.objects.put_bytes(f"{self.day.prefix}/{rung}/{LIVE_PLAYLIST}",
                                     live_window(day, self.window, target=self.target).encode())
        await self.objects.put_bytes(f"{self.day.prefix}/{rung}/{DAY_PLAYLIST}",
                                     day_playlist(day, target=self.target, ended=ended).encode())
