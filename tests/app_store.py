"""A test's own connection to an application's state store.

The application runs every store statement on its store's thread (`AsyncStore`); a test
that seeds or inspects the database at length does it over a connection of its own, on
its own thread, to the same database (each sees what the other committed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from replay.store.db import Store
from replay.store.factory import open_store
from replay.web.keys import SETTINGS


@asynccontextmanager
async def own_store(app: web.Application) -> AsyncIterator[Store]:
    """A `Store` on the application's database, closed afterwards (asynchronous only to
    sit beside the test client: ``async with TestClient(...) as client, own_store(app)``)."""
    store = open_store(app[SETTINGS])
    try:
        yield store
    finally:
        store.close()
