"""Open the state store the settings choose: the SQLite file (the embedded default), or
PostgreSQL when ``database_url`` is ``postgresql://…`` (the jobs are then there too)."""

from __future__ import annotations

from replay.domain.errors import ReplayError
from replay.locale import _
from replay.settings import Settings, public_database_url
from replay.store.connection import Connection
from replay.store.db import Store, connect
from replay.store.migrations import migrate

#: How the PostgreSQL dependencies are installed, as the refusals say it.
POSTGRES_EXTRA = "pip install 'replay[postgres]'"


def open_connection(settings: Settings, *, check_same_thread: bool = True) -> Connection:
    """A migrated connection to the state; `check_same_thread` as in `store.db.connect`
    (SQLite only: a psycopg connection may change threads)."""
    if not settings.uses_postgresql:
        return connect(settings.database_path, check_same_thread=check_same_thread)
    try:
        import psycopg

        from replay.store.postgresql import PostgreSQLConnection
    except ImportError as exc:
        raise ReplayError(_("database_url names PostgreSQL: install {package} with {command}"
                            ).format(package="psycopg", command=POSTGRES_EXTRA)) from exc
    try:
        connection = PostgreSQLConnection.open(settings.database_url)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReplayError(_("PostgreSQL unreachable ({where}): {reason}").format(
            where=public_database_url(settings.database_url), reason=reason)) from exc
    migrate(connection)
    return connection


def open_store(settings: Settings) -> Store:
    """The state store of ``settings``, migrated; the caller closes it."""
    return Store(open_connection(settings))
