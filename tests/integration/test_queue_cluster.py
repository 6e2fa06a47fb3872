"""The compose topology as plain processes on this machine: the state store and the jobs
(procrastinate) in the PostgreSQL at 127.0.0.1:5432 (a schema of the test's own), the
site in a moto S3 server in place of MinIO, one API (`replay serve --no-workers`), two
media workers, one speech worker and one publish worker, each its own process sharing
the data directory for the originals and scratch files (no SQLite file is made). The
recording arrives through tus, with an organiser's API token.

A media worker is killed with SIGKILL in the middle of a transcode and the API is
restarted while the recording is processed: the other media worker takes the job over
under the next attempt, every session is published once to the bucket, and no scratch
is left behind. Real ffmpeg and Whisper (base) on a short generated recording.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO

import pytest
from tusclient.client import TusClient

from replay.domain.programme import parse_programme
from replay.domain.publication import PublicationRule
from replay.jobs.procrastinate_queue import ProcrastinateQueue
from replay.jobs.queue import Job
from replay.sample import SampleSession, SampleTruth, build_sample
from replay.settings import load_settings
from replay.store.captions import Captions, EventOptions
from replay.store.factory import open_store
from tests.e2e.test_serve_kill import free_port, healthy
from tests.integration.conftest import MotoS3
from tests.integration.test_queue_acceptance import PG_URL, fresh_schema

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EVENT = "demo-mission-villes"
SESSIONS = (
    SampleSession("Premier atelier", 30, 60, late_by=10, paragraphs=3),
    SampleSession("Second atelier", 90, 60, late_by=15, paragraphs=3),
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleTruth:
    return build_sample(tmp_path_factory.mktemp("cluster-sample"), sessions=SESSIONS,
                        duration=150, size=(320, 180), fps=10)


class Cluster:
    """The processes, their environment and their logs."""

    def __init__(self, env: dict[str, str], log: IO[bytes]) -> None:
        self.env, self.log = env, log
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-m", "replay", *command], cwd=ROOT,
                                   env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    async def api(self) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        process = self.start("serve", "--no-workers", "--port", str(port))
        await until(lambda: healthy(port), 60, "the API answers /health", process)
        return process, port

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def running(env: dict[str, str], log: IO[bytes]) -> Iterator[Cluster]:
    cluster = Cluster(env, log)
    try:
        yield cluster
    finally:
        cluster.stop_all()


async def until(condition: Callable[[], bool | Awaitable[bool]], seconds: float, what: str,
                process: subprocess.Popen[bytes] | None = None, every: float = 0.1) -> None:
    try:
        async with asyncio.timeout(seconds):
            while True:
                outcome = condition()
                if not isinstance(outcome, bool):
                    outcome = await outcome
                if outcome:
                    return
                if process is not None and process.poll() is not None:
                    pytest.fail(f"a process exited ({process.returncode}) before {what}")
                await asyncio.sleep(every)
    except TimeoutError:
        pytest.fail(f"gave up after {seconds:g} s waiting until {what}")


@asynccontextmanager
async def queue_of(schema: str) -> AsyncIterator[ProcrastinateQueue]:
    queue = await ProcrastinateQueue.open(PG_URL, options=f"-c search_path={schema}")
    try:
        yield queue
    finally:
        await queue.close()


def transcoding(jobs: list[Job], work: Path) -> Job | None:
    """A media_session job that runs and has started writing its ladder."""
    for job in jobs:
        if job.task == "media_session" and job.status == "doing" and any(
                work.glob(f"*/sessions/*/.media.job{job.id}-{job.attempt}.partial/hls/*/*.ts")):
            return job
    return None


def all_done(jobs: list[Job]) -> bool:
    return bool(jobs) and any(j.task == "publish_event" for j in jobs) and all(
        j.status in ("succeeded", "failed") for j in jobs)


def prepare(env: dict[str, str], sample: SampleTruth) -> None:
    """The event's programme, published automatically (this test is about the cluster,
    not the publication rule), in the store the processes' settings name."""
    store = open_store(load_settings(environ=env))
    try:
        store.save_event(parse_programme(sample.schedule.read_bytes(),
                                         filename=sample.schedule.name))
        Captions(store.db).save_options(EVENT, EventOptions(PublicationRule.AUTOMATIQUE,
                                                            editors_may_publish=False))
    finally:
        store.close()


async def organiser_token(env: dict[str, str]) -> str:
    """An organiser's API token, made with the CLI as an operator would."""
    with_password = {**env, "REPLAY_NEW_PASSWORD": "un mot de passe assez long"}
    for command in (["user", "add", "org@example.org", "--name", "Org", "--role",
                     "organiser"],
                    ["user", "token", "org@example.org", "--label", "cluster", "--json"]):
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "replay", *command], cwd=ROOT,
            env=with_password, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
    token: str = json.loads(done.stdout)["token"]
    return token


