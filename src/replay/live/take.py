"""One take of a room: the live ffmpeg, its segments published as they are finished, the
archive chunks recorded, the PCM appended to the take's file and handed to listeners.

The take's work folder holds one folder of segments per rung and the archive chunks,
each with ffmpeg's CSV list of finished files; a watcher reads the lists and publishes
what is new. A segment is published (uploaded, then listed in the playlists) only once
ffmpeg has finished it, so a killed process leaves at most one unlisted segment behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from replay.live.commands import ARCHIVE, SEGMENT_LIST, LivePlan, live_argv
from replay.live.store import LiveSegment, Take
from replay.media.runner import run_ffmpeg_streaming
from replay.media.timestamps import MPEGTS_CLOCK, segment_start

log = logging.getLogger(__name__)

PCM_FILE = "audio16k.pcm"
SPEECH_FILE = "speech.json"
#: Seconds between two looks at ffmpeg's segment lists.
WATCH_EVERY = 0.25
#: Chunks of PCM a listener may fall behind before chunks are dropped for it.
LISTENER_BACKLOG = 256
#: 16 kHz mono s16le.
PCM_BYTES_PER_SECOND = 32000
#: Seconds of sound during which the take's wall-clock start is still refined.
SETTLE_SECONDS = 20.0
#: ffmpeg's description of its input: « Duration: N/A, start: 4.713000, bitrate: N/A ».
INPUT_START = re.compile(r"Duration: .*, start: (-?\d+(?:\.\d+)?)")
#: A stream clock further on than this at the join does not count from the publish.
MAX_INPUT_START = 120.0
#: Longest a take may last (a safety net: a day is never longer).
MAX_TAKE_SECONDS = 36 * 3600.0


class TakeListener(Protocol):
    """What the live captions (and tests) hear of a take."""

    async def take_started(self, take: Take, pcm: AsyncIterator[bytes]) -> None: ...

    async def segment_published(self, take: Take, rung: str, segment: LiveSegment,
                                mpegts_origin: int) -> None: ...

    async def take_ended(self, take: Take) -> None: ...


@dataclass(frozen=True, slots=True)
class Finished:
    """A row of ffmpeg's segment list: a file it finished, on the take's clock."""

    name: str
    start: float
    end: float


def parse_segment_list(text: str) -> list[Finished]:
    rows = []
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 3:
            with contextlib.suppress(ValueError):
                rows.append(Finished(row[0], float(row[1]), float(row[2])))
    return rows


class PcmFanout:
    """Hands every PCM chunk to each subscriber's queue without ever waiting for one:
    a listener that falls behind loses chunks, the live never waits."""

    def __init__(self) -> None:
        self.queues: list[asyncio.Queue[bytes | None]] = []

    def subscribe(self) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(LISTENER_BACKLOG)
        self.queues.append(queue)

        async def chunks() -> AsyncIterator[bytes]:
            while (chunk := await queue.get()) is not None:
                yield chunk

        return chunks()

    def publish(self, chunk: bytes) -> None:
        for queue in self.queues:
            try:
                queue.put_nowait(chunk)
            except asyncio.QueueFull:
                log.warning("a live listener fell behind: PCM dropped for it")

    def close(self) -> None:
        """The end of the take, for every listener (one behind loses its oldest chunk
        so that the end still reaches it)."""
        for queue in self.queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)


async def heard(call: Awaitable[None]) -> None:
    """Await a listener; its failure is logged, never the end of the live."""
    try:
        await call
    except Exception:
        log.exception("live: a take listener failed")


async def _as_is(take: Take) -> Take:
    return take


SegmentSink = Callable[[Take, str, Path, Finished], Awaitable[None]]
ChunkSink = Callable[[Take, Path, Finished], Awaitable[None]]


@dataclass
class TakeRun:
    """Runs the take's ffmpeg until its input ends (or the task is cancelled)."""

    url: str
    plan: LivePlan
    folder: Path
    segment_seconds: float
    threads: int
    start_take: Callable[[datetime], Awaitable[Take]]
    on_segment: SegmentSink
    on_chunk: ChunkSink
    move_start: Callable[[Take, datetime], Awaitable[Take]] = lambda take, _: _as_is(take)
    listeners: list[TakeListener] = field(default_factory=list)
    input_format: str = "flv"
    take: Take | None = None
    received: int = 0
    #: When nginx accepted the publisher, and where the stream's clock stood when this
    #: take joined it (ffmpeg's « start: » of its input).
    published_at: datetime | None = None
    input_start: float | None = None
    seen: dict[str, int] = field(default_factory=dict)
    fanout: PcmFanout = field(default_factory=PcmFanout)

    @property
    def folders(self) -> list[Path]:
        return [self.folder / rung.name for rung in self.plan.rungs] + [self.folder / ARCHIVE]

    async def run(self) -> Take | None:
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
        argv = live_argv(self.url, self.plan, self.folder, segment_seconds=self.segment_seconds,
                         threads=self.threads, input_format=self.input_format)
        watcher = asyncio.create_task(self._watch())
        pcm = (self.folder / PCM_FILE).open("ab")
        try:
            await run_ffmpeg_streaming(argv, on_output=lambda chunk: self._pcm(pcm, chunk),
                                       on_stderr=self._said, timeout=MAX_TAKE_SECONDS)
        finally:
            pcm.close()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self.fanout.close()
            await asyncio.shield(self.collect())
        return self.take

    def _said(self, line: str) -> None:
        found = INPUT_START.search(line)
        if found and self.input_start is None:
            self.input_start = float(found.group(1))
            log.info("live: the take joined the stream at %.3f s (published at %s)",
                     self.input_start, self.published_at)

    def _anchored_start(self) -> datetime | None:
        """RTMP timestamps count from the publisher's first packet, which nginx announced
        (`published_at`): the take's t = 0 is that long after it."""
        if self.published_at is None or self.input_start is None or \
                not 0 <= self.input_start <= MAX_INPUT_START:
            return None
        return self.published_at + timedelta(seconds=self.input_start)

    async def _pcm(self, handle: io.BufferedWriter, chunk: bytes) -> None:
        self.received += len(chunk)
        anchored = self._anchored_start()
        # Otherwise: ffmpeg hands over what it buffered while probing its input at once,
        # so t = 0 is at most as long before now as the sound received so far.
        start = anchored or datetime.now(UTC) - timedelta(
            seconds=self.received / PCM_BYTES_PER_SECOND)
        if self.take is None:
            self.take = await self.start_take(start)
            for listener in self.listeners:
                await heard(listener.take_started(self.take, self.fanout.subscribe()))
        elif anchored is not None:
            if self.take.wall_start != anchored:  # ffmpeg's stderr came after its stdout
                self.take = await self.move_start(self.take, anchored)
        elif self.received < SETTLE_SECONDS * PCM_BYTES_PER_SECOND and \
                start < self.take.wall_start - timedelta(seconds=0.02):
            self.take = await self.move_start(self.take, start)
        handle.write(chunk)
        handle.flush()
        self.fanout.publish(chunk)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY)
            await self.collect()

    async def collect(self) -> None:
        """Publish what ffmpeg finished since the last look."""
        if self.take is None:
            return
        for folder in self.folders:
            listing = folder / SEGMENT_LIST
            if not listing.exists():
                continue
            rows = parse_segment_list(listing.read_text(encoding="utf-8"))
            done = self.seen.get(folder.name, 0)
            for row in rows[done:]:
                self.seen[folder.name] = self.seen.get(folder.name, 0) + 1
                if folder.name == ARCHIVE:
                    await self.on_chunk(self.take, folder / row.name, row)
                else:
                    await self.on_segment(self.take, folder.name, folder / row.name, row)


async def mpegts_origin(first_segment: Path, first: Finished) -> int:
    """The MPEG-TS time of the take's t = 0 (`X-TIMESTAMP-MAP` of the live captions)."""
    start = await segment_start(first_segment)
    return round((start - first.start) * MPEGTS_CLOCK)


