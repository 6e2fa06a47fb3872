"""The worker loop: fetch a job, run its task under a timeout with a heartbeat beside it,
record the outcome (shielded), retry transient failures with backoff.

Fencing: the job's ``attempt`` goes with every write. While a task runs, its heartbeat
renews the lease every ``heartbeat_every`` seconds; when the queue answers that the attempt
is no longer current (the lease ran out and the job was requeued, or it was cancelled), or
when the lease has run out locally because the queue could not be reached, the task is
cancelled and nothing more is written for it. A task calls ``await ctx.still_current()``
right before publishing anything outside the queue: it renews the lease, so it answers
for ``lease_seconds`` to come.

Graceful shutdown: once ``stop`` is set no job is taken; running ones get
``shutdown_grace`` seconds, then are cancelled and handed back to the queue at once
(failing that, their lease runs out and another worker takes them).

An outcome that cannot be written (the disk is full, the database is locked) leaves the
job ``doing`` in the queue; the worker keeps it in ``failing`` (shown by ``/health``) and
writes it again at each sweep until the queue takes it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from replay.domain.errors import ReplayError
from replay.domain.retry import RetryPolicy, next_delay
from replay.jobs.queue import JSON, Job, JobQueue, PermanentError
from replay.locale import describe as in_french

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a task gets: which job and attempt it runs, its arguments, and two callbacks.

    ``report_progress(fraction, eta_seconds)`` is cheap (stored with the next heartbeat)
    and safe to call often; ``still_current()`` must be awaited, and be True, before the
    task publishes or overwrites anything a newer attempt might also write.
    """

    job_id: int
    task: str
    attempt: int
    args: Mapping[str, JSON]
    report_progress: Callable[[float, float | None], None]
    still_current: Callable[[], Awaitable[bool]]


TaskFn = Callable[[JobContext], Awaitable[None]]


class JobTimeout(Exception):
    """The task ran longer than the worker's ``job_timeout``; retried like any failure."""


class _Lease:
    """The worker's side of one running job: its latest progress and whether it still
    holds the job. ``until`` is measured on this machine's monotonic clock, from before
    the request that granted or renewed the lease, so it errs on the early side."""

    def __init__(self, queue: JobQueue, job: Job, lease_seconds: float, since: float) -> None:
        self.queue, self.job, self.lease_seconds = queue, job, lease_seconds
        self.until = since + lease_seconds
        self.progress: float | None = None
        self.eta: float | None = None
        self.stale = False

    def report(self, fraction: float, eta: float | None) -> None:
        self.progress = min(1.0, max(0.0, fraction))
        self.eta = eta

    async def renew(self) -> bool:
        asked = time.monotonic()
        current = not self.stale and await self.queue.heartbeat(
            self.job.id, self.job.attempt, progress=self.progress, eta=self.eta,
            lease_seconds=self.lease_seconds)
        if current:
            self.until = asked + self.lease_seconds
        else:
            self.stale = True
        return current

    def expired(self) -> bool:
        return time.monotonic() >= self.until

    def context(self) -> JobContext:
        return JobContext(job_id=self.job.id, task=self.job.task, attempt=self.job.attempt,
                          args=self.job.args, report_progress=self.report,
                          still_current=self.renew)


