"""The compose topology as plain processes on this machine, as if each ran on a machine
of its own: the state store and the jobs (procrastinate) in the PostgreSQL at
127.0.0.1:5432 (a schema of the test's own), the object store a moto S3 server in place
of MinIO, one API (`replay serve --no-workers`), two media workers, one speech worker and
one publish worker, each its own process with its own data directory: the original and
the outputs a later job reads go through the bucket (`storage.exchange`); no SQLite file
is made. The recording arrives through tus, with an organiser's API token.

A media worker is killed with SIGKILL in the middle of a transcode and the API is
restarted while the recording is processed: the other media worker takes the job over
under the next attempt, every session is published once to the bucket, and no scratch
is left behind (the killed worker's, in its own data directory, is swept when it is
started again there). Real ffmpeg and Whisper (base) on a short generated recording.
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

import aiohttp
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

    def start(self, data: Path, *command: str) -> subprocess.Popen[bytes]:
        """`replay COMMAND` with `data` as its data directory (its machine's disk)."""
        process = subprocess.Popen([sys.executable, "-m", "replay", *command], cwd=ROOT,
                                   env=self.env | {"REPLAY_DATA_DIR": str(data)},
                                   stdout=self.log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    async def api(self, data: Path) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        process = self.start(data, "serve", "--no-workers", "--port", str(port))
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


def transcoding(jobs: list[Job], machines: list[Path]) -> Job | None:
    """A media_session job that runs and has started writing its ladder."""
    for job in jobs:
        pattern = f"work/*/sessions/*/.media.job{job.id}-{job.attempt}.partial/hls/*/*.ts"
        if job.task == "media_session" and job.status == "doing" and any(
                any(data.glob(pattern)) for data in machines):
            return job
    return None


def scratch_in(data: Path) -> list[Path]:
    """What attempts and fetches leave while they run (`jobs.scratch`)."""
    return [*data.rglob("*.partial*"), *data.rglob(".*.old")]


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
    prefix = f"cluster/{uuid.uuid4().hex}"
    api_data, speech_data, publish_data = (tmp_path / name for name in ("api", "speech",
                                                                          "publish"))
    media_data = [tmp_path / f"media{index}" for index in range(2)]
    async with fresh_schema() as (schema, _), queue_of(schema) as queue:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAY_")} | {
            "REPLAY_DATA_DIR": str(api_data),
            "REPLAY_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{schema}",
            "REPLAY_OBJECT_STORE_URL": f"s3://{moto_s3.bucket}/{prefix}",
            "REPLAY_S3_ENDPOINT_URL": moto_s3.endpoint, "REPLAY_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "REPLAY_LEASE_SECONDS": "3", "REPLAY_HEARTBEAT_SECONDS": "1",
            "REPLAY_CPU_THREADS": "2", "REPLAY_LIVE_ENABLED": "false"}
        with (tmp_path / "cluster.log").open("wb") as log, running(env, log) as cluster:
            prepare(env, sample)
            api, api_port = await cluster.api(api_data)
            media = {cluster.start(data, "worker", "--queue", "media").pid: data
                     for data in media_data}
            cluster.start(speech_data, "worker", "--queue", "speech")
            cluster.start(publish_data, "worker", "--queue", "publish")
            token = await organiser_token(env)
            await asyncio.to_thread(upload, sample, api_port, token)

            found: list[Job] = []

            async def caught() -> bool:
                found.extend(filter(None, [transcoding(await queue.list(), media_data)]))
                return bool(found)

            await until(caught, 180, "a transcode runs")
            killed = found[0]
            assert killed.worker_id is not None
            pid = int(killed.worker_id.rsplit("/", 1)[0].rsplit(":", 1)[1])
            victim = next(p for p in cluster.processes if p.pid == pid)
            victim.send_signal(signal.SIGKILL)
            assert victim.wait(timeout=10) == -signal.SIGKILL
            assert scratch_in(media[pid]), "the killed transcode left its scratch"

            # The API restarts while the recording is processed.
            api.send_signal(signal.SIGTERM)
            assert api.wait(timeout=60) == 0
            _, port = await cluster.api(api_data)

            async def finished() -> bool:
                return all_done(await queue.list())

            await until(finished, 600, "every job is finished", every=0.5)
            assert healthy(port)
            jobs = await queue.list()
            await assert_the_editor_reads_through_the_bucket(port, token, sample)

            # The killed worker's machine starts it again: alone on its data directory,
            # it removes the scratch the SIGKILL left there before taking any job.
            health = tmp_path / "restarted.health"
            restarted = cluster.start(media[pid], "worker", "--queue", "media",
                                      "--health-file", str(health))
            await until(health.exists, 60, "the restarted worker answers", restarted)

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
    machines = [api_data, speech_data, publish_data, *media_data]
    assert {str(m): scratch_in(m) for m in machines} == {str(m): [] for m in machines}, (
        "no attempt's scratch is left behind")
    assert_files_moved_through_the_bucket(moto_s3, prefix, sample, machines)


async def assert_the_editor_reads_through_the_bucket(port: int, token: str,
                                                     sample: SampleTruth) -> None:
    """An editor on the API opens a session's captions that the speech worker made."""
    auth = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.get(f"{base}/api/events/{EVENT}/recordings") as listed:
            recording = (await listed.json())["recordings"][0]["id"]
        guid = sample.sessions[0].guid
        async with http.get(f"{base}/api/captions/{recording}/{guid}/fr") as captions:
            assert captions.status == 200, await captions.text()
            assert (await captions.json())["cues"], "Whisper's draft, read on the API"


def assert_files_moved_through_the_bucket(moto_s3: MotoS3, prefix: str,
                                          sample: SampleTruth, machines: list[Path]) -> None:
    """The original went up once, under the private prefix beside the site's; each
    machine holds only what its jobs needed: the speech and publish workers never
    fetched the original."""
    api_data, speech_data, publish_data, *media_data = machines
    digest = hashlib.sha256(sample.recording.read_bytes()).hexdigest()
    original = f"{digest}{sample.recording.suffix.lower()}"
    beside = f"{prefix.rpartition('/')[0]}/_private/"  # not under the public site prefix
    private = moto_s3.client.list_objects_v2(Bucket=moto_s3.bucket, Prefix=beside,
                                             MaxKeys=1000)
    private_keys = {item["Key"][len(beside):] for item in private.get("Contents", [])}
    assert f"originals/{original}" in private_keys
    public = moto_s3.client.list_objects_v2(Bucket=moto_s3.bucket, Prefix=f"{prefix}/")
    assert not [item["Key"] for item in public.get("Contents", [])
                if "_private" in item["Key"] or "originals" in item["Key"]]
    assert [p.name for p in (api_data / "originals").iterdir()] == [original]
    # The API processes nothing: it only fetched the speech folder its editor read.
    work, guid = api_data / "work", sample.sessions[0].guid
    fetched = {p.relative_to(work).parts[1:4] for p in work.rglob("*") if p.is_file()}
    assert ("sessions", guid, "speech") in fetched
    assert fetched <= {("sessions", guid, "speech"), ("sessions", guid, ".speech.exchanged.json")}
    for data in (speech_data, publish_data):
        assert not list(data.glob("originals/*")), f"{data.name} fetched no original"
    assert any((data / "originals" / original).is_file() for data in media_data)
    for data in (speech_data, publish_data, *media_data):
        assert not (data / "replay.sqlite3").exists(), "the state is in PostgreSQL only"
