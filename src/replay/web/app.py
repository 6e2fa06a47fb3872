"""The aiohttp application of `replay serve`: health, metrics, the published site under
`/site/`, and the workers running the pipeline's jobs beside them.

Nothing happens at import time: `create_app` builds the application from settings, and
each resource (the state database, the job queue, the worker pool) is opened and closed
by its own `cleanup_ctx` generator. Stopping the application (SIGTERM or SIGINT under
`web.run_app`) stops the workers gracefully: no new job is taken, running ones get
their grace period, then are handed back to the queue.

Every response carries a strict Content-Security-Policy (scripts, styles and the rest
from this origin only: no inline script, style or event attribute anywhere), and
``X-Content-Type-Options``, ``Referrer-Policy`` and ``X-Frame-Options``. A full disk is
a French 507 (`error_pages.errors_middleware`); ``/health`` says ``degraded`` when free space
runs below ``min_free_bytes`` or a job's outcome could not be recorded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from typing import Final

from aiohttp import web

from replay.domain.addresses import AddressPolicy, is_public_address
from replay.jobs.context import Lanes
from replay.jobs.factory import open_queue
from replay.jobs.metrics import StageDurations
from replay.jobs.tasks import QUEUES, TaskDeps, task_table, whisper_for
from replay.jobs.worker import Worker
from replay.live.web import live_context, setup_live
from replay.settings import Settings
from replay.site.pages import CONTENT_SECURITY_POLICY as SITE_POLICY
from replay.site.pages import EMBED_PAGE
from replay.speech.transcriber import Transcriber
from replay.storage.factory import object_store_for
from replay.store.async_store import AsyncStore
from replay.web.accounts import setup_accounts
from replay.web.api import setup_api
from replay.web.api_captions import setup_captions
from replay.web.auth import USERS, AuthConfig, setup_auth, users_for
from replay.web.dashboard import setup_dashboard
from replay.web.editor import setup_editor
from replay.web.error_pages import errors_middleware
from replay.web.keys import (
    DB,
    DURATIONS,
    OBJECTS,
    OFFLOAD,
    QUEUE,
    SETTINGS,
    TRANSCRIBER,
    WORKER_QUEUES,
)
from replay.web.metrics import metrics
from replay.web.offload import Offload
from replay.web.openapi import setup_openapi
from replay.web.pages import setup_pages
from replay.web.quotas import free_bytes
from replay.web.reading_rules import setup_reading_rules

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Seconds running jobs get to finish when the server stops, before being handed back.
SHUTDOWN_GRACE = 20.0
#: The organisers' pages, the editor and the published site: the site's policy (see
#: `replay.site.pages`), and no framing by other sites.
CONTENT_SECURITY_POLICY: Final = f"{SITE_POLICY}; frame-ancestors 'none'"
#: A session's embed page: any site may frame it (partners' pages embed replays).
EMBED_POLICY: Final = f"{SITE_POLICY}; frame-ancestors *"
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
WORKERS: Final[web.AppKey[list[Worker]]] = web.AppKey("replay_workers")


def create_app(settings: Settings, *, transcriber: Transcriber | None = None,
               run_workers: bool = True,
               worker_queues: Sequence[str] = QUEUES,
               fetch_policy: AddressPolicy = is_public_address) -> web.Application:
    """The application for `settings`. ``transcriber`` defaults to Whisper as the settings
    describe it (built when the workers start); ``run_workers=False`` serves without
    running jobs (tests, or web-only nodes), and without the live ingest. ``fetch_policy``:
    the addresses a programme URL may lead to (public ones; tests widen it to reach a local
    listener)."""
    unknown = sorted(set(worker_queues) - set(QUEUES))
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(QUEUES)}")
    # Outermost first: headers on every answer, then the one error middleware (French
    # error pages, JSON errors under /api/, a full disk as a French 507).
    app = web.Application(middlewares=[security_headers, errors_middleware])
    setup_pages(app)
    app[SETTINGS] = settings
    app[WORKERS] = []
    app[OBJECTS] = object_store_for(None, settings)
    app[TRANSCRIBER] = transcriber
    app[DURATIONS] = StageDurations()
    app[WORKER_QUEUES] = tuple(worker_queues)
    app.cleanup_ctx.append(_offload)
    app.cleanup_ctx.append(_store)
    app.cleanup_ctx.append(_queue)
    if run_workers and worker_queues:
        app.cleanup_ctx.append(_workers)
    if settings.live_enabled and run_workers:
        app.cleanup_ctx.append(live_context)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/site", _to_site)
    app.router.add_get("/site/{tail:.*}", site_file)
    setup_auth(app, AuthConfig.from_settings(settings))
    setup_api(app, fetch_policy=fetch_policy)
    setup_openapi(app)
    setup_dashboard(app)
    setup_captions(app)
    setup_editor(app)
    setup_reading_rules(app)
    setup_live(app)
    setup_accounts(app)
    return app


# -- resources -------------------------------------------------------------------------


async def _store(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[DB] = await AsyncStore.open(settings)
    # Its lifetimes and clock; its connection is the store thread's (see `on_users`).
    app[USERS] = await app[DB].run(lambda store: users_for(store.db, settings))
    yield
    await app[DB].close()


async def _offload(app: web.Application) -> AsyncIterator[None]:
    offload = Offload()
    app[OFFLOAD] = offload
    yield
    await asyncio.to_thread(offload.shutdown)


async def _queue(app: web.Application) -> AsyncIterator[None]:
    queue = await open_queue(app[SETTINGS])
    app[QUEUE] = queue
    yield
    await queue.close()


async def _workers(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    transcriber = app[TRANSCRIBER]
    if transcriber is None:
        transcriber = await asyncio.to_thread(whisper_for, settings)
    deps = TaskDeps(settings=settings, db=app[DB], queue=app[QUEUE],
                    objects=app[OBJECTS], transcriber=transcriber,
                    lanes=Lanes.for_threads(settings.cpu_threads), durations=app[DURATIONS])
    tasks = task_table(deps)
    queues: tuple[str, ...] = app[WORKER_QUEUES]
    name = f"{socket.gethostname()}:{os.getpid()}"
    workers = [
        Worker(app[QUEUE], tasks, [queue], worker_id=f"{name}/{queue}",
               lease_seconds=settings.lease_seconds,
               heartbeat_every=settings.heartbeat_seconds,
               job_timeout=settings.job_timeout, shutdown_grace=SHUTDOWN_GRACE)
        for queue in queues
    ]
    app[WORKERS].extend(workers)
    stop = asyncio.Event()
    running = [asyncio.create_task(worker.run(stop), name=worker.worker_id)
               for worker in workers]
    log.info("workers started on %s", ", ".join(queues))
    yield
    stop.set()
    for outcome in await asyncio.gather(*running, return_exceptions=True):
        if isinstance(outcome, BaseException):
            log.error("a worker ended with an error", exc_info=outcome)


# -- routes ----------------------------------------------------------------------------


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as error:
        _secure(error.headers)
        raise
    if not response.prepared:
        _secure(response.headers)
    return response


def _secure(headers: MutableMapping[str, str]) -> None:
    framed = headers.get("Content-Security-Policy") == EMBED_POLICY
    for name, value in SECURITY_HEADERS.items():
        if not (framed and name == "X-Frame-Options"):
            headers.setdefault(name, value)


async def health(request: web.Request) -> web.Response:
    """200 with the queue's counts when the database answers (``degraded`` when the disk
    is nearly full or a job's outcome could not be recorded), 503 otherwise."""
    try:
        await request.app[DB].run(lambda store: store.db.execute("SELECT 1").fetchone())
        counts = await request.app[QUEUE].counts()
    except Exception as exc:
        log.exception("health check failed")
        return web.json_response({"status": "error", "database": False, "error": str(exc)},
                                 status=503)
    settings = request.app[SETTINGS]
    free = await asyncio.to_thread(free_bytes, settings.data_dir)
    failing = sorted(job for worker in request.app[WORKERS] for job in worker.failing)
    degraded = free < settings.min_free_bytes or bool(failing)
    return web.json_response({"status": "degraded" if degraded else "ok", "database": True,
                              "free_bytes": free, "min_free_bytes": settings.min_free_bytes,
                              "failing_jobs": failing,
                              "jobs": {str(status): n for status, n in counts.items()}})


async def _to_site(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/site/")


async def site_file(request: web.Request) -> web.StreamResponse:
    """A file of the published site; a folder serves its index.html."""
    root = request.app[SETTINGS].site_dir.resolve()
    tail = request.match_info["tail"]
    path = (root / tail).resolve()
    if not path.is_relative_to(root):
        raise web.HTTPNotFound()
    if path.is_dir():
        if tail and not tail.endswith("/"):
            raise web.HTTPMovedPermanently(f"{request.path}/")
        path = path / "index.html"
    if not path.is_file():
        raise web.HTTPNotFound()
    response = web.FileResponse(path)
    if path.name == EMBED_PAGE:
        response.headers["Content-Security-Policy"] = EMBED_POLICY
    return response
