"""The live page's player controls in Chromium, on the page `replay serve` publishes for a
room (rendered here, its status.json written by hand) playing a few seconds of generated
HLS in two rungs, with a filled « transcription en direct » panel: no live stream is
started (test_live_browser.py plays a real one). The quality menu, the keyboard shortcuts
listed on the page, the player kept in view on a phone while the viewer reads the panel,
captions of at least 16 px, and axe-core."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from replay.domain.transcript import Word
from replay.live.publisher import feed_key, room_prefix
from replay.live.status import LivePage, render_live_page
from replay.live.transcript_feed import DEFAULT_BASE, TranscriptFeeds
from replay.site.pages import static_assets
from tests.e2e.live_pages import serve_live_pages
from tests.e2e.test_csp_browser import LISTEN
from tests.e2e.test_viewer_browser import (
    CUE,
    INK_HEIGHT,
    PHONE,
    axe_violations,
    make_media,
)
from tests.unit.test_site_pages import T0, make_event, make_session

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

SENTENCE = ("Les villes neutres pour le climat partagent leurs plans d’action,"
            " quartier par quartier.")
PLAYER = "#live-player"


def fill_feed(feeds: TranscriptFeeds, room_key: str) -> None:
    feed = feeds.feed(room_key)
    for n in range(40):  # enough paragraphs for the panel to scroll
        start = n * 10.0
        feed.publish(0, [Word(start + i * 0.4, start + i * 0.4 + 0.35, " " + token)
                         for i, token in enumerate(SENTENCE.split())])


def publish_room(site: Path, media: Path) -> tuple[str, str]:
    """The room's live page, status.json (on air) and HLS, and the site's assets; the
    page's path under the site, and the room's key in the transcript feeds."""
    session = make_session("g1", "ouverture", T0, evil=False)
    event = make_event(session)
    room_dir = site / room_prefix(event.slug, session.room)
    room_dir.mkdir(parents=True)
    (site / event.slug / "assets").mkdir()
    for name, data in static_assets():
        (site / event.slug / "assets" / name).write_bytes(data)
    html = render_live_page(event, session.room, page=LivePage(4.0, transcript=DEFAULT_BASE),
                            has_hls_js=True)
    (room_dir / "index.html").write_text(html, encoding="utf-8")
    replays = [{"title": f"Table ronde {n}", "url": f"../../s{n}/index.html",
                "start_label": f"{9 + n}\u00a0h\u00a000", "live_replay": True}
               for n in range(8)]  # the day's: the programme runs below the panel
    status = {"room": session.room, "on_air": True, "live": "hls/master.m3u8", "day": None,
              "current": None, "next": None, "replays": replays, "player_delay": None}
    (room_dir / "status.json").write_text(json.dumps(status), encoding="utf-8")
    shutil.copytree(media / "hls", room_dir / "hls")
    return (f"{room_prefix(event.slug, session.room)}/index.html",
            feed_key(event.slug, session.room))


@pytest_asyncio.fixture(scope="module")
async def live_page(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    root = tmp_path_factory.mktemp("live-player")
    (root / "media").mkdir()
    make_media(root / "media")
    page, room_key = publish_room(root / "site", root / "media")
    feeds = TranscriptFeeds()
    fill_feed(feeds, room_key)
    async with serve_live_pages(feeds, site_dir=root / "site") as url:
        yield f"{url}/site/{page}"


async def open_live(browser: Browser, url: str, **options: Any
                    ) -> tuple[BrowserContext, Page, list[str]]:
    options.setdefault("bypass_csp", True)  # for axe
    context = await browser.new_context(locale="fr-FR", **options)
    page = await context.new_page()
    await page.add_init_script(LISTEN)
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(url)
    await page.wait_for_function("() => window.replayLive && document.querySelector("
                                 f"'{PLAYER}').readyState >= 1")
    await page.wait_for_function("() => document.querySelector('[data-live-transcript]')"
                                 ".textContent.includes('quartier')")
    return context, page, errors


async def player(page: Page, expression: str) -> object:
    return await page.eval_on_selector(PLAYER, f"v => {expression}")


async def test_the_quality_menu_lists_the_live_levels_and_auto(
        browser: Browser, live_page: str) -> None:
    context, page, errors = await open_live(browser, live_page)
    try:
        await page.locator("#quality-box").wait_for(state="visible")
        qualities = await page.eval_on_selector_all("#quality option",
                                                    "o => o.map(x => x.textContent)")
        assert qualities[0].startswith("Auto")
        assert qualities[1:] == ["360p", "180p"]
        low = await page.evaluate("() => window.replayLive.hls.levels.findIndex("
                                  "l => l.height === 180)")
        await page.select_option("#quality", label="180p")
        assert await page.evaluate("() => window.replayLive.hls.manualLevel") == low
        await page.wait_for_function(f"() => document.querySelector('{PLAYER}')"
                                     ".videoHeight === 180")
        await page.select_option("#quality", value="-1")
        assert await page.evaluate("() => window.replayLive.hls.autoLevelEnabled")
        assert await page.locator("#speed").count() == 0  # a live plays in real time
        assert await axe_violations(page) == []
        assert errors == []
    finally:
        await context.close()


async def test_the_keyboard_shortcuts_are_listed_and_work(
        browser: Browser, live_page: str) -> None:
    context, page, errors = await open_live(browser, live_page)
    try:
        listed = page.locator("#shortcuts")
        await listed.wait_for(state="visible")
        assert "Raccourcis clavier" in (await listed.text_content() or "")
        for key in ("k", "Espace", "j", "l", "c", "m", "f"):
            assert await page.locator("#shortcuts kbd", has_text=key).count() >= 1, key
        assert "accélérer" not in (await listed.text_content() or "")
        await page.evaluate("() => document.activeElement.blur()")
        await page.keyboard.press("k")  # the live starts playing (muted) on its own
        await page.wait_for_function(f"() => document.querySelector('{PLAYER}').paused")
        await page.keyboard.press(" ")
        await page.wait_for_function(f"() => !document.querySelector('{PLAYER}').paused")
        await page.keyboard.press("k")
        await page.wait_for_function(f"() => document.querySelector('{PLAYER}').paused")
        await page.eval_on_selector(PLAYER, "v => { v.currentTime = 1; }")
        await page.keyboard.press("l")  # 10 s on, but no nearer the edge than the delay
        await page.wait_for_function(f"() => document.querySelector('{PLAYER}')"
                                     ".currentTime > 5")
        assert await page.evaluate(f"() => document.querySelector('{PLAYER}').currentTime"
                                   " <= window.replayLive.hls.liveSyncPosition + 0.5")
        await page.keyboard.press("j")
        await page.wait_for_function(f"() => document.querySelector('{PLAYER}')"
                                     ".currentTime < 2")
        assert await player(page, "v.muted") is True
        await page.keyboard.press("m")
        assert await player(page, "v.muted") is False
        await show_a_cue(page)
        await page.keyboard.press("c")
        assert await player(page, "v.textTracks[0].mode") == "hidden"
        await page.keyboard.press("c")
        assert await player(page, "v.textTracks[0].mode") == "showing"
        assert errors == []
    finally:
        await context.close()


async def show_a_cue(page: Page) -> None:
    """A caption on screen, added as hls.js adds the live's (`renderTextTrackCues`): a
    text track of the video, styled by the page's `::cue`."""
    await page.eval_on_selector(PLAYER, """(v, text) => {
      const track = v.addTextTrack('captions', 'Français', 'fr');
      track.mode = 'showing';
      track.addCue(new VTTCue(0, 3600, text)); }""", CUE)
    await page.wait_for_function(f"() => document.querySelector('{PLAYER}').textTracks[0]"
                                 ".activeCues.length > 0")


