"""`replay serve` SIGKILLed in the middle of a live, then restarted: its nginx and ffmpeg
die with it (nothing holds the ports), the interrupted take is ended and what it had
received is kept, and the publisher's return continues the same day's playlists (media
sequence and a discontinuity), as OBS reconnecting would."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest

from replay.domain.programme import parse_programme
from replay.live.nginx import APPLICATION
from replay.live.store import LiveStore
from replay.sample import SampleSession
from replay.settings import Settings
from replay.store.db import Store
from tests.e2e.test_serve_kill import healthy, wait_until
from tests.live_support import ROOT, live_settings, playlist_uris, sample_around_now

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("nginx") is None,
                                 reason="nginx-light is installed by scripts/setup.sh")]

SESSIONS = (SampleSession("Atelier interrompu", 0, 120, late_by=2, paragraphs=10),)


def environment(settings: Settings) -> dict[str, str]:
    return {**os.environ, "REPLAY_LIVE_LISTEN_HOST": "127.0.0.1",
            "REPLAY_LIVE_RTMP_PORT": str(settings.live_rtmp_port),
            "REPLAY_LIVE_SRT_PORT": str(settings.live_srt_port), "REPLAY_CPU_THREADS": "2"}


@contextmanager
def serving(settings: Settings, log: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "replay", "--data-dir", str(settings.data_dir), "serve",
         "--port", str(settings.port), "--workers", ""], cwd=ROOT, stdout=log,
        stderr=subprocess.STDOUT, env=environment(settings))
    try:
        wait_until(lambda: healthy(settings.port), 60, "the server answers", process)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


@contextmanager
def publishing(source: Path, url: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-i",
                                str(source), "-c", "copy", "-f", "flv", url],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def day_segments(settings: Settings) -> list[str]:
    found = sorted(settings.site_dir.glob("*/direct/*/*/*/day.m3u8"))
    video = [p for p in found if p.parent.name != "audio"]
    return playlist_uris(video[0]) if video else []


def takes(settings: Settings) -> list[tuple[int, str]]:
    with closing(sqlite3.connect(settings.database_path, timeout=30)) as db:
        return db.execute("SELECT id, status FROM live_takes ORDER BY id").fetchall()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in \
        Path(f"/proc/{pid}/status").read_text().lower()


def test_a_live_survives_a_killed_server(tmp_path: Path) -> None:
    truth = sample_around_now(tmp_path / "sample", SESSIONS, 100.0, lead=0.0)
    settings = live_settings(tmp_path / "data")
    store = Store.open(settings.database_path)
    event = parse_programme(truth.schedule.read_bytes())
    store.save_event(event)
    key = LiveStore(store.db).issue_key(event.slug, truth.room, settings.live_srt_port)
    store.close()
    url = f"rtmp://127.0.0.1:{settings.live_rtmp_port}/{APPLICATION}/{key.stream_key}"
    pid_file = settings.live_dir / "nginx" / "nginx.pid"
    with (tmp_path / "serve.log").open("wb") as log:
        with serving(settings, log) as server, publishing(truth.recording, url):
            wait_until(pid_file.exists, 30, "nginx runs", server)
            wait_until(lambda: len(day_segments(settings)) >= 4, 60, "the live runs", server,
                       every=0.5)
            nginx = int(pid_file.read_text())
            server.send_signal(signal.SIGKILL)
            killed_at = datetime.now(UTC)
            assert server.wait(timeout=10) == -signal.SIGKILL
            wait_until(lambda: not alive(nginx), 10, "nginx died with the service")
        before = day_segments(settings)
        assert takes(settings) == [(1, "live")], "the killed process could not end it"

        with serving(settings, log) as server:
            wait_until(lambda: takes(settings)[0][1] == "ended", 30, "the take is ended",
                       server)
            time.sleep(2)  # nginx back
            with publishing(truth.recording, url):
                wait_until(lambda: len(day_segments(settings)) >= len(before) + 4, 60,
                           "the live goes on", server, every=0.5)
            wait_until(lambda: [s for _, s in takes(settings)] == ["ended", "ended"], 30,
                       "the second take ends", server)
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=60) == 0

    after = day_segments(settings)
    assert after[:len(before)] == before, "the day's playlist was continued, not restarted"
    assert after == sorted(after)
    video = next(p for p in sorted(settings.site_dir.glob("*/direct/*/*/*/day.m3u8"))
                 if p.parent.name != "audio")
    assert video.read_text().count("#EXT-X-DISCONTINUITY") == 1
    store = Store.open(settings.database_path)
    live = LiveStore(store.db)
    first = live.take(1)
    assert first is not None
    chunks = live.chunks_of_take(1)
    received_until = first.wall_start.timestamp() + chunks[-1].start + chunks[-1].duration
    # Only what was being written when the process died is lost (a chunk, at most).
    assert killed_at.timestamp() - received_until < 6.0
    store.close()
