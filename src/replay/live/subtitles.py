"""The live WebVTT subtitle rendition, written through the object store port.

For each video segment the live ingest publishes (`add_segment`), one WebVTT segment with
the same sequence number and duration is written once the captions of its time span are
settled, and the subtitle playlists (a live window and the day's) are rewritten: they lag
the video playlists by the caption latency. A segment never waits more than `max_lag`
seconds: past that it goes out with the cues known, so that a slow or stalled captioner
never holds the rendition back.

Per take, `begin_take` gives a `TakeSubtitles`, the sink of that take's `LiveCaptioner`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from replay.domain.cues import rules_for
from replay.domain.livecues import (
    LiveCues,
    LiveSegment,
    PlaylistEntry,
    media_playlist,
    parse_media_playlist,
    segment_webvtt,
    target_duration_for,
)
from replay.domain.transcript import Word
from replay.storage.port import ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RenditionConfig:
    """Where and how one language's rendition is written. `prefix` is the folder of its
    segments and playlists in the object store; `window`: segments in the live playlist
    (the video's live window); `max_lag`: seconds a segment may wait for its captions."""

    prefix: str
    language: str = "fr"
    window: int = 10
    target_duration: int = 2
    max_lag: float = 12.0
    live_playlist: str = "live.m3u8"
    day_playlist: str = "day.m3u8"

    def key(self, name: str) -> str:
        return f"{self.prefix.rstrip('/')}/{name}"

    @staticmethod
    def segment_name(sequence: int) -> str:
        return f"{sequence}.vtt"


class TakeSubtitles:
    """One take's captions in the rendition: feed it committed words and settled times."""

    def __init__(self, rendition: SubtitleRendition, take: int, mpegts_origin: int) -> None:
        self.take = take
        self.mpegts_origin = mpegts_origin
        self.cues = LiveCues(rules_for(rendition.config.language))
        self.finished = False
        self._rendition = rendition

    async def add_words(self, words: Sequence[Word]) -> None:
        self.cues.add(words)

    async def settle(self, until: float) -> None:
        self.cues.settle(until)
        await self._rendition.publish_ready()

    async def finish(self) -> None:
        """The take is over: all its words are in."""
        self.finished = True
        self.cues.settle(float("inf"))
        await self._rendition.publish_ready()

    def settled_through(self, time: float) -> bool:
        return self.finished or self.cues.settled >= time


class SubtitleRendition:
    def __init__(self, store: ObjectStore, config: RenditionConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.config = config
        self.published: list[PlaylistEntry] = []
        self.first_sequence: int | None = None
        self.late_segments = 0
        #: Seconds the last subtitle segment out waited after its video segment.
        self.recent_wait: float | None = None
        self._clock = clock
        self._takes: dict[int, TakeSubtitles] = {}
        self._waiting: deque[tuple[LiveSegment, float]] = deque()
        self._lock = asyncio.Lock()
        self._ended = False
        #: Sequences shown live but never kept, and those of them already deleted.
        self.unkept: set[int] = set()
        self._deleted: set[int] = set()

    async def resume(self) -> None:
        """Carry on the day's playlist already in the store (after a restart)."""
        data = await self.store.get_bytes(self.config.key(self.config.day_playlist))
        if data is not None:
            self.first_sequence, entries = parse_media_playlist(data.decode("utf-8"))
            self.published = list(entries)

    def begin_take(self, take: int, mpegts_origin: int) -> TakeSubtitles:
        subtitles = TakeSubtitles(self, take, mpegts_origin)
        self._takes[take] = subtitles
        return subtitles

    def uncaptioned_take(self, take: int, mpegts_origin: int) -> None:
        """A take without captions (its segments were collected after a restart, or its
        captioner never started): its subtitle segments go out at once, empty, so that
        the subtitle playlists stay parallel to the video's."""
        if take not in self._takes:
            subtitles = self.begin_take(take, mpegts_origin)
            subtitles.finished = True

    async def add_segment(self, segment: LiveSegment, *, keep: bool = True) -> None:
        """A video segment is out: its subtitle segment follows when its captions are.
        A segment not to be kept (a session that must not be recorded) is shown in the
        live window only, like its video: left out of the day's playlist, and deleted
        once it leaves the window."""
        if not keep:
            self.unkept.add(segment.sequence)
        self._waiting.append((segment, self._clock()))
        await self.publish_ready()

    async def end(self) -> None:
        """The day is over: every waiting segment goes out and the playlists end."""
        self._ended = True
        await self.publish_ready(force=True)

    async def publish_ready(self, *, force: bool = False) -> None:
        async with self._lock:
            count = 0
            while self._waiting and (force or self._ready(*self._waiting[0])):
                segment, added_at = self._waiting[0]
                try:
                    await self._write_segment(segment)
                except Exception:  # the live must go on: try again at the next call
                    log.exception("subtitle segment %s not written", segment.sequence)
                    break
                self._waiting.popleft()
                self.recent_wait = self._clock() - added_at
                count += 1
            if count or (force and self._ended):
                await self._write_playlists()

    def _ready(self, segment: LiveSegment, added_at: float) -> bool:
        take = self._takes.get(segment.take)
        if take is not None and take.settled_through(segment.end):
            return True
        if self._clock() - added_at >= self.config.max_lag:
            self.late_segments += 1
            log.warning("live captions late: subtitle segment %s published with the cues "
                        "known after %.0f s", segment.sequence, self.config.max_lag)
            return True
        return False

    async def _write_segment(self, segment: LiveSegment) -> None:
        take = self._takes.get(segment.take)
        cues, origin = [], 0
        if take is not None:
            take.cues.close_before(segment.end)
            cues, origin = take.cues.cues_between(segment.start, segment.end), take.mpegts_origin
        name = self.config.segment_name(segment.sequence)
        await self.store.put_bytes(self.config.key(name),
                                   segment_webvtt(cues, origin).encode("utf-8"))
        if take is not None:
            take.cues.forget_before(segment.start)
        if self.first_sequence is None:
            self.first_sequence = segment.sequence
        self.published.append(PlaylistEntry(name, segment.duration, segment.discontinuity))

    async def _write_playlists(self) -> None:
        entries = self.published
        target = target_duration_for((e.duration for e in entries), self.config.target_duration)
        kept = _kept(entries, self.unkept)
        day = media_playlist(kept, first_sequence=_sequence(kept[0]) if kept else 0,
                             target_duration=target, event=True, ended=self._ended)
        skipped = max(0, len(entries) - self.config.window)
        shown = entries[skipped:]
        live = media_playlist(shown, first_sequence=_sequence(shown[0]) if shown else 0,
                              target_duration=target, ended=self._ended,
                              discontinuity_sequence=sum(e.discontinuity
                                                         for e in entries[:skipped]))
        await self.store.put_bytes(self.config.key(self.config.day_playlist), day.encode())
        await self.store.put_bytes(self.config.key(self.config.live_playlist), live.encode())
        for entry in entries[:skipped]:
            sequence = _sequence(entry)
            if sequence in self.unkept and sequence not in self._deleted:
                await self.store.delete(self.config.key(entry.uri))
                self._deleted.add(sequence)


def _sequence(entry: PlaylistEntry) -> int:
    return int(entry.uri.partition(".")[0])


def _kept(entries: Sequence[PlaylistEntry], unkept: set[int]) -> list[PlaylistEntry]:
    """The day's entries without those not to be kept; where some were left out, the
    next one starts a discontinuity (as in the video's day playlist)."""
    kept: list[PlaylistEntry] = []
    previous: int | None = None
    for entry in entries:
        sequence = _sequence(entry)
        if sequence in unkept:
            continue
        gap = previous is not None and sequence != previous + 1
        kept.append(replace(entry, discontinuity=bool(kept) and (entry.discontinuity or gap)))
        previous = sequence
    return kept
