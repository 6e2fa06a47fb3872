"""Accounts, roles, sessions, API tokens and CSRF over aiohttp's test client.

A minimal app with the real middleware and login routes: an organiser-only JSON
endpoint, an editor endpoint, a public endpoint, an organiser page, and state-changing
POSTs whose effect is recorded so a refused request can be shown to have changed nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import html5lib
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from replay.cli import main
from replay.settings import Settings
from replay.store.async_store import AsyncStore
from replay.store.db import Store
from replay.store.factory import open_store
from replay.store.users import AccountError
from replay.web.auth import (
    NBSP,
    SESSION_COOKIE,
    AuthConfig,
    Role,
    Users,
    authorizer,
    csrf_token,
    current_user,
    require,
    safe_next,
    setup_auth,
)
from replay.web.keys import DB

ORGANISER = ("orga@example.org", "mot de passe de l’organisatrice")
EDITOR = ("edit@example.org", "mot de passe de l’éditeur")
HTML = {"Accept": "text/html,application/xhtml+xml"}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    client: TestClient[web.Request, web.Application]
    users: Users
    wall: Clock
    monotonic: Clock
    published: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)


PUBLISHED: web.AppKey[list[str]] = web.AppKey("published", list)


@require(Role.ORGANISER)
async def secret(request: web.Request) -> web.Response:
    user = current_user(request)
    assert user is not None
    return web.json_response({"email": user.email})


@require(Role.EDITOR)
async def captions(request: web.Request) -> web.Response:
    return web.json_response({"captions": []})


async def public(request: web.Request) -> web.Response:
    return web.Response(text="replay publié")


@require(Role.ORGANISER)
async def dashboard(request: web.Request) -> web.Response:
    token = csrf_token(request)
    return web.Response(content_type="text/html", text=(
        '<!DOCTYPE html><html lang="fr"><head><title>Tableau</title></head><body>'
        f'<form method="post" action="/api/publish"><input type="hidden" name="csrf_token" '
        f'value="{token}"><input name="guid"><button>Publier</button></form></body></html>'))


@require(Role.ORGANISER)
async def publish(request: web.Request) -> web.Response:
    form = await request.post()
    request.app[PUBLISHED].append(str(form["guid"]))
    return web.json_response({"published": str(form["guid"])})


@require(Role.EDITOR)
async def correct(request: web.Request) -> web.Response:
    return web.json_response({"corrected": True})


async def upload(request: web.Request) -> web.Response:
    await authorizer(Role.ORGANISER)(request)  # as tus calls it
    request.app[PUBLISHED].append("upload")
    return web.Response(status=201)


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    store = Store.open(tmp_path / "replay.sqlite3")
    wall, monotonic = Clock(1_700_000_000.0), Clock(1000.0)
    users = Users(store.db, clock=wall)
    organiser = users.add(ORGANISER[0], "Organisatrice", Role.ORGANISER, ORGANISER[1])
    editor = users.add(EDITOR[0], "Éditeur", "editor", EDITOR[1])
    app = web.Application()
    setup_auth(app, AuthConfig(), users=users, clock=monotonic)
    app[DB] = await AsyncStore.open(Settings(data_dir=tmp_path))  # where the queries run
    app[PUBLISHED] = []
    app.router.add_get("/api/secret", secret)
    app.router.add_get("/api/captions", captions)
    app.router.add_post("/api/captions", correct)
    app.router.add_post("/api/publish", publish)
    app.router.add_post("/api/upload", upload)
    app.router.add_get("/tableau", dashboard)
    app.router.add_get("/", public)
    client = TestClient(TestServer(app))
    await client.start_server()
    tokens = {"organiser": users.create_token(organiser.id, "script"),
              "editor": users.create_token(editor.id, "script")}
    try:
        yield Site(client, users, wall, monotonic, app[PUBLISHED], tokens)
    finally:
        await client.close()
        await app[DB].close()
        store.close()


def parse(text: str) -> Any:
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(site: Site, email: str, password: str, suivant: str = "/tableau") -> Any:
    page = await site.client.get("/connexion", params={"suivant": suivant})
    form = parse(await page.text()).find(".//form")
    fields = {i.get("name"): i.get("value", "") for i in form.iter("input")}
    fields.update(email=email, password=password)
    return await site.client.post("/connexion", data=fields, allow_redirects=False)


async def session_csrf(site: Site) -> str:
    page = await site.client.get("/tableau", headers=HTML)
    assert page.status == 200
    token = parse(await page.text()).find(".//input[@name='csrf_token']").get("value")
    assert isinstance(token, str)
    assert len(token) > 30
    return token


# --- anonymous -------------------------------------------------------------------------


async def test_anonymous_reads_public_pages_only(site: Site) -> None:
    assert (await site.client.get("/")).status == 200
    response = await site.client.get("/api/secret")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await response.json() == {"error": "Connexion requise."}
    assert (await site.client.get("/api/captions")).status == 401


async def test_anonymous_page_redirects_to_login(site: Site) -> None:
    response = await site.client.get("/tableau?onglet=2", headers=HTML, allow_redirects=False)
    assert response.status == 303
    location = URL(response.headers["Location"])
    assert location.path == "/connexion"
    assert location.query["suivant"] == "/tableau?onglet=2"


@pytest.mark.parametrize("path", ["/api/publish", "/api/upload", "/api/captions"])
async def test_anonymous_cannot_change_anything(site: Site, path: str) -> None:
    response = await site.client.post(path, data={"guid": "g1"})
    assert response.status == 401
    assert site.published == []


# --- API tokens ------------------------------------------------------------------------


async def test_bearer_token_works_and_skips_csrf(site: Site) -> None:
    headers = bearer(site.tokens["organiser"])
    response = await site.client.get("/api/secret", headers=headers)
    assert await response.json() == {"email": ORGANISER[0]}
    response = await site.client.post("/api/publish", data={"guid": "g1"}, headers=headers)
    assert response.status == 200
    assert site.published == ["g1"]


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer ", "bearer x" * 3])
async def test_unknown_token_is_anonymous(site: Site, header: str) -> None:
    response = await site.client.get("/api/secret", headers={"Authorization": header})
    assert response.status == 401


async def test_tokens_are_stored_hashed(site: Site) -> None:
    stored = [row[0] for row in site.users.db.execute("SELECT token_sha256 FROM api_tokens")]
    assert site.tokens["organiser"] not in stored
    assert all(len(value) == 64 for value in stored)


# --- roles -----------------------------------------------------------------------------


async def test_editor_cannot_reach_organiser_endpoint(site: Site) -> None:
    response = await site.client.get("/api/secret", headers=bearer(site.tokens["editor"]))
    assert response.status == 403
    assert await response.json() == {"error": "Votre rôle ne permet pas cette action."}


@pytest.mark.parametrize("path", ["/api/publish", "/api/upload"])
async def test_editor_cannot_publish_or_upload(site: Site, path: str) -> None:
    response = await site.client.post(path, data={"guid": "g1"},
                                      headers=bearer(site.tokens["editor"]))
    assert response.status == 403
    assert site.published == []


@pytest.mark.parametrize("role", ["editor", "organiser"])
async def test_editor_endpoint_admits_editors_and_organisers(site: Site, role: str) -> None:
    headers = bearer(site.tokens[role])
    assert (await site.client.get("/api/captions", headers=headers)).status == 200
    assert (await site.client.post("/api/captions", headers=headers)).status == 200


async def test_editor_session_cannot_publish_even_with_csrf(site: Site) -> None:
    assert (await login(site, *EDITOR, suivant="/")).status == 303
    sid = site.client.session.cookie_jar.filter_cookies(site.client.make_url("/"))
    session = site.users.session(sid[SESSION_COOKIE].value)
    assert session is not None
    response = await site.client.post("/api/publish",
                                      data={"guid": "g1", "csrf_token": session.csrf_token})
    assert response.status == 403
    assert site.published == []


# --- login, sessions, CSRF -----------------------------------------------------------------


async def test_login_sets_a_protected_cookie_and_redirects(site: Site) -> None:
    response = await login(site, *ORGANISER)
    assert response.status == 303
    assert response.headers["Location"] == "/tableau"
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # plain HTTP and cookie_secure off
    stored = site.users.db.execute("SELECT id_sha256 FROM login_sessions").fetchall()[0][0]
    assert stored != cookie.value
    assert (await site.client.get("/api/secret")).status == 200


async def test_session_post_needs_the_csrf_token(site: Site) -> None:
    await login(site, *ORGANISER)
    token = await session_csrf(site)
    refused = await site.client.post("/api/publish", data={"guid": "g1"})
    assert refused.status == 403
    assert "Jeton de sécurité absent ou invalide" in (await refused.json())["error"]
    forged = await site.client.post("/api/publish", data={"guid": "g2", "csrf_token": "x" * 43})
    assert forged.status == 403
    assert site.published == []
    by_field = await site.client.post("/api/publish", data={"guid": "g3", "csrf_token": token})
    by_header = await site.client.post("/api/publish", data={"guid": "g4"},
                                       headers={"X-CSRF-Token": token})
    assert (by_field.status, by_header.status) == (200, 200)
    assert site.published == ["g3", "g4"]


async def test_csrf_refusal_page_is_french_html_for_browsers(site: Site) -> None:
    await login(site, *ORGANISER)
    response = await site.client.post("/deconnexion", headers=HTML, data={})
    assert response.status == 403
    text = await response.text()
    assert parse(text).find(".//h1").text.startswith(f"Jeton de sécurité absent ou invalide{NBSP}:")


async def test_logout_invalidates_the_session(site: Site) -> None:
    await login(site, *ORGANISER)
    sid = site.client.session.cookie_jar.filter_cookies(site.client.make_url("/"))
    old = sid[SESSION_COOKIE].value
    token = await session_csrf(site)
    refused = await site.client.post("/deconnexion", allow_redirects=False)
    assert refused.status == 403  # logout is state-changing too
    response = await site.client.post("/deconnexion", data={"csrf_token": token},
                                      allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/connexion"
    assert site.users.session(old) is None
    replayed = await site.client.get("/api/secret", cookies={SESSION_COOKIE: old})
    assert replayed.status == 401


async def test_expired_session_is_refused(site: Site) -> None:
    await login(site, *ORGANISER)
    site.wall.now += 12 * 3600 - 1
    assert (await site.client.get("/api/secret")).status == 200
    site.wall.now += 2
    assert (await site.client.get("/api/secret")).status == 401


async def test_wrong_password_shows_the_french_error_and_no_cookie(site: Site) -> None:
    response = await login(site, ORGANISER[0], "pas le bon mot de passe")
    assert response.status == 200
    assert SESSION_COOKIE not in response.cookies
    alert = parse(await response.text()).find(".//p[@role='alert']")
    assert alert.text == "Adresse ou mot de passe incorrect."
    unknown = await login(site, "inconnu@example.org", "pas le bon mot de passe")
    assert "Adresse ou mot de passe incorrect." in await unknown.text()


async def test_login_form_without_its_cookie_is_refused(site: Site) -> None:
    response = await site.client.post("/connexion", allow_redirects=False, data={
        "email": ORGANISER[0], "password": ORGANISER[1], "csrf_token": "x" * 43})
    assert response.status == 403
    assert SESSION_COOKIE not in response.cookies


async def test_failed_logins_are_rate_limited(site: Site) -> None:
    for _ in range(5):
        assert (await login(site, ORGANISER[0], "pas le bon mot de passe")).status == 200
    blocked = await login(site, *ORGANISER)
    assert blocked.status == 429
    assert SESSION_COOKIE not in blocked.cookies
    assert int(blocked.headers["Retry-After"]) > 0
    alert = parse(await blocked.text()).find(".//p[@role='alert']").text
    assert alert.startswith(f"Trop de tentatives{NBSP}: réessayez dans 15{NBSP}min.")
    assert (await login(site, *EDITOR)).status == 303  # another address is not blocked
    site.monotonic.now += 15 * 60
    assert (await login(site, *ORGANISER)).status == 303


async def test_login_page_is_valid_french_html(site: Site) -> None:
    response = await site.client.get("/connexion")
    assert response.headers["Cache-Control"] == "no-store"
    document = parse(await response.text())
    assert document.get("lang") == "fr"
    labels = {label.get("for"): label.text for label in document.iter("label")}
    assert labels == {"email": "Adresse électronique", "password": "Mot de passe"}
    inputs = {i.get("id"): i.get("type") for i in document.iter("input") if i.get("id")}
    assert inputs == {"email": "email", "password": "password"}
    assert document.find(".//button").text == "Se connecter"
    assert f"compte{NBSP}:" in "".join(document.find(".//main").itertext())


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/tableau?x=1", "/tableau?x=1"), ("//evil.example/", "/"), ("https://evil.example", "/"),
     ("/\\evil.example", "/"), ("", "/"), ("/a\r\nSet-Cookie: x", "/")],
)
def test_safe_next(target: str, expected: str) -> None:
    assert safe_next(target) == expected


async def test_login_never_redirects_off_site(site: Site) -> None:
    response = await login(site, *ORGANISER, suivant="//evil.example/")
    assert response.headers["Location"] == "/"


async def test_cookie_secure_setting(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "replay.sqlite3")
    users = Users(store.db)
    users.add(ORGANISER[0], "Organisatrice", Role.ORGANISER, ORGANISER[1])
    app = web.Application()
    setup_auth(app, AuthConfig.from_settings(Settings(cookie_secure=True)), users=users)
    app[DB] = await AsyncStore.open(Settings(data_dir=tmp_path))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        page = await client.get("/connexion")
        assert page.cookies["replay_connexion"]["secure"] is True
        token = page.cookies["replay_connexion"].value
        response = await client.post("/connexion", allow_redirects=False, data={
            "email": ORGANISER[0], "password": ORGANISER[1], "csrf_token": token},
            cookies={"replay_connexion": token})
        assert response.status == 303
        assert response.cookies[SESSION_COOKIE]["secure"] is True
    finally:
        await client.close()
        await app[DB].close()
        store.close()


def test_accounts_repository(engine_url: str) -> None:
    store = open_store(Settings(database_url=engine_url))
    try:
        users = Users(store.db)
        ana = users.add(" Ana@Example.org ", "Ana", "editor", EDITOR[1], event_slugs=["nice-2024"])
        assert ana.email == "Ana@Example.org"
        assert users.by_email("ana@example.org") == ana  # addresses ignore case
        assert ana.may_access_event("nice-2024")
        assert not ana.may_access_event("lyon-2025")
        with pytest.raises(AccountError, match="existe déjà"):
            users.add("ana@example.org", "Ana bis", "editor", EDITOR[1])
        with pytest.raises(AccountError, match=f"invalide{NBSP}:"):
            users.add("pas une adresse", "X", "editor", EDITOR[1])
        with pytest.raises(ValueError, match="admin"):
            users.add("x@example.org", "X", "admin", EDITOR[1])
        assert users.authenticate("ana@example.org", "mauvais mot de passe") is None
        assert users.authenticate("personne@example.org", EDITOR[1]) is None
    finally:
        store.close()


def test_expired_sessions_are_purged(engine_url: str) -> None:
    store = open_store(Settings(database_url=engine_url))
    try:
        clock = Clock(0.0)
        users = Users(store.db, session_seconds=60, clock=clock)
        user = users.add(ORGANISER[0], "O", "organiser", ORGANISER[1])
        old = users.create_session(user.id)
        clock.now = 61
        assert users.user_for_session(old) is None
        users.create_session(user.id)
        assert store.db.execute("SELECT count(*) FROM login_sessions").fetchall()[0][0] == 1
    finally:
        store.close()


# --- the command line ------------------------------------------------------------------


def test_cli_user_add_creates_an_account_that_can_log_in(
    tmp_path: Path, engine_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`replay user` works on the store REPLAY_DATABASE_URL names (SQLite or PostgreSQL)."""
    monkeypatch.setenv("REPLAY_NEW_PASSWORD", "une phrase de passe assez longue")
    monkeypatch.setenv("REPLAY_DATABASE_URL", engine_url)
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "user", "add", "ana@example.org", "--name", "Ana",
                 "--role", "editor"]) == 0
    assert main([*data, "user", "token", "ana@example.org", "--label", "sous-titres"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    store = open_store(Settings(database_url=engine_url))
    try:
        users = Users(store.db)
        user = users.authenticate("ana@example.org", "une phrase de passe assez longue")
        assert user is not None
        assert (user.name, user.role) == ("Ana", Role.EDITOR)
        assert users.user_for_token(token) == user
    finally:
        store.close()


def test_cli_refuses_a_short_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REPLAY_NEW_PASSWORD", "court")
    code = main(["--data-dir", str(tmp_path), "user", "add", "a@example.org", "--name", "A",
                 "--role", "organiser"])
    assert code == 2
    assert f"au moins 12{NBSP}caractères" in capsys.readouterr().err


def test_cli_token_for_unknown_user(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--data-dir", str(tmp_path), "user", "token", "x@example.org", "--label", "l"])
    assert code == 2
    assert "x@example.org" in capsys.readouterr().err
