"""The job queue port's acceptance suite: the same tests on the in-memory fake, the SQLite
adapter and procrastinate on the PostgreSQL of this machine (127.0.0.1:5432, database
``test``), each PostgreSQL test in a schema of its own, dropped afterwards.

A `Driver` moves time: the fake clock the adapters stamp their records with and, on
PostgreSQL, the database's own times procrastinate compares with ``now()`` (its workers'
heartbeats and its jobs' ``scheduled_at``), pushed back by the same amount. Gaps are wide
(minutes) so that the real time a test takes never matters.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from replay.domain.retry import RetryPolicy
from replay.jobs.memory_queue import MemoryQueue
from replay.jobs.procrastinate_queue import ProcrastinateQueue
from replay.jobs.queue import JobQueue, JobSpec, JobStatus
from replay.jobs.sqlite_queue import SQLiteQueue
from replay.jobs.worker import JobContext, TaskFn, Worker

PG_URL = os.environ.get("REPLAY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
LEASE = 30.0
ADAPTERS = ["memory", "sqlite", "procrastinate"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Driver:
    """One adapter under test and the means to move its time."""

    def __init__(self, queue: JobQueue, clock: Clock,
                 database: psycopg.AsyncConnection[Any] | None = None) -> None:
        self.queue, self.clock, self.database = queue, clock, database

    async def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        if self.database is not None:
            shift = f"{seconds} seconds"
            await self.database.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = last_heartbeat - "
                "%s::interval", (shift,))
            await self.database.execute(
                "UPDATE procrastinate_jobs SET scheduled_at = scheduled_at - %s::interval "
                "WHERE scheduled_at IS NOT NULL", (shift,))


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[tuple[str, psycopg.AsyncConnection[Any]]]:
    """A fresh schema on the test database, and an autocommit connection inside it."""
    schema = f"queue_{uuid.uuid4().hex[:12]}"
    admin = await psycopg.AsyncConnection.connect(PG_URL, autocommit=True)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    await admin.execute(f'SET search_path TO "{schema}"')
    try:
        yield schema, admin
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def pg_schema() -> AsyncIterator[tuple[str, psycopg.AsyncConnection[Any]]]:
    async with fresh_schema() as made:
        yield made


async def open_procrastinate(schema: str, clock: Clock | None = None) -> ProcrastinateQueue:
    return await ProcrastinateQueue.open(
        PG_URL, clock=clock or Clock(), options=f"-c search_path={schema}")


@pytest.fixture(params=ADAPTERS)
async def driver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Driver]:
    clock = Clock()
    if request.param == "memory":
        memory = MemoryQueue(clock=clock)
        yield Driver(memory, clock)
        await memory.close()
    elif request.param == "sqlite":
        sqlite = SQLiteQueue.open(tmp_path / "state.sqlite3", clock=clock)
        yield Driver(sqlite, clock)
        await sqlite.close()
    else:
        async with fresh_schema() as (schema, admin):
            queue = await open_procrastinate(schema, clock)
            yield Driver(queue, clock, admin)
            await queue.close()


async def take(queue: JobQueue, *queues: str, worker: str = "w1") -> tuple[int, int]:
    job = await queue.fetch(queues or ("default",), worker, LEASE)
    assert job is not None
    return job.id, job.attempt


async def take_new(queue: JobQueue, **spec: Any) -> tuple[int, int]:
    await queue.enqueue(JobSpec("transcode", **spec))
    return await take(queue)


# -- the port ----------------------------------------------------------------------------


async def test_fetch_takes_the_oldest_job_of_the_asked_queues(driver: Driver) -> None:
    queue = driver.queue
    first = await queue.enqueue(JobSpec("transcode", {"recording": 1, "guid": "a"}))
    other = await queue.enqueue(JobSpec("transcribe", {"guid": "a"}, queue="speech"))
    second = await queue.enqueue(JobSpec("transcode", {"recording": 1, "guid": "b"}))
    job = await queue.fetch(["default"], "w1", LEASE)
    assert job is not None
    assert (job.id, job.task, job.args) == (first, "transcode", {"recording": 1, "guid": "a"})
    assert (job.status, job.attempt, job.tries, job.worker_id) == ("doing", 1, 1, "w1")
    assert job.lease_until == driver.clock.now + LEASE
    assert (await take(queue, "default", "speech"))[0] == other
    assert (await take(queue))[0] == second
    assert await queue.fetch(["default", "speech"], "w1", LEASE) is None


async def test_args_must_be_json(driver: Driver) -> None:
    not_json: Any = {"when": object()}
    with pytest.raises(TypeError):
        await driver.queue.enqueue(JobSpec("t", not_json))
    assert await driver.queue.list() == []


async def test_a_waiting_job_absorbs_duplicates_of_its_lock(driver: Driver) -> None:
    queue = driver.queue
    first = await queue.enqueue(JobSpec("transcode", {"guid": "a"}, lock="media:1:a"))
    assert await queue.enqueue(JobSpec("transcode", {"guid": "a"}, lock="media:1:a")) == first
    unlocked = [await queue.enqueue(JobSpec("transcode")) for _ in range(2)]
    assert len(set(unlocked)) == 2
    assert len(await queue.list()) == 3


async def test_jobs_sharing_a_lock_never_run_at_once(driver: Driver) -> None:
    queue = driver.queue
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


async def test_a_stale_attempt_can_write_nothing(driver: Driver) -> None:
    queue = driver.queue
    job_id = await queue.enqueue(JobSpec("transcode"))
    await take(queue)
    await driver.advance(LEASE * 4)
    assert await queue.requeue_expired() == 1
    requeued = await queue.get(job_id)
    assert requeued is not None
    assert (requeued.status, requeued.attempt) == ("todo", 1)
    assert not await queue.succeed(job_id, 1)  # requeued, not yet taken again
    assert await take(queue, worker="w2") == (job_id, 2)
    before = await queue.get(job_id)
    assert not await queue.heartbeat(job_id, 1, progress=0.9, eta=1.0, lease_seconds=LEASE)
    assert not await queue.succeed(job_id, 1)
    assert not await queue.fail(job_id, 1, "late", retry_at=None, permanent=True)
    assert await queue.get(job_id) == before
    assert await queue.succeed(job_id, 2)


async def test_heartbeats_store_progress_and_keep_the_lease(driver: Driver) -> None:
    queue = driver.queue
    job_id, attempt = await take_new(queue)
    await driver.advance(LEASE / 2)
    assert await queue.heartbeat(job_id, attempt, progress=0.4, eta=90.0, lease_seconds=LEASE)
    await driver.advance(LEASE / 2)
    assert await queue.requeue_expired() == 0
    job = await queue.get(job_id)
    assert job is not None
    assert (job.status, job.progress, job.eta) == ("doing", 0.4, 90.0)
    assert job.lease_until == driver.clock.now + LEASE / 2


async def test_a_transient_failure_comes_back_after_its_delay(driver: Driver) -> None:
    queue = driver.queue
    job_id, attempt = await take_new(queue)
    assert await queue.fail(job_id, attempt, "ffmpeg killed", retry_at=driver.clock.now + 600,
                            permanent=False)
    job = await queue.get(job_id)
    assert job is not None
    assert (job.status, job.error, job.lease_until) == ("todo", "ffmpeg killed", None)
    await driver.advance(300)
    assert await queue.fetch(["default"], "w1", LEASE) is None
    await driver.advance(300)
    assert await take(queue) == (job_id, 2)
    assert await queue.succeed(job_id, 2)
    done = await queue.get(job_id)
    assert done is not None
    assert (done.status, done.error, done.progress) == ("succeeded", None, 1.0)


@pytest.mark.parametrize(("retry_in", "permanent"), [(5.0, True), (None, False)])
async def test_a_permanent_or_final_failure_stays_failed(
        driver: Driver, retry_in: float | None, permanent: bool) -> None:
    queue = driver.queue
    job_id, attempt = await take_new(queue)
    retry_at = None if retry_in is None else driver.clock.now + retry_in
    assert await queue.fail(job_id, attempt, "not a video: the file is a text file",
                            retry_at=retry_at, permanent=permanent)
    await driver.advance(3600)
    assert await queue.fetch(["default"], "w1", LEASE) is None
    job = await queue.get(job_id)
    assert job is not None
    assert (job.status, job.error) == ("failed", "not a video: the file is a text file")


async def test_the_retry_button_gives_a_failed_job_fresh_tries(driver: Driver) -> None:
    queue = driver.queue
    job_id, attempt = await take_new(queue, max_attempts=2)
    assert not await queue.retry(job_id)  # running: nothing to retry
    assert await queue.fail(job_id, attempt, "bad media", retry_at=None, permanent=True)
    assert await queue.retry(job_id)
    job = await queue.get(job_id)
    assert job is not None
    assert (job.status, job.error, job.tries) == ("todo", None, 0)
    assert job.attempt >= attempt
    again = await queue.fetch(["default"], "w1", LEASE)
    assert again is not None
    assert again.attempt > attempt  # the fence only grows
    assert again.tries == 1
    assert not await queue.retry(job_id)
    assert not await queue.retry(9999)


async def test_a_job_whose_worker_vanished_on_its_last_try_fails(driver: Driver) -> None:
    queue = driver.queue
    job_id, _ = await take_new(queue, max_attempts=1)
    await driver.advance(LEASE * 4)
    assert await queue.requeue_expired() == 1
    job = await queue.get(job_id)
    assert job is not None
    assert job.status == "failed"
    assert job.error is not None
    assert "gave up after 1 tries" in job.error


async def test_cancel_stops_waiting_and_running_jobs(driver: Driver) -> None:
    queue = driver.queue
    waiting = await queue.enqueue(JobSpec("publish", queue="publish"))
    running, attempt = await take_new(queue)
    assert await queue.cancel(waiting)
    assert await queue.cancel(running)
    assert not await queue.heartbeat(running, attempt, progress=None, eta=None,
                                     lease_seconds=LEASE)
    assert not await queue.succeed(running, attempt)
    assert await queue.fetch(["default", "publish"], "w1", LEASE) is None
    assert not await queue.cancel(running)
    assert await queue.retry(running)
    assert (await take(queue))[0] == running


async def test_list_and_counts(driver: Driver) -> None:
    queue = driver.queue
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


# -- the worker loop on every adapter, in real time ---------------------------------------

FAST = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.01, jitter=0.0)


def worker(queue: JobQueue, tasks: dict[str, TaskFn], **options: Any) -> Worker:
    settings: dict[str, Any] = {
        "worker_id": "test", "lease_seconds": 2.0, "heartbeat_every": 0.1,
        "poll_interval": 0.02, "requeue_every": 0.1, "retry_policy": FAST,
        "job_timeout": 10.0, "shutdown_grace": 2.0, **options}
    return Worker(queue, tasks, ["default"], **settings)


async def work_until(w: Worker, done: Callable[[], Awaitable[bool]]) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(w.run(stop))
    async with asyncio.timeout(30):
        while True:
            if await done():
                break
            await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(running, 10)


def settled(queue: JobQueue, job_id: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        job = await queue.get(job_id)
        return job is not None and job.status in ("succeeded", "failed", "cancelled")
    return check


@pytest.fixture(params=ADAPTERS)
async def live_queue(request: pytest.FixtureRequest,
                     tmp_path: Path) -> AsyncIterator[JobQueue]:
    """An adapter on the real clock."""
    if request.param == "memory":
        yield MemoryQueue()
    elif request.param == "sqlite":
        sqlite = SQLiteQueue.open(tmp_path / "state.sqlite3")
        yield sqlite
        await sqlite.close()
    else:
        async with fresh_schema() as (schema, _):
            queue = await ProcrastinateQueue.open(PG_URL, options=f"-c search_path={schema}")
            yield queue
            await queue.close()


async def test_worker_retries_a_transient_failure(live_queue: JobQueue) -> None:
    calls: list[int] = []

    async def flaky(ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        if len(calls) < 3:
            raise OSError("disk hiccup")

    job_id = await live_queue.enqueue(JobSpec("flaky"))
    await work_until(worker(live_queue, {"flaky": flaky}), settled(live_queue, job_id))
    job = await live_queue.get(job_id)
    assert job is not None
    assert (job.status, job.attempt) == ("succeeded", 3)
    assert calls == [1, 2, 3]


async def test_the_worker_picks_up_jobs_whose_worker_died(live_queue: JobQueue) -> None:
    """A worker takes a job and goes silent (killed): another one's sweep hands the job
    back once the lease is over, and runs it under the next attempt."""
    job_id = await live_queue.enqueue(JobSpec("work", {"n": 1}))
    dead = await live_queue.fetch(["default"], "dead-worker", 2.0)
    assert dead is not None
    ran: list[int] = []

    async def work(ctx: JobContext) -> None:
        ran.append(ctx.attempt)
        assert await ctx.still_current()

    await work_until(worker(live_queue, {"work": work}), settled(live_queue, job_id))
    job = await live_queue.get(job_id)
    assert job is not None
    assert (job.status, ran) == ("succeeded", [2])
    assert not await live_queue.succeed(job_id, dead.attempt)


async def test_graceful_shutdown_hands_a_running_job_back(live_queue: JobQueue) -> None:
    started = asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(60)

    job_id = await live_queue.enqueue(JobSpec("slow"))
    w = worker(live_queue, {"slow": slow}, shutdown_grace=0.2)
    stop = asyncio.Event()
    running = asyncio.create_task(w.run(stop))
    await asyncio.wait_for(started.wait(), 10)
    stop.set()
    await asyncio.wait_for(running, 10)
    job = await live_queue.get(job_id)
    assert job is not None
    assert (job.status, job.attempt, job.error) == (
        "todo", 1, "interrupted: its worker shut down")


# -- procrastinate only -------------------------------------------------------------------


async def test_procrastinate_two_processes_share_one_queue(
        pg_schema: tuple[str, psycopg.AsyncConnection[Any]]) -> None:
    """Two adapters (two worker machines) on one database: a lock's second job waits in
    procrastinate's queue, and a job is taken once."""
    schema, _ = pg_schema
    first, second = await open_procrastinate(schema), await open_procrastinate(schema)
    try:
        a = await first.enqueue(JobSpec("transcode", lock="media:1:a"))
        assert await second.enqueue(JobSpec("transcode", lock="media:1:a")) == a
        taken = await first.fetch(["default"], "machine-1", LEASE)
        assert taken is not None
        assert taken.id == a
        b = await second.enqueue(JobSpec("transcode", lock="media:1:a"))
        assert await second.fetch(["default"], "machine-2", LEASE) is None
        assert await first.succeed(a, taken.attempt)
        again = await second.fetch(["default"], "machine-2", LEASE)
        assert again is not None
        assert again.id == b
    finally:
        await first.close()
        await second.close()


