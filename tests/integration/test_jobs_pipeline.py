"""The pipeline as queue jobs, with real ffmpeg on a small generated recording and a
scripted transcriber, driven by a `Worker` on a temporary SQLite queue until idle.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from replay.domain.errors import MediaError
from replay.domain.programme import parse_programme
from replay.domain.publication import PublicationRule
from replay.domain.retry import RetryPolicy
from replay.domain.stages import PlanReview
from replay.domain.transcript import Segment
from replay.jobs.context import Context, Lanes, StaleAttempt
from replay.jobs.pipeline import ProcessRequest
from replay.jobs.queue import Job, JobStatus
from replay.jobs.sqlite_queue import SQLiteQueue
from replay.jobs.tasks import (
    QUEUES,
    TaskDeps,
    enqueue_recording,
    ingest_recording,
    publish_job,
    task_table,
)
from replay.jobs.worker import JobContext, Worker
from replay.media.probe import probe
from replay.sample import SampleTruth
from replay.settings import Settings
from replay.speech.transcriber import FakeTranscriber, Task
from replay.storage.local import LocalDirectoryStore
from replay.store.async_store import AsyncStore
from replay.store.captions import Captions, EventOptions
from replay.store.db import Store
from replay.store.ports import InPlace

pytestmark = pytest.mark.slow

EVENT = "demo-mission-villes"
SCRIPT: dict[Task, Sequence[Segment]] = {
    "transcribe": [Segment(0.5, 2.0, "Bonjour à tous.")],
    "translate": [Segment(0.5, 2.0, "Hello everyone.")],
}


@dataclass
class Flaky(FakeTranscriber):
    """Translation crashes while ``broken`` is set."""

    broken: bool = False
    crashes: list[int] = field(default_factory=list)

    def transcribe(self, audio: np.ndarray, *, task: Task, language: str,
                   hotwords: str | None = None,
                   on_progress: Callable[[float], None] | None = None) -> list[Segment]:
        if task == "translate" and self.broken:
            self.crashes.append(len(audio))
            raise RuntimeError("speech model crashed")
        return super().transcribe(audio, task=task, language=language, hotwords=hotwords,
                                  on_progress=on_progress)


@dataclass
class Rig:
    settings: Settings
    store: Store  # the test's own connection
    db: AsyncStore  # the workers' store, on its thread as in `replay serve` and `replay worker`
    queue: SQLiteQueue
    transcriber: Flaky

    def deps(self) -> TaskDeps:
        return TaskDeps(settings=self.settings, db=self.db, queue=self.queue,
                        objects=LocalDirectoryStore(self.settings.site_dir),
                        transcriber=self.transcriber, lanes=Lanes.for_threads(2))

    async def ingest(self, sample: SampleTruth, *, automatic: bool = True) -> int:
        ctx = Context(settings=self.settings, db=InPlace(self.store),  # as `replay ingest`
                      objects=LocalDirectoryStore(self.settings.site_dir),
                      transcriber=self.transcriber, lanes=Lanes.for_threads(1))
        request = ProcessRequest(sample.recording, parse_programme(sample.schedule.read_bytes()),
                                 sample.room, None)
        _, job_id = await ingest_recording(ctx, self.queue, request)
        if automatic:
            self.publish_automatically(request.event.slug)
        return job_id

    def publish_automatically(self, slug: str) -> None:
        """These tests are about the jobs, not the publication rule: no review needed."""
        Captions(self.store.db).save_options(
            slug, EventOptions(PublicationRule.AUTOMATIQUE, editors_may_publish=False))

    async def drain(self, seconds: float = 120) -> None:
        """Run a worker on every queue until no job is waiting or running."""
        worker = Worker(self.queue, task_table(self.deps()), QUEUES, worker_id="test",
                        concurrency=2, lease_seconds=5, heartbeat_every=0.5,
                        poll_interval=0.05, requeue_every=0.2,
                        retry_policy=RetryPolicy(base_delay=0.05, max_delay=0.1))
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        try:
            async with asyncio.timeout(seconds):
                while True:
                    if await self.idle():
                        break
                    await asyncio.sleep(0.1)
        finally:
            stop.set()
            await running

    async def idle(self) -> bool:
        counts = await self.queue.counts()
        return counts[JobStatus.TODO] == counts[JobStatus.DOING] == 0

    async def jobs(self, task: str) -> list[Job]:
        return [job for job in await self.queue.list() if job.task == task]

    def published(self) -> list[str]:
        replays = json.loads((self.settings.site_dir / EVENT / "replays.json")
                             .read_text(encoding="utf-8"))["replays"]
        return [entry["guid"] for entry in replays]


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    settings = Settings(data_dir=tmp_path / "data", cpu_threads=2)
    store = Store.open(settings.database_path)
    queue = SQLiteQueue.open(settings.database_path)
    db = await AsyncStore.open(settings)
    yield Rig(settings, store, db, queue, Flaky(script=SCRIPT))
    await db.close()
    await queue.close()
    store.close()


def manual_context(queue: SQLiteQueue, job: Job,
                   still_current: Callable[[], Awaitable[bool]] | None = None) -> JobContext:
    async def heartbeat() -> bool:
        return await queue.heartbeat(job.id, job.attempt, progress=None, eta=None,
                                     lease_seconds=30)

    return JobContext(job_id=job.id, task=job.task, attempt=job.attempt, args=job.args,
                      report_progress=lambda fraction, eta: None,
                      still_current=still_current or heartbeat)


def tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))
            if p.is_file()}


async def test_sessions_wait_for_the_cut_plan_then_are_published_once(
        sample: SampleTruth, rig: Rig) -> None:
    await rig.ingest(sample, automatic=False)  # a new event: « après validation du découpage »
    await rig.drain()
    assert not (rig.settings.site_dir / EVENT / "replays.json").exists() or \
        rig.published() == [], "nothing goes out before an organiser validated the cut plan"
    rig.store.set_plan_review(1, PlanReview.CONFIRMED)
    await rig.queue.enqueue(publish_job(EVENT))  # what confirming the plan does
    await rig.drain()
    assert sorted(rig.published()) == sorted(s.guid for s in sample.sessions)
    jobs = await rig.queue.list()
    assert {job.status for job in jobs} == {JobStatus.SUCCEEDED}
    by_task = {task: len(await rig.jobs(task)) for task in
               ("analyse_recording", "media_session", "speech_session")}
    assert by_task == {"analyse_recording": 1, "media_session": 2, "speech_session": 2}
    assert 2 <= len(await rig.jobs("publish_event")) <= 3
    assert all(job.attempt == 1 and job.progress == 1.0 for job in jobs)
    assert len(rig.transcriber.calls) == 4  # transcribe and translate, once per session
    assert len(list((rig.settings.site_dir / EVENT).glob("*/subtitles.fr.vtt"))) == 2


async def test_a_stale_attempt_can_neither_overwrite_nor_publish(sample: SampleTruth,
                                                                 rig: Rig) -> None:
    await rig.ingest(sample)
    tasks = task_table(rig.deps())
    analysis = await rig.queue.fetch(["media"], "first", 30)
    assert analysis is not None
    assert analysis.task == "analyse_recording"
    await tasks[analysis.task](manual_context(rig.queue, analysis))
    assert await rig.queue.succeed(analysis.id, analysis.attempt)

    # A worker takes a transcode, then freezes before publishing it: its lease runs out.
    zombie = await rig.queue.fetch(["media"], "zombie", lease_seconds=1.0)
    assert zombie is not None
    assert zombie.task == "media_session"
    at_gate, successor_done = asyncio.Event(), asyncio.Event()

    async def frozen_until_succeeded() -> bool:
        at_gate.set()
        await successor_done.wait()
        return await rig.queue.heartbeat(zombie.id, zombie.attempt, progress=None, eta=None,
                                         lease_seconds=1.0)

    zombie_tasks = task_table(rig.deps())  # its own lanes: another process
    running = asyncio.ensure_future(zombie_tasks[zombie.task](
        manual_context(rig.queue, zombie, frozen_until_succeeded)))
    await asyncio.wait_for(at_gate.wait(), 60)
    session = rig.settings.work_dir / sample_sha(rig)[:16] / "sessions" / str(zombie.args["guid"])
    scratch = session / f".media.job{zombie.id}-{zombie.attempt}.partial"
    assert (scratch / "replay.mp4").is_file(), "the zombie did its work, in its own scratch"

    # Another worker takes the job over and finishes everything.
    await rig.drain()
    taken_over = await rig.queue.get(zombie.id)
    assert taken_over is not None
    assert (taken_over.status, taken_over.attempt) == (JobStatus.SUCCEEDED, 2)
    media_before, site_before = tree(session / "media"), tree(rig.settings.site_dir)
    publishes = len(await rig.jobs("publish_event"))

    # The zombie wakes up: it may not move its output into place, publish or enqueue.
    successor_done.set()
    with pytest.raises(StaleAttempt):
        await asyncio.wait_for(running, 30)
    assert not await rig.queue.succeed(zombie.id, zombie.attempt)
    assert not scratch.exists()
    assert tree(session / "media") == media_before
    assert tree(rig.settings.site_dir) == site_before
    assert len(await rig.jobs("publish_event")) == publishes
    assert await rig.queue.get(zombie.id) == taken_over
    state = rig.store.stage(1, str(zombie.args["guid"]), "media")
    assert state is not None
    assert state.status == "done"
    assert sorted(rig.published()) == sorted(s.guid for s in sample.sessions)


def sample_sha(rig: Rig) -> str:
    recording = rig.store.recording(1)
    assert recording is not None
    return recording.sha256


async def test_bad_media_fails_at_once_with_its_reason(sample: SampleTruth, rig: Rig) -> None:
    event = parse_programme(sample.schedule.read_bytes())
    rig.store.save_event(event)
    rig.publish_automatically(event.slug)
    broken = rig.settings.data_dir / "broken.mp4"
    broken.write_text("Table ronde : villes neutres pour le climat\n")
    recording = rig.store.add_recording(
        event_slug=event.slug, room=sample.room, sha256="0" * 64, original=broken,
        source_name="broken.mp4", started_at=sample.started_at)
    job_id = await enqueue_recording(rig.queue, recording.id)
    await rig.drain()
    failed = await rig.queue.get(job_id)
    assert failed is not None
    with pytest.raises(MediaError) as reason:
        await probe(broken)
    assert (failed.status, failed.attempt, failed.error) == (
        JobStatus.FAILED, 1, str(reason.value))
    assert await rig.jobs("media_session") == []

    shutil.copyfile(sample.recording, broken)  # fixed: the retry button finishes the work
    assert await rig.queue.retry(job_id)
    await rig.drain()
    assert {job.status for job in await rig.queue.list()} == {JobStatus.SUCCEEDED}
    assert sorted(rig.published()) == sorted(s.guid for s in sample.sessions)


async def test_a_retry_reruns_from_the_failed_stage(sample: SampleTruth, rig: Rig) -> None:
    rig.transcriber.broken = True
    await rig.ingest(sample)
    await rig.drain()
    speech = await rig.jobs("speech_session")
    assert [(job.status, job.attempt) for job in speech] == [(JobStatus.FAILED, 5)] * 2
    assert all(job.error == "RuntimeError: speech model crashed (gave up after 5 tries)"
               for job in speech)
    assert {job.status for job in await rig.jobs("media_session")} == {JobStatus.SUCCEEDED}
    assert await rig.jobs("publish_event") == []
    work = rig.settings.work_dir
    before = {path: mtime for path, mtime in tree(work).items()
              if path.endswith(("audio16k.wav", "speech.json", "replay.mp4"))}
    assert len(before) == 4

    rig.transcriber.broken = False
    rig.transcriber.calls.clear()
    for job in speech:
        assert await rig.queue.retry(job.id)
    await rig.drain()
    assert {job.status for job in await rig.queue.list()} == {JobStatus.SUCCEEDED}
    assert sorted(call[0] for call in rig.transcriber.calls) == [
        "transcribe", "transcribe", "translate", "translate"]
    assert {path: tree(work)[path] for path in before} == before, "nothing else was redone"
    assert sorted(rig.published()) == sorted(s.guid for s in sample.sessions)
