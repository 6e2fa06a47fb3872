"""A 3-minute live with two programme sessions and a break (not to be recorded): each
session's instant replay is published within 60 s of its end, cut within 5 s of the
truth, from the live segments without re-encoding, with draft captions from the live
(here cues made by the test, through the seam the live captions use), labelled as a
replay of the live; each stretch of the archive is a checksummed recording queued for
the full pipeline, and nothing of the break is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from replay.domain.transcript import Cue
from replay.jobs import pipeline
from replay.jobs.context import Context, Lanes
from replay.jobs.pipeline import (
    analyse,
    extract_audio,
    transcode_session,
    transcribe_session,
)
from replay.jobs.queue import JobStatus
from replay.jobs.tasks import whisper_for
from replay.live.nginx import APPLICATION
from replay.live.replay import Drafts, TakeSpan
from replay.live.store import LiveStore
from replay.media.probe import probe
from replay.sample import SampleSession, SampleTruth
from replay.settings import Settings
from replay.storage.local import LocalDirectoryStore
from replay.store.db import Store
from replay.web.keys import DB, QUEUE
from tests.app_store import own_store
from tests.live_support import (
    live_app,
    live_settings,
    playlist_uris,
    publish,
    rtmp_publisher,
    sample_around_now,
    wait_for,
)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("nginx") is None,
                                 reason="nginx-light is installed by scripts/setup.sh")]

SESSIONS = (
    SampleSession("Ouverture en direct", 10, 60, late_by=5, paragraphs=5),
    SampleSession("Pause", 70, 60, is_break=True),
    SampleSession("Table ronde en direct", 130, 60, late_by=8, paragraphs=5),
)
DURATION = 185.0
DRAFT = "Brouillon venu du direct"


async def drafts(spans: Sequence[TakeSpan]) -> Drafts:
    """What the live captions hand over: cues on the replay's clock."""
    assert spans, "the replay's spans of takes"
    length = sum(span.end - span.start for span in spans)
    return {"fr": [Cue(1.0, 3.0, (DRAFT,)),
                   Cue(length - 3.0, length - 1.0, ("Fin de séance",))]}


@dataclass(frozen=True)
class LiveRun:
    app: web.Application
    truth: SampleTruth
    started: datetime
    event: str
    settings: Settings
    live: LiveStore
    store: Store  # the test's own connection (`own_store`); the app's runs on its thread


@pytest_asyncio.fixture(scope="module")
async def live_run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveRun]:
    root = tmp_path_factory.mktemp("live-replay")
    truth = sample_around_now(root / "sample", SESSIONS, DURATION, lead=0.0)
    settings = live_settings(root / "data")
    async with live_app(settings, truth, drafts=drafts) as (app, key), own_store(app) as store:
        started = datetime.now(UTC)
        url = f"rtmp://127.0.0.1:{settings.live_rtmp_port}/{APPLICATION}/{key.stream_key}"
        assert await publish(rtmp_publisher(truth.recording, url), timeout=DURATION + 60) == 0
        live = LiveStore(store.db)
        await wait_for(lambda: len([s for s in live.replays_of(key.event_slug).values()
                                    if s != "making"]) == 2, 90, "both replays are made")
        yield LiveRun(app, truth, started, key.event_slug, settings, live, store)


def test_each_session_has_its_replay_within_a_minute_cut_within_five_seconds(
        live_run: LiveRun) -> None:
    started, slug, store = live_run.started, live_run.event, live_run.store
    rows = store.db.execute("SELECT guid, status, published_at FROM live_replays "
                            "ORDER BY guid").fetchall()
    assert [(r["status"]) for r in rows] == ["published", "published"]
    for session in live_run.truth.sessions:
        row = next(r for r in rows if r["guid"] == session.guid)
        ended = started + timedelta(seconds=session.speech_end)
        late = (datetime.fromisoformat(row["published_at"]) - ended).total_seconds()
        assert late <= 60, f"« {session.title} » published {late:.0f} s after its end"
        [(recording, cut)] = [(r, c) for r in store.recordings_of(slug)
                              for c in store.load_cuts(r.id) if c.guid == session.guid]
        start = (recording.started_at + timedelta(seconds=cut.start) - started).total_seconds()
        end = (recording.started_at + timedelta(seconds=cut.end) - started).total_seconds()
        assert abs(start - session.speech_start) <= 5, (start, session.speech_start)
        assert abs(end - session.speech_end) <= 5, (end, session.speech_end)


