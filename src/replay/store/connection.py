"""The port under the repositories: one database connection, whatever the engine.

The repositories (`db.Store`, `captions.Captions`, `users.Users`, `live.store.LiveStore`)
write their SQL once, in what SQLite (3.40) and PostgreSQL both speak: ``?``
placeholders, ``INSERT … ON CONFLICT … DO UPDATE``, ``RETURNING`` for a new row's id.
The adapters (`store.sqlite`, `store.postgresql`) run it; the schema, which the engines
spell differently, is in `store.migrations`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

Engine = Literal["sqlite", "postgresql"]


class IntegrityError(Exception):
    """A constraint refused the write (a duplicate key, a missing reference)."""


class Row(Protocol):
    """A result row, read by column name or by position."""

    def __getitem__(self, key: int | str, /) -> Any: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> Sequence[Row]: ...

    def __iter__(self) -> Iterator[Row]: ...


class Connection(Protocol):
    engine: Engine

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> None: ...

    def executescript(self, script: str, /) -> None:
        """Several statements without parameters (the migrations), inside the current
        transaction."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """One transaction, serialised with every other writer's (as SQLite's single
        writer is); a nested one joins the outer one."""
        ...

    def data_version(self) -> int | None:
        """A number that changes when another connection commits, or None where the
        engine has none (then nothing may be cached across calls)."""
        ...

    def close(self) -> None: ...
