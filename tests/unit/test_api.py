"""The JSON API through the real factory (workers off), with real ffprobe on a tiny
generated recording, tuspy for resumable uploads, and the role checks of every route."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
import io
import json
import subprocess
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from replay.domain.cutplan import Cut
from replay.domain.podcast import relative_links_warning
from replay.domain.publication import Release
from replay.domain.stages import StageStatus
from replay.jobs.context import Context, Lanes
from replay.jobs.pipeline import publish as publish_event_now
from replay.jobs.queue import Job, JobQueue, JobSpec, JobStatus
from replay.locale import _
from replay.settings import Settings
from replay.speech.transcriber import FakeTranscriber
from replay.storage.memory import MemoryStore
from replay.store.db import Store
from replay.store.sqlite import sqlite_raw
from replay.store.users import Role
from replay.web.api_routes import ORGANISER
from replay.web.app import create_app
from replay.web.auth import USERS
from replay.web.keys import DB, QUEUE, SETTINGS
from replay.web.openapi import api_routes as documented_routes
from replay.web.openapi import openapi_document
from tests.app_store import own_store

FIXTURES = Path(__file__).parent.parent / "fixtures" / "programmes"
PROGRAMME = FIXTURES / "mission-villes-2026.schedule.json"
SLUG = "mission-villes-2026"
ROOM = "Plénière"
STARTED = "2026-03-03T09:00:00+01:00"
LIMIT = 1 << 20  # upload_max_bytes for these tests

Client = TestClient[web.Request, web.Application]


@dataclass
class Api:
    client: Client
    app: web.Application
    tokens: dict[str, str]
    data_dir: Path
    store: Store  # the test's own connection (`own_store`); the app's runs on its thread

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}

    @property
    def queue(self) -> JobQueue:
        return self.app[QUEUE]

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))


def build_app(settings: Settings) -> web.Application:
    """The real factory: auth, API and uploads are wired by create_app."""
    return create_app(dataclasses.replace(settings, upload_max_bytes=LIMIT), run_workers=False)


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, cpu_threads=1)
    app = build_app(settings)
    async with TestClient(TestServer(app)) as client, own_store(app) as store:
        users = app[USERS]
        tokens = {}
        for role in Role:
            user = users.add(f"{role}@example.org", str(role), role, "un mot de passe solide")
            tokens[str(role)] = users.create_token(user.id, "tests")
        yield Api(client, app, tokens, data_dir, store)


@dataclass(frozen=True)
class Media:
    path: Path
    data: bytes


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    path = tmp_path_factory.mktemp("media") / "plenary.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10:duration=5",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=5", "-c:v", "libx264",
         "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path)],
        check=True, timeout=60)
    assert path.stat().st_size < LIMIT
    return Media(path, path.read_bytes())


def programme(transform: Any = None) -> bytes:
    data = json.loads(PROGRAMME.read_text(encoding="utf-8"))
    if transform is not None:
        transform(data["schedule"]["conference"]["days"][0]["rooms"][ROOM])
    return json.dumps(data, ensure_ascii=False).encode()


def form(field: str, data: bytes, filename: str, **fields: str) -> aiohttp.FormData:
    body = aiohttp.FormData(quote_fields=False)  # file names as browsers send them
    for name, value in fields.items():
        body.add_field(name, value)
    body.add_field(field, io.BytesIO(data), filename=filename,
                   content_type="application/octet-stream")
    return body


async def create_event(api: Api, data: bytes | None = None) -> dict[str, Any]:
    response = await api.client.post("/api/events", headers=api.auth("organiser"),
                                     data=form("programme", data or programme(), "p.json"))
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def upload(api: Api, data: bytes, filename: str = "plenary.mp4",
                 **fields: str) -> aiohttp.ClientResponse:
    values = {"room": ROOM, "started_at": STARTED, **fields}
    return await api.client.post(f"/api/events/{SLUG}/recordings", headers=api.auth("organiser"),
                                 data=form("file", data, filename, **values))


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def kept_media(api: Api) -> list[Path]:
    """Recording bytes the server holds: originals and uploads (tus state files aside)."""
    return [p for p in files_under(api.data_dir / "originals")
            + files_under(api.data_dir / "uploads") if p.suffix != ".json"]


async def jobs(api: Api, task: str | None = None) -> list[Job]:
    return [job for job in await api.queue.list() if task is None or job.task == task]


# -- events and programmes ---------------------------------------------------------------


async def test_an_event_is_created_listed_and_shown(api: Api) -> None:
    created = await create_event(api)
    assert created["slug"] == SLUG
    assert created["rooms"] == ["Plénière", "Salle Seine", "Salle Marne"]
    assert len(created["sessions"]) == 20
    listed = await (await api.client.get("/api/events", headers=api.auth("organiser"))).json()
    assert [e["slug"] for e in listed["events"]] == [SLUG]
    shown = await api.client.get(f"/api/events/{SLUG}", headers=api.auth("editor"))
    assert shown.status == 200
    assert (await shown.json())["title"] == created["title"]
    again = await api.client.post("/api/events", headers=api.auth("organiser"),
                                  data=form("programme", programme(), "p.json"))
    assert again.status == 409
    assert "/programme" in (await again.json())["error"]
    missing = await api.client.get("/api/events/nope", headers=api.auth("organiser"))
    assert missing.status == 404
    assert "introuvable" in (await missing.json())["error"]


async def test_a_reimport_previews_the_changes_before_applying_them(api: Api) -> None:
    sessions = json.loads(PROGRAMME.read_text())["schedule"]["conference"]["days"][0]["rooms"][ROOM]
    added, changed, removed = sessions[1]["guid"], sessions[3]["guid"], sessions[-1]["guid"]
    await create_event(api, programme(lambda room: room.pop(1)))

    def edit(room: list[dict[str, Any]]) -> None:
        room[3]["title"] = "Témoignages (nouveau titre)"
        room.pop()

    async def reimport(preview: str) -> dict[str, Any]:
        response = await api.client.post(
            f"/api/events/{SLUG}/programme?preview={preview}", headers=api.auth("organiser"),
            data=form("programme", programme(edit), "p.json"))
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        titles = body.pop("titles")  # for the preview: every guid's title, old or new
        assert titles[changed] == "Témoignages (nouveau titre)"
        assert {*body["added"], *body["changed"], *body["removed"]} <= set(titles)
        return body

    expected = {"added": [added], "changed": [changed], "removed": [removed]}
    assert await reimport("true") == {**expected, "applied": False}
    event = api.store.load_event(SLUG)
    assert event is not None
    assert removed in {s.guid for s in event.sessions}
    assert added not in {s.guid for s in event.sessions}
    assert await reimport("false") == {**expected, "applied": True}
    assert await reimport("true") == {"added": [], "changed": [], "removed": [],
                                      "applied": False}


async def test_a_bad_programme_is_refused_with_the_parsers_message(api: Api) -> None:
    response = await api.client.post("/api/events", headers=api.auth("organiser"),
                                     data=form("programme", b"", "p.json"))
    assert response.status == 400
    assert (await response.json())["error"].startswith("Programme illisible")
    assert api.store.event_slugs() == []


async def test_a_programme_is_fetched_from_its_url(api: Api) -> None:
    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=programme(), content_type="application/json")

    source = web.Application()
    source.router.add_get("/schedule.json", serve)
    async with TestServer(source, host="127.0.0.1") as server:
        url = str(server.make_url("/schedule.json"))
        local = await api.client.post("/api/events", headers=api.auth("organiser"),
                                      json={"url": url})
        assert local.status == 422  # the default policy: public addresses only
        assert "publique" in (await local.json())["error"]
        assert api.store.event_slugs() == []
        settings = Settings(data_dir=api.data_dir.parent / "other", cpu_threads=1)
        wider = create_app(settings, run_workers=False,
                           fetch_policy=lambda address: str(address) == "127.0.0.1")
        async with TestClient(TestServer(wider)) as client:
            user = wider[USERS].add("o@example.org", "O", Role.ORGANISER, "un mot de passe sûr")
            headers = {"Authorization": f"Bearer {wider[USERS].create_token(user.id, 't')}"}
            response = await client.post("/api/events", headers=headers, json={"url": url})
            assert response.status == 201, await response.text()
            missing = await client.post("/api/events", headers=headers,
                                        json={"url": str(server.make_url("/none.json"))})
            assert missing.status == 422
            assert await missing.json() == await local.json()
    refused = await api.client.post("/api/events", headers=api.auth("organiser"),
                                    json={"url": "file:///etc/passwd"})
    assert refused.status == 400
    assert "http" in (await refused.json())["error"]


# -- recordings --------------------------------------------------------------------------


async def test_a_multipart_upload_becomes_a_recording_and_queues_its_analysis(
        api: Api, media: Media) -> None:
    await create_event(api)
    data = media.data
    response = await upload(api, data, "../../x.mp4", sha256=hashlib.sha256(data).hexdigest())
    assert response.status == 201, await response.text()
    body = await response.json()
    recording = body["recording"]
    assert recording["sha256"] == hashlib.sha256(data).hexdigest()
    assert recording["source_name"] == "x.mp4"
    assert recording["room"] == ROOM
    assert recording["duration"] == pytest.approx(5, abs=0.2)
    (analysis,) = await jobs(api, "analyse_recording")
    assert (analysis.id, analysis.args) == (body["job"], {"recording": recording["id"]})
    original = api.data_dir / "originals" / f"{recording['sha256']}.mp4"
    assert kept_media(api) == [original]
    assert original.read_bytes() == data
    assert not (api.data_dir.parent / "x.mp4").exists()
    assert not (api.data_dir / "x.mp4").exists()
    listed = await api.client.get(f"/api/events/{SLUG}/recordings",
                                  headers=api.auth("organiser"))
    assert [r["id"] for r in (await listed.json())["recordings"]] == [recording["id"]]


async def test_bad_media_is_refused_in_french_and_nothing_is_kept(api: Api) -> None:
    await create_event(api)
    response = await upload(api, b"ceci n'est pas une video" * 100, "faux.mp4")
    assert response.status == 422
    error = (await response.json())["error"]
    assert error.startswith("Fichier refusé")
    assert "faux.mp4" in error
    assert kept_media(api) == []
    assert api.store.recordings_of(SLUG) == []
    assert await jobs(api) == []


@pytest.mark.parametrize(("fields", "status", "words"), [
    ({"room": "Salle inconnue"}, 422, "Salle «\u00a0Salle inconnue\u00a0» inconnue"),
    ({"started_at": "2026-03-03T09:00:00"}, 422, "fuseau"),
    ({"started_at": "2026-06-01T09:00:00+02:00"}, 422, "hors du programme"),
    ({"sha256": "0" * 64}, 422, "SHA-256"),
    # refused by the form's model (`api_forms.UploadForm`), as a JSON body's member is
    ({"sha256": "pas une empreinte"}, 400, "«\u00a0sha256\u00a0» invalide\u00a0:"),
    ({"started_at": "hier à 9 h"}, 400, "«\u00a0started_at\u00a0» invalide\u00a0:"),
    ({"room": " "}, 400, "«\u00a0room\u00a0» manquant\u00a0:"),
])
async def test_uploads_that_do_not_fit_are_refused(api: Api, media: Media,
                                                   fields: dict[str, str], status: int,
                                                   words: str) -> None:
    await create_event(api)
    response = await upload(api, media.data, **fields)
    assert response.status == status
    answer = await response.json()
    assert words in answer["error"]
    if status == 400:
        assert answer["field"] == next(iter(fields))
    assert kept_media(api) == []


async def test_an_oversize_upload_is_refused_and_nothing_is_kept(api: Api) -> None:
    await create_event(api)
    for size in (LIMIT + 1, 3 * LIMIT):  # found while streaming, then by Content-Length
        response = await upload(api, bytes(size))
        assert response.status == 413
        assert "trop volumineux" in (await response.json())["error"]
        assert kept_media(api) == []


def tus_upload(api: Api, media: Media, **metadata: str) -> None:
    data = media.data
    client = TusClient(api.url("/api/uploads/"), headers=api.auth("organiser"))
    with media.path.open("rb") as stream:
        uploader = client.uploader(file_stream=stream, chunk_size=64 << 10, metadata={
            "event": SLUG, "room": ROOM, "started_at": STARTED,
            "filename": "../../plénière.mp4", "sha256": hashlib.sha256(data).hexdigest(),
            **metadata})
        uploader.upload()


async def test_a_tus_upload_becomes_a_recording_and_queues_its_analysis(
        api: Api, media: Media) -> None:
    await create_event(api)
    await asyncio.to_thread(tus_upload, api, media)
    (recording,) = api.store.recordings_of(SLUG)
    assert recording.source_name == "plénière.mp4"
    assert recording.started_at.isoformat() == STARTED
    (analysis,) = await jobs(api, "analyse_recording")
    assert analysis.args == {"recording": recording.id}
    assert kept_media(api) == [recording.original]
    assert recording.original.read_bytes() == media.data


async def test_tus_refuses_bad_media_and_unknown_rooms(api: Api, tmp_path: Path) -> None:
    await create_event(api)
    bad = Media(tmp_path / "faux.mp4", b"pas une video" * 1000)
    bad.path.write_bytes(bad.data)
    with pytest.raises(TusCommunicationError) as refused:
        await asyncio.to_thread(tus_upload, api, bad)
    assert refused.value.status_code == 422
    with pytest.raises(TusCommunicationError) as unknown:
        await asyncio.to_thread(tus_upload, api, bad, room="Salle inconnue")
    assert unknown.value.status_code == 422
    assert kept_media(api) == []
    assert api.store.recordings_of(SLUG) == []


# -- cut plan and sessions ---------------------------------------------------------------


def two_cuts() -> list[Cut]:
    return [Cut("first", "Première", 0.0, 2.5, 0.0, 2.5, True, True),
            Cut("second", "Seconde", 2.5, 5.0, 2.5, 5.0, True, True)]


async def planned_recording(api: Api, media: Media) -> int:
    await create_event(api)
    response = await upload(api, media.data)
    recording_id: int = (await response.json())["recording"]["id"]
    api.store.save_cuts(recording_id, two_cuts())
    return recording_id


def mark_processed(api: Api, recording: int, guid: str) -> None:
    """The session's media and speech stages done, as their jobs leave them."""
    for stage in ("media", "speech"):
        api.store.set_stage(recording, guid, stage, input_key="k", status=StageStatus.DONE)


