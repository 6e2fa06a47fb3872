"""No store statement of `replay serve` runs on the event loop's thread: the requests',
the embedded job workers' and the live's all go through the store's own thread
(`AsyncStore.run`), so a slow query or a wait for another writer's lock never stalls the
rest of the service."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from replay.domain.programme import parse_programme
from replay.domain.transcript import Cue
from replay.jobs.queue import ACTIVE, Job, JobQueue, JobStatus
from replay.jobs.tasks import MEDIA, PUBLISH, enqueue_recording, publish_job
from replay.live.store import LiveStore, StreamKey
from replay.live.supervisor import WATCH_EVERY
from replay.live.web import LIVE
from replay.settings import Settings
from replay.speech.transcriber import FakeTranscriber
from replay.store import db, factory
from replay.store.db import Store
from replay.store.sqlite import SQLiteConnection
from replay.store.users import Role
from replay.web.app import create_app
from replay.web.auth import users_for
from replay.web.keys import DB, QUEUE, SETTINGS
from tests.live_support import free_port
from tests.unit.test_api import Media
from tests.unit.test_api import media as api_media
from tests.unit.test_bad_input import PROGRAMME, SLUG, seed_session

media = api_media  # the same fixture: a 5 s recording, 160x90 with a tone

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


def watched_connections(monkeypatch: pytest.MonkeyPatch) -> LoopWatch:
    """Every state-store connection opened from now on traces its statements into the
    returned watch."""
    watch, connect = LoopWatch(), db.connect

    def watched(path: Path, *, check_same_thread: bool = True) -> SQLiteConnection:
        connection = connect(path, check_same_thread=check_same_thread)
        connection.raw.set_trace_callback(watch.traced)
        return connection

    monkeypatch.setattr(db, "connect", watched)
    monkeypatch.setattr(factory, "connect", watched)
    return watch


@pytest_asyncio.fixture
async def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Site]:
    watch = watched_connections(monkeypatch)
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


# -- the embedded workers and the live, as `replay serve` runs them --------------------------


async def until_settled(queue: JobQueue, queues: set[str], seconds: float = 120) -> list[Job]:
    """The jobs of `queues` once none of them waits or runs any more, or once one failed
    (its retry would come later)."""
    async with asyncio.timeout(seconds):
        while True:
            jobs = [job for job in await queue.list() if job.queue in queues]
            if all(job.status not in ACTIVE for job in jobs) or any(job.error for job in jobs):
                return jobs
            await asyncio.sleep(0.1)


async def test_the_embedded_workers_jobs_touch_no_store_on_the_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, media: Media) -> None:
    """A recording's analysis (then its session's media job) and the event's publication,
    taken from the real queue by the server's own workers: every statement of theirs runs
    on the store's thread, from the start of the server to its end."""
    watch = watched_connections(monkeypatch)
    watch.armed = True
    settings = Settings(data_dir=tmp_path / "data", cpu_threads=1, live_enabled=False)
    (tmp_path / "o.mp4").write_bytes(media.data)  # `seed_session`'s original
    app = create_app(settings, transcriber=FakeTranscriber(), worker_queues=(MEDIA, PUBLISH))
    async with TestClient(TestServer(app)):
        recording = await app[DB].run(lambda store: seed_session(store, settings, tmp_path, [
            Cue(1.0, 3.0, ("Bonjour à tous.",))]))
        await enqueue_recording(app[QUEUE], recording.id)
        await app[QUEUE].enqueue(publish_job(SLUG))
        jobs = await until_settled(app[QUEUE], {MEDIA, PUBLISH})
    assert {job.task for job in jobs} == {"analyse_recording", "media_session", "publish_event"}
    assert [(job.task, job.error) for job in jobs if job.status is not JobStatus.SUCCEEDED] == []
    assert (settings.site_dir / SLUG / "index.html").is_file(), "the publication ran"
    assert watch.on_the_loop == []


async def test_the_live_and_its_hooks_touch_no_store_on_the_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """nginx's on_publish with a wrong key and a good one, its update and on_publish_done,
    the take that starts (its stream cannot be read: no nginx here) and a look of the live
    at its rooms: none runs a store statement on the loop's thread."""
    watch = watched_connections(monkeypatch)
    watch.armed = True
    settings = Settings(data_dir=tmp_path / "data", cpu_threads=1,
                        live_listen_host="127.0.0.1", live_rtmp_port=free_port(),
                        live_srt_port=free_port(socket.SOCK_DGRAM),
                        nginx_binary=str(tmp_path / "no-nginx"))
    app = create_app(settings, worker_queues=())  # the live, no pipeline workers
    async with TestClient(TestServer(app)) as client:
        key = await app[DB].run(lambda store: _seed_live(store, settings))

        async def hook(call: str, name: str, form_call: str | None = None) -> int:
            response = await client.post(
                f"/live/hooks/{app[LIVE].hook_secret}/{call}",
                data={"app": "live", "name": name, "addr": "198.51.100.23",
                      "call": form_call or call})
            return response.status

        assert await hook("publish", "not-a-key") == 403
        assert await hook("publish", key.stream_key) == 200
        assert await hook("update", key.stream_key, "update_publish") == 200
        assert await hook("publish_done", key.stream_key) == 200
        await asyncio.sleep(WATCH_EVERY * 1.5)  # the live's look at its rooms
    assert watch.on_the_loop == []


def _seed_live(store: Store, settings: Settings) -> StreamKey:
    store.save_event(parse_programme(PROGRAMME.read_bytes(), filename="p.json"))
    return LiveStore(store.db).issue_key(SLUG, "Plénière", settings.live_srt_port)
