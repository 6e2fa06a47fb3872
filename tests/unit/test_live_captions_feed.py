"""The « transcription en direct » feed: server-sent events and polling, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import asdict

import numpy as np
import pytest
import pytest_asyncio
from aiohttp import ClientResponse, ClientSession, web
from aiohttp.test_utils import TestClient, TestServer

from replay.domain.transcript import Word
from replay.live.transcript_feed import (
    NBSP,
    TranscriptFeed,
    TranscriptFeeds,
    setup_transcript_feeds,
)

Client = TestClient[web.Request, web.Application]


def words(text: str, start: float) -> list[Word]:
    return [Word(start + i * 0.4, start + i * 0.4 + 0.35, " " + token)
            for i, token in enumerate(text.split())]


@pytest_asyncio.fixture
async def feeds() -> TranscriptFeeds:
    return TranscriptFeeds()


@pytest_asyncio.fixture
async def client(feeds: TranscriptFeeds) -> AsyncIterator[Client]:
    app = web.Application()
    setup_transcript_feeds(app, feeds)
    async with TestClient(TestServer(app)) as client:
        yield client


def test_entries_are_numbered_and_paragraphs_follow_pauses_and_takes() -> None:
    feed = TranscriptFeed(paragraph_pause=2.0, first_id=1)
    first = feed.publish(0, words("Bonjour à tous", 1.0))
    second = feed.publish(0, words("et bienvenue", 2.3))
    third = feed.publish(0, words("Commençons ?", 8.0))
    fourth = feed.publish(1, words("Nous reprenons", 0.5))
    assert feed.publish(1, []) is None
    assert [e.id for e in (first, second, third, fourth) if e] == [1, 2, 3, 4]
    assert [e.paragraph for e in (first, second, third, fourth) if e] == [True, False, True,
                                                                           True]
    assert third is not None
    assert third.text == f"Commençons{NBSP}?"
    assert [e.id for e in feed.after(2)] == [3, 4]


def test_a_new_feed_numbers_its_entries_after_any_earlier_feed() -> None:
    before = TranscriptFeed()
    entry = before.publish(0, words("avant", 0.0))
    time.sleep(0.002)
    after = TranscriptFeed()
    later = after.publish(0, words("après", 0.0))
    assert entry is not None
    assert later is not None
    assert later.id > entry.id


def test_entries_are_plain_json_whatever_number_types_the_words_carry() -> None:
    feed = TranscriptFeed(first_id=1)
    # numpy floats, as from faster-whisper
    feed.publish(0, [Word(np.float64(1.0), np.float64(1.5), " Bonjour")])
    entry = feed.publish(0, [Word(np.float64(9.0), np.float64(9.5), " Merci")])
    assert entry is not None
    assert json.loads(json.dumps(asdict(entry))) == {"id": 2, "take": 0, "start": 9.0,
                                                     "end": 9.5, "text": "Merci",
                                                     "paragraph": True}


def test_the_feed_keeps_only_its_last_entries() -> None:
    feed = TranscriptFeed(keep=3, first_id=1)
    for index in range(5):
        feed.publish(0, words(f"mot{index}", float(index)))
    assert [e.id for e in feed.after(0)] == [3, 4, 5]
    assert feed.last_id == 5


async def test_polling_returns_the_entries_after_a_number(feeds: TranscriptFeeds,
                                                          client: Client) -> None:
    feed = feeds.feed("salle-a")
    first = feed.publish(0, words("Bonjour à tous", 1.0))
    second = feed.publish(0, words("et bienvenue", 2.3))
    assert first is not None
    assert second is not None
    response = await client.get("/live/salle-a/transcription", params={"after": str(first.id)})
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert [e["text"] for e in body["entries"]] == ["et bienvenue"]
    assert body["last_id"] == second.id
    assert body["retry_ms"] > 0
    assert body["closed"] is False


@pytest.mark.parametrize("after", ["-1", "abc", "1.5"])
async def test_polling_refuses_a_bad_number_in_french(feeds: TranscriptFeeds, client: Client,
                                                      after: str) -> None:
    feeds.feed("salle-a")
    response = await client.get("/live/salle-a/transcription", params={"after": after})
    assert response.status == 400
    assert "entier positif" in (await response.json())["error"]


async def test_an_unknown_room_has_no_feed(client: Client) -> None:
    for path in ("/live/nulle-part/transcription", "/live/nulle-part/transcription/events"):
        response = await client.get(path)
        assert response.status == 404
        assert "Pas de transcription en direct" in (await response.json())["error"]


async def read_event(response: ClientResponse) -> dict[str, str]:
    """One server-sent event (its fields), skipping comments and the retry line."""
    fields: dict[str, str] = {}
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode().rstrip("\n")
        if line == "":
            if "data" in fields:
                return fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


async def test_server_sent_events_replay_then_follow(feeds: TranscriptFeeds,
                                                     client: Client) -> None:
    feed = feeds.feed("salle-a")
    entry = feed.publish(0, words("Bonjour à tous", 1.0))
    assert entry is not None
    response = await client.get("/live/salle-a/transcription/events")
    assert response.headers["Content-Type"].startswith("text/event-stream")
    first = await read_event(response)
    assert first["id"] == str(entry.id)
    assert first["event"] == "mots"
    assert json.loads(first["data"])["text"] == "Bonjour à tous"
    feed.publish(0, words("et bienvenue", 2.3))
    second = await read_event(response)
    assert (second["id"], json.loads(second["data"])["text"]) == (str(entry.id + 1),
                                                                  "et bienvenue")
    response.close()


async def test_a_reconnecting_browser_gets_what_it_missed(feeds: TranscriptFeeds,
                                                          client: Client) -> None:
    feed = feeds.feed("salle-a")
    ids = [entry.id for index in range(3)
           if (entry := feed.publish(0, words(f"phrase{index}", float(index))))]
    response = await client.get("/live/salle-a/transcription/events",
                                headers={"Last-Event-ID": str(ids[1])})
    assert (await read_event(response))["id"] == str(ids[2])
    response.close()


async def test_a_quiet_stream_sends_heartbeats_and_ends_when_the_feed_closes() -> None:
    feed = TranscriptFeed()
    received: list[object] = []

    async def follow() -> None:
        async for entry in feed.follow(0, heartbeat=0.01):
            received.append(entry)
            if len(received) == 3:
                feed.close()

    await asyncio.wait_for(follow(), 5)
    assert received == [None, None, None]


async def test_stopping_the_server_ends_open_streams_at_once(feeds: TranscriptFeeds) -> None:
    app = web.Application()
    setup_transcript_feeds(app, feeds)
    feed = feeds.feed("salle-a")
    runner = web.AppRunner(app, shutdown_timeout=30)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with ClientSession() as session:
        response = await session.get(f"http://127.0.0.1:{port}/live/salle-a/transcription/events")
        assert response.status == 200
        # Within 10 s, far below the 30 s aiohttp would wait for a request to end by itself.
        await asyncio.wait_for(runner.cleanup(), 10)
        assert feed.closed
        assert (await asyncio.wait_for(response.content.read(), 10)).startswith(b"retry:")
