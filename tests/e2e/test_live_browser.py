"""The live page in Chromium: it plays (currentTime advances, close to the live edge),
goes on after the publisher is killed and comes back (a new take, a discontinuity, no
reload), shows the programme, passes axe-core and fits a phone's screen."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from replay.live.nginx import APPLICATION
from replay.live.publisher import room_prefix
from replay.sample import SampleSession
from replay.settings import Settings
from tests.e2e.test_process import axe_violations
from tests.live_support import (
    Publisher,
    live_app,
    live_settings,
    rtmp_publisher,
    sample_around_now,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(shutil.which("nginx") is None,
                                 reason="nginx-light is installed by scripts/setup.sh")]

SESSIONS = (SampleSession("Atelier diffusé en direct", 0, 120, late_by=2, paragraphs=12),)
#: A delay the captions could ask for: longer than the playlist when the viewer joins.
DELAY = 8.0


@dataclass(frozen=True)
class OnAir:
    settings: Settings
    page_url: str
    publish_url: str
    source: Path


@pytest_asyncio.fixture
async def on_air(tmp_path: Path) -> AsyncIterator[OnAir]:
    truth = sample_around_now(tmp_path / "sample", SESSIONS, 110.0, lead=0.0)
    settings = live_settings(tmp_path / "data", live_player_delay=DELAY)
    async with live_app(settings, truth) as (_, key):
        yield OnAir(settings,
                    f"http://127.0.0.1:{settings.port}/site/"
                    f"{room_prefix(key.event_slug, truth.room)}/index.html",
                    f"rtmp://127.0.0.1:{settings.live_rtmp_port}/{APPLICATION}/"
                    f"{key.stream_key}", truth.recording)


async def playing_time(page: Page) -> float:
    value = await page.evaluate("() => document.getElementById('live-player').currentTime")
    return float(value)


async def wait_playing_past(page: Page, seconds: float, timeout_ms: int) -> None:
    await page.wait_for_function(
        "t => { const v = document.getElementById('live-player');"
        " return v && !v.paused && v.currentTime > t; }", arg=seconds, timeout=timeout_ms)


async def test_the_live_page_plays_near_the_edge_and_survives_a_reconnection(
        on_air: OnAir, browser: Browser) -> None:
    publisher = await Publisher.start(rtmp_publisher(on_air.source, on_air.publish_url))
    try:
        context = await browser.new_context(locale="fr-FR")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await wait_for(lambda: _status_on_air(on_air), 40, "the room is on air")
        await page.goto(on_air.page_url)
        await page.evaluate("() => { window.loadedOnce = true; }")
        await wait_playing_past(page, 2.0, 40_000)
        first = await playing_time(page)
        await wait_playing_past(page, first + 4.0, 20_000)
        # It joined as the live started, with fewer seconds in the playlist than its delay:
        # it must still settle at its delay (the captions need it), not nearer the edge.
        await page.wait_for_function("d => window.replayLive.hls.latency >= d",
                                     arg=DELAY - 1.5, timeout=30_000)
        latency = await page.evaluate("() => window.replayLive.hls.latency")
        assert latency <= DELAY + 3 * 2.0, latency
        assert await page.is_visible("#on-air")
        assert "Atelier diffusé en direct" in (await page.text_content("#now-title") or "")
        assert await axe_violations(page) == []
        index = await context.new_page()  # the event's index says which rooms are live
        await index.goto(on_air.page_url.split("/direct/")[0] + "/index.html")
        await index.wait_for_selector("#direct:not([hidden])")
        assert "en direct" in (await index.text_content("#direct-rooms") or "")
        await index.close()

        await publisher.kill()  # the hotel's Wi-Fi drops
        await page.wait_for_timeout(6000)
        publisher = await Publisher.start(rtmp_publisher(on_air.source, on_air.publish_url))
        before = await playing_time(page)
        await wait_playing_past(page, before + 8.0, 60_000)
        assert await page.evaluate("() => window.loadedOnce === true"), "no reload"
        day = next(on_air.settings.site_dir.glob("*/direct/*/*/day.m3u8"))
        assert "#EXT-X-DISCONTINUITY" in (day.parent / _first_rung(day)).read_text()
        assert errors == []
        await context.close()
    finally:
        await publisher.kill()


async def test_the_live_page_fits_a_phone(on_air: OnAir, browser: Browser) -> None:
    context = await browser.new_context(locale="fr-FR", viewport={"width": 360, "height": 740},
                                        is_mobile=True, has_touch=True)
    page = await context.new_page()
    await wait_for(lambda: (on_air.settings.site_dir / _page_key(on_air)).is_file(), 30,
                   "the live page is published")
    await page.goto(on_air.page_url)
    await page.wait_for_selector("#off-air:not([hidden])")
    text = await page.text_content("#off-air") or ""
    assert "hors antenne" in text
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth,"
        " document.getElementById('live-player').getBoundingClientRect().width]")
    assert widths[0] <= widths[1], "no sideways scrolling"
    assert widths[2] >= widths[1] * 0.8, "the player takes the screen's width"
    assert await axe_violations(page) == []
    await context.close()


def _page_key(on_air: OnAir) -> str:
    return on_air.page_url.split("/site/", 1)[1]


def _status_on_air(on_air: OnAir) -> bool:
    status = on_air.settings.site_dir / _page_key(on_air).replace("index.html", "status.json")
    return status.is_file() and '"on_air": true' in status.read_text()


def _first_rung(day: Path) -> str:
    variant = next(line for line in day.read_text().splitlines()
                   if line and not line.startswith("#"))
    return variant