async def test_moving_a_boundary_reruns_only_that_session(api: Api, media: Media) -> None:
    recording = await planned_recording(api, media)
    headers = api.auth("organiser")
    shown = await (await api.client.get(f"/api/recordings/{recording}/plan",
                                        headers=headers)).json()
    assert [c["guid"] for c in shown["cuts"]] == ["first", "second"]
    assert shown["confirmed"] is False
    doubtful = await api.client.patch(f"/api/recordings/{recording}/plan/first",
                                      headers=headers, json={"end": 2.0})
    assert doubtful.status == 409  # a two-second session: most likely a slip
    assert (await doubtful.json())["confirm"] == ["la séance ne durerait plus que 2\u00a0s"]
    assert await jobs(api, "media_session") == [], "nothing moves before the confirmation"
    moved = await api.client.patch(f"/api/recordings/{recording}/plan/first",
                                   headers=headers, json={"end": 2.0, "confirm": True})
    assert moved.status == 200, await moved.text()
    body = await moved.json()
    assert [(c["guid"], c["end"]) for c in body["cuts"]] == [("first", 2.0), ("second", 5.0)]
    session_jobs = [j for j in await jobs(api) if j.task != "analyse_recording"]
    assert sorted((j.task, j.args["guid"]) for j in session_jobs) == [
        ("media_session", "first"), ("speech_session", "first")]
    assert sorted(body["jobs"]) == sorted(j.id for j in session_jobs)
    overlap = await api.client.patch(f"/api/recordings/{recording}/plan/first",
                                     headers=headers, json={"end": 3.0, "confirm": True})
    assert overlap.status == 422
    assert "Limite refusée" in (await overlap.json())["error"]
    unknown = await api.client.patch(f"/api/recordings/{recording}/plan/nope",
                                     headers=headers, json={"end": 1.0})
    assert unknown.status == 404
    confirmed = await api.client.post(f"/api/recordings/{recording}/plan/confirm",
                                      headers=headers)
    assert (await confirmed.json())["confirmed"] is True


