"""The organisers' pages in headless Chromium against a real server (workers off).

Log in through the form, upload with tus from the browser (a small file, then a ~20 MB
one whose PATCH is cut once: it must resume and complete), and watch the dashboard follow
a job's progress and failure without reloading.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from aiohttp import web

from replay.domain.cutplan import Cut
from replay.domain.model import Event, Session
from replay.domain.publication import Release
from replay.domain.stages import StageStatus
from replay.jobs.queue import JobSpec
from replay.settings import Settings
from replay.store.db import Store
from replay.web.api_sessions import speech_map_path
from replay.web.app import create_app
from replay.web.auth import users_for
from replay.web.keys import DB, QUEUE, SETTINGS
from tests.app_store import own_store

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Route

pytestmark = pytest.mark.browser

SLUG = "villes-2026"
EMAIL, PASSWORD = "orga@example.org", "mot de passe de l’organisatrice"
PARIS_9H = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def event() -> Event:
    sessions = tuple(
        Session(guid=f"g{i}", title=f"Table ronde {i}", room="Salle A",
                start=PARIS_9H + timedelta(hours=i), duration=timedelta(minutes=50),
                slug=f"table-ronde-{i}")
        for i in range(2))
    return Event(slug=SLUG, title="Villes & climat", start=date(2026, 3, 3),
                 end=date(2026, 3, 3), timezone="Europe/Paris", rooms=("Salle A", "Salle B"),
                 sessions=sessions)


def ffmpeg(target: Path, seconds: int, size: str, video: list[str]) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
         "-t", str(seconds), *video, "-c:a", "pcm_s16le", str(target)],
        check=True, timeout=120)
    return target


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    small = ffmpeg(folder / "petit.mkv", 5, "160x90", ["-c:v", "libx264", "-preset",
                                                       "ultrafast"])
    # raw video: ~21 MB in a second of encoding, three tus chunks of 8 MiB
    large = ffmpeg(folder / "grand.mkv", 10, "320x180", ["-c:v", "rawvideo",
                                                         "-pix_fmt", "yuv420p"])
    dated_mkv = ffmpeg(folder / "date.mkv", 2, "160x90", [
        "-c:v", "libx264", "-preset", "ultrafast", "-metadata",
        "creation_time=2026-03-03T08:00:00Z"])
    dated_mp4 = folder / "date.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(dated_mkv),
                    "-c:v", "copy", "-c:a", "aac", "-metadata",
                    "creation_time=2026-03-03T09:15:30Z", str(dated_mp4)],
                   check=True, timeout=120)
    return {"small": small, "large": large, "dated_mkv": dated_mkv, "dated_mp4": dated_mp4}


@dataclass
class Server:
    url: str
    app: web.Application
    store: Store  # the test's own connection (`own_store`); the app's runs on its thread


def build_app(settings: Settings) -> web.Application:
    return create_app(settings, run_workers=False)


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    settings = Settings(data_dir=tmp_path, cpu_threads=1)
    app = build_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    try:
        await site.start()

        def seed(store: Store) -> None:
            store.save_event(event())
            users_for(store.db, settings).add(EMAIL, "Orga", "organiser", PASSWORD)

        await app[DB].run(seed)  # scrypt: a blink, in a test
        port = runner.addresses[0][1]
        async with own_store(app) as store:
            yield Server(f"http://127.0.0.1:{port}", app, store)
    finally:
        await runner.cleanup()


async def log_in(page: Page, server: Server, path: str) -> None:
    await page.goto(server.url + path)
    assert "/connexion" in page.url
    await page.fill("#email", EMAIL)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(server.url + path)


async def upload(page: Page, server: Server, file: Path) -> None:
    await log_in(page, server, f"/organisateur/evenements/{SLUG}/envoi")
    await page.select_option("#salle", "Salle A")
    await page.fill("#debut", "2026-03-03T09:00:00")
    await page.set_input_files("#fichier", str(file))
    await page.click("#envoyer")
    await page.wait_for_function(
        "document.getElementById('message').textContent.startsWith('Envoi terminé')",
        timeout=60_000)
    assert await page.get_attribute("#progression", "aria-valuetext") == "100\u00a0% — terminé"
    assert await page.eval_on_selector("#progression", "p => p.value") == 100


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_small_upload_completes_with_its_start_in_paris_time(
        page: Page, server: Server, media: dict[str, Path]) -> None:
    await upload(page, server, media["small"])
    [recording] = server.store.recordings_of(SLUG)
    assert recording.room == "Salle A"
    assert recording.sha256 == sha256(media["small"])
    assert recording.started_at == PARIS_9H
    assert recording.source_name == "petit.mkv"
    response = await page.request.get(f"{server.url}/api/events/{SLUG}/recordings")
    assert [r["sha256"] for r in (await response.json())["recordings"]] == [recording.sha256]


async def test_a_large_upload_resumes_after_a_network_drop(
        page: Page, server: Server, media: dict[str, Path]) -> None:
    seen: list[str] = []

    async def cut_second_patch(route: Route) -> None:
        method = route.request.method
        seen.append(method)
        if method == "PATCH" and seen.count("PATCH") == 2:
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await page.route("**/api/uploads/**", cut_second_patch)
    await upload(page, server, media["large"])
    assert seen.count("PATCH") >= 4  # three chunks, one of them sent twice
    assert "HEAD" in seen[seen.index("PATCH") + 1:]  # it asked where to resume
    [recording] = server.store.recordings_of(SLUG)
    assert recording.sha256 == sha256(media["large"])


async def test_an_upload_waits_offline_then_resumes(
        page: Page, server: Server, media: dict[str, Path]) -> None:
    """The browser goes offline mid-upload: the page says so, and resumes once online."""
    seen: list[str] = []

    async def go_offline(route: Route) -> None:
        seen.append(route.request.method)
        if route.request.method == "PATCH" and seen.count("PATCH") == 2:
            await page.context.set_offline(True)
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await page.route("**/api/uploads/**", go_offline)
    waiting = asyncio.create_task(page.locator("#message", has_text="au retour du réseau")
                                  .wait_for(timeout=60_000))
    uploading = asyncio.create_task(upload(page, server, media["large"]))
    await waiting
    await page.context.set_offline(False)
    await uploading
    [recording] = server.store.recordings_of(SLUG)
    assert recording.sha256 == sha256(media["large"])


def add_planned_recording(server: Server) -> int:
    store = server.store
    recording = store.add_recording(event_slug=SLUG, room="Salle A", sha256="ab" * 32,
                                    original=Path("/nonexistent.mkv"), source_name="salle-a.mkv",
                                    started_at=PARIS_9H)
    store.set_probe(recording.id, 7200.0, {})
    store.save_cuts(recording.id, [
        Cut("g0", "Table ronde 0", 0.0, 3000.0, 20.0, 3010.0, True, True),
        Cut("g1", "Table ronde 1", 3600.0, 6600.0, 3590.0, 6650.0, True, True),
    ])
    speech = speech_map_path(server.app[SETTINGS], recording)
    speech.parent.mkdir(parents=True, exist_ok=True)
    speech.write_text(json.dumps([[25.0, 1500.0], [1600.0, 3000.0], [3600.0, 6600.0]]))
    return recording.id



async def test_the_dashboard_follows_progress_and_failures_live(page: Page,
                                                                  server: Server) -> None:
    recording = add_planned_recording(server)
    await log_in(page, server, f"/organisateur/evenements/{SLUG}")
    await page.wait_for_selector("svg.timeline g.cut[data-guid='g1']")
    assert await page.locator("svg.timeline rect.speech").count() == 3
    assert await page.locator("svg.timeline line.scheduled").count() == 4

    queue = server.app[QUEUE]
    await queue.enqueue(JobSpec("media_session", {"recording": recording, "guid": "g0"},
                                queue="media", lock=f"media:{recording}:g0", max_attempts=1))
    job = await queue.fetch(["media"], "test-worker", 60)
    assert job is not None
    await queue.heartbeat(job.id, job.attempt, progress=0.42, eta=65, lease_seconds=60)
    cell = page.locator("tr[data-guid='g0'] td[data-stage='media']")
    await cell.locator(".stage-detail", has_text="42\u00a0% — reste 1\u00a0min\u00a005\u00a0s"
                       ).wait_for()
    assert await cell.locator("progress").get_attribute("aria-valuetext") == \
        "42\u00a0% — reste 1\u00a0min\u00a005\u00a0s"
    assert await cell.locator(".stage-status").text_content() == "en cours"

    await queue.fail(job.id, job.attempt, "job timed out after 3600 s", retry_at=None,
                     permanent=True)
    row = page.locator("tr[data-guid='g0']")
    await row.locator(".session-error", has_text="temps maximal").wait_for()
    assert await cell.locator(".stage-status").text_content() == "échec"
    await row.get_by_role("button", name="Réessayer").click()
    await page.locator("#etat", has_text="Relance demandée").wait_for()
    await cell.locator(".stage-status", has_text="en attente").wait_for()
    retried = await queue.get(job.id)
    assert retried is not None
    assert retried.status == "todo"


async def test_a_refused_boundary_move_shows_the_french_reason(page: Page,
                                                                 server: Server) -> None:
    add_planned_recording(server)
    await log_in(page, server, f"/organisateur/evenements/{SLUG}")
    row = page.locator("table.boundaries tr[data-guid='g1']")
    await row.wait_for()
    await row.get_by_label("Début (min:s)").fill("10:00")  # before the end of g0
    await row.get_by_role("button", name="Déplacer").click()
    error = row.locator(".plan-error")
    await error.wait_for()
    assert "Limite refusée" in (await error.text_content() or "")

    await row.get_by_label("Début (min:s)").fill("1:00:30")
    await row.get_by_role("button", name="Déplacer").click()
    await page.locator(".plan-message", has_text="Limite déplacée").wait_for()
    cut = next(c for c in server.store.load_cuts(1) if c.guid == "g1")
    assert cut.start == 3630.0
    await page.get_by_role("button", name="Valider le découpage").click()
    await page.locator(".plan-state", has_text="Découpage validé.").wait_for()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


async def test_the_pages_pass_axe(page: Page, server: Server) -> None:
    assert AXE.is_file(), "axe-core is missing: run scripts/setup.sh (npm ci)"
    add_planned_recording(server)
    await log_in(page, server, f"/organisateur/evenements/{SLUG}")
    for path in (f"/organisateur/evenements/{SLUG}", f"/organisateur/evenements/{SLUG}/envoi",
                 "/organisateur/"):
        await page.goto(server.url + path)
        if path.endswith(SLUG):
            await page.wait_for_selector("svg.timeline")
        await page.add_script_tag(path=str(AXE))
        violations = await page.evaluate(
            "async () => (await axe.run()).violations.map(v => v.id + ': ' + v.help)")
        assert violations == [], path


# -- defects of issue 8, one test each ----------------------------------------------------


def add_clip_outside_the_programme(server: Server) -> int:
    """An upload that matched no session: one clip of the whole recording, processed."""
    store = server.store
    recording = store.add_recording(event_slug=SLUG, room="Salle B", sha256="cd" * 32,
                                    original=Path("/nonexistent.mkv"), source_name="erreur.mkv",
                                    started_at=PARIS_9H + timedelta(hours=5))
    store.set_probe(recording.id, 8.0, {})
    store.save_cuts(recording.id, [Cut("recording-cdcdcdcdcdcd", "Salle B — 03/03/2026 14:00",
                                       0.0, 8.0, 0.0, 8.0, False, False)])
    for stage in ("media", "speech"):
        store.set_stage(recording.id, "recording-cdcdcdcdcdcd", stage, input_key="",
                        status=StageStatus.DONE, progress=1.0)
    return recording.id


async def test_a_clip_outside_the_programme_does_not_freeze_the_dashboard(
        page: Page, server: Server) -> None:
    add_planned_recording(server)
    add_clip_outside_the_programme(server)
    await log_in(page, server, f"/organisateur/evenements/{SLUG}")
    clip = page.locator("#lignes-seances tr[data-guid='recording-cdcdcdcdcdcd']")
    await clip.locator(".tag", has_text="hors programme").wait_for()
    await clip.locator(".publication-reason", has_text="validez le découpage").wait_for()
    assert await clip.get_by_role("button", name="Publier maintenant").is_visible()
    assert await clip.get_by_role("link", name="Corriger les sous-titres").is_visible()
    for guid in ("g0", "g1"):
        status = page.locator(f"#lignes-seances tr[data-guid='{guid}'] .stage-status").first
        await status.filter(has_not_text="chargement").wait_for()
    await page.wait_for_timeout(2500)  # a second poll
    assert "perdue" not in (await page.text_content("#etat") or "")
    assert await page.locator("#erreur-page").is_hidden()


async def test_a_script_error_is_not_reported_as_a_network_loss(page: Page,
                                                                server: Server) -> None:
    answers = {"mode": "broken"}

    async def sessions(route: Route) -> None:
        if answers["mode"] == "offline":
            await route.abort("internetdisconnected")
        else:  # a shape the page cannot render: its script fails
            await route.fulfill(status=200, content_type="application/json",
                                body=json.dumps({"sessions": "pas une liste"}))

    await page.route("**/api/events/*/sessions", sessions)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    await log_in(page, server, f"/organisateur/evenements/{SLUG}")
    error = page.locator("#erreur-page")
    await error.filter(has_text="erreur d’affichage").wait_for()
    assert "perdue" not in (await page.text_content("#etat") or "")
    assert any(text.startswith("dashboard:") for text in console), console
    answers["mode"] = "offline"
    await page.locator("#etat", has_text="Connexion au serveur perdue").wait_for()


async def test_a_wrong_recording_is_deleted_from_the_page_and_withdrawn(
        page: Page, server: Server) -> None:
    kept = add_planned_recording(server)
    wrong = add_clip_outside_the_programme(server)
    clip = "recording-cdcdcdcdcdcd"
    server.store.set_stage(wrong, clip, "publish", input_key="", status=Release.RELEASED,
                           progress=1.0)
    published = server.app[SETTINGS].site_dir / SLUG / clip
    published.mkdir(parents=True)
    (published / "index.html").write_text("<p>erreur</p>", encoding="utf-8")
    await log_in(page, server, f"/organisateur/evenements/{SLUG}")
    await page.locator(f"#lignes-seances tr[data-guid='{clip}']").wait_for()
    row = page.locator(f"table.recordings tr[data-recording='{wrong}']")
    await row.get_by_role("button", name="Supprimer").click()
    dialog = page.locator("dialog#confirmation")
    await dialog.locator("#confirmation-texte", has_text="erreur.mkv").wait_for()
    await dialog.get_by_role("button", name="Annuler").click()
    assert [r.id for r in server.store.recordings_of(SLUG)] == [kept, wrong], \
        "cancelling deletes nothing"
    await row.get_by_role("button", name="Supprimer").click()
    await dialog.get_by_role("button", name="Supprimer").click()
    await page.locator("#etat", has_text="1 séance retirée du site").wait_for()
    assert await page.locator(f"#lignes-seances tr[data-guid='{clip}']").count() == 0
    assert await page.locator(f"article.plan[data-recording='{wrong}']").count() == 0
    assert [r.id for r in server.store.recordings_of(SLUG)] == [kept]
    assert [c.guid for c in server.store.load_cuts(kept)] == ["g0", "g1"]
    assert not (published / "index.html").exists()
    index = (server.app[SETTINGS].site_dir / SLUG / "index.html").read_text(encoding="utf-8")
    assert "Salle B" not in index


async def test_the_dashboard_fits_a_phone(browser: Browser, server: Server) -> None:
    add_planned_recording(server)
    add_clip_outside_the_programme(server)
    context = await browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844},
                                        device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await context.new_page()
    try:
        await log_in(page, server, f"/organisateur/evenements/{SLUG}")
        await page.wait_for_selector("svg.timeline")
        await page.locator("#lignes-seances tr[data-guid='recording-cdcdcdcdcdcd']").wait_for()
        for path in (f"/organisateur/evenements/{SLUG}", f"/organisateur/evenements/{SLUG}/envoi",
                     "/organisateur/", "/organisateur/nouvel-evenement"):
            await page.goto(server.url + path)
            if path.endswith(SLUG):
                await page.wait_for_selector("svg.timeline")
            width = await page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, (path, width)
    finally:
        await context.close()


async def test_the_publication_rule_is_chosen_on_the_dashboard(page: Page,
                                                               server: Server) -> None:
    await log_in(page, server, f"/organisateur/evenements/{SLUG}")
    assert await page.get_by_label("Après validation du découpage").is_checked()
    await page.get_by_label("Automatique").check()
    await page.get_by_role("button", name="Enregistrer la règle").click()
    await page.locator("#regle-etat", has_text="«\u00a0automatique\u00a0»").wait_for()
    response = await page.request.get(f"{server.url}/api/events/{SLUG}/options")
    assert (await response.json())["publication_rule"] == "automatique"
    await page.reload()
    assert await page.get_by_label("Automatique").is_checked()


async def methods_sent(page: Page, pattern: str) -> list[str]:
    """The methods of the requests the page sends to `pattern`, as they go."""
    sent: list[str] = []

    async def count(route: Route) -> None:
        sent.append(route.request.method)
        await route.continue_()

    await page.route(pattern, count)
    return sent


async def test_the_start_is_read_from_the_file_or_asked_before_any_byte(
        page: Page, server: Server, media: dict[str, Path]) -> None:
    sent = await methods_sent(page, "**/api/uploads/**")
    await log_in(page, server, f"/organisateur/evenements/{SLUG}/envoi")
    await page.set_input_files("#fichier", str(media["dated_mkv"]))
    await page.locator("#lecture-fichier", has_text="Heure lue dans le fichier").wait_for()
    assert await page.input_value("#debut") == "2026-03-03T09:00"  # 08:00 UTC in Paris
    await page.set_input_files("#fichier", str(media["dated_mp4"]))
    await page.wait_for_function(
        "document.getElementById('debut').value === '2026-03-03T10:15:30'")
    await page.fill("#debut", "")
    await page.set_input_files("#fichier", str(media["small"]))
    await page.locator("#lecture-fichier", has_text="ne dit pas quand").wait_for()
    await page.click("#envoyer")
    await page.locator("#erreur", has_text="Indiquez l’heure de début").wait_for()
    assert sent == [], "nothing is sent before the start is known"
    assert server.store.recordings_of(SLUG) == []


async def test_a_refused_upload_is_admitted_without_sending_it_again(
        page: Page, server: Server, media: dict[str, Path]) -> None:
    sent = await methods_sent(page, "**/api/**")
    await log_in(page, server, f"/organisateur/evenements/{SLUG}/envoi")
    await page.select_option("#salle", "Salle A")
    await page.fill("#debut", "2026-03-03T06:00:00")  # hours before the programme
    await page.set_input_files("#fichier", str(media["small"]))
    await page.click("#envoyer")
    correction = page.locator("#correction")
    await correction.locator("#correction-raison", has_text="hors du programme").wait_for()
    assert server.store.recordings_of(SLUG) == []
    patches = sent.count("PATCH")
    assert patches >= 1
    await page.fill("#correction-debut", "2026-03-03T09:00:00")
    await correction.get_by_role("button", name="Admettre l’enregistrement").click()
    await page.locator("#message", has_text="admis sans renvoi").wait_for()
    [recording] = server.store.recordings_of(SLUG)
    assert recording.started_at == PARIS_9H
    assert recording.sha256 == sha256(media["small"])
    assert sent.count("PATCH") == patches, "not a byte sent again"


async def test_the_pause_message_goes_when_the_upload_resumes(
        page: Page, server: Server, media: dict[str, Path]) -> None:
    async def slow(route: Route) -> None:
        if route.request.method == "PATCH":
            await asyncio.sleep(0.5)
        await route.continue_()

    await page.route("**/api/uploads/**", slow)
    await log_in(page, server, f"/organisateur/evenements/{SLUG}/envoi")
    await page.fill("#debut", "2026-03-03T09:00:00")
    await page.set_input_files("#fichier", str(media["large"]))
    await page.click("#envoyer")
    await page.locator("#pause").wait_for()
    await page.click("#pause")
    await page.locator("#message", has_text="en pause").wait_for()
    await page.click("#reprendre")
    await page.locator("#message", has_not_text="pause").wait_for()
    await page.locator("#message", has_text="Envoi terminé").wait_for(timeout=60_000)


#: Holds the browser's SHA-256 of the chosen file until the test lets it finish.
HELD_DIGEST = """() => {
  const digest = crypto.subtle.digest.bind(crypto.subtle);
  crypto.subtle.digest = async (...args) => {
    await new Promise((release) => { window.releaseDigest = release; });
    return digest(...args);
  };
}"""


async def test_a_pause_asked_while_the_file_is_read_waits_for_resume(
        page: Page, server: Server, tmp_path: Path) -> None:
    """The pause button shows as soon as « Envoyer » is clicked, while the browser still
    reads the file for its fingerprint: a click then must pause, not be lost."""
    recording = ffmpeg(tmp_path / "pause.mkv", 3, "160x90",
                       ["-c:v", "libx264", "-preset", "ultrafast"])
    sent = await methods_sent(page, "**/api/uploads**")
    await log_in(page, server, f"/organisateur/evenements/{SLUG}/envoi")
    await page.evaluate(HELD_DIGEST)
    await page.select_option("#salle", "Salle A")
    await page.fill("#debut", "2026-03-03T09:00:00")
    await page.set_input_files("#fichier", str(recording))
    await page.click("#envoyer")
    await page.wait_for_function("() => typeof window.releaseDigest === 'function'")
    await page.click("#pause")
    await page.locator("#message", has_text="en pause").wait_for()
    await page.evaluate("() => window.releaseDigest()")
    await asyncio.sleep(1.0)
    assert sent == [], "a paused upload sends nothing"
    assert "en pause" in await page.inner_text("#message")
    await page.click("#reprendre")
    await page.locator("#message", has_text="Envoi terminé").wait_for(timeout=60_000)
    assert "POST" in sent
    assert any(r.sha256 == sha256(recording) for r in server.store.recordings_of(SLUG))
