"""The in-memory fake of the job queue port: same semantics as the SQLite adapter, no
durability. For tests, and for running a pipeline inside one process."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from replay.jobs.queue import ACTIVE, JSON, Job, Jobs, JobSpec, JobStatus, lost_worker_error


class MemoryQueue:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._jobs: dict[int, Job] = {}
        self._next_id = 1

    async def enqueue(self, spec: JobSpec) -> int:
        args: dict[str, JSON] = json.loads(json.dumps(dict(spec.args)))  # same as stored
        waiting = self._waiting_with_lock(spec.lock)
        if waiting is not None:
            return waiting.id
        now = self._clock()
        job = Job(id=self._next_id, task=spec.task, args=args, queue=spec.queue,
                  lock=spec.lock, status=JobStatus.TODO, attempt=0,
                  max_attempts=spec.max_attempts, base_attempt=0, run_at=now,
                  lease_until=None, worker_id=None, progress=None, eta=None, error=None,
                  created_at=now, updated_at=now)
        self._jobs[job.id] = job
        self._next_id += 1
        return job.id

    def _waiting_with_lock(self, lock: str | None) -> Job | None:
        if lock is None:
            return None
        return next((j for j in self._jobs.values()
                     if j.lock == lock and j.status == JobStatus.TODO), None)

    async def fetch(self, queues: Sequence[str], worker_id: str,
                    lease_seconds: float) -> Job | None:
        now = self._clock()
        held = {j.lock for j in self._jobs.values() if j.status == JobStatus.DOING}
        for job in self._jobs.values():  # insertion order is id order
            if (job.status == JobStatus.TODO and job.queue in queues and job.run_at <= now
                    and (job.lock is None or job.lock not in held)):
                return self._put(job, status=JobStatus.DOING, attempt=job.attempt + 1,
                                 worker_id=worker_id, lease_until=now + lease_seconds,
                                 progress=None, eta=None)
        return None

    def _running(self, job_id: int, attempt: int) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.status != JobStatus.DOING or job.attempt != attempt:
            return None
        return job

    async def heartbeat(self, job_id: int, attempt: int, *, progress: float | None,
                        eta: float | None, lease_seconds: float) -> bool:
        job = self._running(job_id, attempt)
        if job is None:
            return False
        self._put(job, lease_until=self._clock() + lease_seconds, progress=progress, eta=eta)
        return True

    async def succeed(self, job_id: int, attempt: int) -> bool:
        job = self._running(job_id, attempt)
        if job is None:
            return False
        self._put(job, status=JobStatus.SUCCEEDED, lease_until=None, progress=1.0, eta=0.0,
                  error=None)
        return True

    async def fail(self, job_id: int, attempt: int, error: str, *, retry_at: float | None,
                   permanent: bool) -> bool:
        job = self._running(job_id, attempt)
        if job is None:
            return False
        if permanent or retry_at is None:
            self._put(job, status=JobStatus.FAILED, lease_until=None, eta=None, error=error)
        else:
            self._put(job, status=JobStatus.TODO, lease_until=None, eta=None, error=error,
                      run_at=retry_at)
        return True

    async def requeue_expired(self, now: float | None = None) -> int:
        now = self._clock() if now is None else now
        expired = [j for j in self._jobs.values() if j.status == JobStatus.DOING
                   and j.lease_until is not None and j.lease_until < now]
        for job in expired:
            if job.tries >= job.max_attempts:
                self._put(job, status=JobStatus.FAILED, lease_until=None, eta=None,
                          error=lost_worker_error(job.tries))
            else:
                self._put(job, status=JobStatus.TODO, lease_until=None, eta=None, run_at=now)
        return len(expired)

    async def retry(self, job_id: int) -> bool:
        job = self._jobs.get(job_id)
        if job is None or job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            return False
        self._put(job, status=JobStatus.TODO, base_attempt=job.attempt, run_at=self._clock(),
                  error=None, progress=None, eta=None)
        return True

    async def cancel(self, job_id: int) -> bool:
        job = self._jobs.get(job_id)
        if job is None or job.status not in ACTIVE:
            return False
        self._put(job, status=JobStatus.CANCELLED, lease_until=None, eta=None)
        return True

    async def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    async def list(self, queue: str | None = None,
                   status: JobStatus | None = None) -> Jobs:
        return [j for j in self._jobs.values()
                if (queue is None or j.queue == queue) and (status is None or j.status == status)]

    async def counts(self) -> dict[JobStatus, int]:
        counts = dict.fromkeys(JobStatus, 0)
        for job in self._jobs.values():
            counts[job.status] += 1
        return counts

    async def close(self) -> None:
        return None

    def _put(self, job: Job, **changes: Any) -> Job:
        updated = replace(job, updated_at=self._clock(), **changes)
        self._jobs[job.id] = updated
        return updated

