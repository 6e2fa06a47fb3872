"""Every page under the strict Content-Security-Policy in headless Chromium: the login
page, the organisers' pages (events, a dashboard with its cut plan, the upload page, the
account page), the subtitle editor and a published session page with its player. The
browser must report no violation, and what used to be inline (the login page's style,
the cut colours) must still show."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from aiohttp import web

from replay.settings import Settings
from replay.site.publish import publish_event
from replay.storage.local import LocalDirectoryStore
from replay.store.db import Store
from replay.web.app import create_app
from replay.web.auth import users_for
from replay.web.keys import DB
from tests.app_store import own_store
from tests.e2e.test_dashboard_browser import EMAIL, PASSWORD, SLUG, add_planned_recording, event
from tests.e2e.test_dashboard_browser import Server as DashboardServer
from tests.unit.test_site_pages import T0, fake_outputs, make_event, make_session

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = pytest.mark.browser

#: Collects what the browser refuses, before any script of the page runs.
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@dataclass
class Server:
    url: str
    app: web.Application


@pytest_asyncio.fixture
async def strict_page(browser: Browser) -> AsyncIterator[Page]:
    """A page that keeps the CSP (the shared `page` fixture bypasses it)."""
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    page.set_default_timeout(20_000)
    yield page
    await context.close()


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    settings = Settings(data_dir=tmp_path / "data", cpu_threads=1)
    app = create_app(settings, run_workers=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    try:
        await site.start()

        def seed(store: Store) -> None:
            store.save_event(event())
            users_for(store.db, settings).add(EMAIL, "Orga", "organiser", PASSWORD)

        await app[DB].run(seed)
        first = make_session("g1", "ouverture", T0, evil=False)
        second = make_session("g2", "table-ronde", T0 + timedelta(hours=2), evil=False)
        await publish_event(LocalDirectoryStore(settings.site_dir), make_event(first, second),
                            [fake_outputs(tmp_path / "work", first)], drafts=True)
        yield Server(f"http://127.0.0.1:{runner.addresses[0][1]}", app)
    finally:
        await runner.cleanup()


async def visit(page: Page, url: str) -> None:
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    violations = await page.evaluate("window.__violations")
    assert violations == [], url


async def test_no_page_breaks_the_policy(strict_page: Page, server: Server) -> None:
    page = strict_page
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    await page.add_init_script(LISTEN)
    async with own_store(server.app) as store:
        recording = add_planned_recording(DashboardServer(server.url, server.app, store))

    await visit(page, f"{server.url}/connexion")
    colour = await page.eval_on_selector("label", "l => getComputedStyle(l).fontWeight")
    assert colour == "600"  # login.css applies
    await page.fill("#email", EMAIL)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server.url}/organisateur/")
    for path in ("/organisateur/", f"/organisateur/evenements/{SLUG}",
                 f"/organisateur/evenements/{SLUG}/envoi", "/compte",
                 f"/edition/{recording}/g0"):
        await visit(page, server.url + path)
        if path == f"/organisateur/evenements/{SLUG}":
            swatch = page.locator(".legend .swatch").first
            await swatch.wait_for()
            background = await swatch.evaluate("s => getComputedStyle(s).backgroundColor")
            assert background == "rgb(0, 80, 143)"  # the first cut's colour, from the CSS
    await visit(page, f"{server.url}/site/villes-2026/ouverture/index.html")
    assert await page.locator("video").count() == 1
    assert refused == []
