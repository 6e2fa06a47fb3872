"""Open the job queue the settings choose: the SQLite adapter in the state file (the
embedded default), or procrastinate on PostgreSQL when ``database_url`` says so."""

from __future__ import annotations

import asyncio

from replay.domain.errors import ReplayError
from replay.jobs.queue import JobQueue
from replay.jobs.sqlite_queue import SQLiteQueue
from replay.settings import Settings, public_database_url

NBSP = "\u00a0"


async def open_queue(settings: Settings) -> JobQueue:
    """The queue of ``settings``, ready to use; the caller closes it."""
    if not settings.uses_postgresql:
        return await asyncio.to_thread(SQLiteQueue.open, settings.database_path)
    try:
        import psycopg

        from replay.jobs.procrastinate_queue import ProcrastinateQueue
    except ImportError as exc:
        raise ReplayError(
            f"database_url désigne PostgreSQL{NBSP}: installez procrastinate avec "
            "pip install 'replay[postgres]'") from exc
    try:
        return await ProcrastinateQueue.open(settings.database_url,
                                             lease_seconds=settings.lease_seconds)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = public_database_url(settings.database_url)
        raise ReplayError(f"PostgreSQL injoignable ({where}){NBSP}: {reason}") from exc


def describe_backend(settings: Settings) -> str:
    """Where jobs and state live, for people (French)."""
    if settings.uses_postgresql:
        where = public_database_url(settings.database_url)
        return f"état et travaux dans PostgreSQL ({where})"
    return f"état et travaux dans {settings.database_path}"

