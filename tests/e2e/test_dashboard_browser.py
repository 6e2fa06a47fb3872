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
from replay.jobs.queue import JobSpec
from replay.settings import Settings
from replay.store.db import Store
from replay.web.api_sessions import speech_map_path
from replay.web.app import create_app
from replay.web.auth import USERS
from replay.web.keys import QUEUE, SETTINGS, STORE

if TYPE_CHECKING:
    from playwright.async_api import Page, Route

pytestmark = pytest.mark.browser

SLUG = "villes-2026"
EMAIL, PASSWORD = "orga@example.org", "mot de passe de l’organisatrice"
PARIS_9H = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def event() -> Event:
    sessions = tuple(
        Session(guid=f"g{i}", title=f"Table ronde {i}", room="Salle A",
                start=PARIS_9H + timedelta(hours=i), duration=timedelta(minutes=50))
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
    return {"small": small, "large": large}


@dataclass
class Server:
    url: str
    app: web.Application

    @property
    def store(self) -> Store:
        return self.app[STORE]


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
        app[STORE].save_event(event())
        app[USERS].add(EMAIL, "Orga", "organiser", PASSWORD)  # scrypt: a blink, in a test
        port = runner.addresses[0][1]
        yield Server(f"http://127.0.0.1:{port}", app)
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