async def test_sessions_show_their_stages_and_a_failed_one_is_retried(
        api: Api, media: Media) -> None:
    recording = await planned_recording(api, media)
    job_id = await api.queue.enqueue(JobSpec("media_session",
                                             {"recording": recording, "guid": "first"},
                                             queue="media"))
    await api.queue.enqueue(JobSpec("analyse_recording", {}, queue="other"))
    job = await api.queue.fetch(["media"], "w", 30)
    while job is not None and job.id != job_id:
        await api.queue.succeed(job.id, job.attempt)
        job = await api.queue.fetch(["media"], "w", 30)
    assert job is not None
    await api.queue.fail(job.id, job.attempt, "ffmpeg a échoué", retry_at=None, permanent=True)
    response = await api.client.get(f"/api/events/{SLUG}/sessions", headers=api.auth("editor"))
    assert response.status == 200
    rows = {row["guid"]: row for row in (await response.json())["sessions"]}
    assert rows["first"]["stages"]["media"]["status"] == "failed"
    assert rows["first"]["stages"]["media"]["error"] == "ffmpeg a échoué"
    assert rows["second"]["stages"]["media"]["status"] == "pending"
    assert rows["first"]["published"] is False
    retry = await api.client.post(f"/api/sessions/{recording}/first/retry",
                                  headers=api.auth("organiser"))
    assert retry.status == 202
    assert (await retry.json())["retried"] == [job_id]
    again = await api.queue.get(job_id)
    assert again is not None
    assert again.status is JobStatus.TODO
    nothing = await api.client.post(f"/api/sessions/{recording}/second/retry",
                                    headers=api.auth("organiser"))
    assert nothing.status == 409
    early = await api.client.post(f"/api/sessions/{recording}/first/publish",
                                  headers=api.auth("organiser"))
    assert early.status == 409
    assert "pas prête" in (await early.json())["error"]
    mark_processed(api, recording, "second")
    ready = await api.client.post(f"/api/sessions/{recording}/second/publish",
                                  headers=api.auth("organiser"))
    assert ready.status == 202
    answer = await ready.json()
    (publish,) = await jobs(api, "publish_event")
    assert (publish.id, publish.args) == (answer["job"], {"event": SLUG})
    # No public_url here: the organiser learns the podcast feed will link relatively.
    assert answer["warnings"] == [_(relative_links_warning())]