async def test_procrastinate_keeps_its_jobs_in_its_own_tables(
        pg_schema: tuple[str, psycopg.AsyncConnection[Any]]) -> None:
    schema, admin = pg_schema
    queue = await open_procrastinate(schema)
    try:
        job_id = await queue.enqueue(JobSpec("transcode", {"guid": "a"}, queue="media",
                                             lock="media:1:a"))
        taken = await queue.fetch(["media"], "w1", LEASE)
        assert taken is not None
        cursor = await admin.execute(
            "SELECT task_name, queue_name, lock, queueing_lock, status::text, attempts, args "
            "FROM procrastinate_jobs WHERE id = %s", (job_id,))
        assert await cursor.fetchone() == (
            "transcode", "media", "media:1:a", "media:1:a", "doing", 0, {"guid": "a"})
        assert await queue.fail(job_id, taken.attempt, "ffmpeg killed",
                                retry_at=queue_clock(queue) + 60, permanent=False)
        cursor = await admin.execute(
            "SELECT status::text, attempts, scheduled_at > now() + interval '50 seconds' "
            "FROM procrastinate_jobs WHERE id = %s", (job_id,))
        assert await cursor.fetchone() == ("todo", 1, True)
    finally:
        await queue.close()


def queue_clock(queue: ProcrastinateQueue) -> float:
    job_clock: Callable[[], float] = queue._clock
    return job_clock()


