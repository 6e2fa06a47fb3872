"""The editors' pages through the real factory (workers off): who may open them, valid
HTML in French with the shortcuts and the CSRF token, and the session's media route
(Range requests, no way out of the media folder)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.etree.ElementTree import Element

import html5lib
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from replay.domain.cutplan import Cut
from replay.domain.programme import parse_programme
from replay.locale import _
from replay.services.captions import speech_dir
from replay.settings import Settings
from replay.store.db import Recording, Store
from replay.store.users import Role
from replay.web.app import create_app
from replay.web.auth import SESSION_COOKIE, USERS
from replay.web.editor import SHORTCUTS
from replay.web.keys import SETTINGS
from tests.app_store import own_store

PROGRAMME = (Path(__file__).parent.parent / "fixtures" / "programmes"
             / "mission-villes-2026.schedule.json")
SLUG = "mission-villes-2026"
HTML = {"Accept": "text/html,application/xhtml+xml"}
NS = "{http://www.w3.org/1999/xhtml}"
VIDEO = bytes(range(256)) * 40

Client = TestClient[web.Request, web.Application]


@dataclass
class Site:
    client: Client
    sessions: dict[str, str]
    recording: Recording
    store: Store  # the test's own connection (`own_store`)

    def login(self, who: str) -> None:
        self.client.session.cookie_jar.update_cookies(
            {SESSION_COOKIE: self.sessions[who]}, URL(str(self.client.make_url("/"))))

    @property
    def page(self) -> str:
        return f"/edition/{self.recording.id}/first"


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    settings = Settings(data_dir=tmp_path / "data", cpu_threads=1)
    app = create_app(settings, run_workers=False)
    async with TestClient(TestServer(app)) as client, own_store(app) as store:
        users = app[USERS]
        sessions = {}
        for name, role, events in (("organiser", Role.ORGANISER, ()),
                                   ("editor", Role.EDITOR, ()),
                                   ("elsewhere", Role.EDITOR, ("autre",))):
            user = users.add(f"{name}@example.org", name.capitalize(), role, "mot de passe sûr",
                             event_slugs=events)
            sessions[name] = users.create_session(user.id)
        store.save_event(parse_programme(PROGRAMME.read_bytes(), filename="p.json"))
        recording = store.add_recording(
            event_slug=SLUG, room="Plénière", sha256="cd" * 32, original=tmp_path / "o.mp4",
            source_name="o.mp4", started_at=datetime.fromisoformat("2026-03-03T09:00:00+01:00"))
        store.save_cuts(recording.id, [Cut("first", "Séance <b>un</b>", 0.0, 60.0, 0.0, 60.0,
                                           False, False)])
        media = speech_dir(settings, recording, "first").parent / "media"
        media.mkdir(parents=True)
        (media / "replay.mp4").write_bytes(VIDEO)
        (speech_dir(settings, recording, "first").parent / "secret.txt").write_text("non")
        yield Site(client, sessions, recording, store)


def parse(text: str) -> Element:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=True)
    document: Element = parser.parse(text)
    return document


def cell_text(cell: Element) -> str:
    """The cell's texts joined by a space, HTML white space collapsed (no-break spaces kept)."""
    return re.sub(r"[ \t\n]+", " ", " ".join(cell.itertext())).strip()


def body_text(document: Element) -> str:
    return " ".join("".join(node.itertext()) for node in document.iter(f"{NS}body"))