async def test_unpublishing_is_the_publication_jobs_work(api: Api, media: Media) -> None:
    """The handler writes the decision and queues the event's publication (lock
    ``publish:<event>``); only that job touches the object store: the index without the
    session first, then the session's objects deleted."""
    recording = await planned_recording(api, media)
    mark_processed(api, recording, "second")
    api.store.set_stage(recording, "second", "publish", input_key="",
                        status=Release.RELEASED)
    objects = MemoryStore()
    session_keys = [f"{SLUG}/second/index.html", f"{SLUG}/second/hls/master.m3u8"]
    for key in session_keys:
        await objects.put_bytes(key, b"x")
    unknown = await api.client.post(f"/api/sessions/{recording}/absent/unpublish",
                                    headers=api.auth("organiser"))
    assert unknown.status == 404
    response = await api.client.post(f"/api/sessions/{recording}/second/unpublish",
                                     headers=api.auth("organiser"))
    assert response.status == 202
    answer = await response.json()
    (publish,) = await jobs(api, "publish_event")
    assert answer == {"unpublished": ["second"], "job": publish.id}
    assert publish.lock == f"publish:{SLUG}"
    state = api.store.stage(recording, "second", "publish")
    assert state is not None
    assert state.status == "unpublished"
    assert sorted(objects.objects) == sorted(session_keys), "the handler wrote nothing"
    event = api.store.load_event(SLUG)
    assert event is not None
    ctx = Context(settings=api.app[SETTINGS], db=api.app[DB], objects=objects,
                  transcriber=FakeTranscriber(), lanes=Lanes.for_threads(1))
    await publish_event_now(ctx, event)
    assert not [key for key in objects.objects if key.startswith(f"{SLUG}/second/")]
    assert f"{SLUG}/index.html" in objects.objects
    await publish_event_now(ctx, event)  # again: nothing left to delete, no error


