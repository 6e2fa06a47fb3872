"""The job queue port: named tasks with JSON arguments, leases, heartbeats and attempts.

Adapters: `sqlite_queue.SQLiteQueue` (the embedded default, durable),
`memory_queue.MemoryQueue` (the in-memory fake for tests) and
`procrastinate_queue.ProcrastinateQueue` (PostgreSQL, for the scale-out deployment);
`factory.open_queue` opens the one the settings choose.

Semantics every adapter keeps (tests/integration/test_queue_acceptance.py checks them on
all three; tests/unit/test_queue.py on the first two, to the exact attempt numbers):

- ``fetch`` takes the oldest due ``todo`` job of the given queues whose ``lock`` is not
  held by a ``doing`` job, marks it ``doing``, adds one to its ``attempt`` and gives it a
  lease of ``lease_seconds``. So no two jobs with the same lock run at once.
- ``attempt`` is the fence. It only ever grows; every write about a running job
  (``heartbeat``, ``succeed``, ``fail``) names the attempt and is refused (returns False,
  changes nothing) unless the job is still ``doing`` under that very attempt. A worker
  presumed dead, whose job was requeued and fetched again, can therefore neither report
  nor finish the work of its successor.
- ``heartbeat`` renews the lease and stores progress; a ``doing`` job whose lease ran out
  is put back to ``todo`` by ``requeue_expired`` (or failed, when that was its last try).
- ``enqueue`` with a lock that a ``todo`` job already has returns that job's id instead of
  adding a duplicate: the waiting job will do the work, reading the state when it runs.
  A job that is ``doing`` does not absorb new work (it may have read the state already);
  the new job waits until the lock is free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TypeAlias

JSON: TypeAlias = "str | int | float | bool | list[JSON] | dict[str, JSON] | None"


class JobStatus(StrEnum):
    TODO = "todo"
    DOING = "doing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: Statuses a job leaves only by a worker's or an organiser's action.
ACTIVE = (JobStatus.TODO, JobStatus.DOING)


class PermanentError(Exception):
    """A failure that retrying cannot fix (bad media, a refused input): the job fails at
    once and the message is shown to the organiser as the reason."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What to run: a task name, its JSON arguments, the queue it goes to.

    ``lock`` names the piece of work (e.g. ``media:12:guid``): jobs sharing a lock never
    run at the same time, and a second one is not queued while one is waiting.
    """

    task: str
    args: Mapping[str, JSON] = field(default_factory=dict)
    queue: str = "default"
    lock: str | None = None
    max_attempts: int = 5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored. Times are seconds since the epoch, from the adapter's clock.

    ``attempt`` counts every fetch and is the fence. ``base_attempt`` is the attempt the
    organiser's last retry started from (0 before any), so ``tries`` is the number of runs
    since then, which is what ``max_attempts`` limits. ``progress`` (0 to 1) and ``eta``
    (seconds left, as of ``updated_at``) come with the running attempt's heartbeats.
    """

    id: int
    task: str
    args: dict[str, JSON]
    queue: str
    lock: str | None
    status: JobStatus
    attempt: int
    max_attempts: int
    base_attempt: int
    run_at: float
    lease_until: float | None
    worker_id: str | None
    progress: float | None
    eta: float | None
    error: str | None
    created_at: float
    updated_at: float

    @property
    def tries(self) -> int:
        return self.attempt - self.base_attempt


Jobs: TypeAlias = "list[Job]"


class JobQueue(Protocol):
    """The port. Every method is a short statement against the queue's state."""

    async def enqueue(self, spec: JobSpec) -> int:
        """Add a job due now; with a lock a ``todo`` job already has, return that job."""
        ...

    async def fetch(self, queues: Sequence[str], worker_id: str,
                    lease_seconds: float) -> Job | None:
        """Take the oldest due, unlocked ``todo`` job of ``queues``, or None."""
        ...

    async def heartbeat(self, job_id: int, attempt: int, *, progress: float | None,
                        eta: float | None, lease_seconds: float) -> bool:
        """Renew the lease and store progress; False when ``attempt`` no longer runs it."""
        ...

    async def succeed(self, job_id: int, attempt: int) -> bool:
        """Mark the job done; False (nothing changed) for a stale attempt."""
        ...

    async def fail(self, job_id: int, attempt: int, error: str, *, retry_at: float | None,
                   permanent: bool) -> bool:
        """Record ``error``; back to ``todo`` due at ``retry_at``, or ``failed`` when there
        is no ``retry_at`` or the failure is ``permanent``. False for a stale attempt."""
        ...

    async def requeue_expired(self, now: float | None = None) -> int:
        """Put ``doing`` jobs whose lease ended back to ``todo`` (attempt kept), or fail
        those that had used all their tries. Returns how many jobs were touched."""
        ...

    async def retry(self, job_id: int) -> bool:
        """The organiser's retry button: a failed or cancelled job back to ``todo`` with a
        fresh set of tries. False when the job is not failed or cancelled."""
        ...

    async def cancel(self, job_id: int) -> bool:
        """Cancel a ``todo`` or ``doing`` job; a running one stops at its next heartbeat."""
        ...

    async def get(self, job_id: int) -> Job | None: ...

    async def list(self, queue: str | None = None,
                   status: JobStatus | None = None) -> Jobs:
        """Jobs, oldest first, optionally of one queue and/or one status."""
        ...

    async def counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each status (every status present), for metrics."""
        ...

    async def close(self) -> None: ...


def lost_worker_error(tries: int) -> str:
    """The reason recorded when a job's last try ended with its worker gone silent."""
    return (f"gave up after {tries} tries: the worker running the last one stopped "
            "renewing its lease (killed, or its machine stopped)")
