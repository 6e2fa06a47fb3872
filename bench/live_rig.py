"""What the live benchmarks share: the real app with its live on this machine, a
programme imported and a key for its room."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.test_utils import TestServer

from replay.domain.model import Event
from replay.live.store import LiveStore, StreamKey
from replay.live.take import TakeListener
from replay.live.web import LIVE
from replay.settings import Settings
from replay.store.db import Store
from replay.web.app import create_app
from replay.web.keys import DB


@asynccontextmanager
async def live_app(settings: Settings, event: Event, *, listener: TakeListener | None = None
                   ) -> AsyncIterator[tuple[web.Application, StreamKey]]:
    app = create_app(settings, worker_queues=())
    server = TestServer(app, host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        def seed(store: Store) -> StreamKey:
            store.save_event(event)
            return LiveStore(store.db).issue_key(event.slug, event.rooms[0],
                                                 settings.live_srt_port)

        key = await app[DB].run(seed)  # on the app's store thread
        app[LIVE].attach(listener=listener)
        app[LIVE].key_changed(key)
        await asyncio.sleep(3)  # nginx starts
        yield app, key
    finally:
        await server.close()
