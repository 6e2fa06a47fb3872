"""The « transcription en direct » text feed: server-sent events, with a polling fallback.

Each batch of committed words becomes one numbered entry of the room's feed. A browser
follows `GET <base>/events` (text/event-stream; on reconnection EventSource sends
Last-Event-ID and gets what it missed), or, where server-sent events do not get through
(some proxies buffer them), polls `GET <base>?after=N` for the entries after N as JSON.
`setup_transcript_feeds(app, feeds)` mounts both; `live-transcript.js` is the page side.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from typing import Final

from aiohttp import web

from replay.domain.livecues import spoken_text
from replay.domain.transcript import Word
from replay.locale import _
from replay.web.errors import api_error, json_response

NBSP: Final = "\u00a0"
DEFAULT_BASE: Final = "/live/{room}/transcription"
#: How often a quiet event stream sends a comment, so that proxies keep it open.
HEARTBEAT_SECONDS: Final = 15.0
#: What browsers are told to wait before reconnecting, and pollers before asking again.
RETRY_MS: Final = 3000


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """Words confirmed together: `paragraph` when they follow a pause or a new take."""

    id: int
    take: int
    start: float
    end: float
    text: str
    paragraph: bool


class TranscriptFeed:
    """One room's feed: the last `keep` entries, and a wake-up for followers.

    Entries are numbered from `first_id`, by default the time of the feed's creation in
    milliseconds: after a restart of the service, numbers go on rising, so a browser that
    reconnects with the last number it saw gets the new entries, not nothing."""

    def __init__(self, keep: int = 2000, paragraph_pause: float = 2.0,
                 first_id: int | None = None) -> None:
        self.entries: deque[FeedEntry] = deque(maxlen=keep)
        self.closed = False
        self._paragraph_pause = paragraph_pause
        self._next_id = int(time.time() * 1000) if first_id is None else first_id
        self._changed = asyncio.Event()

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    def publish(self, take: int, words: Sequence[Word]) -> FeedEntry | None:
        text = spoken_text(words)
        if not text:
            return None
        previous = self.entries[-1] if self.entries else None
        paragraph = (previous is None or previous.take != take
                     or words[0].start - previous.end > self._paragraph_pause)
        entry = FeedEntry(self._next_id, take, round(float(words[0].start), 3),
                          round(float(words[-1].end), 3), text, bool(paragraph))
        self._next_id += 1
        self.entries.append(entry)
        self._wake()
        return entry

    def after(self, last_id: int) -> list[FeedEntry]:
        return [entry for entry in self.entries if entry.id > last_id]

    async def follow(self, last_id: int,
                     heartbeat: float = HEARTBEAT_SECONDS) -> AsyncIterator[FeedEntry | None]:
        """The entries after `last_id`, then each new one as it comes; None after each
        `heartbeat` seconds without any. Ends when the feed is closed."""
        while not self.closed:
            entries = self.after(last_id)
            if entries:
                for entry in entries:
                    yield entry
                last_id = entries[-1].id
                continue
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), heartbeat)
            except TimeoutError:
                yield None

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


class TranscriptFeeds:
    """The feeds of every room, by the key the live pages use (the room's slug)."""

    def __init__(self) -> None:
        self._feeds: dict[str, TranscriptFeed] = {}

    def feed(self, room: str) -> TranscriptFeed:
        """The room's feed, created on first use."""
        if room not in self._feeds or self._feeds[room].closed:
            self._feeds[room] = TranscriptFeed()
        return self._feeds[room]

    def get(self, room: str) -> TranscriptFeed | None:
        return self._feeds.get(room)

    def close(self) -> None:
        for feed in self._feeds.values():
            feed.close()


TRANSCRIPT_FEEDS: Final = web.AppKey("transcript_feeds", TranscriptFeeds)


def setup_transcript_feeds(app: web.Application, feeds: TranscriptFeeds,
                           base: str = DEFAULT_BASE) -> None:
    """Mount the feed's two addresses under `base` (which has a {room} part)."""
    app[TRANSCRIPT_FEEDS] = feeds
    app.router.add_get(base + "/events", stream_events)
    app.router.add_get(base, poll_entries)

    async def close_feeds(app: web.Application) -> None:
        app[TRANSCRIPT_FEEDS].close()

    # On shutdown, not in cleanup_ctx: aiohttp waits for open requests to end before the
    # cleanup, and an event stream only ends when its feed is closed.
    app.on_shutdown.append(close_feeds)


def _room_feed(request: web.Request) -> TranscriptFeed:
    feed = request.app[TRANSCRIPT_FEEDS].get(request.match_info["room"])
    if feed is None:
        raise api_error(404, _("No live transcription for this room: check the address, or "
                               "wait until the live starts."))
    return feed


def _after(value: str | None) -> int:
    if value is None or value == "":
        return 0
    if not value.isdigit():
        raise api_error(400, _("Parameter “after” invalid: give the number (a positive "
                               "integer) of the last excerpt received."))
    return int(value)


def _entry_json(entry: FeedEntry) -> str:
    return json.dumps(asdict(entry), ensure_ascii=False)


async def stream_events(request: web.Request) -> web.StreamResponse:
    """text/event-stream: one `mots` event per entry, ids for Last-Event-ID."""
    feed = _room_feed(request)
    last_id = _after(request.headers.get("Last-Event-ID") or request.query.get("after"))
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        async for entry in feed.follow(last_id):
            if entry is None:
                await response.write(b": ping\n\n")
            else:
                await response.write(f"id: {entry.id}\nevent: mots\n"
                                     f"data: {_entry_json(entry)}\n\n".encode())
    except ConnectionResetError:  # the browser went away
        pass
    return response


async def poll_entries(request: web.Request) -> web.Response:
    """JSON: the entries after `after`, the last id, and how long to wait before asking."""
    feed = _room_feed(request)
    entries = feed.after(_after(request.query.get("after")))
    response = json_response({"entries": [asdict(entry) for entry in entries],
                              "last_id": feed.last_id, "retry_ms": RETRY_MS,
                              "closed": feed.closed})
    response.headers["Cache-Control"] = "no-store"
    return response
