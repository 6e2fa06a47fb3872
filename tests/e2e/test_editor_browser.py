"""The caption editor in headless Chromium against a real server (workers off).

A session is prepared as the speech stage leaves it (WebVTT in French and English, a
transcript with a word Whisper was unsure of, a tiny real MP4). An editor logs in through
the form, edits, splits and merges cues, sees autosave, history and diffs, approves; a
second editor's save makes the page show the conflict dialog; an organiser publishes.
Workers are off: publishing is checked on the session's WebVTT, which the status change
writes before it queues the event's publish job (not run here).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from aiohttp import web

from replay.domain.cutplan import Cut
from replay.domain.programme import parse_programme
from replay.domain.transcript import Cue
from replay.domain.webvtt import render_webvtt
from replay.services.captions import speech_dir, vtt_path
from replay.settings import Settings
from replay.store.db import Recording
from replay.store.users import Role
from replay.web.app import create_app
from replay.web.auth import users_for
from tests.app_store import own_store

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = pytest.mark.browser

PROGRAMME = (Path(__file__).parent.parent / "fixtures" / "programmes"
             / "mission-villes-2026.schedule.json")
SLUG = "mission-villes-2026"
PASSWORD = "mot de passe de test"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
CUES = [Cue(1.0, 3.0, ("Bonjour à tous.",)), Cue(3.5, 6.0, ("Bienvenue à netzerocities.",)),
        Cue(6.5, 8.0, ("Merci beaucoup.",)), Cue(8.2, 9.6, ("Commençons.",))]
WORDS = {"language": "fr", "segments": [{"start": 3.5, "end": 6.0,
                                         "text": "Bienvenue à netzerocities.", "words": [
    {"start": 3.5, "end": 4.2, "word": " Bienvenue", "probability": 0.95},
    {"start": 4.3, "end": 6.0, "word": " netzerocities.", "probability": 0.2}]}]}


@dataclass
class Server:
    url: str
    app: web.Application
    recording: Recording
    settings: Settings
    tokens: dict[str, str]

    @property
    def page(self) -> str:
        return f"{self.url}/edition/{self.recording.id}/first"

    def api(self, lang: str = "fr", tail: str = "") -> str:
        return f"{self.url}/api/captions/{self.recording.id}/first/{lang}{tail}"


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("media") / "replay.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "10",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-movflags", "+faststart", str(target)], check=True, timeout=120)
    return target


def prepare_session(settings: Settings, recording: Recording, mp4: Path) -> None:
    speech = speech_dir(settings, recording, "first")
    speech.mkdir(parents=True)
    for lang in ("fr", "en"):
        (speech / f"subtitles.{lang}.vtt").write_text(render_webvtt(CUES), encoding="utf-8")
    (speech / "transcript.fr.json").write_text(json.dumps(WORDS), encoding="utf-8")
    media = speech.parent / "media"
    media.mkdir()
    (media / "replay.mp4").write_bytes(mp4.read_bytes())


@pytest_asyncio.fixture
async def server(tmp_path: Path, mp4: Path) -> AsyncIterator[Server]:
    settings = Settings(data_dir=tmp_path, cpu_threads=1)
    app = create_app(settings, run_workers=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    try:
        await site.start()
        async with own_store(app) as store:  # the test's own connection
            store.save_event(parse_programme(PROGRAMME.read_bytes(), filename="p.json"))
            recording = store.add_recording(
                event_slug=SLUG, room="Plénière", sha256="ef" * 32,
                original=tmp_path / "o.mp4", source_name="o.mp4",
                started_at=datetime.fromisoformat("2026-03-03T09:00:00+01:00"))
            store.save_cuts(recording.id, [Cut("first", "Ouverture", 0.0, 10.0, 0.0, 10.0,
                                               False, False)])
            prepare_session(settings, recording, mp4)
            users = users_for(store.db, settings)
            tokens = {}
            for name, role in (("edith", Role.EDITOR), ("ed2", Role.EDITOR),
                               ("orga", Role.ORGANISER)):
                user = users.add(f"{name}@example.org", name.capitalize(), role, PASSWORD)
                tokens[name] = users.create_token(user.id, "tests")
        port = runner.addresses[0][1]
        yield Server(f"http://127.0.0.1:{port}", app, recording, settings, tokens)
    finally:
        await runner.cleanup()


async def open_editor(page: Page, server: Server, who: str = "edith") -> None:
    await page.goto(server.page)
    assert "/connexion" in page.url
    await page.fill("#email", f"{who}@example.org")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(server.page)
    await page.wait_for_selector("#editeur[data-ready=oui]")


async def api_get(page: Page, server: Server, who: str = "edith") -> tuple[Any, str]:
    response = await page.request.get(
        server.api(), headers={"Authorization": f"Bearer {server.tokens[who]}"})
    assert response.ok
    return await response.json(), response.headers["etag"]


async def saved(page: Page) -> None:
    await page.wait_for_function(
        "document.getElementById('etat-enregistrement').textContent.startsWith('Enregistré')")


def cue(n: int, part: str = "textarea") -> str:
    return f"#reperes-fr > li:nth-child({n}) {part}"


async def texts(page: Page) -> list[str]:
    values = await page.eval_on_selector_all("#reperes-fr textarea",
                                              "as => as.map(a => a.value)")
    return [str(value) for value in values]


async def test_edit_split_merge_autosave_history_and_approve(page: Page,
                                                             server: Server) -> None:
    await open_editor(page, server)
    assert await page.text_content(cue(2, "mark.unsure")) == "netzerocities."
    await page.wait_for_function("document.getElementById('video').readyState >= 1")
    await page.click(cue(3, "button.seek"))
    await page.wait_for_selector("#reperes-fr > li:nth-child(3).current")
    await page.keyboard.press("Control+Space")  # pause
    await page.fill(cue(1), "Bonjour à toutes et à tous.")
    await saved(page)
    body, _ = await api_get(page, server)
    assert body["version"] == 2
    assert body["cues"][0]["text"] == "Bonjour à toutes et à tous."

    await page.focus(cue(2))
    await page.eval_on_selector(cue(2), "a => a.setSelectionRange(10, 10)")
    await page.keyboard.press("Alt+KeyS")
    assert await texts(page) == ["Bonjour à toutes et à tous.", "Bienvenue", "à netzerocities.",
                                 "Merci beaucoup.", "Commençons."]
    await page.focus(cue(2))
    await page.keyboard.press("Alt+KeyM")
    assert len(await texts(page)) == 4
    await saved(page)
    body, _ = await api_get(page, server)
    assert body["version"] >= 3
    assert body["cues"][1]["text"] == "Bienvenue\nà netzerocities."

    await page.reload()
    await page.wait_for_selector("#editeur[data-ready=oui]")
    assert (await texts(page))[0] == "Bonjour à toutes et à tous."

    await page.click("#voir-historique")
    await page.wait_for_selector("#historique li:nth-child(3)")
    assert "Edith" in (await page.text_content("#historique") or "")
    await page.click("#historique li:nth-last-child(2) >> text=Voir les différences")
    await page.wait_for_selector("#differences li.change")
    assert "Bonjour à toutes et à tous." in (await page.text_content("#differences") or "")

    # the edits already sent the French to review: the button says so, no error
    await page.click("#envoyer-relecture-fr")
    await page.locator("#message-fr", has_text="Déjà en relecture").wait_for()
    assert (await page.text_content("#etat-fr") or "").startswith("en relecture")

    await page.click("#valider-fr")
    await page.wait_for_function(
        "document.getElementById('etat-fr').textContent.includes('validé')")
    body, _ = await api_get(page, server)
    assert body["status"] == "valide"
    english = await page.request.get(
        server.api("en"), headers={"Authorization": f"Bearer {server.tokens['edith']}"})
    assert (await english.json())["status"] == "brouillon_automatique", \
        "validating the French leaves the untouched English as it is"
    assert "brouillon automatique" in (await page.text_content("#etat-en") or "")


async def test_a_long_line_is_warned_while_typing(page: Page, server: Server) -> None:
    await open_editor(page, server)
    await page.fill(cue(3), "Merci beaucoup à toutes les personnes présentes dans cette salle")
    warning = await page.text_content(cue(3, ".cue-warnings"))
    assert warning is not None
    assert "trop long" in warning
    assert "lecture trop rapide" in warning


async def test_a_second_editors_save_shows_the_conflict(page: Page, server: Server) -> None:
    await open_editor(page, server)
    body, etag = await api_get(page, server, "ed2")
    theirs = [dict(c) for c in body["cues"]]
    theirs[2]["text"] = "Merci à vous."
    response = await page.request.put(
        server.api(), data=json.dumps({"cues": theirs}),
        headers={"Authorization": f"Bearer {server.tokens['ed2']}", "If-Match": etag,
                 "Content-Type": "application/json"})
    assert response.ok
    await page.fill(cue(3), "Merci infiniment.")
    await page.wait_for_selector("#conflit[open]")
    table = await page.text_content("#conflit-reperes") or ""
    assert "Merci à vous." in table
    assert "Merci infiniment." in table
    assert "Ed2" in (await page.text_content("#conflit") or "")
    await page.click("#garder")
    await saved(page)
    body, _ = await api_get(page, server)
    assert body["version"] == 3
    assert body["cues"][2]["text"] == "Merci infiniment."


async def test_an_organiser_publishes_the_corrected_captions(page: Page,
                                                             server: Server) -> None:
    await open_editor(page, server, "orga")
    await page.fill(cue(4), "Commençons maintenant.")
    await saved(page)
    await page.click("#publier-fr")
    # Workers are off and the session has no video yet: the page says what holds it back;
    # the track becomes « publié » once the publish job has put it out.
    await page.locator("#message-fr", has_text="pas encore publiée").wait_for()
    body, _ = await api_get(page, server)
    assert body["status"] == "en_relecture"
    published = vtt_path(server.settings, server.recording, "first", "fr")
    assert "Commençons maintenant." in published.read_text(encoding="utf-8")


async def test_the_editor_pages_pass_axe(page: Page, server: Server) -> None:
    assert AXE.is_file(), "axe-core is missing: run scripts/setup.sh (npm ci)"
    await open_editor(page, server)
    await page.click("#voir-historique")
    await page.wait_for_selector("#historique li")
    for path in ("", "/edition/"):
        if path:
            await page.goto(server.url + path)
        await page.add_script_tag(path=str(AXE))
        violations = await page.evaluate(
            "async () => (await axe.run()).violations.map(v => v.id + ': ' + v.help)")
        assert violations == [], path or server.page


async def test_an_editor_marks_chapters_at_the_playhead(page: Page, server: Server) -> None:
    await open_editor(page, server)
    await page.wait_for_selector("#editeur[data-chapters=oui]")
    assert await page.locator("#liste-chapitres li").count() == 0
    await page.evaluate("""() => new Promise((done) => { const v = document.getElementById('video');
      v.addEventListener('seeked', () => done(), { once: true }); v.currentTime = 4.25; })""")
    await page.fill("#chapitre-titre", "Anne « ouvre » la table ronde")
    await page.click("#chapitre-form button[type=submit]")
    await page.wait_for_function(
        "document.getElementById('chapitres-etat').textContent === '1 chapitre enregistré.'")
    assert await page.input_value("#chapitre-titre") == ""
    await page.evaluate("() => { document.getElementById('video').currentTime = 1.5; }")
    await page.fill("#chapitre-titre", "Accueil")
    await page.click("#chapitre-form button[type=submit]")
    await page.wait_for_function(
        "document.getElementById('chapitres-etat').textContent === '2 chapitres enregistrés.'")
    assert await page.eval_on_selector_all(
        "#liste-chapitres .chapter-seek", "b => b.map(x => x.textContent)") == [
        "00:01 Accueil", "00:04 Anne « ouvre » la table ronde"]
    response = await page.request.get(
        f"{server.url}/api/chapters/{server.recording.id}/first",
        headers={"Authorization": f"Bearer {server.tokens['ed2']}"})
    assert await response.json() == {"chapters": [
        {"start": 1.5, "title": "Accueil"}, {"start": 4.25,
                                             "title": "Anne « ouvre » la table ronde"}]}
    # Each entry seeks the video; a title the API refuses is said, and nothing is lost.
    await page.locator("#liste-chapitres .chapter-seek").nth(1).click()
    await page.wait_for_function(
        "Math.abs(document.getElementById('video').currentTime - 4.25) < 0.01")
    await page.fill("#chapitre-titre", "Trop près")  # 0 s from the second chapter
    await page.click("#chapitre-form button[type=submit]")
    await page.wait_for_function(
        "document.getElementById('chapitres-etat').textContent.includes('moins d’une seconde')")
    assert await page.locator("#liste-chapitres li").count() == 2
    assert await page.input_value("#chapitre-titre") == "Trop près"
    await page.get_by_role("button", name="Supprimer le chapitre Accueil").click()
    await page.wait_for_function(
        "document.getElementById('chapitres-etat').textContent === '1 chapitre enregistré.'")
    await page.reload()
    await page.wait_for_selector("#editeur[data-chapters=oui]")
    assert await page.eval_on_selector_all(
        "#liste-chapitres .chapter-seek", "b => b.map(x => x.textContent)") == [
        "00:04 Anne « ouvre » la table ronde"]


ON_VIDEO = """() => Array.from(document.getElementById('video').textTracks)
  .filter((t) => t.mode === 'showing')
  .map((t) => [t.label, Array.from(t.cues).map((c) => [c.startTime, c.endTime, c.text])])"""


async def test_the_cues_being_edited_play_on_the_video(page: Page, server: Server) -> None:
    await open_editor(page, server)
    shown = await page.evaluate(ON_VIDEO)
    assert shown == [["Français (en cours d’édition)",
                      [[c.start, c.end, "\n".join(c.lines)] for c in CUES]]]
    await page.fill(cue(1), "Bonjour à toutes et à tous.")
    shown = await page.evaluate(ON_VIDEO)
    assert shown[0][1][0] == [1.0, 3.0, "Bonjour à toutes et à tous."]  # before any save
    # While the video plays, the cue on screen is the edited one.
    await page.evaluate("() => { const v = document.getElementById('video'); v.muted = true;"
                        " v.currentTime = 1.2; return v.play(); }")
    await page.wait_for_function(
        "() => { const t = Array.from(document.getElementById('video').textTracks)"
        ".find((t) => t.mode === 'showing'); return t.activeCues.length === 1"
        " && t.activeCues[0].text === 'Bonjour à toutes et à tous.'; }")
    # Typing pauses it.
    await page.type(cue(1), " Bienvenue")
    assert await page.eval_on_selector("#video", "v => v.paused")
    await saved(page)
    # Switching to English shows the English cues instead.
    await page.check("input[name=affichage][value=en]")
    shown = await page.evaluate(ON_VIDEO)
    assert [label for label, _ in shown] == ["Anglais (en cours d’édition)"]


async def test_the_active_cue_plays_in_a_loop(page: Page, server: Server) -> None:
    await open_editor(page, server)
    await page.evaluate("() => { document.getElementById('video').muted = true; }")
    await page.focus(cue(2))  # 3.5 s to 6 s
    loop = page.get_by_role("button", name="Lecture en boucle du repère")
    await loop.click()
    assert await loop.get_attribute("aria-pressed") == "true"
    await page.wait_for_function("() => document.getElementById('video').currentTime > 5.5")
    await page.wait_for_function(
        "() => { const v = document.getElementById('video');"
        " return !v.paused && v.currentTime >= 3.5 && v.currentTime < 4.5; }")
    await loop.click()
    assert await loop.get_attribute("aria-pressed") == "false"
    await page.wait_for_function("() => document.getElementById('video').currentTime > 6.5")


async def test_the_sessions_list_shows_review_and_filters(page: Page, server: Server) -> None:
    await open_editor(page, server)  # opening the editor imports both languages' drafts
    await page.click("#prendre")
    await page.wait_for_function("document.getElementById('prise').textContent === 'vous'")
    await page.goto(f"{server.url}/edition/")
    row = page.locator("tr[data-guid=first]")
    cells = [" ".join(text.split()) for text in await row.locator("td").all_inner_texts()]
    assert cells == ["brouillon automatique corrigé à 0 %",
                     "brouillon automatique corrigé à 0 %", "vous"]
    await page.select_option("#filtre-prise", "libres")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**/edition/?etat=&prise=libres")
    assert await page.locator("tr[data-guid]").count() == 0
    assert "Aucune séance ne correspond à ces filtres." in await page.inner_text("main")
    assert await page.input_value("#filtre-prise") == "libres"  # the filter stays chosen
    await page.select_option("#filtre-prise", "moi")
    await page.select_option("#filtre-etat", "a_relire")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**/edition/?etat=a_relire&prise=moi")
    assert await page.locator("tr[data-guid=first]").count() == 1


ROWS = """() => ['fr', 'en'].map((lang) => Array.from(
  document.querySelectorAll('#reperes-' + lang + ' > li')).map((li) => {
    const box = li.getBoundingClientRect();
    return [Math.round(box.top), Math.round(box.bottom)]; }))"""


async def test_french_and_english_side_by_side_in_aligned_rows(page: Page,
                                                              server: Server) -> None:
    # English cut differently: one cue for each two French ones.
    headers = {"Authorization": f"Bearer {server.tokens['ed2']}"}
    first = await page.request.get(server.api("en"), headers=headers)
    assert first.ok
    english = [{"start": 1.0, "end": 6.0, "text": "Hello everyone, welcome to NetZeroCities."},
               {"start": 6.5, "end": 9.6, "text": "Thank you very much. Let us start."}]
    response = await page.request.put(
        server.api("en"), data=json.dumps({"cues": english}),
        headers={**headers, "If-Match": first.headers["etag"],
                 "Content-Type": "application/json"})
    assert response.ok
    await open_editor(page, server)
    await page.check("input[name=affichage][value=both]")
    french, english_rows = await page.evaluate(ROWS)
    assert len(french) == 4
    assert len(english_rows) == 2
    # Each English cue starts level with the first French cue of its time span...
    assert english_rows[0][0] == french[0][0]
    assert english_rows[1][0] == french[2][0]
    # ...and reaches down beside the last one; the next span starts below both.
    assert english_rows[0][1] >= french[1][1] - 1
    assert french[2][0] > french[1][1]
    columns = await page.evaluate("""() => ['#reperes-fr > li', '#reperes-en > li'].map(
      (s) => Math.round(document.querySelector(s).getBoundingClientRect().left))""")
    assert columns[0] < columns[1]  # side by side
    await page.check("input[name=affichage][value=fr]")
    assert not await page.locator("#reperes-en").is_visible()


LISTEN_CSP = """window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline")); });"""


