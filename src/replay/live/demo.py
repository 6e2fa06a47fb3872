"""`replay demo --live`: a room goes live with a generated publisher.

A programme timed around now (two sessions and a break) is imported, the room gets a
stream key, the service starts (API, pages, live ingest; no pipeline workers, so the
machine stays free for the live), and ffmpeg publishes a test pattern with French speech
(espeak-ng) over RTMP at its real pace. The instant replays appear as their sessions end.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from replay.domain.programme import parse_programme
from replay.live import bridge
from replay.live.nginx import APPLICATION
from replay.live.publisher import room_prefix
from replay.live.store import LiveStore
from replay.locale import _
from replay.media.runner import run_ffmpeg
from replay.sample import SampleSession, SampleTruth, build_sample
from replay.settings import Settings
from replay.store.factory import open_store

#: Two minutes on air: two sessions (programme times are whole minutes), each starting late
#: and ending early, with silence between them.
DEMO_SESSIONS = (
    SampleSession("Ouverture du direct : la Mission Villes", 10, 60, late_by=6, paragraphs=4),
    SampleSession("Table ronde en direct : financer la transition", 70, 60, late_by=10,
                  paragraphs=4),
)
DEMO_SECONDS = 130.0
DEMO_EVENT = "demo-direct"
#: Seconds after the publisher stops during which the last replay may still appear.
WAIT_AFTER = 90.0


@dataclass(frozen=True, slots=True)
class LiveDemo:
    truth: SampleTruth
    event_slug: str
    stream_key: str


def prepare(settings: Settings, out: Path, *, lead: float = 8.0,
            sessions: tuple[SampleSession, ...] = DEMO_SESSIONS,
            duration: float = DEMO_SECONDS) -> LiveDemo:
    """The publisher's media and a programme starting `lead` seconds from now, imported,
    with a key for the room."""
    started = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    truth = build_sample(out, sessions=sessions, duration=duration, started_at=started,
                         size=(640, 360), fps=25)
    _own_event(truth.schedule)
    event = parse_programme(truth.schedule.read_bytes())
    store = open_store(settings)
    try:
        bridge.import_programme(store, event)
        key = LiveStore(store.db).issue_key(event.slug, truth.room, settings.live_srt_port)
    finally:
        store.close()
    return LiveDemo(truth, event.slug, key.stream_key)


def _own_event(schedule: Path) -> None:
    """The live demo is an event of its own, beside the recorded demo's."""
    data = json.loads(schedule.read_text(encoding="utf-8"))
    conference = data["schedule"]["conference"]
    conference["acronym"] = DEMO_EVENT
    conference["title"] = "Démo : le direct de la Mission Villes"
    schedule.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def publisher_argv(recording: Path, url: str) -> list[str]:
    """ffmpeg as an encoder in the room: the recording at its real pace, over RTMP."""
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
            "-i", str(recording), "-c", "copy", "-f", "flv", url]


async def publish_at(demo: LiveDemo, port: int) -> None:
    """Start publishing when the recording's wall-clock start comes."""
    delay = (demo.truth.started_at - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, delay))
    url = f"rtmp://127.0.0.1:{port}/{APPLICATION}/{demo.stream_key}"
    await run_ffmpeg(publisher_argv(demo.truth.recording, url), timeout=DEMO_SECONDS * 3)


async def run_demo(settings: Settings, out: Path) -> int:
    from replay.web.app import create_app

    print(_("Preparing the demonstration live in {folder} ...").format(folder=out),
          file=sys.stderr)
    demo = await asyncio.to_thread(prepare, settings, out)
    runner = web.AppRunner(create_app(settings, worker_queues=()), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    page = (f"http://{settings.host}:{settings.port}/site/"
            f"{room_prefix(demo.event_slug, demo.truth.room)}/index.html")
    print(_("Live of the room “{room}”: {page}").format(room=demo.truth.room, page=page))
    print(_("The two replays appear on this page at the end of their session (about {seconds} "
            "s).").format(seconds=int(DEMO_SECONDS + WAIT_AFTER)), flush=True)
    try:
        await publish_at(demo, settings.live_rtmp_port)
        await asyncio.sleep(WAIT_AFTER)
    finally:
        await runner.cleanup()
    print(_("End of the live. Replays and archive in {folder}; {command} processes the archive "
            "(full transcription, translation).").format(folder=settings.data_dir,
                                                         command="`replay serve`"))
    return 0
