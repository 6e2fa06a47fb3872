"""The job queue port on procrastinate (PostgreSQL), for the scale-out deployment.

procrastinate keeps the jobs; this adapter maps the port onto its own mechanisms and
stored procedures (through ``procrastinate.sql.queries`` and its ``JobManager``):

- **enqueue**: ``defer`` with the port's lock as both procrastinate's ``lock`` (no two
  jobs with it run at once) and its ``queueing_lock`` (no two of them wait at once:
  ``AlreadyEnqueued`` answers with the waiting job's id).
- **fetch**: procrastinate's ``fetch_job`` for a procrastinate worker registered per
  port worker id (``register_worker``), whose heartbeat is renewed first.
- **heartbeat**: procrastinate's worker heartbeat (``update_heartbeat``). Leases are
  procrastinate's: **requeue_expired** is the ``retry_stalled_jobs`` recipe, jobs of
  workers whose heartbeat is older than the lease (``get_stalled_jobs``) are retried
  (``retry_job``) or, past their tries, failed (``finish_job``).
- **attempt**, the fence, is procrastinate's ``attempts`` column, which its procedures
  raise at every end of a run (``finish_job``, ``retry_job``): a ``doing`` job runs
  attempt ``attempts + 1``; a finished or waiting one shows ``attempts``. Every write
  about a running job locks the job's row, checks that it is still ``doing`` under that
  attempt (and not asked to abort), and only then calls procrastinate's procedure, in
  the same transaction. A presumed-dead worker whose job was retried therefore writes
  nothing.
- **fail** with a delay: ``retry_job`` at that time (procrastinate's ``scheduled_at``);
  permanent or final: ``finish_job`` failed. **retry** (the organiser's button):
  ``retry_job`` of a failed job, or a cancelled/aborted job put back to ``todo``.
- **cancel**: ``cancel_job`` with ``abort``; a running job is aborted at its next
  heartbeat (``finish_job`` aborted), which the port shows as ``cancelled``.

What procrastinate does not keep lives in one side table, ``replay_job_info`` (one row
per job, deleted with it): the tries allowed, where the organiser's last retry started,
progress, ETA, the error shown to organisers, the worker's name and the lease's end as
this process's clock saw it.

Times: the adapter's ``clock`` stamps the side table; delays are turned into the
database's time (``now()`` plus the delay), so worker machines' clocks may drift.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import psycopg
from procrastinate import App, PsycopgConnector, exceptions
from procrastinate import sql as procrastinate_sql
from procrastinate.jobs import Job as ProcrastinateJob
from procrastinate.schema import SchemaManager
from psycopg.rows import DictRow, dict_row

from replay.jobs.queue import JSON, Job, Jobs, JobSpec, JobStatus, lost_worker_error

QUERIES = procrastinate_sql.queries

#: Serialises schema creation between processes starting together.
SCHEMA_LOCK = 7_020_514_001

SIDE_TABLE = """
CREATE TABLE IF NOT EXISTS replay_job_info (
    job_id bigint PRIMARY KEY REFERENCES procrastinate_jobs (id) ON DELETE CASCADE,
    max_attempts integer NOT NULL,
    base_attempt integer NOT NULL DEFAULT 0,
    run_at double precision NOT NULL,
    worker_name text,
    lease_until double precision,
    progress double precision,
    eta double precision,
    error text,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL
)
"""

_SELECT = """
SELECT j.id, j.task_name, j.args, j.queue_name, j.lock, j.status::text AS status,
       j.attempts, j.abort_requested, i.run_at, i.max_attempts, i.base_attempt, i.worker_name,
       i.lease_until, i.progress, i.eta, i.error, i.created_at, i.updated_at