def test_the_replay_is_the_live_segments_remuxed_and_labelled(
        live_run: LiveRun) -> None:
    site = live_run.settings.site_dir / live_run.event
    replays = json.loads((site / "replays.json").read_text(encoding="utf-8"))["replays"]
    assert sorted(r["guid"] for r in replays) == sorted(s.guid for s in live_run.truth.sessions)
    for entry in replays:
        assert entry["live_replay"] is True
        folder = site / entry["hls"].split("/")[0]
        page = (folder / "index.html").read_text(encoding="utf-8")
        assert "Rediffusion du direct" in page
        assert "Sous-titres générés automatiquement" in page
        for name in ("replay.mp4", "audio.m4a", "poster.jpg"):
            assert (folder / name).stat().st_size > 1000, name
        variants = playlist_uris(folder / "hls" / "master.m3u8")
        assert variants
        for variant in variants:
            playlist = folder / "hls" / variant
            segments = playlist_uris(playlist)
            assert len(segments) >= 10
            assert all("/direct/" in uri for uri in segments), "no copy: the live's own"
            assert all((playlist.parent / uri).resolve().is_file() for uri in segments)
        assert DRAFT in (folder / "subtitles.fr.vtt").read_text(encoding="utf-8")
        assert DRAFT in (folder / "hls" / "subtitles.fr.vtt").read_text(encoding="utf-8")


async def test_the_archive_is_recordings_queued_for_the_pipeline_without_the_break(
        live_run: LiveRun) -> None:
    store = live_run.store
    recordings = store.recordings_of(live_run.event)
    assert len(recordings) >= 2
    for recording in recordings:
        assert hashlib.sha256(recording.original.read_bytes()).hexdigest() == recording.sha256
    jobs = await live_run.app[QUEUE].list(status=JobStatus.TODO)
    queued = sorted(int(str(job.args["recording"])) for job in jobs
                    if job.task == "analyse_recording")
    assert queued == sorted(r.id for r in recordings)
    pause = next(s for s in SESSIONS if s.is_break)
    live = live_run.live
    dropped = 0
    for take in live.takes_of(live_run.event, live_run.truth.room):
        for chunk in live.chunks_of_take(take.id):
            dropped += chunk.status == "dropped"
            # On the programme's clock (the publisher started a little after it).
            start = (take.wall_start + timedelta(seconds=chunk.start)
                     - live_run.truth.started_at).total_seconds()
            end = start + chunk.duration
            break_start = pause.scheduled_offset
            break_end = pause.scheduled_offset + pause.scheduled_duration
            if end <= break_start or start >= break_end:
                assert chunk.status != "dropped", (start, end)
            elif break_start <= start and end <= break_end:
                assert chunk.status == "dropped", (start, end)
            if chunk.status == "dropped":
                assert not await asyncio.to_thread(Path(chunk.path).exists), "never kept"
    assert dropped * 2.0 >= pause.scheduled_duration - 6, "the break was not kept"


async def test_the_full_pass_replaces_the_live_replay_at_the_same_url(
        live_run: LiveRun) -> None:
    """The archive's analysis, transcode and transcription (real Whisper) for the first
    session, then publication: the same page, no longer a replay of the live."""
    store, settings = live_run.store, live_run.settings
    first = live_run.truth.sessions[0]
    [recording] = [r for r in store.recordings_of(live_run.event)
                   if any(c.guid == first.guid for c in store.load_cuts(r.id))]
    site = settings.site_dir / live_run.event
    before = json.loads((site / "replays.json").read_text(encoding="utf-8"))["replays"]
    url = next(e["hls"] for e in before if e["guid"] == first.guid).split("/")[0]
    ctx = Context(settings=settings, db=live_run.app[DB],
                  objects=LocalDirectoryStore(settings.site_dir),
                  transcriber=whisper_for(settings), lanes=Lanes.for_threads(2))
    event = store.load_event(live_run.event)
    assert event is not None
    info = await probe(recording.original)
    cuts = await analyse(ctx, event, recording, info)
    wav = await extract_audio(ctx, recording, info)
    for cut in cuts:
        await transcode_session(ctx, recording, info, cut)
        await transcribe_session(ctx, event, recording, wav, cut)
    await pipeline.publish(ctx, event)

    after = json.loads((site / "replays.json").read_text(encoding="utf-8"))["replays"]
    entry = next(e for e in after if e["guid"] == first.guid)
    assert entry["hls"].split("/")[0] == url, "the same URL"
    assert entry["live_replay"] is False
    page = (site / url / "index.html").read_text(encoding="utf-8")
    assert "Rediffusion du direct" not in page
    assert DRAFT not in (site / url / "subtitles.fr.vtt").read_text(encoding="utf-8")
    assert all("/direct/" not in uri for uri in playlist_uris(
        site / url / "hls" / playlist_uris(site / url / "hls" / "master.m3u8")[0]))


async def test_off_air_with_every_session_replayed_the_local_segments_are_pruned(
        live_run: LiveRun) -> None:
    """The segment files kept on disk for the instant replays' remux go once the room
    is off air and both replays are out; the object store keeps the live's copy."""
    takes = live_run.live.takes_of(live_run.event, live_run.truth.room)
    assert takes

    def local_segments() -> list[Path]:
        return [p for take in takes for p in Path(take.folder).glob("*/*.ts")]

    await wait_for(lambda: not local_segments(), 120, "the local segments are pruned")
    published = live_run.settings.site_dir / live_run.event / "direct"
    assert len(list(published.glob("*/*/*/*.ts"))) >= 60, "the store keeps its copy"
