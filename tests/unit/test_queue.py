"""The job queue port: acceptance tests run on the in-memory fake and the SQLite adapter,
then the worker loop on the fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from replay.domain.retry import RetryPolicy
from replay.jobs.memory_queue import MemoryQueue
from replay.jobs.queue import JobQueue, JobSpec, JobStatus, PermanentError
from replay.jobs.sqlite_queue import SQLiteQueue
from replay.jobs.worker import JobContext, TaskFn, Worker

LEASE = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite"])
async def queue(request: pytest.FixtureRequest, tmp_path: Path,
                clock: Clock) -> AsyncIterator[JobQueue]:
    opened: JobQueue
    if request.param == "memory":
        opened = MemoryQueue(clock=clock)
    else:
        opened = SQLiteQueue.open(tmp_path / "state.sqlite3", clock=clock)
    yield opened
    await opened.close()


async def take(queue: JobQueue, *queues: str) -> tuple[int, int]:
    job = await queue.fetch(queues or ("default",), "w1", LEASE)
    assert job is not None
    return job.id, job.attempt


# -- the port ----------------------------------------------------------------------------


async def test_fetch_takes_the_oldest_job_of_the_asked_queues(queue: JobQueue,
                                                               clock: Clock) -> None:
    first = await queue.enqueue(JobSpec("transcode", {"recording": 1, "guid": "a"}))
    other = await queue.enqueue(JobSpec("transcribe", {"guid": "a"}, queue="speech"))
    second = await queue.enqueue(JobSpec("transcode", {"recording": 1, "guid": "b"}))
    job = await queue.fetch(["default"], "w1", LEASE)
    assert job is not None
    assert (job.id, job.task, job.args) == (first, "transcode", {"recording": 1, "guid": "a"})
    assert (job.status, job.attempt, job.tries, job.worker_id) == ("doing", 1, 1, "w1")
    assert job.lease_until == clock.now + LEASE
    assert (await take(queue, "default", "speech"))[0] == other
    assert (await take(queue))[0] == second
    assert await queue.fetch(["default", "speech"], "w1", LEASE) is None


async def test_args_must_be_json(queue: JobQueue) -> None:
    not_json: Any = {"when": object()}
    with pytest.raises(TypeError):
        await queue.enqueue(JobSpec("t", not_json))
    assert await queue.list() == []


async def test_a_waiting_job_absorbs_duplicates_of_its_lock(queue: JobQueue) -> None:
    first = await queue.enqueue(JobSpec("transcode", {"guid": "a"}, lock="media:1:a"))
    assert await queue.enqueue(JobSpec("transcode", {"guid": "a"}, lock="media:1:a")) == first
    unlocked = [await queue.enqueue(JobSpec("transcode")) for _ in range(2)]
    assert len(set(unlocked)) == 2
    assert len(await queue.list()) == 3


async def test_jobs_sharing_a_lock_never_run_at_once(queue: JobQueue) -> None:
    first = await queue.enqueue(JobSpec("transcode", lock="media:1:a"))
    assert (await take(queue))[0] == first
    # The running job may have read the old cut already: new work queues behind it.
    second = await queue.enqueue(JobSpec("transcode", lock="media:1:a"))
    assert second != first
    other = await queue.enqueue(JobSpec("transcode", lock="media:1:b"))
    assert (await take(queue))[0] == other  # skips the locked one
    assert await queue.fetch(["default"], "w2", LEASE) is None
    assert await queue.succeed(first, 1)
    assert (await take(queue))[0] == second


async def test_a_stale_attempt_can_write_nothing(queue: JobQueue, clock: Clock) -> None:
    job_id = await queue.enqueue(JobSpec("transcode"))
    await take(queue)
    clock.advance(LEASE + 1)
    assert await queue.requeue_expired() == 1
    requeued = await queue.get(job_id)
    assert requeued is not None
    assert (requeued.status, requeued.attempt) == ("todo", 1)
    assert not await queue.succeed(job_id, 1)  # requeued, not yet taken again
    assert await take(queue) == (job_id, 2)
    before = await queue.get(job_id)
    assert not await queue.heartbeat(job_id, 1, progress=0.9, eta=1.0, lease_seconds=LEASE)
    assert not await queue.succeed(job_id, 1)
    assert not await queue.fail(job_id, 1, "late", retry_at=None, permanent=True)
    assert await queue.get(job_id) == before
    assert await queue.succeed(job_id, 2)


async def test_heartbeats_store_progress_and_keep_the_lease(queue: JobQueue,
                                                            clock: Clock) -> None:
    job_id, attempt = await take_new(queue)
    clock.advance(LEASE - 1)
    assert await queue.heartbeat(job_id, attempt, progress=0.4, eta=90.0, lease_seconds=LEASE)
    clock.advance(LEASE - 1)
    assert await queue.requeue_expired() == 0
    job = await queue.get(job_id)
    assert job is not None
    assert (job.status, job.progress, job.eta) == ("doing", 0.4, 90.0)
    assert job.lease_until == clock.now + 1


async def take_new(queue: JobQueue, **spec: Any) -> tuple[int, int]:
    await queue.enqueue(JobSpec("transcode", **spec))
    return await take(queue)


async def test_a_transient_failure_comes_back_after_its_delay(queue: JobQueue,
                                                              clock: Clock) -> None:
    job_id, attempt = await take_new(queue)
    assert await queue.fail(job_id, attempt, "ffmpeg killed", retry_at=clock.now + 60,
                            permanent=False)
    job = await queue.get(job_id)
    assert job is not None
    assert (job.status, job.error, job.lease_until) == ("todo", "ffmpeg killed", None)
    clock.advance(59)
    assert await queue.fetch(["default"], "w1", LEASE) is None
    clock.advance(1)
    assert await take(queue) == (job_id, 2)
    assert await queue.succeed(job_id, 2)
    done = await queue.get(job_id)
    assert done is not None
    assert (done.status, done.error, done.progress) == ("succeeded", None, 1.0)


@pytest.mark.parametrize(("retry_in", "permanent"), [(5.0, True), (None, False)])
async def test_a_permanent_or_final_failure_stays_failed(
        queue: JobQueue, clock: Clock, retry_in: float | None, permanent: bool) -> None:
    job_id, attempt = await take_new(queue)
    retry_at = None if retry_in is None else clock.now + retry_in
    assert await queue.fail(job_id, attempt, "not a video: the file is a text file",
                            retry_at=retry_at, permanent=permanent)
    clock.advance(3600)
    assert await queue.fetch(["default"], "w1", LEASE) is None
    job = await queue.get(job_id)
    assert job is not None
    assert (job.status, job.error) == ("failed", "not a video: the file is a text file")


async def test_the_retry_button_gives_a_failed_job_fresh_tries(queue: JobQueue) -> None:
    job_id, attempt = await take_new(queue, max_attempts=2)
    assert not await queue.retry(job_id)  # running: nothing to retry
    assert await queue.fail(job_id, attempt, "bad media", retry_at=None, permanent=True)
    assert await queue.retry(job_id)
    job = await queue.get(job_id)
    assert job is not None
    assert (job.status, job.error, job.attempt, job.tries) == ("todo", None, 1, 0)
    again = await queue.fetch(["default"], "w1", LEASE)
    assert again is not None
    assert (again.attempt, again.tries) == (2, 1)  # the fence still only grows
    assert not await queue.retry(job_id)
    assert not await queue.retry(9999)


async def test_a_job_whose_worker_vanished_on_its_last_try_fails(queue: JobQueue,
                                                                 clock: Clock) -> None:
    job_id, _ = await take_new(queue, max_attempts=1)
    clock.advance(LEASE + 1)
    assert await queue.requeue_expired() == 1
    job = await queue.get(job_id)
    assert job is not None
    assert job.status == "failed"
    assert job.error is not None
    assert "gave up after 1 tries" in job.error


async def test_cancel_stops_waiting_and_running_jobs(queue: JobQueue) -> None:
    waiting = await queue.enqueue(JobSpec("publish", queue="publish"))
    running, attempt = await take_new(queue)
    assert await queue.cancel(waiting)
    assert await queue.cancel(running)
    assert not await queue.heartbeat(running, attempt, progress=None, eta=None,
                                     lease_seconds=LEASE)
    assert await queue.fetch(["default", "publish"], "w1", LEASE) is None
    assert not await queue.cancel(running)
    assert await queue.retry(running)


async def test_list_and_counts(queue: JobQueue) -> None:
    failed, attempt = await take_new(queue)
    await queue.fail(failed, attempt, "bad", retry_at=None, permanent=True)
    done, attempt = await take_new(queue)
    await queue.succeed(done, attempt)
    doing, _ = await take_new(queue)
    todo = await queue.enqueue(JobSpec("transcribe", queue="speech"))
    assert await queue.counts() == {
        JobStatus.TODO: 1, JobStatus.DOING: 1, JobStatus.SUCCEEDED: 1, JobStatus.FAILED: 1,
        JobStatus.CANCELLED: 0}
    assert [j.id for j in await queue.list()] == [failed, done, doing, todo]
    assert [j.id for j in await queue.list(queue="speech")] == [todo]
    assert [j.id for j in await queue.list(status=JobStatus.DOING)] == [doing]
    assert await queue.list(queue="speech", status=JobStatus.DOING) == []


async def test_the_sqlite_queue_survives_reopening(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "state.sqlite3"
    first = SQLiteQueue.open(path, clock=clock)
    job_id = await first.enqueue(JobSpec("transcode", {"guid": "a"}, lock="media:1:a"))
    await first.close()
    again = SQLiteQueue.open(path, clock=clock)
    try:
        job = await again.get(job_id)
        assert job is not None
        assert (job.status, job.args, job.lock) == ("todo", {"guid": "a"}, "media:1:a")
    finally:
        await again.close()


# -- the worker, on the fake -------------------------------------------------------------

FAST = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.01, jitter=0.0)


def worker(queue: JobQueue, tasks: dict[str, TaskFn], **options: Any) -> Worker:
    settings: dict[str, Any] = {
        "worker_id": "test", "lease_seconds": 2.0, "heartbeat_every": 0.05,
        "poll_interval": 0.01, "requeue_every": 0.05, "retry_policy": FAST,
        "job_timeout": 5.0, "shutdown_grace": 2.0, **options}
    return Worker(queue, tasks, ["default"], **settings)


async def work_until(w: Worker, done: Callable[[], Awaitable[bool]]) -> None:
    """Run the worker until ``done()`` (polled), then stop it gracefully."""
    stop = asyncio.Event()
    running = asyncio.create_task(w.run(stop))
    async with asyncio.timeout(5):
        while True:
            if await done():
                break
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, 5)


def settled(queue: JobQueue, job_id: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        job = await queue.get(job_id)
        return job is not None and job.status in ("succeeded", "failed", "cancelled")
    return check


@pytest.fixture
def memory() -> MemoryQueue:
    return MemoryQueue()


async def test_worker_runs_a_task_with_its_context(memory: MemoryQueue) -> None:
    seen: list[JobContext] = []

    async def transcode(ctx: JobContext) -> None:
        ctx.report_progress(0.5, 3.0)
        assert await ctx.still_current()
        seen.append(ctx)

    job_id = await memory.enqueue(JobSpec("transcode", {"guid": "a"}))
    await work_until(worker(memory, {"transcode": transcode}), settled(memory, job_id))
    job = await memory.get(job_id)
    assert job is not None
    assert (job.status, job.attempt, job.progress) == ("succeeded", 1, 1.0)
    assert [(c.job_id, c.attempt, c.args) for c in seen] == [(job_id, 1, {"guid": "a"})]


async def test_worker_retries_a_transient_failure(memory: MemoryQueue) -> None:
    async def flaky(ctx: JobContext) -> None:
        if ctx.attempt == 1:
            raise ConnectionError("store unreachable")

    job_id = await memory.enqueue(JobSpec("flaky"))
    await work_until(worker(memory, {"flaky": flaky}), settled(memory, job_id))
    job = await memory.get(job_id)
    assert job is not None
    assert (job.status, job.attempt, job.error) == ("succeeded", 2, None)


async def test_worker_gives_up_after_max_attempts(memory: MemoryQueue) -> None:
    async def broken(ctx: JobContext) -> None:
        raise RuntimeError("boom")

    job_id = await memory.enqueue(JobSpec("broken", max_attempts=3))
    await work_until(worker(memory, {"broken": broken}), settled(memory, job_id))
    job = await memory.get(job_id)
    assert job is not None
    assert (job.status, job.attempt) == ("failed", 3)
    assert job.error == "RuntimeError: boom (gave up after 3 tries)"


async def test_worker_fails_a_permanent_error_at_once(memory: MemoryQueue) -> None:
    async def probe(ctx: JobContext) -> None:
        raise PermanentError("not media: the file has no audio or video stream")

    job_id = await memory.enqueue(JobSpec("probe"))
    await work_until(worker(memory, {"probe": probe}), settled(memory, job_id))
    job = await memory.get(job_id)
    assert job is not None
    assert (job.status, job.attempt) == ("failed", 1)
    assert job.error == "not media: the file has no audio or video stream"


async def test_worker_times_out_a_task(memory: MemoryQueue) -> None:
    async def stuck(ctx: JobContext) -> None:
        await asyncio.sleep(60)

    job_id = await memory.enqueue(JobSpec("stuck", max_attempts=1))
    await work_until(worker(memory, {"stuck": stuck}, job_timeout=0.05), settled(memory, job_id))
    job = await memory.get(job_id)
    assert job is not None
    assert job.status == "failed"
    assert job.error == "did not finish within 0.05 s (gave up after 1 tries)"


async def test_worker_fails_an_unknown_task(memory: MemoryQueue) -> None:
    job_id = await memory.enqueue(JobSpec("nonesuch"))
    await work_until(worker(memory, {}), settled(memory, job_id))
    job = await memory.get(job_id)
    assert job is not None
    assert (job.status, job.error) == ("failed", "unknown task 'nonesuch'")


async def test_progress_is_stored_while_the_task_runs(memory: MemoryQueue) -> None:
    release = asyncio.Event()

    async def transcode(ctx: JobContext) -> None:
        ctx.report_progress(0.25, 42.0)
        await release.wait()

    job_id = await memory.enqueue(JobSpec("transcode"))

    async def reported() -> bool:
        job = await memory.get(job_id)
        if job is not None and job.progress == 0.25 and job.eta == 42.0:
            release.set()
        return release.is_set() and await settled(memory, job_id)()

    await work_until(worker(memory, {"transcode": transcode}), reported)


async def test_a_stale_heartbeat_stops_the_task(memory: MemoryQueue) -> None:
    started, stopped = asyncio.Event(), asyncio.Event()

    async def transcode(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            stopped.set()
            raise

    job_id = await memory.enqueue(JobSpec("transcode"))

    async def cancelled_and_stopped() -> bool:
        if started.is_set() and not stopped.is_set():
            await memory.cancel(job_id)  # the organiser's cancel: the attempt is stale
        return stopped.is_set()

    await work_until(worker(memory, {"transcode": transcode}), cancelled_and_stopped)
    job = await memory.get(job_id)
    assert job is not None
    assert (job.status, job.attempt) == ("cancelled", 1)


async def test_the_worker_picks_up_jobs_whose_worker_died(memory: MemoryQueue) -> None:
    job_id = await memory.enqueue(JobSpec("transcode"))
    dead = await memory.fetch(["default"], "dead", lease_seconds=0.05)
    assert dead is not None

    async def transcode(ctx: JobContext) -> None:
        return None

    await work_until(worker(memory, {"transcode": transcode}), settled(memory, job_id))
    job = await memory.get(job_id)
    assert job is not None
    assert (job.status, job.attempt, job.worker_id) == ("succeeded", 2, "test")
    assert not await memory.succeed(job_id, 1)


async def test_one_lock_runs_once_at_a_time(memory: MemoryQueue) -> None:
    running: list[int] = []
    most = 0

    async def transcode(ctx: JobContext) -> None:
        nonlocal most
        running.append(ctx.job_id)
        most = max(most, len(running))
        await asyncio.sleep(0.1)
        running.remove(ctx.job_id)

    first = await memory.enqueue(JobSpec("transcode", lock="media:1:a"))
    w = worker(memory, {"transcode": transcode}, concurrency=2)
    ids = [first]

    async def both_done() -> bool:
        if running == [first] and len(ids) == 1:
            ids.append(await memory.enqueue(JobSpec("transcode", lock="media:1:a")))
        return len(ids) == 2 and all([await settled(memory, i)() for i in ids])

    await work_until(w, both_done)
    assert most == 1


async def test_graceful_shutdown_finishes_running_jobs_and_takes_no_more(
        memory: MemoryQueue) -> None:
    stop = asyncio.Event()

    async def transcode(ctx: JobContext) -> None:
        stop.set()
        await asyncio.sleep(0.2)

    first = await memory.enqueue(JobSpec("transcode"))
    second = await memory.enqueue(JobSpec("transcode"))
    await asyncio.wait_for(worker(memory, {"transcode": transcode}).run(stop), 5)
    statuses = [(await memory.get(i)) for i in (first, second)]
    assert [(j.status if j else None) for j in statuses] == ["succeeded", "todo"]


async def test_shutdown_past_the_deadline_hands_the_job_back(memory: MemoryQueue) -> None:
    stop = asyncio.Event()
    interrupted = asyncio.Event()

    async def transcode(ctx: JobContext) -> None:
        stop.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            interrupted.set()
            raise

    job_id = await memory.enqueue(JobSpec("transcode"))
    w = worker(memory, {"transcode": transcode}, shutdown_grace=0.05)
    await asyncio.wait_for(w.run(stop), 5)
    assert interrupted.is_set()
    job = await memory.get(job_id)
    assert job is not None
    assert (job.status, job.attempt) == ("todo", 1)
    assert job.error == "interrupted: its worker shut down"
    assert await take(memory) == (job_id, 2)