async def test_the_session_list_reads_the_store_off_the_event_loop(api: Api,
                                                                     media: Media) -> None:
    """Its queries run on the store's own thread (`AsyncStore`), the app's one connection:
    none on the loop's thread (the token check included)."""
    recording = await planned_recording(api, media)
    threads: set[str] = set()

    def trace(store: Store) -> None:
        sqlite_raw(store).set_trace_callback(
            lambda sql: threads.add(threading.current_thread().name))

    await api.app[DB].run(trace)
    try:
        response = await api.client.get(f"/api/events/{SLUG}/sessions",
                                        headers=api.auth("editor"))
        assert response.status == 200
        rows = (await response.json())["sessions"]
        assert {row["recording"] for row in rows if row["recording"]} == {recording}
    finally:
        await api.app[DB].run(lambda store: sqlite_raw(store).set_trace_callback(None))
    assert threads, "the store's thread ran the queries"
    assert all(name.startswith("state-store") for name in threads), threads
    assert threading.current_thread().name not in threads


# -- roles and the OpenAPI document ------------------------------------------------------

ORGANISER_ONLY = [
    ("POST", "/api/events"),
    ("POST", f"/api/events/{SLUG}/programme"),
    ("POST", f"/api/events/{SLUG}/recordings"),
    ("GET", f"/api/events/{SLUG}/recordings"),
    ("GET", "/api/recordings/1/plan"),
    ("PATCH", "/api/recordings/1/plan/first"),
    ("POST", "/api/recordings/1/plan/confirm"),
    ("POST", "/api/sessions/1/first/retry"),
    ("POST", "/api/sessions/1/first/publish"),
    ("POST", "/api/sessions/1/first/unpublish"),
    ("POST", "/api/uploads/"),
]
READERS = [
    ("GET", "/api/openapi.json"),
    ("GET", "/api/events"),
    ("GET", f"/api/events/{SLUG}"),
    ("GET", f"/api/events/{SLUG}/sessions"),
]
TUS = {"Tus-Resumable": "1.0.0", "Upload-Length": "10"}


