"""Shared by the browser tests: one headless Chromium (Debian's) for the whole run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest_asyncio

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
#: Without the background-networking flags Chromium tries to reach Google's hosts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A page for tests that drive the site. The CSP is bypassed so that Playwright's own
    helpers (wait_for_function's predicates, axe injected as a script) can run; the CSP
    itself is tested without bypass in test_csp_browser.py."""
    context = await browser.new_context(locale="fr-FR", bypass_csp=True)
    page = await context.new_page()
    page.set_default_timeout(20_000)
    yield page
    await context.close()
