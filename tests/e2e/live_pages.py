"""The live captions' test pages, served over HTTP on loopback from local folders: the
fixture pages, the site's static assets (hls.js, the transcript panel), the live folder,
a published site, and the « transcription en direct » feeds."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from replay.live.transcript_feed import TranscriptFeeds, setup_transcript_feeds
from replay.web.errors import Handler

ROOT = Path(__file__).resolve().parents[2]
PAGE_DIR = ROOT / "tests" / "fixtures" / "live_captions"
ASSETS = ROOT / "src" / "replay" / "site" / "static"


@web.middleware
async def no_cache(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Live playlists change every few seconds: the browser must ask each time."""
    response = await handler(request)
    response.headers["Cache-Control"] = "no-cache"
    return response


@contextlib.asynccontextmanager
async def serve_live_pages(feeds: TranscriptFeeds, hls: Path | None = None,
                           site_dir: Path | None = None) -> AsyncIterator[str]:
    """The server's root address: /page/ (fixtures), /assets/, /hls/, /site/ and the
    feeds."""
    app = web.Application(middlewares=[no_cache])
    setup_transcript_feeds(app, feeds)
    app.router.add_static("/page/", PAGE_DIR)
    app.router.add_static("/assets/", ASSETS)
    if hls is not None:
        app.router.add_static("/hls/", hls)
    if site_dir is not None:
        app.router.add_static("/site/", site_dir)
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