@pytest.fixture(scope="module")
def speech_audio(mp4: Path) -> Path:
    """The recording's audio as the speech stage extracts it (16 kHz mono WAV)."""
    wav = mp4.with_suffix(".wav")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(mp4), "-ac", "1",
                    "-ar", "16000", "-c:a", "pcm_s16le", str(wav)], check=True, timeout=60)
    return wav


async def test_cues_are_moved_on_the_waveform(browser: Browser, server: Server,
                                              speech_audio: Path) -> None:
    from replay.services.workdirs import AUDIO, recording_work_dir

    wav = recording_work_dir(server.settings, server.recording) / AUDIO
    await asyncio.to_thread(shutil.copyfile, speech_audio, wav)
    context = await browser.new_context(locale="fr-FR")  # under the page's own CSP
    try:
        page = await context.new_page()
        page.set_default_timeout(20_000)
        await page.add_init_script(LISTEN_CSP)
        await open_editor(page, server)
        await page.wait_for_selector("#editeur[data-waveform=oui]")
        # wavesurfer.js draws in a shadow root, its style allowed by the page's nonce.
        assert await page.evaluate("window.__violations") == []
        regions = page.locator("#forme-onde [part~=region]")
        assert await regions.count() == len(CUES)
        box = await regions.first.bounding_box()
        wave = await page.locator("#forme-onde").bounding_box()
        assert box is not None
        assert wave is not None
        per_second = wave["width"] / 10.0  # the session lasts 10 s and fills the width
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.down()
        await page.mouse.move(box["x"] + box["width"] / 2 + per_second, box["y"] + 10,
                              steps=8)
        await page.mouse.up()
        start = await page.input_value(cue(1, "input[id$='-start']"))
        end = await page.input_value(cue(1, "input[id$='-end']"))
        assert start.startswith("00:01,") or start.startswith("00:02,"), start
        seconds = float(start[3:].replace(",", "."))
        assert 1.7 <= seconds <= 2.3, start  # about a second later
        assert float(end[3:].replace(",", ".")) == pytest.approx(seconds + 2.0, abs=0.002)
        # (wait_for_function would need eval, which this page's CSP refuses)
        await page.locator("#etat-enregistrement", has_text=re.compile("^Enregistré")).wait_for()
        body, _ = await api_get(page, server)
        assert body["cues"][0]["start"] == pytest.approx(seconds, abs=0.001)
        assert await page.evaluate("window.__violations") == []
    finally:
        await context.close()
