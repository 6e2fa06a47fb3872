"""Hostile input that used to end in 500s: huge or non-ASCII numeric ids, timestamps of
thousands of digits, numbers beyond a float, malformed multipart bodies, forms with too
many fields, cues past the caps. Each gets a French 4xx and changes nothing."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from replay.domain.cutplan import Cut
from replay.domain.programme import parse_programme
from replay.domain.transcript import Cue
from replay.domain.webvtt import MAX_CUE_CHARS, MAX_CUES, render_webvtt
from replay.services.captions import vtt_path
from replay.settings import Settings
from replay.store.db import Recording, Store
from replay.store.users import Role
from replay.web.app import create_app
from replay.web.auth import USERS
from replay.web.keys import DB

PROGRAMME = (Path(__file__).parent.parent / "fixtures" / "programmes"
             / "mission-villes-2026.schedule.json")
SLUG = "mission-villes-2026"
CUES = [Cue(1.0, 3.0, ("Bonjour à tous.",)), Cue(3.5, 6.0, ("Bienvenue.",))]
BAD_IDS = ["99999999999999999999", "9223372036854775808", "²", "٣", "-1", "1e3", "0x1"]

Client = TestClient[web.Request, web.Application]


@dataclass
class Api:
    client: Client
    app: web.Application
    headers: dict[str, str]
    recording: Recording

    def captions(self, tail: str = "") -> str:
        return f"/api/captions/{self.recording.id}/first/fr{tail}"

    async def etag(self) -> str:
        response = await self.client.get(self.captions(), headers=self.headers)
        assert response.status == 200
        return response.headers["ETag"]

    async def version(self) -> int:
        response = await self.client.get(self.captions("/history"), headers=self.headers)
        current: int = (await response.json())["current"]
        return current


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", cpu_threads=1)
    app = create_app(settings, run_workers=False)
    async with TestClient(TestServer(app)) as client:
        users = app[USERS]
        user = users.add("orga@example.org", "Orga", Role.ORGANISER, "un mot de passe sûr")
        headers = {"Authorization": f"Bearer {users.create_token(user.id, 'tests')}"}
        recording = await app[DB].run(lambda store: seed_session(store, settings, tmp_path,
                                                                  CUES))
        yield Api(client, app, headers, recording)


def seed_session(store: Store, settings: Settings, tmp_path: Path,
                 cues: list[Cue]) -> Recording:
    """The programme, one recording with its session « first », and that session's speech
    stage output (`cues` in French and English, an empty transcript)."""
    store.save_event(parse_programme(PROGRAMME.read_bytes(), filename="p.json"))
    recording = store.add_recording(
        event_slug=SLUG, room="Plénière", sha256="ab" * 32, original=tmp_path / "o.mp4",
        source_name="o.mp4", started_at=datetime.fromisoformat("2026-03-03T09:00:00+01:00"))
    store.save_cuts(recording.id, [Cut("first", "Ouverture", 0.0, 60.0, 0.0, 60.0,
                                       False, False)])
    speech = vtt_path(settings, recording, "first", "fr").parent
    speech.mkdir(parents=True)
    for lang in ("fr", "en"):
        (speech / f"subtitles.{lang}.vtt").write_text(render_webvtt(cues), "utf-8")
    (speech / "transcript.fr.json").write_text(json.dumps({"segments": []}), "utf-8")
    return recording


async def error_of(response: aiohttp.ClientResponse, status: int) -> str:
    assert response.status == status, await response.text()
    message: str = (await response.json())["error"]
    assert message.strip()
    return message


# -- ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_ids_that_cannot_be_a_row_are_not_found(api: Api, bad: str) -> None:
    for path in (f"/api/recordings/{bad}/plan", f"/api/captions/{bad}/first/fr",
                 f"/api/sessions/{bad}/first/retry", api.captions(f"/versions/{bad}")):
        method = "POST" if path.endswith("retry") else "GET"
        response = await api.client.request(method, path, headers=api.headers)
        assert "introuvable" in await error_of(response, 404), path
    diff = await api.client.get(api.captions("/diff"), params={"from": bad},
                                headers=api.headers)
    await error_of(diff, 404)
    page = await api.client.get(f"/edition/{bad}/first",
                                headers={**api.headers, "Accept": "text/html"})
    assert page.status == 404
    assert "introuvable" in await page.text()


@pytest.mark.parametrize("etag", ['"v99999999999999999999"', '"v²"', '"v٣"'])
async def test_an_if_match_that_cannot_be_a_version_is_refused(api: Api, etag: str) -> None:
    response = await api.client.put(api.captions(), json={"cues": []},
                                    headers={**api.headers, "If-Match": etag})
    assert "If-Match" in await error_of(response, 400)
    assert await api.version() == 1


# -- numbers in bodies ---------------------------------------------------------------------

BIG = "1" + "0" * 400  # a JSON integer no float can hold


@pytest.mark.parametrize("raw", ["1e400", "-1e400", BIG, "-1"])
async def test_cue_times_beyond_a_float_are_refused(api: Api, raw: str) -> None:
    etag = await api.etag()
    body = f'{{"cues": [{{"start": 0, "end": {raw}, "text": "x"}}]}}'
    response = await api.client.put(api.captions(), data=body, headers={
        **api.headers, "If-Match": etag, "Content-Type": "application/json"})
    await error_of(response, 422)
    reviewed = (f'{{"cues": [{{"start": 0, "end": 1, "text": "x"}}], '
                f'"reviewed_until": {raw}}}')
    response = await api.client.put(api.captions(), data=reviewed, headers={
        **api.headers, "If-Match": etag, "Content-Type": "application/json"})
    assert "reviewed_until" in await error_of(response, 400)
    moved = await api.client.patch(
        f"/api/recordings/{api.recording.id}/plan/first", data=f'{{"start": {raw}}}',
        headers={**api.headers, "Content-Type": "application/json"})
    assert "start" in await error_of(moved, 400)
    assert await api.version() == 1


#: Bodies whose members have JSON's wrong type: once taken (« "oui" » as false, « 5 » as
#: the title « 5 »), now each is a 400 naming the member, and nothing changes.
WRONG_TYPES = [
    ("PATCH", "/api/recordings/{id}/plan/first", {"confirm": "oui"}, "confirm"),
    ("POST", "/api/events/{slug}/replace", {"find": "a", "replace": "b", "apply": "oui"},
     "apply"),
    ("POST", "/api/events/{slug}/replace", {"find": "a", "replace": "b", "versions": []},
     "versions"),
    ("PUT", "/api/events/{slug}/options", {"editors_may_publish": 1}, "editors_may_publish"),
    ("POST", "/api/events", {"title": 5, "start": "2026-03-03"}, "title"),
    ("PUT", "/api/captions/{id}/first/fr", {"cues": [], "note": 5}, "note"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), WRONG_TYPES,
                         ids=[f"{m} {b}" for m, _, b, _ in WRONG_TYPES])
async def test_a_member_of_the_wrong_type_is_a_400_naming_it(
        api: Api, method: str, path: str, body: dict[str, object], field: str) -> None:
    url = path.format(id=api.recording.id, slug=SLUG)
    response = await api.client.request(method, url, json=body, headers={
        **api.headers, "If-Match": await api.etag()})
    message = await error_of(response, 400)
    assert (await response.json())["field"] == field
    assert f"«\u00a0{field}" in message or f"« {field}" in message, message
    assert await api.version() == 1


# -- subtitle files --------------------------------------------------------------------------


async def import_file(api: Api, name: str, text: str | bytes) -> aiohttp.ClientResponse:
    data = text.encode() if isinstance(text, str) else text
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data), filename=name)
    return await api.client.post(api.captions("/import"), data=form,
                                 headers={**api.headers, "If-Match": await api.etag()})


HOURS = "9" * 5000
FILES = [
    ("huge.vtt", f"WEBVTT\n\n{HOURS}:00:00.000 --> {HOURS}:00:01.000\nx\n", "démesuré"),
    ("huge.srt", f"1\n{HOURS}:00:00,000 --> {HOURS}:00:01,000\nx\n", "démesuré"),
    ("exposant.srt", "²\n00:00:00,000 --> 00:00:01,000\nx\n", "numéro de repère"),
    ("arabe.srt", "1\n٠٠:00:00,000 --> 00:00:01,000\nx\n", "horodatage invalide"),
    ("arabe.vtt", "WEBVTT\n\n٠٠:00.000 --> 00:01.000\nx\n", "horodatage invalide"),
    ("long.vtt", f"WEBVTT\n\n00:00.000 --> 00:01.000\n{'x' * (3 << 20)}\n", "caractères"),
    ("long.srt", f"1\n00:00:00,000 --> 00:00:01,000\n{'x' * (MAX_CUE_CHARS + 1)}\n",
     "caractères"),
]


@pytest.mark.parametrize(("name", "text", "words"), FILES, ids=[f[0] for f in FILES])
async def test_hostile_subtitle_files_are_refused_with_the_line(
        api: Api, name: str, text: str, words: str) -> None:
    response = await import_file(api, name, text)
    assert words in await error_of(response, 422)
    assert isinstance((await response.json())["line"], int)
    assert await api.version() == 1


async def test_too_many_cues_in_order_are_refused(api: Api) -> None:
    cues = "".join(f"{i + 1}\n{_srt(i)} --> {_srt(i + 0.5)}\nx\n\n" for i in range(MAX_CUES + 1))
    response = await import_file(api, "nombreux.srt", cues)
    assert "repères" in await error_of(response, 422)


def _srt(seconds: float) -> str:
    whole, millis = int(seconds), int(seconds % 1 * 1000)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d},{millis:03d}"


async def test_a_long_cue_is_refused_through_the_json_api_too(api: Api) -> None:
    response = await api.client.put(
        api.captions(), json={"cues": [{"start": 0, "end": 1, "text": "x" * (MAX_CUE_CHARS + 1)}]},
        headers={**api.headers, "If-Match": await api.etag()})
    assert "caractères" in await error_of(response, 422)


# -- multipart -------------------------------------------------------------------------------

MALFORMED: list[tuple[str, bytes]] = [
    ("multipart/form-data", b"--x\r\n\r\nv\r\n--x--\r\n"),  # no boundary
    ("multipart/form-data; boundary=x", b"--x\r\nBad Header Line\r\n\r\nv\r\n--x--\r\n"),
    ("multipart/form-data; boundary=x",
     b"--x\r\nContent-Disposition: form-data; name\r\n\r\nv\r\n--x--\r\n"),
    ("multipart/form-data; boundary=x",
     b"--x\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\nv\r\n--x--\r\n"),
    ("multipart/form-data; boundary=" + "b" * 80, b"--" + b"b" * 80 + b"\r\n"),
    ("multipart/form-data; boundary=x", b"--y\r\n\r\nv\r\n--y--\r\n"),  # wrong boundary
]


@pytest.mark.parametrize(("content_type", "body"), MALFORMED)
async def test_malformed_multipart_bodies_are_refused(
        api: Api, content_type: str, body: bytes) -> None:
    for path in ("/api/events", f"/api/events/{SLUG}/recordings", api.captions("/import")):
        response = await api.client.post(path, data=body, headers={
            **api.headers, "Content-Type": content_type, "If-Match": '"v1"'})
        assert response.status in {400, 422}, (path, await response.text())
        assert (await response.json())["error"]
    assert await api.app[DB].run(lambda store: store.recordings_of(SLUG)) == [api.recording]


def fields_form(count: int, size: int) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    for n in range(count):
        form.add_field(f"champ{n}", "x" * size)
    return form


@pytest.mark.parametrize(("count", "size"), [(40, 10), (10, 60 << 10)])
async def test_forms_with_too_many_or_too_large_fields_are_refused(
        api: Api, count: int, size: int) -> None:
    response = await api.client.post(f"/api/events/{SLUG}/recordings", headers=api.headers,
                                     data=fields_form(count, size))
    assert "Kio" in await error_of(response, 413)


async def test_a_form_within_the_caps_is_read(api: Api) -> None:
    response = await api.client.post(f"/api/events/{SLUG}/recordings", headers=api.headers,
                                     data=fields_form(3, 60 << 10))
    assert "Fichier manquant" in await error_of(response, 400)
