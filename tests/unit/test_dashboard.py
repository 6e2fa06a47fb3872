"""The organisers' pages through the real factory: access, valid HTML, French, CSRF."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from xml.etree.ElementTree import Element

import html5lib
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from replay.domain.model import Event, Session
from replay.settings import Settings
from replay.store.db import Store
from replay.web.app import create_app
from replay.web.auth import (
    NBSP,
    SESSION_COOKIE,
    USERS,
    users_for,
)
from replay.web.dashboard import french_size

Client = TestClient[web.Request, web.Application]
HTML = {"Accept": "text/html,application/xhtml+xml"}
TITLE = "Villes <script>alert(1)</script> & climat"
SLUG = "villes-2026"
NS = "{http://www.w3.org/1999/xhtml}"


def sample_event(slug: str = SLUG, title: str = TITLE) -> Event:
    start = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    sessions = tuple(
        Session(guid=f"g{i}", title=f"Table ronde {i}", room="Salle A",
                start=start + timedelta(hours=i), duration=timedelta(minutes=50))
        for i in range(2))
    return Event(slug=slug, title=title, start=date(2026, 3, 3), end=date(2026, 3, 3),
                 timezone="Europe/Paris", rooms=("Salle A", "Salle B"), sessions=sessions)


def build_app(settings: Settings) -> web.Application:
    return create_app(settings, run_workers=False)


@dataclass
class Site:
    client: Client
    sessions: dict[str, str]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path, cpu_threads=1)
    store = Store.open(settings.database_path)
    store.save_event(sample_event())
    store.save_event(sample_event("autre", "Autre évènement"))
    users = users_for(store.db, settings)
    users.add("orga@example.org", "Orga", "organiser", "mot de passe orga")
    users.add("limitee@example.org", "Limitée", "organiser", "mot de passe orga",
              event_slugs=["autre"])
    users.add("edit@example.org", "Édith", "editor", "mot de passe edit")
    store.close()
    return settings


@pytest_asyncio.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    app = build_app(settings)
    async with TestClient(TestServer(app)) as client:
        users = app[USERS]
        sessions = {}
        for email in ("orga@example.org", "limitee@example.org", "edit@example.org"):
            found = users.credentials(email)
            assert found is not None
            sessions[email] = users.create_session(found[0].id)
        yield Site(client, sessions)


def as_user(site: Site, email: str) -> None:
    site.client.session.cookie_jar.update_cookies({SESSION_COOKIE: site.sessions[email]},
                                                  URL(str(site.client.make_url("/"))))


def parse(text: str) -> Element:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=True)
    document: Element = parser.parse(text)
    return document


def texts(document: Element) -> str:
    return " ".join("".join(node.itertext()) for node in document.iter(f"{NS}body"))


PAGES = ("/organisateur/", f"/organisateur/evenements/{SLUG}",
         f"/organisateur/evenements/{SLUG}/envoi")


@pytest.mark.parametrize("path", PAGES)
async def test_anonymous_visitors_are_sent_to_the_login_page(site: Site, path: str) -> None:
    response = await site.client.get(path, headers=HTML, allow_redirects=False)
    assert response.status == 303
    location = URL(response.headers["Location"])
    assert location.path == "/connexion"
    assert location.query["suivant"] == path


@pytest.mark.parametrize("path", PAGES)
async def test_editors_are_refused(site: Site, path: str) -> None:
    as_user(site, "edit@example.org")
    response = await site.client.get(path, headers=HTML)
    assert response.status == 403
    assert "Votre rôle ne permet pas cette action." in await response.text()


@pytest.mark.parametrize("path", PAGES)
async def test_organisers_get_valid_french_html_with_the_csrf_token(site: Site,
                                                                      path: str) -> None:
    as_user(site, "orga@example.org")
    response = await site.client.get(path, headers=HTML)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    document = parse(await response.text())
    assert document.get("lang") == "fr"
    meta = [m for m in document.iter(f"{NS}meta") if m.get("name") == "csrf-token"]
    assert len(meta) == 1
    assert len(meta[0].get("content") or "") > 30
    assert len(list(document.iter(f"{NS}h1"))) == 1
    for button in document.iter(f"{NS}button"):
        assert "".join(button.itertext()).strip()


async def test_titles_are_escaped(site: Site) -> None:
    as_user(site, "orga@example.org")
    for path in PAGES:
        text = await (await site.client.get(path, headers=HTML)).text()
        assert "<script>alert(1)</script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


async def test_the_events_page_links_each_event(site: Site) -> None:
    as_user(site, "orga@example.org")
    document = parse(await (await site.client.get("/organisateur/", headers=HTML)).text())
    links = {a.get("href") for a in document.iter(f"{NS}a")}
    assert f"/organisateur/evenements/{SLUG}" in links
    assert f"/organisateur/evenements/{SLUG}/envoi" in links
    assert "/organisateur/evenements/autre" in links


async def test_an_organiser_limited_to_some_events_sees_only_those(site: Site) -> None:
    as_user(site, "limitee@example.org")
    listing = await (await site.client.get("/organisateur/", headers=HTML)).text()
    assert "Autre évènement" in listing
    assert SLUG not in listing
    refused = await site.client.get(f"/organisateur/evenements/{SLUG}", headers=HTML)
    assert refused.status == 403
    parse(await refused.text())


async def test_an_unknown_event_is_a_french_404_page(site: Site) -> None:
    as_user(site, "orga@example.org")
    response = await site.client.get("/organisateur/evenements/nulle-part", headers=HTML)
    assert response.status == 404
    assert f"Évènement introuvable{NBSP}:" in texts(parse(await response.text()))


async def test_the_dashboard_lists_sessions_with_their_stages(site: Site) -> None:
    as_user(site, "orga@example.org")
    document = parse(await (await site.client.get(PAGES[1], headers=HTML)).text())
    rows = [tr for tr in document.iter(f"{NS}tr") if tr.get("data-guid")]
    assert [tr.get("data-guid") for tr in rows] == ["g0", "g1"]
    stages = [td.get("data-stage") for td in rows[0].iter(f"{NS}td") if td.get("data-stage")]
    assert stages == ["analyse", "media", "speech", "publish"]
    body = texts(document)
    for label in ("Séances", "Découpage", "Enregistrements", "Réessayer", "Publier",
                  "Retirer", "pas d’enregistrement"):
        assert label in body
    scripts = [s.get("src") for s in document.iter(f"{NS}script")]
    assert scripts == ["/organisateur/static/dashboard.js"]


async def test_the_upload_page_has_labelled_fields(site: Site) -> None:
    as_user(site, "orga@example.org")
    document = parse(await (await site.client.get(PAGES[2], headers=HTML)).text())
    labels = {label.get("for"): "".join(label.itertext()) for label in document.iter(f"{NS}label")}
    controls = [c for tag in ("input", "select") for c in document.iter(f"{NS}{tag}")
                if c.get("type") != "hidden"]
    assert all(c.get("id") in labels for c in controls)
    assert labels["salle"] == "Salle"
    rooms = [o.get("value") for o in document.iter(f"{NS}option")]
    assert rooms[:2] == ["Salle A", "Salle B"]
    assert "Europe/Paris" in rooms
    form = next(f for f in document.iter(f"{NS}form") if f.get("id") == "envoi")
    assert form.get("data-endpoint") == "/api/uploads/"
    assert form.get("data-event") == SLUG
    assert "Début réel de l’enregistrement" in texts(document)


async def test_french_typography_puts_non_breaking_spaces_before_colons(site: Site) -> None:
    as_user(site, "orga@example.org")
    for path in PAGES:
        body = texts(parse(await (await site.client.get(path, headers=HTML)).text()))
        for mark in (":", ";", "?", "!", "»"):
            assert f" {mark}" not in body, (path, mark)
        assert "« " not in body


async def test_static_files_are_served(site: Site) -> None:
    for name in ("dashboard.js", "upload.js", "dashboard.css"):
        response = await site.client.get(f"/organisateur/static/{name}")
        assert response.status == 200, name


@pytest.mark.parametrize(("size", "text"), [
    (0, f"0{NBSP}octets"), (999, f"999{NBSP}octets"), (1500, f"1,5{NBSP}ko"),
    (20_000_000, f"20,0{NBSP}Mo"), (1_234_567_890, f"1,2{NBSP}Go"),
])
def test_sizes_read_as_french(size: int, text: str) -> None:
    assert french_size(size) == text


# -- issue 8: each role lands on its own home; every error page is French with a way back


@pytest.mark.parametrize(("who", "home"), [(None, "/connexion"),
                                           ("orga@example.org", "/organisateur/"),
                                           ("edit@example.org", "/edition/")])
async def test_each_role_lands_on_its_own_home(site: Site, who: str | None,
                                               home: str) -> None:
    if who is not None:
        as_user(site, who)
    response = await site.client.get("/", headers=HTML, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == home
    if who is not None:
        landed = await site.client.get(home, headers=HTML)
        assert landed.status == 200


async def test_an_editor_logging_in_lands_on_the_sessions_to_correct(site: Site) -> None:
    page = await site.client.get("/connexion", headers=HTML)
    form = parse(await page.text()).find(f".//{NS}form")
    assert form is not None
    fields = {i.get("name"): i.get("value", "") for i in form.iter(f"{NS}input")}
    fields.update(email="edit@example.org", password="mot de passe edit")
    response = await site.client.post("/connexion", data=fields, headers=HTML)
    assert response.status == 200
    assert response.url.path == "/edition/"
    assert "Séances à corriger" in texts(parse(await response.text()))


@pytest.mark.parametrize(("who", "path", "status", "back"), [
    ("orga@example.org", "/organisateur/nulle-part", 404, "/organisateur/"),
    ("edit@example.org", "/nulle-part", 404, "/edition/"),
    (None, "/nulle-part", 404, "/connexion"),
    (None, f"/site/{SLUG}/absente/", 404, "/site/"),
    (None, "/organisateur/", 405, "/connexion"),
])
async def test_every_error_page_is_french_with_a_way_back(site: Site, who: str | None,
                                                          path: str, status: int,
                                                          back: str) -> None:
    if who is not None:
        as_user(site, who)
    method = "DELETE" if status == 405 else "GET"
    response = await site.client.request(method, path, headers=HTML)
    assert response.status == status
    assert response.content_type == "text/html"
    document = parse(await response.text())
    assert (document.tag, document.get("lang")) == (f"{NS}html", "fr")
    assert "Not Found" not in texts(document)
    links = [a.get("href") for a in document.iter(f"{NS}a")]
    assert back in links


async def test_an_unknown_event_page_links_back_to_the_events(site: Site) -> None:
    as_user(site, "orga@example.org")
    response = await site.client.get("/organisateur/evenements/inconnu", headers=HTML)
    assert response.status == 404
    links = [a.get("href") for a in parse(await response.text()).iter(f"{NS}a")]
    assert "/organisateur/" in links


@pytest.mark.parametrize("public_url", ["", "https://replay.example.org/site/"])
async def test_the_event_page_warns_when_the_podcast_would_link_relatively(
        settings: Settings, public_url: str) -> None:
    app = build_app(replace(settings, public_url=public_url))
    async with TestClient(TestServer(app)) as client:
        found = app[USERS].credentials("orga@example.org")
        assert found is not None
        site = Site(client, {"orga@example.org": app[USERS].create_session(found[0].id)})
        as_user(site, "orga@example.org")
        document = parse(await (await client.get(PAGES[1], headers=HTML)).text())
    notes = ["".join(p.itertext()) for p in document.iter(f"{NS}p")
             if "warning" in p.get("class", "").split()]
    assert notes == ([] if public_url else [
        f"Attention{NBSP}: Le podcast est publié avec des liens relatifs, faute d’adresse "
        f"publique du site (réglage «{NBSP}public_url{NBSP}»){NBSP}: les applications de "
        "podcast le refuseront."])
