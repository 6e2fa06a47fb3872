"""The whole organiser journey in headless Chromium, against a real server with its workers
(real ffmpeg, real Whisper base) on the small shared sample, under a strict
Content-Security-Policy, with axe-core on every page:

create the event → import its programme → upload the recording (tus) → review the cut
(hear and see a boundary, an implausible move asks first) → correct a caption → validate
each language → publish → search the corrected word on the public site → withdraw a
session.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from aiohttp import web

from replay.domain.programme import parse_programme
from replay.sample import SampleTruth
from replay.settings import Settings
from replay.store.db import Store
from replay.web.app import create_app
from replay.web.auth import users_for
from replay.web.keys import DB

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
EMAIL, PASSWORD = "orga@example.org", "mot de passe de l’organisatrice"
EDITOR_EMAIL = "edith@example.org"
WORD = "Tournesol"  # the editor's correction, never in the machine's text
PUBLISHED = re.compile(r"^publiée$")  # not « non publiée »
PROCESSING = 300_000  # ms: analysis, transcoding and Whisper on two one-minute sessions
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")


@dataclass
class Server:
    url: str
    app: web.Application


def strict_csp() -> Any:
    """What the pages must live with: no inline script or style, no style attribute,
    nothing else."""

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Content-Security-Policy"] = CSP

    return add


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    settings = Settings(data_dir=tmp_path / "data", cpu_threads=2)
    app = create_app(settings)  # with its workers and Whisper as the settings say
    app.on_response_prepare.append(strict_csp())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    try:
        await site.start()

        def accounts(store: Store) -> None:
            users = users_for(store.db, settings)
            users.add(EMAIL, "Orga", "organiser", PASSWORD)
            users.add(EDITOR_EMAIL, "Édith", "editor", PASSWORD)

        await app[DB].run(accounts)  # the workers may use the store's thread meanwhile
        yield Server(f"http://127.0.0.1:{runner.addresses[0][1]}", app)
    finally:
        await runner.cleanup()


@dataclass
class Watch:
    """What went wrong in the browser while the journey ran."""

    page: Page
    errors: list[str]
    checked: dict[str, list[str]]

    async def axe(self, name: str) -> None:
        assert AXE.is_file(), "axe-core is missing: run scripts/setup.sh (npm ci)"
        await self.page.evaluate(AXE.read_text(encoding="utf-8"))  # not an inline script
        result = await self.page.evaluate(
            "() => axe.run(document, { resultTypes: ['violations'] })")
        self.checked[name] = [f"{v['id']}: {[n['target'] for n in v['nodes']]}"
                              for v in result["violations"]]


@pytest_asyncio.fixture
async def watch(page: Page) -> Watch:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"script: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}")
            if "Content Security Policy" in message.text else None)
    page.set_default_timeout(30_000)
    return Watch(page, errors, {})


async def log_in(page: Page, server: Server, email: str) -> None:
    await page.goto(server.url + "/")
    await page.wait_for_url("**/connexion")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")


async def test_the_organiser_journey(watch: Watch, server: Server,
                                     sample: SampleTruth) -> None:
    page = watch.page
    programme = parse_programme(sample.schedule.read_bytes())
    slug = programme.slug
    dashboard = f"{server.url}/organisateur/evenements/{slug}"

    # -- log in: the organiser lands on their events -----------------------------------
    await page.goto(server.url + "/connexion")
    await watch.axe("connexion")
    await log_in(page, server, EMAIL)
    await page.wait_for_url(server.url + "/organisateur/")
    await watch.axe("évènements")

    # -- create the event from the page, with its publication rule ---------------------
    await page.get_by_role("link", name="Créer un évènement").click()
    await page.wait_for_url("**/nouvel-evenement")
    await watch.axe("création")
    await page.fill("#nom", programme.title)
    await page.fill("#debut-evenement", programme.start.isoformat())
    await page.fill("#fin-evenement", programme.end.isoformat())
    await page.fill("#salles", sample.room)
    await page.set_input_files("#programme-fichier", str(sample.schedule))
    await page.get_by_label("Après validation des sous-titres").check()
    await page.get_by_role("button", name="Voir l’aperçu").click()
    await page.locator("#apercu-seances li", has_text="Premier atelier").wait_for()
    assert await page.locator("#apercu-seances li").count() == 2
    assert await store_has_no_event(server, slug), "the preview creates nothing"
    await watch.axe("création, aperçu")
    await page.get_by_role("button", name="Créer l’évènement").click()
    await page.wait_for_url(dashboard)
    await watch.axe("tableau de bord")
    assert await page.locator('input[value="apres_sous_titres"]').is_checked()

    # -- import the programme again: the preview of changes says there is none ---------
    await page.set_input_files("#programme-fichier", str(sample.schedule))
    await page.get_by_role("button", name="Voir les changements").click()
    await page.locator("#programme-etat", has_text="Aucun changement").wait_for()

    # -- upload with tus; the start is read from the file before anything is sent ------
    await page.get_by_role("link", name="Envoyer un enregistrement").first.click()
    await page.wait_for_url("**/envoi")
    await page.set_input_files("#fichier", str(sample.recording))
    await page.locator("#lecture-fichier", has_text="Heure lue dans le fichier").wait_for()
    assert await page.input_value("#debut") == \
        sample.started_at.strftime("%Y-%m-%dT%H:%M:%S")
    await watch.axe("envoi")
    await page.click("#envoyer")
    await page.locator("#message", has_text="Envoi terminé").wait_for(timeout=60_000)
    await page.get_by_role("link", name="Suivre le traitement").click()
    await page.wait_for_url(dashboard)

    # -- review the cut: the rule holds both sessions back, and says why ---------------
    first = page.locator("#lignes-seances tr[data-guid]").first
    await first.locator(".publication-reason", has_text="validez le découpage").wait_for(
        timeout=PROCESSING)
    boundary = page.locator("table.boundaries tr[data-guid]").first
    await boundary.get_by_role("button", name="Écouter et voir").first.click()
    zoom = page.locator("tr.zoom-row:not([hidden])")
    await zoom.locator("svg.waveform path.peaks").wait_for()
    assert await zoom.locator("svg.waveform rect.zoom-speech").count() >= 1
    await page.wait_for_function(
        "() => document.querySelector('tr.zoom-row:not([hidden]) audio').readyState >= 1")
    assert await page.evaluate(
        "() => document.querySelector('tr.zoom-row:not([hidden]) audio').duration") > 10
    start_input = boundary.get_by_label("Début (min:s)")
    before = await start_input.input_value()
    await zoom.get_by_role("slider").focus()
    await page.keyboard.press("ArrowRight")
    nudged = await start_input.input_value()
    assert nudged != before  # the handle moves the boundary, by keyboard
    box = await zoom.locator("svg.waveform").bounding_box()
    assert box is not None
    middle = box["y"] + box["height"] / 2
    await page.mouse.move(box["x"] + box["width"] * 0.5, middle)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.75, middle, steps=5)
    await page.mouse.up()
    assert await start_input.input_value() not in {before, nudged}  # and by dragging
    await watch.axe("découpage, zoom")
    minutes, seconds = (await start_input.input_value()).replace(",", ".").split(":")
    slip = int(minutes) * 60 + float(seconds) + 5  # a session of five seconds: a slip
    await boundary.get_by_label("Fin (min:s)").fill(f"{int(slip // 60)}:{slip % 60:04.1f}")
    await boundary.get_by_role("button", name="Déplacer").click()
    dialog = page.locator("dialog#confirmation")
    await dialog.locator("#confirmation-texte", has_text="ne durerait plus que 5").wait_for()
    await watch.axe("découpage, confirmation")
    await dialog.get_by_role("button", name="Annuler").click()
    await boundary.locator(".plan-error", has_text="rien n’a changé").wait_for()
    await page.get_by_role("button", name="Valider le découpage").click()
    await page.locator(".plan-state", has_text="Découpage validé.").wait_for()
    await first.locator(".publication-reason",
                        has_text="sous-titres français et anglais à valider").wait_for()

    # -- correct a caption, validate each language -------------------------------------
    await first.get_by_role("link", name="Corriger les sous-titres").click()
    await page.wait_for_selector("#editeur[data-ready=oui]")
    await watch.axe("éditeur")
    text = page.locator("#reperes-fr textarea").first
    await text.fill(f"{WORD} {await text.input_value()}")
    await page.locator("#etat-enregistrement", has_text="Enregistré").wait_for()
    await page.click("#envoyer-relecture-fr")
    await page.locator("#message-fr", has_text="Déjà en relecture").wait_for()
    await page.click("#valider-fr")
    await page.locator("#etat-fr", has_text="validé").wait_for()
    assert "brouillon automatique" in (await page.text_content("#etat-en") or "")
    await page.goto(dashboard)
    await first.locator(".publication-reason", has_text="sous-titres anglais à valider"
                        ).wait_for()
    await first.get_by_role("link", name="Corriger les sous-titres").click()
    await page.wait_for_selector("#editeur[data-ready=oui]")
    await page.click("#valider-en")
    await page.locator("#etat-en", has_text="validé").wait_for()

    # -- published by the rule; the second session by the organiser's decision ---------
    await page.goto(dashboard)
    await first.locator("td[data-stage='publish'] .stage-status", has_text=PUBLISHED
                        ).wait_for(timeout=60_000)
    second = page.locator("#lignes-seances tr[data-guid]").nth(1)
    await second.locator(".publication-reason", has_text="sous-titres français et anglais"
                         ).wait_for(timeout=PROCESSING)  # its Whisper may still be running
    await second.get_by_role("button", name="Publier maintenant").click()
    await second.locator("td[data-stage='publish'] .stage-status", has_text=PUBLISHED
                         ).wait_for(timeout=60_000)

    # -- the public site: transcript, downloads and search come from the corrections ---
    session_slug = programme.sessions[0].slug
    await page.goto(f"{server.url}/site/{slug}/{session_slug}/")
    await watch.axe("site, séance")
    assert WORD in (await page.text_content("#transcript") or "")
    assert "générés automatiquement" not in (await page.content())
    download = await page.request.get(f"{server.url}/site/{slug}/{session_slug}/"
                                      "transcript.fr.txt")
    assert WORD in await download.text()
    await page.goto(f"{server.url}/site/{slug}/{programme.sessions[1].slug}/")
    assert "Sous-titres générés automatiquement" in (await page.content())
    await page.goto(f"{server.url}/site/{slug}/")
    await watch.axe("site, index")
    await page.fill("#q", WORD.lower())
    await page.press("#q", "Enter")
    await page.locator("#results a.time").first.wait_for()
    assert session_slug in (await page.locator("#results a.time").first.get_attribute("href")
                            or "")
    await watch.axe("site, recherche")

    # -- withdraw a session ------------------------------------------------------------
    await page.goto(dashboard)
    await first.get_by_role("button", name="Retirer").click()
    await page.locator("dialog#confirmation").get_by_role("button", name="Retirer").click()
    await page.locator("#etat", has_text="Retrait demandé").wait_for()
    # the withdrawal is the publication job's work (under the event's publish lock)
    await _until_gone(page, f"{server.url}/site/{slug}/{session_slug}/")
    gone = await page.goto(f"{server.url}/site/{slug}/{session_slug}/")
    assert gone is not None
    assert gone.status == 404
    assert "Page introuvable" in (await page.text_content("h1") or "")
    await watch.axe("site, page retirée")
    await page.goto(f"{server.url}/site/{slug}/")
    assert programme.sessions[0].title not in (await page.text_content("main") or "")

    # -- the editor lands on their own home, not on an error ---------------------------
    await page.context.clear_cookies()
    await log_in(page, server, EDITOR_EMAIL)
    await page.wait_for_url(server.url + "/edition/")
    await watch.axe("édition, liste")

    assert watch.errors == []
    assert watch.checked == {name: [] for name in watch.checked}


async def store_has_no_event(server: Server, slug: str) -> bool:
    return await server.app[DB].run(lambda store: store.load_event(slug)) is None


async def _until_gone(page: Page, url: str, *, attempts: int = 120) -> None:
    """Wait (half a second at a time, a minute at most) until `url` answers 404."""
    for _ in range(attempts):
        response = await page.request.get(url)
        if response.status == 404:
            return
        await page.wait_for_timeout(500)
    raise AssertionError(f"{url} still published after the withdrawal's job")