async def test_every_endpoint_checks_the_role(api: Api) -> None:
    await create_event(api)
    for method, path in ORGANISER_ONLY + READERS:
        for who, refused in (("anonymous", 401), ("editor", 403)):
            if who == "editor" and (method, path) in READERS:
                continue
            response = await api.client.request(method, path, headers={**TUS, **api.auth(who)})
            assert response.status == refused, (who, method, path)
            assert "error" in await response.json()
    for method, path in READERS:
        response = await api.client.request(method, path, headers=api.auth("editor"))
        assert response.status == 200, (method, path)


#: A value for each path parameter of the API's routes.
PATH_VALUES = {"slug": SLUG, "id": "1", "guid": "first", "lang": "fr", "n": "1",
               "upload_id": "absent", "room": "pleniere"}


async def test_each_route_enforces_the_role_its_table_declares(api: Api) -> None:
    """The role written in the document is the one the handler checks: anonymous callers
    get 401 everywhere, editors 403 on the organisers' routes and never on theirs."""
    await create_event(api)
    for route in documented_routes():
        path = route.path.format(**PATH_VALUES)
        anonymous = await api.client.request(route.method, path)
        assert anonymous.status == 401, (route.method, route.path)
        editor = await api.client.request(route.method, path, headers=api.auth("editor"))
        if route.role == ORGANISER:
            assert editor.status == 403, (route.method, route.path)
        else:
            assert editor.status not in (401, 403), (route.method, route.path)


