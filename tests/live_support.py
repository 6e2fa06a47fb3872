"""What the live tests share: free ports, a programme timed around now, ffmpeg publishers
over RTMP and SRT, and waiting for the live's files to appear."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from replay.domain.programme import parse_programme
from replay.live.replay import DraftCaptions
from replay.live.store import LiveStore, StreamKey
from replay.live.take import TakeListener
from replay.live.web import LIVE
from replay.sample import SampleSession, SampleTruth, build_sample
from replay.settings import Settings
from replay.store.db import Store
from replay.web.app import create_app
from replay.web.keys import DB

ROOT = Path(__file__).resolve().parents[1]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with closing(socket.socket(socket.AF_INET, kind)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def live_settings(data_dir: Path, **changes: object) -> Settings:
    """Settings for a live on this machine only, on ports of its own. The live captions
    (on by default in the service) are off unless a test turns them on: Whisper beside
    the live of a test about something else would only slow the shared machine down."""
    settings = Settings(data_dir=data_dir, cpu_threads=2, port=free_port(),
                        live_listen_host="127.0.0.1", live_rtmp_port=free_port(),
                        live_srt_port=free_port(socket.SOCK_DGRAM),
                        live_captions_enabled=False)
    return replace(settings, **changes)  # type: ignore[arg-type]  # names checked by replace


def sample_around_now(out: Path, sessions: tuple[SampleSession, ...], duration: float, *,
                      lead: float) -> SampleTruth:
    """A room recording (test pattern, espeak-ng French) whose programme starts `lead`
    seconds from now, small enough for two cores."""
    started = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    return build_sample(out, sessions=sessions, duration=duration, started_at=started,
                        size=(320, 180), fps=25)


def rtmp_publisher(source: Path, url: str, *, seconds: float | None = None) -> list[str]:
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-i",
            str(source)]
    if seconds is not None:
        argv += ["-t", f"{seconds:g}"]
    return [*argv, "-c", "copy", "-f", "flv", url]


def srt_publisher(source: Path, url: str, *, seconds: float | None = None) -> list[str]:
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-i",
            str(source)]
    if seconds is not None:
        argv += ["-t", f"{seconds:g}"]
    return [*argv, "-c", "copy", "-f", "mpegts", url]


async def publish(argv: list[str], *, timeout: float) -> int:  # noqa: ASYNC109
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        return await asyncio.wait_for(process.wait(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@dataclass
class Publisher:
    """A publisher that runs in the background until stopped (killed: a dropped link)."""

    process: asyncio.subprocess.Process

    @classmethod
    async def start(cls, argv: list[str]) -> Publisher:
        return cls(await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL))

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


async def wait_for(condition: Callable[[], bool], seconds: float, what: str,
                   every: float = 0.25) -> float:
    """Wait until `condition()`; returns when (monotonic). Fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds:g} s waiting until {what}")
        await asyncio.sleep(every)
    return time.monotonic()


def playlist_uris(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def read_json(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


@asynccontextmanager
async def live_app(settings: Settings, truth: SampleTruth, *,
                   listener: TakeListener | None = None,
                   drafts: DraftCaptions | None = None) -> AsyncIterator[tuple[web.Application,
                                                                              StreamKey]]:
    """The real app with its live (no pipeline workers) on `settings.port`, the sample's
    programme imported and a key for its room, nginx up."""
    app = create_app(settings, worker_queues=())
    server = TestServer(app, host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        event = parse_programme(truth.schedule.read_bytes())

        def seed(store: Store) -> StreamKey:
            store.save_event(event)
            return LiveStore(store.db).issue_key(event.slug, truth.room, settings.live_srt_port)

        key = await app[DB].run(seed)
        app[LIVE].attach(listener=listener, drafts=drafts)
        app[LIVE].key_changed(key)
        await wait_for(lambda: (settings.live_dir / "nginx" / "nginx.pid").exists(), 30,
                       "nginx runs")
        yield app, key
    finally:
        await server.close()
