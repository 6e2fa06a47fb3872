"""The « transcription en direct » panel in Chromium: server-sent events, then polling."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from replay.domain.transcript import Word
from replay.live.transcript_feed import (
    NBSP,
    TranscriptFeed,
    TranscriptFeeds,
)
from tests.e2e.live_pages import ROOT, serve_live_pages

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PANEL = "[data-live-transcript]"


def words(text: str, start: float) -> list[Word]:
    return [Word(start + i * 0.4, start + i * 0.4 + 0.35, " " + token)
            for i, token in enumerate(text.split())]


@contextlib.asynccontextmanager
async def serve(feeds: TranscriptFeeds) -> AsyncIterator[str]:
    async with serve_live_pages(feeds) as root:
        yield f"{root}/page/panel.html"


async def shown(page: Page, text: str) -> None:
    await page.wait_for_function("(text) => document.querySelector('[data-live-transcript]')"
                                 ".textContent.includes(text)", arg=text)


async def fill(feed: TranscriptFeed) -> None:
    feed.publish(0, words("Bonjour à toutes et à tous,", 1.0))
    feed.publish(0, words("et bienvenue à cette table ronde.", 3.5))


async def test_the_panel_follows_the_event_stream(page: Page) -> None:
    feeds = TranscriptFeeds()
    feed = feeds.feed("salle-test")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    async with serve(feeds) as url:
        await fill(feed)
        await page.goto(url)
        await shown(page, "table ronde.")
        feed.publish(0, words("Commençons ?", 12.0))
        await shown(page, f"Commençons{NBSP}?")
        paragraphs = await page.locator(f"{PANEL} p").all_inner_texts()
        status = await page.inner_text("[data-live-transcript-status]")
    assert [p.replace(NBSP, " ") for p in paragraphs] == [
        "Bonjour à toutes et à tous, et bienvenue à cette table ronde.", "Commençons ?"]
    assert status.startswith("Transcription automatique en direct")
    assert errors == []


async def test_without_event_source_the_panel_polls(page: Page) -> None:
    feeds = TranscriptFeeds()
    feed = feeds.feed("salle-test")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.add_init_script("delete window.EventSource;")
    async with serve(feeds) as url:
        await page.goto(url)
        await page.wait_for_function("() => document.querySelector("
                                     "'[data-live-transcript-status]').textContent"
                                     ".startsWith('En attente')")
        await fill(feed)
        await shown(page, "table ronde.")
        feed.close()
        await page.wait_for_function("() => document.querySelector("
                                     "'[data-live-transcript-status]').textContent"
                                     ".includes('terminée')", timeout=15_000)
    polls = [r for r in requests if "/transcription?" in r]
    assert polls, requests
    assert not [r for r in requests if r.endswith("/events")]
    assert any("after=0" in r for r in polls)
    assert any("after=0" not in r for r in polls)


async def test_the_panel_has_no_serious_accessibility_violation(page: Page) -> None:
    feeds = TranscriptFeeds()
    await fill(feeds.feed("salle-test"))
    async with serve(feeds) as url:
        await page.goto(url)
        await shown(page, "table ronde.")
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    serious = [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in result["violations"]
               if v["impact"] in {"serious", "critical"}]
    assert serious == []
