"""Open the job queue the settings choose: the SQLite adapter in the state file (the
embedded default), or procrastinate on PostgreSQL when ``database_url`` says so."""

from __future__ import annotations

import asyncio

from replay.domain.errors import ReplayError
from replay.jobs.queue import JobQueue
from replay.jobs.sqlite_queue import SQLiteQueue
from replay.locale import _
from replay.settings import Settings, public_database_url

#: How the PostgreSQL dependencies are installed, as the refusals say it.
POSTGRES_EXTRA = "pip install 'replay[postgres]'"


async def open_queue(settings: Settings) -> JobQueue:
    """The queue of ``settings``, ready to use; the caller closes it."""
    if not settings.uses_postgresql:
        return await asyncio.to_thread(SQLiteQueue.open, settings.database_path)
    try:
        import psycopg

        from replay.jobs.procrastinate_queue import ProcrastinateQueue
    except ImportError as exc:
        raise ReplayError(_("database_url names PostgreSQL: install {package} with {command}"
                            ).format(package="procrastinate", command=POSTGRES_EXTRA)) from exc
    try:
        return await ProcrastinateQueue.open(settings.database_url,
                                             lease_seconds=settings.lease_seconds)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = public_database_url(settings.database_url)
        raise ReplayError(_("PostgreSQL unreachable ({where}): {reason}").format(
            where=where, reason=reason)) from exc


def describe_backend(settings: Settings) -> str:
    """Where jobs and state live, for people (French)."""
    if settings.uses_postgresql:
        where = public_database_url(settings.database_url)
        return _("state and jobs in PostgreSQL ({where})").format(where=where)
    return _("state and jobs in {path}").format(path=settings.database_path)

