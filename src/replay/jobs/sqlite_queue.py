"""The SQLite adapter of the job queue port: a durable job table in the state database.

The queue keeps its own tables (``queue_jobs`` and ``queue_schema_version``), created and
migrated here, so the store's migrations and the queue's evolve apart; both live in the
same file, opened in WAL mode so that readers never wait for the writer.

Each method is one short statement (or a BEGIN IMMEDIATE transaction of two), run on one
dedicated thread: a statement can wait up to ``busy_timeout`` for another process's
write lock, and that wait must not stall the event loop and the heartbeats on it. One
thread per adapter also serialises the use of its connection.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from replay.jobs.queue import Job, Jobs, JobSpec, JobStatus, lost_worker_error
from replay.store.db import private_database, transaction
from replay.store.sqlite import raw_connection

T = TypeVar("T")
_Rows: TypeAlias = "list[sqlite3.Row]"

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE queue_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task TEXT NOT NULL,
        args TEXT NOT NULL,
        queue TEXT NOT NULL,
        lock TEXT,
        status TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        base_attempt INTEGER NOT NULL DEFAULT 0,
        run_at REAL NOT NULL,
        lease_until REAL,
        worker_id TEXT,
        progress REAL,
        eta REAL,
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX queue_jobs_due ON queue_jobs (status, queue, run_at);
    CREATE INDEX queue_jobs_lock ON queue_jobs (lock, status) WHERE lock IS NOT NULL;
    CREATE INDEX queue_jobs_lease ON queue_jobs (status, lease_until);
    """,
)

_FETCH = """
UPDATE queue_jobs SET status = 'doing', attempt = attempt + 1, worker_id = ?,
    lease_until = ?, progress = NULL, eta = NULL, updated_at = ?
WHERE id = (
    SELECT j.id FROM queue_jobs AS j
    WHERE j.status = 'todo' AND j.run_at <= ? AND j.queue IN ({queues})
      AND (j.lock IS NULL OR NOT EXISTS (
          SELECT 1 FROM queue_jobs AS d WHERE d.lock = j.lock AND d.status = 'doing'))
    ORDER BY j.id LIMIT 1)
RETURNING *
"""

#: Every write about a running job carries this condition: the fence.
_RUNNING = "WHERE id = ? AND attempt = ? AND status = 'doing'"