def upload(sample: SampleTruth, port: int, token: str) -> None:
    """The recording through tus, in chunks, as the upload page sends it."""
    data = sample.recording.read_bytes()
    client = TusClient(f"http://127.0.0.1:{port}/api/uploads/",
                       headers={"Authorization": f"Bearer {token}"})
    with sample.recording.open("rb") as stream:  # tuspy leaves a file_path's file open
        uploader = client.uploader(file_stream=stream, chunk_size=256 * 1024,
                                   metadata={"filename": sample.recording.name,
                                             "event": EVENT, "room": sample.room,
                                             "started_at": sample.started_at.isoformat(),
                                             "sha256": hashlib.sha256(data).hexdigest()})
        uploader.upload()


async def test_the_cluster_loses_nothing(sample: SampleTruth, tmp_path: Path,
                                         moto_s3: MotoS3) -> None:
    data, prefix = tmp_path / "data", f"cluster/{uuid.uuid4().hex}"
    work = data / "work"
    async with fresh_schema() as (schema, _), queue_of(schema) as queue:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAY_")} | {
            "REPLAY_DATA_DIR": str(data),
            "REPLAY_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{schema}",
            "REPLAY_OBJECT_STORE_URL": f"s3://{moto_s3.bucket}/{prefix}",
            "REPLAY_S3_ENDPOINT_URL": moto_s3.endpoint, "REPLAY_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "REPLAY_LEASE_SECONDS": "3", "REPLAY_HEARTBEAT_SECONDS": "1",
            "REPLAY_CPU_THREADS": "2", "REPLAY_LIVE_ENABLED": "false"}
        with (tmp_path / "cluster.log").open("wb") as log, running(env, log) as cluster:
            prepare(env, sample)
            api, api_port = await cluster.api()
            media = [cluster.start("worker", "--queue", "media") for _ in range(2)]
            cluster.start("worker", "--queue", "speech")
            cluster.start("worker", "--queue", "publish")
            token = await organiser_token(env)
            await asyncio.to_thread(upload, sample, api_port, token)

            found: list[Job] = []

            async def caught() -> bool:
                found.extend(filter(None, [transcoding(await queue.list(), work)]))
                return bool(found)

            await until(caught, 180, "a transcode runs")
            killed = found[0]
            assert killed.worker_id is not None
            pid = int(killed.worker_id.rsplit("/", 1)[0].rsplit(":", 1)[1])
            victim = next(p for p in media if p.pid == pid)
            victim.send_signal(signal.SIGKILL)
            assert victim.wait(timeout=10) == -signal.SIGKILL

            # The API restarts while the recording is processed.
            api.send_signal(signal.SIGTERM)
            assert api.wait(timeout=60) == 0
            _, port = await cluster.api()

            async def finished() -> bool:
                return all_done(await queue.list())

            await until(finished, 600, "every job is finished", every=0.5)
            assert healthy(port)
            jobs = await queue.list()

    assert [(j.id, j.task, j.status, j.error) for j in jobs if j.status != "succeeded"] == []
    retaken = next(j for j in jobs if j.id == killed.id)
    assert retaken.attempt == killed.attempt + 1
    assert retaken.worker_id is not None
    assert retaken.worker_id != killed.worker_id  # the other media worker
    body = moto_s3.client.get_object(Bucket=moto_s3.bucket,
                                     Key=f"{prefix}/{EVENT}/replays.json")["Body"].read()
    guids = [entry["guid"] for entry in json.loads(body)["replays"]]
    assert sorted(guids) == sorted(s.guid for s in sample.sessions), "each once"
    listed = moto_s3.client.list_objects_v2(Bucket=moto_s3.bucket,
                                            Prefix=f"{prefix}/{EVENT}/", MaxKeys=1000)
    keys = {item["Key"][len(f"{prefix}/{EVENT}/"):] for item in listed.get("Contents", [])}
    players = sorted(key for key in keys if key.endswith("/replay.mp4"))
    assert len(players) == len(sample.sessions)
    for player in players:
        folder = player.rsplit("/", 1)[0]
        for name in ("index.html", "subtitles.fr.vtt", "subtitles.en.vtt",
                     "hls/master.m3u8"):
            assert f"{folder}/{name}" in keys, f"{folder}/{name}"
    assert list(work.rglob("*.partial*")) == [], "no attempt's scratch is left behind"
    assert not (data / "replay.sqlite3").exists(), "the state is in PostgreSQL only"