#: The routes editors may call (organisers may call every route), written here apart from
#: the routes' tables: the tables are the one place the server takes roles from, so a role
#: changed there by mistake is caught here.
CAPTIONS = "/api/captions/{id}/{guid}/{lang}"
EDITORS_ROUTES = {
    ("GET", "/api/openapi.json"), ("GET", "/api/events"), ("GET", "/api/events/{slug}"),
    ("GET", "/api/events/{slug}/sessions"), ("POST", "/api/events/{slug}/replace"),
    ("GET", "/api/events/{slug}/glossary"), ("PUT", "/api/events/{slug}/glossary"),
    ("GET", "/api/chapters/{id}/{guid}"), ("PUT", "/api/chapters/{id}/{guid}"),
    ("GET", CAPTIONS), ("PUT", CAPTIONS), ("GET", f"{CAPTIONS}/history"),
    ("GET", f"{CAPTIONS}/versions/{{n}}"), ("GET", f"{CAPTIONS}/diff"),
    ("POST", f"{CAPTIONS}/revert"), ("POST", f"{CAPTIONS}/status"),
    ("POST", f"{CAPTIONS}/claim"), ("DELETE", f"{CAPTIONS}/claim"),
    ("GET", f"{CAPTIONS}/export.vtt"), ("GET", f"{CAPTIONS}/export.srt"),
    ("POST", f"{CAPTIONS}/import"),
}


def test_the_tables_give_editors_exactly_their_routes() -> None:
    routes = documented_routes()
    assert {route.role for route in routes} == set(Role)
    editors = {(route.method, route.path) for route in routes if route.role is Role.EDITOR}
    assert editors == EDITORS_ROUTES


def api_routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method not in {"HEAD", "*"}:
            found.add((route.method.lower(), path))
    return found


def test_the_openapi_document_lists_every_route_and_is_valid(tmp_path: Path) -> None:
    document = openapi_document()
    validate(copy.deepcopy(document))
    documented = {(method, path) for path, item in document["paths"].items()
                  for method in item if method not in {"parameters", "head"}}
    assert api_routes(build_app(Settings(data_dir=tmp_path))) == documented  # tus included


# -- issue 8: creating events from the page, uploads kept for correction, deletion -------


async def test_an_event_is_created_from_its_description_then_its_programme(api: Api) -> None:
    headers = api.auth("organiser")
    description = {"title": "Mission Villes 2026", "start": "2026-03-03", "end": "2026-03-04",
                   "timezone": "Europe/Paris", "rooms": "Plénière\nSalle Seine\n",
                   "publication_rule": "apres_sous_titres"}
    preview = await api.client.post("/api/events?preview=true", headers=headers,
                                    json=description)
    assert preview.status == 200
    shown = await preview.json()
    assert (shown["slug"], shown["rooms"], shown["exists"]) == (
        "mission-villes-2026", ["Plénière", "Salle Seine"], False)
    assert api.store.load_event(SLUG) is None, "a preview creates nothing"
    created = await api.client.post("/api/events", headers=headers, json=description)
    assert created.status == 201, await created.text()
    options = await (await api.client.get(f"/api/events/{SLUG}/options",
                                          headers=headers)).json()
    assert options["publication_rule"] == "apres_sous_titres"
    applied = await api.client.post(f"/api/events/{SLUG}/programme?preview=false",
                                    headers=headers, data=form("programme", programme(), "p.json"))
    assert applied.status == 200
    assert len((await applied.json())["added"]) == 20


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"title": "", "start": "2026-03-03"}, "title", "Nom manquant"),
    ({"title": "X", "start": "3 mars", "end": "2026-03-03"}, "start", "illisible"),
    ({"title": "X", "start": "2026-03-04", "end": "2026-03-03"}, "end", "précède"),
    ({"title": "X", "start": "2026-03-03", "end": "2026-03-03", "timezone": "Mars/Olympus"},
     "timezone", "inconnu"),
    ({"title": "X", "start": "2026-03-03", "end": "2026-03-03", "timezone": "UTC",
      "rooms": " \n "}, "rooms", "Aucune salle"),
    ({"title": "X", "start": "2026-03-03", "end": "2026-03-03", "timezone": "UTC",
      "rooms": "A", "publication_rule": "jamais"}, "publication_rule", "invalide"),
])
@pytest.mark.parametrize("sent", ["json", "form"])
async def test_a_wrong_event_description_names_the_field(api: Api, fields: dict[str, str],
                                                          field: str, message: str,
                                                          sent: str) -> None:
    if sent == "json":
        response = await api.client.post("/api/events", headers=api.auth("organiser"),
                                         json=fields)
    else:
        response = await api.client.post("/api/events", headers=api.auth("organiser"),
                                         data=aiohttp.FormData(fields, default_to_multipart=True))
    assert response.status == 400
    body = await response.json()
    assert body["field"] == field
    assert message in body["error"]
    assert api.store.event_slugs() == []


