"""The live ingest for real: nginx's RTMP module and ffmpeg's SRT listener started by the
app, ffmpeg as the publisher (test pattern and espeak-ng French speech, `-re`).

A wrong key (RTMP) or passphrase (SRT) is refused before anything is kept; a right one
goes live; the SRT take after the RTMP one continues the day's playlists with a
discontinuity; a publisher on the live gets a take with its clock and segments.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from replay.live.nginx import APPLICATION
from replay.live.publisher import room_prefix
from replay.live.store import LiveSegment, LiveStore, StreamKey, Take
from replay.sample import SampleSession, SampleTruth
from replay.settings import Settings
from replay.store.db import Store
from tests.app_store import own_store
from tests.live_support import (
    live_app,
    live_settings,
    playlist_uris,
    publish,
    rtmp_publisher,
    sample_around_now,
    srt_publisher,
    wait_for,
)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("nginx") is None,
                                 reason="nginx-light is installed by scripts/setup.sh")]

SESSIONS = (SampleSession("Atelier en direct", 0, 60, late_by=2, paragraphs=3),)


@dataclass
class Recorder:
    """A take listener, as the live captions will be: PCM and segments as they come."""

    pcm: dict[int, int] = field(default_factory=dict)
    segments: list[tuple[int, str, LiveSegment, int]] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)

    async def take_started(self, take: Take, pcm: AsyncIterator[bytes]) -> None:
        import asyncio

        async def count() -> None:
            async for chunk in pcm:
                self.pcm[take.id] = self.pcm.get(take.id, 0) + len(chunk)

        self.task = asyncio.create_task(count())

    async def segment_published(self, take: Take, rung: str, segment: LiveSegment,
                                mpegts_origin: int) -> None:
        self.segments.append((take.id, rung, segment, mpegts_origin))

    async def take_ended(self, take: Take) -> None:
        self.ended.append(take.id)


@dataclass
class Running:
    settings: Settings
    app: web.Application
    key: StreamKey
    truth: SampleTruth
    recorder: Recorder
    store: Store  # the test's own connection (`own_store`)

    @property
    def live(self) -> LiveStore:
        return LiveStore(self.store.db)

    @property
    def day_folder(self) -> Path:
        takes = self.live.takes_of(self.key.event_slug, self.key.room)
        return self.settings.site_dir / room_prefix(self.key.event_slug, self.key.room) / \
            takes[-1].day

    def rtmp(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.settings.live_rtmp_port}/{APPLICATION}/{key}"

    def srt(self, passphrase: str) -> str:
        return f"srt://127.0.0.1:{self.key.srt_port}?passphrase={passphrase}&pbkeylen=16"


@pytest_asyncio.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    truth = sample_around_now(tmp_path / "sample", SESSIONS, 40.0, lead=0.0)
    settings = live_settings(tmp_path / "data")
    recorder = Recorder()
    async with live_app(settings, truth, listener=recorder) as (app, key), own_store(app) as store:
        yield Running(settings, app, key, truth, recorder, store)


async def test_wrong_keys_are_refused_right_ones_go_live_over_rtmp_then_srt(
        running: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="replay.live")
    source = running.truth.recording
    assert await publish(rtmp_publisher(source, running.rtmp("not-the-key"), seconds=3),
                         timeout=30) != 0
    assert running.live.takes_of(running.key.event_slug, running.key.room) == []
    assert any("unknown stream key" in r.getMessage() for r in caplog.records)

    assert await publish(rtmp_publisher(source, running.rtmp(running.key.stream_key),
                                        seconds=15), timeout=60) == 0
    await wait_for(lambda: bool(running.recorder.ended), 30, "the RTMP take ends")
    [first] = running.live.takes_of(running.key.event_slug, running.key.room)
    assert (first.protocol, first.status) == ("rtmp", "ended")
    assert first.mpegts_origin is not None
    rungs = sorted({rung for _, rung, _, _ in running.recorder.segments})
    assert rungs == ["180p", "audio"], "a source below the ladder gets a rung of its own size"
    assert running.recorder.pcm[first.id] >= 32000 * 5, "at least 5 s of 16 kHz PCM"
    day = running.day_folder
    first_count = len(playlist_uris(day / "180p" / "day.m3u8"))
    assert first_count >= 3
    assert all((day / "180p" / uri).is_file() for uri in playlist_uris(day / "180p" / "day.m3u8"))
    assert playlist_uris(day / "live.m3u8") == ["180p/live.m3u8", "audio/live.m3u8"]

    wrong = srt_publisher(source, running.srt("pas-la-bonne-phrase"), seconds=3)
    assert await publish(wrong, timeout=30) != 0
    await wait_for(lambda: any("wrong passphrase" in r.getMessage() for r in caplog.records),
                   10, "the SRT refusal is logged")
    assert len(running.live.takes_of(running.key.event_slug, running.key.room)) == 1

    right = srt_publisher(source, running.srt(running.key.srt_passphrase), seconds=15)
    assert await publish(right, timeout=60) == 0
    await wait_for(lambda: len(running.recorder.ended) == 2, 30, "the SRT take ends")
    takes = running.live.takes_of(running.key.event_slug, running.key.room)
    assert [t.protocol for t in takes] == ["rtmp", "srt"]
    text = (day / "180p" / "day.m3u8").read_text()
    assert text.count("#EXT-X-DISCONTINUITY") == 1, "the reconnection, in the same playlist"
    after = playlist_uris(day / "180p" / "day.m3u8")
    assert len(after) >= first_count + 2
    assert after == sorted(after), "the media sequence goes on"
    assert running.live.pending_chunks(running.key.event_slug, running.key.room), \
        "the archive keeps what was received"
