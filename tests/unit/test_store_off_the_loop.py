"""No request runs a statement of the state store on the event loop's thread: every one
goes through the store's own thread (`AsyncStore.run`), so a slow query or a wait for
another writer's lock never stalls the other requests."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from replay.domain.transcript import Cue
from replay.settings import Settings
from replay.store import db, factory
from replay.store.db import Store
from replay.store.sqlite import SQLiteConnection
from replay.store.users import Role
from replay.web.app import create_app
from replay.web.auth import users_for
from replay.web.keys import DB, SETTINGS
from tests.unit.test_bad_input import PROGRAMME, SLUG, seed_session

PASSWORD = "un mot de passe sûr"
HTML = {"Accept": "text/html"}

Client = TestClient[web.Request, web.Application]


@dataclass
class LoopWatch:
    """The statements run on the loop's thread while `armed`."""

    loop_thread: int = field(default_factory=threading.get_ident)
    armed: bool = False
    on_the_loop: list[str] = field(default_factory=list)

    def traced(self, statement: str) -> None:
        if self.armed and threading.get_ident() == self.loop_thread:
            self.on_the_loop.append(statement)


@dataclass
class Site:
    client: Client
    app: web.Application
    watch: LoopWatch
    bearer: dict[str, str]
    recording_id: int


@pytest_asyncio.fixture
async def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Site]:
    watch, connect = LoopWatch(), db.connect

    def watched(path: Path, *, check_same_thread: bool = True) -> SQLiteConnection:
        connection = connect(path, check_same_thread=check_same_thread)
        connection.raw.set_trace_callback(watch.traced)
        return connection

    monkeypatch.setattr(db, "connect", watched)
    monkeypatch.setattr(factory, "connect", watched)
    settings = Settings(data_dir=tmp_path / "data", cpu_threads=1)
    app = create_app(settings, run_workers=False)
    async with TestClient(TestServer(app)) as client:
        token, recording_id = await app[DB].run(lambda store: _seed(store, settings, tmp_path))
        yield Site(client, app, watch, {"Authorization": f"Bearer {token}"}, recording_id)


def _seed(store: Store, settings: Settings, tmp_path: Path) -> tuple[str, int]:
    users = users_for(store.db, settings)
    organiser = users.add("orga@example.org", "Orga", Role.ORGANISER, PASSWORD)
    users.add("edith@example.org", "Édith", Role.EDITOR, PASSWORD)
    recording = seed_session(store, settings, tmp_path, [Cue(1.0, 3.0, ("Bonjour à tous.",))])
    return users.create_token(organiser.id, "tests"), recording.id


async def expect(response: aiohttp.ClientResponse,
                 status: int = 200) -> aiohttp.ClientResponse:
    assert response.status == status, (response.url, await response.text())
    return response


async def login(site: Site, email: str) -> str:
    """Sign in through the form; the session's CSRF token, read from a page."""
    page = await expect(await site.client.get("/connexion"))
    token = page.cookies["replay_connexion"].value
    await expect(await site.client.post("/connexion", allow_redirects=False, data={
        "email": email, "password": PASSWORD, "csrf_token": token}), 303)
    account = await expect(await site.client.get("/compte", headers=HTML))
    text = await account.text()
    return text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


async def organiser_pages_and_api(site: Site) -> None:
    get, api = site.client.get, site.bearer
    captions = f"/api/captions/{site.recording_id}/first/fr"
    for path in ("/organisateur/", f"/organisateur/evenements/{SLUG}",
                 f"/organisateur/evenements/{SLUG}/envoi",
                 f"/organisateur/evenements/{SLUG}/direct", "/organisateur/nouvel-evenement",
                 "/edition/", f"/edition/{site.recording_id}/first", "/compte"):
        await expect(await get(path, headers={**api, **HTML}))
    for path in ("/api/events", f"/api/events/{SLUG}", f"/api/events/{SLUG}/recordings",
                 f"/api/events/{SLUG}/sessions", f"/api/recordings/{site.recording_id}/plan",
                 f"/api/events/{SLUG}/options", f"/api/events/{SLUG}/glossary",
                 f"/api/events/{SLUG}/podcast", f"/api/events/{SLUG}/live", captions,
                 captions + "/history", captions + "/export.vtt",
                 f"/api/chapters/{site.recording_id}/first", "/health"):
        await expect(await get(path, headers=api))
    shown = await expect(await get(captions, headers=api))
    saved = await site.client.put(captions, json={"cues": [
        {"start": 1, "end": 2, "text": "Bonjour."}]},
        headers={**api, "If-Match": shown.headers["ETag"]})
    await expect(saved)
    imported = aiohttp.FormData()
    imported.add_field("file", b"WEBVTT\n\n00:01.000 --> 00:02.000\nBonsoir.\n",
                       filename="a.vtt")
    await expect(await site.client.post(captions + "/import", data=imported, headers={
        **api, "If-Match": saved.headers["ETag"]}))
    await expect(await site.client.post(captions + "/claim", headers=api))
    await expect(await site.client.delete(captions + "/claim", headers=api))
    await expect(await get(captions + "/diff", headers=api))
    await expect(await site.client.put(f"/api/chapters/{site.recording_id}/first", headers=api,
                                       json={"chapters": [{"start": 0, "title": "Début"}]}))
    await expect(await site.client.put(f"/api/events/{SLUG}/glossary", headers=api,
                                       json={"terms": ["Villes"]}))
    await expect(await site.client.post(f"/api/events/{SLUG}/live/Plénière/key", headers=api),
                 201)
    programme = aiohttp.FormData()
    programme.add_field("programme", PROGRAMME.read_bytes(), filename="p.json")
    await expect(await site.client.post(f"/api/events/{SLUG}/programme?preview=false",
                                        headers=api, data=programme))
    await expect(await site.client.post(f"/api/events/{SLUG}/replace", headers=api, json={
        "find": "Bonjour", "replace": "Salut", "recording_id": site.recording_id,
        "guid": "first"}))


async def test_no_request_touches_the_store_on_the_loop(site: Site) -> None:
    site.watch.armed = True
    await organiser_pages_and_api(site)
    csrf = await login(site, "edith@example.org")
    await expect(await site.client.get("/edition/", headers=HTML))
    await expect(await site.client.get(f"/api/captions/{site.recording_id}/first/en"))
    await expect(await site.client.post("/deconnexion", allow_redirects=False,
                                        data={"csrf_token": csrf}), 303)
    await expect(await site.client.get("/edition/", headers=HTML, allow_redirects=False), 303)
    assert site.watch.on_the_loop == []


async def test_the_watch_sees_a_statement_run_on_the_loop(site: Site) -> None:
    """The check above can fail: a query on the loop's thread is seen, one on the store's
    thread is not."""
    site.watch.armed = True
    await site.app[DB].run(lambda store: store.event_slugs())
    assert site.watch.on_the_loop == []
    on_the_loop = Store.open(site.app[SETTINGS].database_path)
    try:
        on_the_loop.event_slugs()
    finally:
        on_the_loop.close()
    assert site.watch.on_the_loop