async def test_a_start_after_the_programme_is_refused_before_any_byte(
        api: Api, media: Media) -> None:
    await create_event(api)
    with pytest.raises(TusCommunicationError) as refused:
        await asyncio.to_thread(tus_upload, api, media, started_at="2026-03-05T09:00:00+01:00")
    assert refused.value.status_code == 422
    assert not (api.data_dir / "uploads" / "tus").exists() or \
        list((api.data_dir / "uploads" / "tus").iterdir()) == [], "no upload was even created"


async def test_a_refused_start_is_corrected_without_sending_the_file_again(
        api: Api, media: Media) -> None:
    await create_event(api)
    with pytest.raises(TusCommunicationError) as refused:  # 05:00: before the programme
        await asyncio.to_thread(tus_upload, api, media, started_at="2026-03-03T05:00:00+01:00")
    assert refused.value.status_code == 422
    held_id = json.loads(refused.value.response_content or b"{}")["held"]
    assert api.store.recordings_of(SLUG) == []
    listed = await (await api.client.get(f"/api/events/{SLUG}/held-uploads",
                                         headers=api.auth("organiser"))).json()
    assert [u["id"] for u in listed["uploads"]] == [held_id]
    assert "hors du programme" in listed["uploads"][0]["reason"]
    still_wrong = await api.client.post(f"/api/held-uploads/{held_id}",
                                        headers=api.auth("organiser"),
                                        json={"started_at": "2026-03-03T05:30:00+01:00"})
    assert still_wrong.status == 422
    assert (await still_wrong.json())["held"] == held_id, "still kept for a correction"
    admitted = await api.client.post(f"/api/held-uploads/{held_id}",
                                     headers=api.auth("organiser"),
                                     json={"started_at": STARTED})
    assert admitted.status == 201, await admitted.text()
    (recording,) = api.store.recordings_of(SLUG)
    assert recording.started_at.isoformat() == STARTED
    assert recording.original.read_bytes() == media.data
    assert kept_media(api) == [recording.original]
    again = await api.client.post(f"/api/held-uploads/{held_id}",
                                  headers=api.auth("organiser"), json={})
    assert again.status == 404


async def test_bad_media_is_not_kept_for_a_correction(api: Api, tmp_path: Path) -> None:
    await create_event(api)
    bad = Media(tmp_path / "faux.mp4", b"pas une video" * 1000)
    bad.path.write_bytes(bad.data)
    with pytest.raises(TusCommunicationError) as refused:
        await asyncio.to_thread(tus_upload, api, bad)
    assert json.loads(refused.value.response_content or b"{}")["held"] is None
    assert kept_media(api) == []


async def test_deleting_a_recording_cancels_its_jobs_and_keeps_the_others(
        api: Api, media: Media) -> None:
    wrong = await planned_recording(api, media)
    other = await upload(api, media.data, filename="autre.mp4", room="Salle Seine")
    kept: int = (await other.json())["recording"]["id"]  # the same file, another room
    await api.client.patch(f"/api/recordings/{wrong}/plan/first", headers=api.auth("organiser"),
                           json={"end": 2.0, "confirm": True})
    queued = [j for j in await jobs(api) if j.args.get("recording") == wrong]
    assert queued
    response = await api.client.delete(f"/api/recordings/{wrong}",
                                       headers=api.auth("organiser"))
    assert response.status == 200, await response.text()
    assert (await response.json())["sessions"] == ["first", "second"]
    assert [r.id for r in api.store.recordings_of(SLUG)] == [kept]
    assert api.store.load_cuts(wrong) == []
    for job in queued:
        cancelled = await api.queue.get(job.id)
        assert cancelled is not None
        assert cancelled.status == JobStatus.CANCELLED
    (survivor,) = api.store.recordings_of(SLUG)
    assert survivor.original.is_file(), "the other recording's original is the same file"
    kept_jobs = [j for j in await jobs(api) if j.args.get("recording") == kept]
    assert {j.status for j in kept_jobs} == {JobStatus.TODO}
    editor = await api.client.delete(f"/api/recordings/{kept}", headers=api.auth("editor"))
    assert editor.status == 403
