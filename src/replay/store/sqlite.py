"""The SQLite adapter of the connection port (`store.connection`): the embedded default."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from replay.store.connection import Connection, Cursor, Engine, IntegrityError


class HasConnection(Protocol):
    @property
    def db(self) -> Connection: ...


def private_database(path: Path) -> None:
    """Make the database's folder (when new: 0700) and the file itself (0600) private to
    the server's user; SQLite gives its -wal and -shm files the database file's mode.

    An existing file is only chmod'ed, never opened: closing any descriptor of it would
    drop the POSIX locks of this process's SQLite connections to it (and another process
    could then checkpoint and delete the WAL under them)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        os.chmod(path, 0o600)


#: How long an opener waits for another connection's lock (SQLite's busy timeout too).
BUSY_SECONDS = 30.0


def raw_connection(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """An autocommit sqlite3 connection to `path` in WAL mode, rows by name."""
    raw = sqlite3.connect(path, isolation_level=None, timeout=BUSY_SECONDS,
                          check_same_thread=check_same_thread)
    raw.row_factory = sqlite3.Row
    _write_ahead_log(raw)
    raw.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
    return raw


def _write_ahead_log(raw: sqlite3.Connection) -> None:
    """Switch to WAL. Connections opening a new database at once (the API and a worker
    starting together) can find it locked, and SQLite's busy timeout does not cover
    this pragma: try again for a while."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            raw.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def sqlite_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE``: the write lock from the start, so a transaction's reads and
    the writes that depend on them see no other writer in between."""
    if connection.in_transaction:
        yield
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class SQLiteConnection:
    """One sqlite3 connection in autocommit mode (transactions are explicit)."""

    engine: Engine = "sqlite"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    @classmethod
    def open(cls, path: Path, *, check_same_thread: bool = True) -> SQLiteConnection:
        """`check_same_thread=False` for a connection that one dedicated thread other
        than its opener uses (`store.async_store`)."""
        private_database(path)
        raw = raw_connection(path, check_same_thread=check_same_thread)
        raw.execute("PRAGMA foreign_keys=ON")
        return cls(raw)

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor:
        try:
            cursor: Cursor = self.raw.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> None:
        try:
            self.raw.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    def executescript(self, script: str, /) -> None:
        # not sqlite3's executescript, which commits the transaction it is called in
        statement = ""
        for line in script.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                self.raw.execute(statement)
                statement = ""
        if statement.strip():
            self.raw.execute(statement)

    def transaction(self) -> AbstractContextManager[None]:
        return sqlite_transaction(self.raw)

    def data_version(self) -> int | None:
        return int(self.raw.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        self.raw.close()


def sqlite_raw(store: HasConnection) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLite store (tests trace its statements)."""
    assert isinstance(store.db, SQLiteConnection), "not a SQLite store"
    return store.db.raw