async def test_procrastinate_a_pruned_worker_registers_again(
        pg_schema: tuple[str, psycopg.AsyncConnection[Any]]) -> None:
    """A worker silent for ten leases leaves procrastinate's worker table (as its own
    workers prune them); if it was only idle, its next fetch registers it again."""
    schema, admin = pg_schema
    clock = Clock()
    queue = await open_procrastinate(schema, clock)
    driver = Driver(queue, clock, admin)
    try:
        assert await queue.fetch(["default"], "idle", LEASE) is None
        cursor = await admin.execute("SELECT count(*) FROM procrastinate_workers")
        assert await cursor.fetchone() == (1,)
        await driver.advance(LEASE * 11)
        assert await queue.requeue_expired() == 0
        cursor = await admin.execute("SELECT count(*) FROM procrastinate_workers")
        assert await cursor.fetchone() == (0,)
        job_id = await queue.enqueue(JobSpec("transcode"))
        assert await take(queue, worker="idle") == (job_id, 1)
        job = await queue.get(job_id)
        assert job is not None
        assert job.worker_id == "idle"
    finally:
        await queue.close()


async def test_procrastinate_fences_a_presumed_dead_machine(
        pg_schema: tuple[str, psycopg.AsyncConnection[Any]]) -> None:
    """Machine 1 takes a job and goes silent; machine 2's sweep hands it back through
    procrastinate (its attempts counter moves on) and runs it; machine 1, back, can
    neither report nor finish, and machine 2's result stands."""
    schema, admin = pg_schema
    clock = Clock()
    first, second = (await open_procrastinate(schema, clock),
                     await open_procrastinate(schema, clock))
    driver = Driver(second, clock, admin)
    try:
        job_id = await first.enqueue(JobSpec("transcode", lock="media:1:a"))
        taken = await first.fetch(["default"], "machine-1", LEASE)
        assert taken is not None
        await driver.advance(LEASE * 4)
        assert await second.requeue_expired() == 1
        again = await second.fetch(["default"], "machine-2", LEASE)
        assert again is not None
        assert (again.id, again.attempt) == (job_id, taken.attempt + 1)
        assert not await first.heartbeat(job_id, taken.attempt, progress=0.5, eta=None,
                                          lease_seconds=LEASE)
        assert not await first.succeed(job_id, taken.attempt)
        assert not await first.fail(job_id, taken.attempt, "late", retry_at=None,
                                    permanent=True)
        assert await second.succeed(job_id, again.attempt)
        cursor = await admin.execute(
            "SELECT status::text, attempts FROM procrastinate_jobs WHERE id = %s", (job_id,))
        assert await cursor.fetchone() == ("succeeded", again.attempt)
    finally:
        await first.close()
        await second.close()
