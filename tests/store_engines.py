"""The state store's two engines for the tests parametrised over them: the SQLite file
(in the test's temporary folder) and PostgreSQL (127.0.0.1:5432, database `test`: a fresh
schema per test, dropped after it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

PG_URL = os.environ.get("REPLAY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
ENGINES = ("sqlite", "postgresql")


def in_schema(url: str, schema: str) -> str:
    """``url`` with connections landing in ``schema`` (libpq's ``options``)."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_pg_schema() -> Iterator[str]:
    """A new empty schema on the test database, its name; dropped afterwards."""
    schema = f"store_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"'.encode())
        try:
            yield schema
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE'.encode())


@contextmanager
def database_url(engine: str, folder: Path) -> Iterator[str]:
    """A ``database_url`` setting for an empty database of ``engine``."""
    if engine == "sqlite":
        yield f"sqlite://{folder / 'replay.sqlite3'}"
        return
    with fresh_pg_schema() as schema:
        yield in_schema(PG_URL, schema)