async def test_anonymous_visitors_are_sent_to_the_login_page(site: Site) -> None:
    for path in (site.page, "/edition/"):
        response = await site.client.get(path, headers=HTML, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"].startswith("/connexion?suivant=")


@pytest.mark.parametrize("who", ["editor", "organiser"])
async def test_editors_and_organisers_get_the_editor(site: Site, who: str) -> None:
    site.login(who)
    response = await site.client.get(site.page, headers=HTML)
    assert response.status == 200
    document = parse(await response.text())
    text = body_text(document)
    for label in ("Envoyer en relecture", "Valider", "Prendre cette séance",
                  "Corrigé jusqu’à la tête de lecture", "Raccourcis clavier",
                  "Rechercher et remplacer", "Historique des versions", "Garder ma version",
                  "Prendre la leur", "Glossaire de l’évènement"):
        assert label in text, label
    for keys, action in SHORTCUTS:  # catalogue messages, shown in French
        assert _(keys) in text
        assert _(action) in text
    assert ("Publier" in text) is (who == "organiser")  # editors may not publish here
    assert "Séance <b>un</b>" in text  # escaped, shown as text
    video = next(document.iter(f"{NS}video"))
    assert video.get("src") == f"{site.page}/media/replay.mp4"
    for field in document.iter(f"{NS}input"):
        if field.get("type") not in ("hidden", "radio", "checkbox"):
            assert field.get("id"), "every field has a label"


async def test_the_csrf_meta_is_the_sessions_token(site: Site) -> None:
    site.login("editor")
    response = await site.client.get(site.page, headers=HTML)
    document = parse(await response.text())
    [meta] = [m for m in document.iter(f"{NS}meta") if m.get("name") == "csrf-token"]
    session = site.client.app[USERS].session(site.sessions["editor"])
    assert session is not None
    assert meta.get("content") == session.csrf_token


async def test_an_editor_limited_to_other_events_is_refused(site: Site) -> None:
    site.login("elsewhere")
    for path in (site.page, f"{site.page}/media/replay.mp4"):
        response = await site.client.get(path, headers=HTML)
        assert response.status == 403
        assert "pas accès" in body_text(parse(await response.text()))
    listing = await site.client.get("/edition/", headers=HTML)
    assert site.page not in await listing.text()


async def test_unknown_sessions_are_404(site: Site) -> None:
    site.login("editor")
    for path in (f"/edition/{site.recording.id}/inconnue", "/edition/999/first"):
        assert (await site.client.get(path, headers=HTML)).status == 404


async def test_the_landing_list_links_to_the_sessions(site: Site) -> None:
    site.login("editor")
    response = await site.client.get("/edition/", headers=HTML)
    assert response.status == 200
    document = parse(await response.text())
    assert site.page in [a.get("href") for a in document.iter(f"{NS}a")]


async def test_media_is_served_with_ranges(site: Site) -> None:
    site.login("editor")
    url = f"{site.page}/media/replay.mp4"
    whole = await site.client.get(url)
    assert whole.status == 200
    assert await whole.read() == VIDEO
    part = await site.client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status == 206
    assert await part.read() == VIDEO[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(VIDEO)}"


@pytest.mark.parametrize("tail", ["../secret.txt", "..%2Fsecret.txt", "%2E%2E/secret.txt",
                                  "hls/../../secret.txt", "absent.mp4"])
async def test_media_never_leaves_the_media_folder(site: Site, tail: str) -> None:
    site.login("editor")
    response = await site.client.get(f"{site.page}/media/{tail}")
    assert response.status == 404
    assert await response.read() != b"non"


async def test_the_list_shows_review_state_claims_and_progress_with_filters(site: Site) -> None:
    from replay.domain.captions import CaptionStatus
    from replay.domain.transcript import Cue
    from replay.store.captions import Author, Captions

    app = site.client.app
    store, users = site.store, app[USERS]
    store.save_cuts(site.recording.id, [
        Cut("first", "Séance <b>un</b>", 0.0, 60.0, 0.0, 60.0, False, False),
        Cut("second", "Séance deux", 60.0, 120.0, 60.0, 120.0, False, False)])
    editor, organiser = users.by_email("editor@example.org"), users.by_email(
        "organiser@example.org")
    assert editor is not None
    assert organiser is not None
    captions = Captions(store.db)
    cues = [Cue(1.0, 2.0, ("Bonjour",))]
    for guid in ("first", "second"):
        for lang in ("fr", "en"):
            captions.import_machine((site.recording.id, guid, lang), cues, "ab")
    for lang in ("fr", "en"):
        captions.set_status((site.recording.id, "first", lang), CaptionStatus.VALIDE,
                            by=organiser.id)
    captions.claim((site.recording.id, "first", "fr"), organiser.id)
    captions.save((site.recording.id, "second", "fr"), cues, Author("Editor", editor.id),
                  expected=1, status=CaptionStatus.RELECTURE, reviewed_until=30.0)
    captions.claim((site.recording.id, "second", "fr"), editor.id)
    site.login("editor")

    async def rows(query: str = "") -> dict[str, list[str]]:
        response = await site.client.get(f"/edition/{query}", headers=HTML)
        assert response.status == 200
        document = parse(await response.text())
        return {str(tr.get("data-guid")): [cell_text(cell) for cell in tr
                                           if cell.tag in (f"{NS}td", f"{NS}th")]
                for tr in document.iter(f"{NS}tr") if tr.get("data-guid")}

    assert await rows() == {
        "first": ["Séance <b>un</b> Plénière, 00:00–01:00", "validé corrigé à 0\u00a0% 0\u00a0%",
                  "validé corrigé à 0\u00a0% 0\u00a0%", "Organiser"],
        "second": ["Séance deux Plénière, 01:00–02:00",
                   "en relecture corrigé à 50\u00a0% 50\u00a0%",
                   "brouillon automatique corrigé à 0\u00a0% 0\u00a0%", "vous"],
    }
    assert list(await rows("?etat=a_relire")) == ["second"]
    assert list(await rows("?etat=validees")) == ["first"]
    assert list(await rows("?prise=moi")) == ["second"]
    assert list(await rows("?etat=validees&prise=moi")) == []
    response = await site.client.get("/edition/?prise=libres", headers=HTML)
    assert "Aucune séance ne correspond à ces filtres." in body_text(parse(await response.text()))
    assert list(await rows("?etat=n-importe")) == ["first", "second"]  # ignored


async def test_the_waveform_is_the_sessions_span_of_the_speech_audio(site: Site) -> None:
    import struct
    import wave

    from replay.services.workdirs import AUDIO, recording_work_dir

    site.login("editor")
    url = f"{site.page}/forme-onde.json"
    missing = await site.client.get(url)
    assert missing.status == 404
    assert "pas encore extrait" in (await missing.json())["error"]
    app = site.client.app
    site.store.save_cuts(site.recording.id, [Cut("first", "Séance", 1.0, 3.0, 1.0, 3.0,
                                                 False, False)])
    path = recording_work_dir(app[SETTINGS], site.recording) / AUDIO
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as audio:  # 4 s at 100 Hz: 0.1, 0.2, 0.3, 0.4 each second
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(100)
        audio.writeframes(b"".join(struct.pack("<h", 3277 * (1 + s // 100)) for s in range(400)))
    response = await site.client.get(url)
    assert response.status == 200
    data = await response.json()
    assert data["duration"] == 2.0
    assert data["peaks_per_second"] == 20
    assert data["peaks"] == [0.2] * 20 + [0.3] * 20
    site.login("elsewhere")
    assert (await site.client.get(url)).status == 403