class SQLiteQueue:
    def __init__(self, connection: sqlite3.Connection, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._db = connection
        self._clock = clock
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-queue")

    @classmethod
    def open(cls, path: Path, *, clock: Callable[[], float] = time.time) -> SQLiteQueue:
        """Open (creating or migrating the queue's tables) the queue in ``path``."""
        private_database(path)
        connection = raw_connection(path, check_same_thread=False)
        migrate(connection)
        return cls(connection, clock=clock)

    async def close(self) -> None:
        await self._call(self._db.close)
        self._thread.shutdown(wait=True)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, partial(fn, *args))

    # -- the port ----------------------------------------------------------------------

    async def enqueue(self, spec: JobSpec) -> int:
        return await self._call(self._enqueue, spec, json.dumps(dict(spec.args)))

    def _enqueue(self, spec: JobSpec, args: str) -> int:
        with transaction(self._db):
            if spec.lock is not None:
                row = self._db.execute(
                    "SELECT id FROM queue_jobs WHERE lock = ? AND status = 'todo' "
                    "ORDER BY id LIMIT 1", (spec.lock,)).fetchone()
                if row is not None:
                    return int(row["id"])
            now = self._clock()
            cursor = self._db.execute(
                "INSERT INTO queue_jobs (task, args, queue, lock, status, max_attempts, run_at,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 'todo', ?, ?, ?, ?)",
                (spec.task, args, spec.queue, spec.lock, spec.max_attempts, now, now, now))
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    async def fetch(self, queues: Sequence[str], worker_id: str,
                    lease_seconds: float) -> Job | None:
        return await self._call(self._fetch, tuple(queues), worker_id, lease_seconds)

    def _fetch(self, queues: tuple[str, ...], worker_id: str, lease_seconds: float) -> Job | None:
        now = self._clock()
        sql = _FETCH.format(queues=", ".join("?" * len(queues)))
        with transaction(self._db):
            rows = self._db.execute(
                sql, (worker_id, now + lease_seconds, now, now, *queues)).fetchall()
        return _job(rows[0]) if rows else None

    async def heartbeat(self, job_id: int, attempt: int, *, progress: float | None,
                        eta: float | None, lease_seconds: float) -> bool:
        now = self._clock()
        return await self._update(
            f"UPDATE queue_jobs SET lease_until = ?, progress = ?, eta = ?, updated_at = ? "
            f"{_RUNNING}", now + lease_seconds, progress, eta, now, job_id, attempt)

    async def succeed(self, job_id: int, attempt: int) -> bool:
        return await self._update(
            "UPDATE queue_jobs SET status = 'succeeded', lease_until = NULL, progress = 1.0, "
            f"eta = 0.0, error = NULL, updated_at = ? {_RUNNING}",
            self._clock(), job_id, attempt)

    async def fail(self, job_id: int, attempt: int, error: str, *, retry_at: float | None,
                   permanent: bool) -> bool:
        now = self._clock()
        if permanent or retry_at is None:
            return await self._update(
                "UPDATE queue_jobs SET status = 'failed', lease_until = NULL, eta = NULL, "
                f"error = ?, updated_at = ? {_RUNNING}", error, now, job_id, attempt)
        return await self._update(
            "UPDATE queue_jobs SET status = 'todo', lease_until = NULL, eta = NULL, error = ?,"
            f" run_at = ?, updated_at = ? {_RUNNING}", error, retry_at, now, job_id, attempt)

    async def requeue_expired(self, now: float | None = None) -> int:
        return await self._call(self._requeue_expired, self._clock() if now is None else now)

    def _requeue_expired(self, now: float) -> int:
        with transaction(self._db):
            expired = self._db.execute(
                "SELECT id, attempt - base_attempt AS tries, max_attempts FROM queue_jobs "
                "WHERE status = 'doing' AND lease_until < ?", (now,)).fetchall()
            for job in expired:
                if job["tries"] >= job["max_attempts"]:
                    self._db.execute(
                        "UPDATE queue_jobs SET status = 'failed', lease_until = NULL, "
                        "eta = NULL, error = ?, updated_at = ? WHERE id = ?",
                        (lost_worker_error(job["tries"]), now, job["id"]))
                else:
                    self._db.execute(
                        "UPDATE queue_jobs SET status = 'todo', lease_until = NULL, eta = NULL,"
                        " run_at = ?, updated_at = ? WHERE id = ?", (now, now, job["id"]))
        return len(expired)

    async def retry(self, job_id: int) -> bool:
        now = self._clock()
        return await self._update(
            "UPDATE queue_jobs SET status = 'todo', base_attempt = attempt, run_at = ?, "
            "error = NULL, progress = NULL, eta = NULL, updated_at = ? "
            "WHERE id = ? AND status IN ('failed', 'cancelled')", now, now, job_id)

    async def cancel(self, job_id: int) -> bool:
        return await self._update(
            "UPDATE queue_jobs SET status = 'cancelled', lease_until = NULL, eta = NULL, "
            "updated_at = ? WHERE id = ? AND status IN ('todo', 'doing')",
            self._clock(), job_id)

    async def get(self, job_id: int) -> Job | None:
        rows = await self._select("SELECT * FROM queue_jobs WHERE id = ?", job_id)
        return rows[0] if rows else None

    async def list(self, queue: str | None = None,
                   status: JobStatus | None = None) -> Jobs:
        return await self._select(
            "SELECT * FROM queue_jobs WHERE (? IS NULL OR queue = ?) "
            "AND (? IS NULL OR status = ?) ORDER BY id", queue, queue, status, status)

    async def counts(self) -> dict[JobStatus, int]:
        rows = await self._call(self._rows, "SELECT status, count(*) FROM queue_jobs "
                                "GROUP BY status", ())
        counts = dict.fromkeys(JobStatus, 0)
        counts.update({JobStatus(status): n for status, n in rows})
        return counts

    # -- plumbing ----------------------------------------------------------------------

    async def _update(self, sql: str, *params: Any) -> bool:
        return await self._call(self._rowcount, sql, params) == 1

    def _rowcount(self, sql: str, params: tuple[Any, ...]) -> int:
        return self._db.execute(sql, params).rowcount

    async def _select(self, sql: str, *params: Any) -> Jobs:
        return [_job(row) for row in await self._call(self._rows, sql, params)]

    def _rows(self, sql: str, params: tuple[Any, ...]) -> _Rows:
        return self._db.execute(sql, params).fetchall()


def migrate(connection: sqlite3.Connection) -> None:
    """Bring the queue's tables to the latest version, once, whoever opens first."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS queue_schema_version (version INTEGER NOT NULL)")
    with transaction(connection):
        row = connection.execute("SELECT version FROM queue_schema_version").fetchone()
        version = 0 if row is None else int(row[0])
        for script in MIGRATIONS[version:]:
            for statement in filter(str.strip, script.split(";")):
                connection.execute(statement)
        connection.execute("DELETE FROM queue_schema_version")
        connection.execute("INSERT INTO queue_schema_version VALUES (?)", (len(MIGRATIONS),))


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"], task=row["task"], args=json.loads(row["args"]), queue=row["queue"],
        lock=row["lock"], status=JobStatus(row["status"]), attempt=row["attempt"],
        max_attempts=row["max_attempts"], base_attempt=row["base_attempt"],
        run_at=row["run_at"], lease_until=row["lease_until"], worker_id=row["worker_id"],
        progress=row["progress"], eta=row["eta"], error=row["error"],
        created_at=row["created_at"], updated_at=row["updated_at"])
