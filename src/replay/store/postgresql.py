"""The PostgreSQL adapter of the connection port (`store.connection`), with psycopg 3.

Synchronous on purpose: the store runs on its own thread (`store.async_store`), in the
CLI or in a worker's task, never as awaited I/O. The connection is in autocommit mode and
transactions are explicit, as with SQLite; each takes one advisory lock, so store writers
are serialised as SQLite's single writer serialises them (a use case's reads and the
writes that depend on them see no other writer in between: caption versions, claims).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from enum import Enum
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from replay.store.connection import Cursor, Engine, IntegrityError

#: The advisory lock every store transaction holds, with the schema's name as its second
#: key (two stores in two schemas of one database do not wait for each other).
WRITER_LOCK = 0x7265706C  # "repl"


class PgRow:
    """A row read by column name or by position, as `sqlite3.Row` is."""

    __slots__ = ("_names", "_values")

    def __init__(self, values: Sequence[Any], names: dict[str, int]) -> None:
        self._values, self._names = values, names

    def __getitem__(self, key: int | str, /) -> Any:
        return self._values[self._names[key] if isinstance(key, str) else key]


def _row_factory(cursor: Any) -> Any:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: PgRow(values, names)


@functools.lru_cache(maxsize=512)
def placeholders(sql: str) -> str:
    """SQLite's ``?`` as psycopg's ``%s`` (a literal ``%`` doubled); the repositories'
    SQL has no ``?`` inside string literals."""
    return sql.replace("%", "%%").replace("?", "%s")


def _param(value: Any) -> Any:
    """Enums as their value, as sqlite3 binds a `StrEnum` (psycopg would bind the name)."""
    return value.value if isinstance(value, Enum) else value


def _connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, row_factory=_row_factory, connect_timeout=10)


class PostgreSQLConnection:
    """One connection, opened again at its next use once it is lost (PostgreSQL restarted,
    the backend terminated, the network cut): the statement that met the loss fails, as
    its outcome is unknown, and the ones after it work again without restarting the
    process."""

    engine: Engine = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any], url: str | None = None) -> None:
        self._raw, self._url = raw, url
        self._transactions = 0  # never reconnect inside one: its statements go together

    @classmethod
    def open(cls, url: str) -> PostgreSQLConnection:
        """Connect to ``url`` (``postgresql://…``; ``?options=-csearch_path%3DS`` picks a
        schema)."""
        return cls(_connect(url), url)

    @property
    def raw(self) -> psycopg.Connection[Any]:
        if self._raw.broken and self._url is not None and not self._transactions:
            self._raw.close()
            self._raw = _connect(self._url)
        return self._raw

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor:
        try:
            cursor: Cursor = self.raw.execute(placeholders(sql), [_param(p) for p in params])
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> None:
        try:
            with self.raw.cursor() as cursor:
                cursor.executemany(placeholders(sql), [[_param(p) for p in row] for row in rows])
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    def executescript(self, script: str, /) -> None:
        if script.strip():
            self.raw.execute(script.encode())

    def transaction(self) -> AbstractContextManager[None]:
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        raw = self.raw
        if raw.info.transaction_status != TransactionStatus.IDLE:
            yield
            return
        self._transactions += 1
        try:
            with raw.transaction():
                raw.execute("SELECT pg_advisory_xact_lock(%s, "
                            "hashtext(coalesce(current_schema(), '')))",
                            (WRITER_LOCK,))
                yield
        finally:
            self._transactions -= 1

    def data_version(self) -> int | None:
        return None

    def close(self) -> None:
        self._raw.close()