FROM procrastinate_jobs AS j LEFT JOIN replay_job_info AS i ON i.job_id = j.id
"""

#: procrastinate's statuses as the port's (an abort it asked for reads as cancelled).
STATUSES = {"todo": JobStatus.TODO, "doing": JobStatus.DOING,
            "succeeded": JobStatus.SUCCEEDED, "failed": JobStatus.FAILED,
            "cancelled": JobStatus.CANCELLED, "aborting": JobStatus.CANCELLED,
            "aborted": JobStatus.CANCELLED}

DEFAULT_MAX_ATTEMPTS = 5
#: A worker silent for this many leases is removed from procrastinate's worker table.
PRUNE_AFTER_LEASES = 10


class ProcrastinateQueue:
    def __init__(self, app: App, connector: PsycopgConnector, *,
                 clock: Callable[[], float] = time.time, lease_seconds: float = 30.0) -> None:
        self._app = app
        self._connector = connector
        self._clock = clock
        #: The port's worker ids and the procrastinate workers registered for them.
        self._workers: dict[str, int] = {}
        #: How long a silent worker keeps its jobs: the latest lease asked for.
        self._lease = lease_seconds
        self._registering = asyncio.Lock()

    @classmethod
    async def open(cls, conninfo: str, *, clock: Callable[[], float] = time.time,
                   options: str | None = None, max_size: int = 4,
                   lease_seconds: float = 30.0) -> ProcrastinateQueue:
        """Connect to ``conninfo`` (a ``postgresql://`` URL), creating procrastinate's
        schema and the side table when missing. ``options``: libpq options, e.g.
        ``-c search_path=replay``."""
        kwargs: dict[str, Any] = {"options": options} if options else {}
        # One plain connection first: a wrong URL fails at once (the pool would retry).
        probe = await psycopg.AsyncConnection.connect(conninfo, connect_timeout=10, **kwargs)
        await probe.close()
        connector = PsycopgConnector(conninfo=conninfo, min_size=1, max_size=max_size,
                                     kwargs=kwargs)
        app = App(connector=connector)
        await app.open_async()
        queue = cls(app, connector, clock=clock, lease_seconds=lease_seconds)
        try:
            await queue._ensure_schema()
        except BaseException:
            await app.close_async()
            raise
        return queue

    async def _ensure_schema(self) -> None:
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            row = await (await conn.execute(
                "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present")).fetchone()
            if row is None or not row["present"]:
                await conn.execute(SchemaManager.get_schema())
            await conn.execute(SIDE_TABLE)

    async def close(self) -> None:
        """Unregister this process's procrastinate workers (their running jobs, if any,
        become stalled at once and are retried by the next sweep), then disconnect."""
        try:
            for worker in self._workers.values():
                await self._app.job_manager.unregister_worker(worker)
            self._workers.clear()
        finally:
            await self._app.close_async()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
        async with self._connector.pool.connection() as conn:
            conn.row_factory = dict_row  # type: ignore[assignment]
            async with conn.transaction():
                yield conn  # type: ignore[misc]

    async def _procedure(self, conn: psycopg.AsyncConnection[DictRow], name: str,
                         **arguments: Any) -> dict[str, Any]:
        row: dict[str, Any] = await self._connector.execute_query_one_async_with_connection(
            conn, QUERIES[name], **arguments)
        return row

    # -- the port ----------------------------------------------------------------------

    async def enqueue(self, spec: JobSpec) -> int:
        args: dict[str, Any] = json.loads(json.dumps(dict(spec.args)))  # TypeError if not
        job = ProcrastinateJob(id=None, queue=spec.queue, lock=spec.lock,
                               queueing_lock=spec.lock, task_name=spec.task,
                               task_kwargs=args)
        for _ in range(3):
            try:
                async with self._transaction() as conn:
                    deferred = await self._app.job_manager.defer_job_async(job, connection=conn)
                    assert deferred.id is not None
                    now = self._clock()
                    await conn.execute(
                        "INSERT INTO replay_job_info (job_id, max_attempts, run_at, created_at,"
                        " updated_at) VALUES (%s, %s, %s, %s, %s)",
                        (deferred.id, spec.max_attempts, now, now, now))
                    return deferred.id
            except exceptions.AlreadyEnqueued:
                async with self._transaction() as conn:
                    row = await (await conn.execute(
                        "SELECT id FROM procrastinate_jobs WHERE queueing_lock = %s "
                        "AND status = 'todo' ORDER BY id LIMIT 1", (spec.lock,))).fetchone()
                if row is not None:
                    return int(row["id"])
                # The waiting job was taken meanwhile: queue this one behind it.
        raise RuntimeError(f"could not enqueue {spec.task} with lock {spec.lock!r}")

    async def fetch(self, queues: Sequence[str], worker_id: str,
                    lease_seconds: float) -> Job | None:
        self._lease = lease_seconds
        worker = await self._worker(worker_id)
        try:
            found = await self._app.job_manager.fetch_job(list(queues), worker)
        except exceptions.ConnectorException:
            # Our worker row was pruned (its heartbeat looked stalled): register again.
            self._workers.pop(worker_id, None)
            found = await self._app.job_manager.fetch_job(
                list(queues), await self._worker(worker_id))
        if found is None or found.id is None:
            return None
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE replay_job_info SET worker_name = %s, lease_until = %s, progress = NULL,"
                " eta = NULL, updated_at = %s WHERE job_id = %s",
                (worker_id, self._clock() + lease_seconds, self._clock(), found.id))
        return await self.get(found.id)

    async def _worker(self, worker_id: str) -> int:
        manager = self._app.job_manager
        async with self._registering:  # a worker's slots fetch at once: register once
            known = self._workers.get(worker_id)
            if known is None:
                known = self._workers[worker_id] = await manager.register_worker()
                return known
        await manager.update_heartbeat(known)
        return known

    async def _running(self, conn: psycopg.AsyncConnection[DictRow], job_id: int,
                       attempt: int) -> dict[str, Any] | None:
        """Lock the job's row; it, when ``attempt`` is still running it, else None. A job
        asked to abort is ended (aborted) here, and is no longer anyone's."""
        row = await (await conn.execute(
            "SELECT id, status::text AS status, attempts, abort_requested, worker_id "
            "FROM procrastinate_jobs WHERE id = %s FOR UPDATE", (job_id,))).fetchone()
        if row is None or row["status"] != "doing" or row["attempts"] + 1 != attempt:
            return None
        if row["abort_requested"]:
            await self._procedure(conn, "finish_job", job_id=job_id, status="aborted",
                                  delete_job=False)
            return None
        return row

    async def heartbeat(self, job_id: int, attempt: int, *, progress: float | None,
                        eta: float | None, lease_seconds: float) -> bool:
        self._lease = lease_seconds
        async with self._transaction() as conn:
            row = await self._running(conn, job_id, attempt)
            if row is None:
                return False
            if row["worker_id"] is not None:
                await self._procedure(conn, "update_heartbeat", worker_id=row["worker_id"])
            now = self._clock()
            await conn.execute(
                "UPDATE replay_job_info SET lease_until = %s, progress = %s, eta = %s, "
                "updated_at = %s WHERE job_id = %s",
                (now + lease_seconds, progress, eta, now, job_id))
            return True

    async def succeed(self, job_id: int, attempt: int) -> bool:
        async with self._transaction() as conn:
            if await self._running(conn, job_id, attempt) is None:
                return False
            await self._procedure(conn, "finish_job", job_id=job_id, status="succeeded",
                                  delete_job=False)
            await self._note(conn, job_id, lease_until=None, progress=1.0, eta=0.0, error=None)
            return True

    async def fail(self, job_id: int, attempt: int, error: str, *, retry_at: float | None,
                   permanent: bool) -> bool:
        async with self._transaction() as conn:
            if await self._running(conn, job_id, attempt) is None:
                return False
            if permanent or retry_at is None:
                await self._procedure(conn, "finish_job", job_id=job_id, status="failed",
                                      delete_job=False)
            else:
                await self._retry(conn, job_id, retry_at - self._clock())
            await self._note(conn, job_id, lease_until=None, eta=None, error=error)
            return True

    async def _retry(self, conn: psycopg.AsyncConnection[DictRow], job_id: int,
                     delay: float) -> None:
        """procrastinate's retry_job, due ``delay`` seconds from now on the database's
        clock (``run_at`` keeps it on this process's clock, for people)."""
        delay = max(0.0, delay)
        row = await (await conn.execute("SELECT now() AS now")).fetchone()
        assert row is not None
        await self._procedure(conn, "retry_job", job_id=job_id,
                              retry_at=row["now"] + timedelta(seconds=delay),
                              new_priority=None, new_queue_name=None, new_lock=None)
        await self._note(conn, job_id, run_at=self._clock() + delay)

    async def _note(self, conn: psycopg.AsyncConnection[DictRow], job_id: int,
                    **values: Any) -> None:
        columns = ", ".join(f"{name} = %s" for name in values)
        await conn.execute(
            f"UPDATE replay_job_info SET {columns}, updated_at = %s WHERE job_id = %s",
            (*values.values(), self._clock(), job_id))

    async def requeue_expired(self, now: float | None = None) -> int:
        ahead = 0.0 if now is None else now - self._clock()
        stalled = await self._app.job_manager.get_stalled_jobs(
            seconds_since_heartbeat=max(0.0, self._lease - ahead))
        touched = 0
        for job in stalled:
            assert job.id is not None
            touched += await self._recover(job.id, job.attempts + 1)
        # Workers silent for long (stopped without unregistering) leave procrastinate's
        # table, as its own workers do; a live one that was pruned registers again.
        await self._app.job_manager.prune_stalled_workers(
            seconds_since_heartbeat=PRUNE_AFTER_LEASES * self._lease)
        return touched

    async def _recover(self, job_id: int, attempt: int) -> int:
        async with self._transaction() as conn:
            if await self._running(conn, job_id, attempt) is None:
                return 1 if await self._aborted(conn, job_id) else 0
            info = await (await conn.execute(
                "SELECT max_attempts, base_attempt FROM replay_job_info WHERE job_id = %s",
                (job_id,))).fetchone()
            limit, base = ((DEFAULT_MAX_ATTEMPTS, 0) if info is None
                           else (info["max_attempts"], info["base_attempt"]))
            tries = attempt - base
            if tries >= limit:
                await self._procedure(conn, "finish_job", job_id=job_id, status="failed",
                                      delete_job=False)
                await self._note(conn, job_id, lease_until=None, eta=None,
                                 error=lost_worker_error(tries))
            else:
                await self._retry(conn, job_id, 0.0)
                await self._note(conn, job_id, lease_until=None, eta=None)
            return 1

    async def _aborted(self, conn: psycopg.AsyncConnection[DictRow], job_id: int) -> bool:
        row = await (await conn.execute(
            "SELECT status::text AS status FROM procrastinate_jobs WHERE id = %s",
            (job_id,))).fetchone()
        return row is not None and row["status"] == "aborted"

    async def retry(self, job_id: int) -> bool:
        try:
            async with self._transaction() as conn:
                row = await (await conn.execute(
                    "SELECT status::text AS status, attempts FROM procrastinate_jobs "
                    "WHERE id = %s FOR UPDATE", (job_id,))).fetchone()
                if row is None or STATUSES[row["status"]] not in (JobStatus.FAILED,
                                                                  JobStatus.CANCELLED):
                    return False
                if row["status"] == "failed":
                    await self._retry(conn, job_id, 0.0)  # procrastinate counts it a try
                else:  # cancelled or aborted: procrastinate has no procedure for these
                    await conn.execute(
                        "UPDATE procrastinate_jobs SET status = 'todo', abort_requested = "
                        "false, scheduled_at = NULL WHERE id = %s", (job_id,))
                    await self._note(conn, job_id, run_at=self._clock())
                after = await (await conn.execute(
                    "SELECT attempts FROM procrastinate_jobs WHERE id = %s",
                    (job_id,))).fetchone()
                assert after is not None
                await self._note(conn, job_id, base_attempt=after["attempts"], error=None,
                                 progress=None, eta=None, lease_until=None)
                return True
        except psycopg.errors.UniqueViolation:
            return False  # the same work already waits (its queueing lock)

    async def cancel(self, job_id: int) -> bool:
        job = await self.get(job_id)
        if job is None or job.status not in (JobStatus.TODO, JobStatus.DOING):
            return False
        return await self._app.job_manager.cancel_job_by_id_async(job_id, abort=True)

    async def get(self, job_id: int) -> Job | None:
        rows = await self._select("WHERE j.id = %s", job_id)
        return rows[0] if rows else None

    async def list(self, queue: str | None = None,
                   status: JobStatus | None = None) -> Jobs:
        jobs = await self._select("WHERE (%s::text IS NULL OR j.queue_name = %s) ORDER BY j.id",
                                  queue, queue)
        return [job for job in jobs if status is None or job.status == status]

    async def counts(self) -> dict[JobStatus, int]:
        async with self._transaction() as conn:
            rows = await (await conn.execute(
                "SELECT status::text AS status, abort_requested, count(*) AS n "
                "FROM procrastinate_jobs GROUP BY status, abort_requested")).fetchall()
        counts = dict.fromkeys(JobStatus, 0)
        for row in rows:
            status = (JobStatus.CANCELLED if row["abort_requested"]
                      else STATUSES[row["status"]])
            counts[status] += row["n"]
        return counts

    async def _select(self, where: str, *params: Any) -> Jobs:
        async with self._transaction() as conn:
            rows = await (await conn.execute(_SELECT + where, params)).fetchall()
        return [self._job(row) for row in rows]

    def _job(self, row: dict[str, Any]) -> Job:
        doing = row["status"] == "doing"
        status = (JobStatus.CANCELLED if row["abort_requested"] else STATUSES[row["status"]])
        created = row["created_at"] if row["created_at"] is not None else self._clock()
        run_at = row["run_at"] if row["run_at"] is not None else created
        args: dict[str, JSON] = row["args"]
        return Job(
            id=row["id"], task=row["task_name"], args=args, queue=row["queue_name"],
            lock=row["lock"], status=status, attempt=row["attempts"] + (1 if doing else 0),
            max_attempts=row["max_attempts"] or DEFAULT_MAX_ATTEMPTS,
            base_attempt=row["base_attempt"] or 0, run_at=run_at,
            lease_until=row["lease_until"] if doing else None,
            worker_id=row["worker_name"], progress=row["progress"], eta=row["eta"],
            error=row["error"], created_at=created,
            updated_at=row["updated_at"] if row["updated_at"] is not None else created)
