"""`replay serve` killed with SIGKILL in the middle of a transcode, then restarted: the
job is picked up again once its lease runs out, and every session ends up published
exactly once. Real ffmpeg, real Whisper (base), a short generated recording.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import IO

import pytest

from replay.domain.publication import PublicationRule
from replay.sample import SampleSession, SampleTruth, build_sample
from replay.store.captions import Captions, EventOptions
from replay.store.db import Store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EVENT = "demo-mission-villes"
SESSIONS = (
    SampleSession("Premier atelier", 30, 60, late_by=10, paragraphs=3),
    SampleSession("Second atelier", 90, 60, late_by=15, paragraphs=3),
)
FAST_LEASES = {"REPLAY_LEASE_SECONDS": "3", "REPLAY_HEARTBEAT_SECONDS": "1",
               "REPLAY_CPU_THREADS": "2"}
Row = tuple[int, str, str, int, str]


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(data_dir: Path, log: IO[bytes]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A `replay serve` subprocess, ready to answer; always killed on the way out."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "replay", "--data-dir", str(data_dir), "serve", "--port",
         str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, **FAST_LEASES})
    try:
        wait_until(lambda: healthy(port), 60, "the server answers /health", process)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
            return bool(json.load(answer)["status"] == "ok")
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], seconds: float, what: str,
               process: subprocess.Popen[bytes] | None = None, every: float = 0.02) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"the server exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {seconds:g} s waiting until {what}")
        time.sleep(every)


def jobs(database: Path) -> list[Row]:
    with closing(sqlite3.connect(database, timeout=30)) as db:
        return db.execute("SELECT id, task, status, attempt, args FROM queue_jobs "
                          "ORDER BY id").fetchall()


def transcoding(work: Path, database: Path) -> Row | None:
    """A media_session job that is running and has started writing its ladder."""
    for row in jobs(database):
        job_id, task, status, attempt, _ = row
        if task == "media_session" and status == "doing" and any(
                work.glob(f"*/sessions/*/.media.job{job_id}-{attempt}.partial/hls/*/*.ts")):
            return row
    return None


def all_done(database: Path) -> bool:
    rows = jobs(database)
    return bool(rows) and any(task == "publish_event" for _, task, *_ in rows) and all(
        status in {"succeeded", "failed"} for _, _, status, _, _ in rows)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleTruth:
    return build_sample(tmp_path_factory.mktemp("serve-sample"), sessions=SESSIONS,
                        duration=150, size=(320, 180), fps=10)


def publish_automatically(database: Path) -> None:
    """This test is about crash recovery, not the publication rule: no review needed."""
    store = Store.open(database)
    try:
        Captions(store.db).save_options(EVENT, EventOptions(PublicationRule.AUTOMATIQUE,
                                                            editors_may_publish=False))
    finally:
        store.close()


def test_a_killed_server_loses_nothing(sample: SampleTruth, tmp_path: Path) -> None:
    data = tmp_path / "data"
    database, work = data / "replay.sqlite3", data / "work"
    with (tmp_path / "serve.log").open("wb") as log:
        with server(data, log) as (process, _):
            ingest = subprocess.run(
                [sys.executable, "-m", "replay", "--data-dir", str(data), "ingest",
                 str(sample.recording), "--schedule", str(sample.schedule), "--room",
                 sample.room], cwd=ROOT, capture_output=True, text=True, timeout=120,
                check=False)
            assert ingest.returncode == 0, ingest.stderr
            publish_automatically(database)
            found: list[Row] = []

            def caught() -> bool:
                found.extend(filter(None, [transcoding(work, database)]))
                return bool(found)

            wait_until(caught, 120, "a transcode runs", process)
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=10) == -signal.SIGKILL
        killed_id, _, _, killed_attempt, _ = found[0]
        assert (jobs(database)[killed_id - 1][2:4]) == ("doing", killed_attempt)

        with server(data, log) as (process, port):
            wait_until(lambda: all_done(database), 300, "every job is finished", process,
                       every=0.5)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                        timeout=5) as answer:
                metrics = answer.read().decode()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/site/{EVENT}/",
                                        timeout=5) as answer:
                assert answer.status == 200
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0, "graceful shutdown"

    rows = jobs(database)
    assert [row for row in rows if row[2] != "succeeded"] == []
    retaken = rows[killed_id - 1]
    assert (retaken[2], retaken[3]) == ("succeeded", killed_attempt + 1)
    assert 'replay_jobs{state="succeeded"}' in metrics
    assert "replay_stage_duration_seconds_count" in metrics

    site = data / "site" / EVENT
    replays = json.loads((site / "replays.json").read_text(encoding="utf-8"))["replays"]
    guids = [entry["guid"] for entry in replays]
    assert sorted(guids) == sorted(s.guid for s in sample.sessions), "each once"
    sessions = sorted(p.parent for p in site.glob("*/replay.mp4"))
    assert len(sessions) == len(sample.sessions)
    for folder in sessions:
        for name in ("index.html", "subtitles.fr.vtt", "subtitles.en.vtt", "hls/master.m3u8"):
            assert (folder / name).is_file(), f"{folder.name}/{name}"
    assert list(work.rglob("*.partial*")) == [], "no attempt's scratch is left behind"