async def test_on_a_phone_the_live_stays_in_view_beside_the_transcript(
        browser: Browser, live_page: str) -> None:
    context, page, errors = await open_live(browser, live_page, **PHONE)
    try:
        video_bottom = await page.eval_on_selector(
            PLAYER, "v => v.getBoundingClientRect().bottom + window.scrollY")
        await page.locator("#replays li").first.wait_for()
        await page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        assert await page.evaluate("() => window.scrollY") > video_bottom  # scrolled past it
        await in_view(page)
        # Reading the panel: its end in view, then scrolled back inside.
        panel = page.locator("[data-live-transcript]")
        await panel.evaluate("p => p.scrollIntoView({ block: 'end' })")
        await panel.evaluate("p => { p.scrollTop = p.scrollHeight / 2; }")
        box = await in_view(page)
        panel_box = await panel.bounding_box()
        assert panel_box is not None
        assert panel_box["y"] + panel_box["height"] > box["bottom"] + 100  # text to read
        assert await axe_violations(page) == []
        assert errors == []
    finally:
        await context.close()


async def in_view(page: Page) -> dict[str, float]:
    box: dict[str, float] = await page.eval_on_selector(
        PLAYER, "v => v.getBoundingClientRect().toJSON()")
    assert box["height"] > 100, box
    assert box["top"] >= 0, box
    assert box["bottom"] <= 844, box
    return box


async def test_live_captions_are_readable_on_a_phone(browser: Browser, live_page: str) -> None:
    context, page, errors = await open_live(browser, live_page, **PHONE)
    try:
        await page.eval_on_selector(PLAYER, "v => { v.pause(); v.controls = false; }")
        await show_a_cue(page)
        shot = await page.locator(PLAYER).screenshot()
        ink = await page.evaluate(INK_HEIGHT, base64.b64encode(shot).decode())
        # As on the session page: 16 px letters ink about 15 px, Chromium's default 9.
        assert ink >= 14, ink
        assert errors == []
    finally:
        await context.close()


async def test_the_controls_run_under_the_pages_content_security_policy(
        browser: Browser, live_page: str) -> None:
    context, page, errors = await open_live(browser, live_page, bypass_csp=False)
    try:
        await page.locator("#quality-box").wait_for(state="visible")
        await page.locator("#shortcuts").wait_for(state="visible")
        assert await page.evaluate("window.__violations") == []
        assert errors == []
    finally:
        await context.close()