class Worker:
    def __init__(self, queue: JobQueue, tasks: Mapping[str, TaskFn], queues: Sequence[str], *,
                 worker_id: str, concurrency: int = 1, lease_seconds: float = 30.0,
                 heartbeat_every: float = 10.0, poll_interval: float = 1.0,
                 retry_policy: RetryPolicy | None = None, job_timeout: float = 4 * 3600.0,
                 shutdown_grace: float = 30.0, requeue_every: float = 5.0,
                 permanent_errors: tuple[type[BaseException], ...] = (PermanentError,),
                 clock: Callable[[], float] = time.time,
                 rand: Callable[[], float] = random.random) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if not 0 < heartbeat_every < lease_seconds:
            raise ValueError("the heartbeat must come more often than the lease runs out: "
                             f"heartbeat_every={heartbeat_every}, lease_seconds={lease_seconds}")
        self.queue, self.tasks, self.queues = queue, dict(tasks), tuple(queues)
        self.worker_id, self.concurrency = worker_id, concurrency
        self.lease_seconds, self.heartbeat_every = lease_seconds, heartbeat_every
        self.poll_interval, self.requeue_every = poll_interval, requeue_every
        self.retry_policy = retry_policy or RetryPolicy()
        self.job_timeout, self.shutdown_grace = job_timeout, shutdown_grace
        self.permanent_errors = permanent_errors
        self.clock, self.rand = clock, rand
        self._bookkeeping: set[asyncio.Task[bool]] = set()
        #: Jobs whose outcome could not be written yet: id -> (job, its error or None).
        self.failing: dict[int, tuple[Job, Exception | None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then shut down gracefully."""
        slots = [asyncio.create_task(self._slot(stop), name=f"{self.worker_id}/{n}")
                 for n in range(self.concurrency)]
        sweeper = asyncio.create_task(self._sweep(stop), name=f"{self.worker_id}/sweep")
        try:
            await stop.wait()
            log.info("worker %s stopping: waiting up to %g s for running jobs",
                     self.worker_id, self.shutdown_grace)
            await asyncio.wait(slots, timeout=self.shutdown_grace)
        finally:
            for task in (*slots, sweeper):
                task.cancel()
            await asyncio.gather(*slots, sweeper, return_exceptions=True)
            await asyncio.gather(*self._bookkeeping, return_exceptions=True)

    async def _slot(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            asked = time.monotonic()
            try:
                job = await self.queue.fetch(self.queues, self.worker_id, self.lease_seconds)
                if job is not None:
                    await self._execute(job, asked)
                    continue
            except Exception:
                log.exception("worker %s: the queue failed; trying again", self.worker_id)
            await _sleep_unless(stop, self.poll_interval)

    async def _sweep(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._record_failing()
            try:
                if recovered := await self.queue.requeue_expired():
                    log.warning("%d job(s) had lost their worker and were requeued", recovered)
            except Exception:
                log.exception("worker %s: requeueing expired jobs failed", self.worker_id)
            await _sleep_unless(stop, self.requeue_every)

    async def _record_failing(self) -> None:
        """Write again the outcomes that could not be written."""
        for job_id, (job, error) in list(self.failing.items()):
            try:
                await self._record(self._settle(job, error))
            except Exception:
                log.warning("job %d: its outcome still cannot be recorded", job_id)
                continue
            del self.failing[job_id]

    async def _execute(self, job: Job, asked: float) -> None:
        fn = self.tasks.get(job.task)
        if fn is None:
            await self._record(self.queue.fail(job.id, job.attempt, f"unknown task {job.task!r}",
                                               retry_at=None, permanent=True))
            return
        log.info("job %d (%s) attempt %d starts", job.id, job.task, job.attempt)
        lease = _Lease(self.queue, job, self.lease_seconds, asked)
        runner = asyncio.create_task(self._run_task(fn, lease.context()))
        beat = asyncio.create_task(self._beat(lease, runner))
        try:
            error = await runner
        except asyncio.CancelledError:
            if _being_cancelled():  # the shutdown deadline, or the worker itself cancelled
                await self._record(self._release(job))
                raise
            return  # the heartbeat stopped it: the job is no longer ours to write
        finally:
            beat.cancel()
        try:
            await self._record(self._settle(job, error))
        except Exception:
            log.exception("job %d attempt %d: its outcome could not be recorded; it is "
                          "marked failing and will be recorded again", job.id, job.attempt)
            self.failing[job.id] = (job, error)

    async def _run_task(self, fn: TaskFn, ctx: JobContext) -> Exception | None:
        deadline = asyncio.timeout(self.job_timeout)
        try:
            async with deadline:
                await fn(ctx)
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                return JobTimeout(f"did not finish within {self.job_timeout:g} s")
            return exc
        return None

    async def _beat(self, lease: _Lease, runner: asyncio.Task[Exception | None]) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_every)
            try:
                current = await lease.renew()
            except Exception:
                log.exception("job %d: heartbeat failed", lease.job.id)
                current = not lease.expired()
            if not current:
                log.warning("job %d attempt %d is no longer this worker's: stopping it",
                            lease.job.id, lease.job.attempt)
                lease.stale = True
                runner.cancel()
                return

    async def _settle(self, job: Job, error: Exception | None) -> bool:
        if error is None:
            recorded = await self.queue.succeed(job.id, job.attempt)
            log.info("job %d (%s) attempt %d succeeded", job.id, job.task, job.attempt)
        else:
            recorded = await self._fail(job, error)
        if not recorded:
            log.warning("job %d attempt %d was taken over meanwhile: its outcome is dropped",
                        job.id, job.attempt)
        return recorded

    async def _fail(self, job: Job, error: Exception) -> bool:
        reason = describe(error)
        if isinstance(error, self.permanent_errors):
            log.error("job %d (%s) failed for good: %s", job.id, job.task, reason)
            return await self.queue.fail(job.id, job.attempt, reason, retry_at=None,
                                         permanent=True)
        policy = replace(self.retry_policy, max_attempts=job.max_attempts)
        delay = next_delay(policy, job.tries, self.rand())
        if delay is None:
            reason = f"{reason} (gave up after {job.tries} tries)"
        log.warning("job %d (%s) attempt %d failed: %s; %s", job.id, job.task, job.attempt,
                    reason, "giving up" if delay is None else f"retrying in {delay:.0f} s",
                    exc_info=error)
        retry_at = None if delay is None else self.clock() + delay
        return await self.queue.fail(job.id, job.attempt, reason, retry_at=retry_at,
                                     permanent=False)

    async def _release(self, job: Job) -> bool:
        log.warning("job %d attempt %d interrupted by shutdown: handing it back", job.id,
                    job.attempt)
        return await self.queue.fail(job.id, job.attempt, "interrupted: its worker shut down",
                                     retry_at=self.clock(), permanent=False)

    async def _record(self, write: Coroutine[Any, Any, bool]) -> bool:
        """Run a queue write to its end even if the caller is cancelled meanwhile."""
        task = asyncio.ensure_future(write)
        self._bookkeeping.add(task)
        task.add_done_callback(self._bookkeeping.discard)
        return await asyncio.shield(task)


def describe(error: BaseException) -> str:
    """The reason shown to the organiser: our errors speak for themselves, others say
    what they are."""
    text = (in_french(error) if isinstance(error, ReplayError) else str(error)).strip()
    if isinstance(error, ReplayError | PermanentError | JobTimeout) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM or SIGINT sets ``stop`` (graceful shutdown); a second one acts as usual."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def on_signal() -> None:
        stop.set()
        for sig in signals:
            loop.remove_signal_handler(sig)

    for sig in signals:
        loop.add_signal_handler(sig, on_signal)


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
