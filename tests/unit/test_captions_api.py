"""The caption review API through the real factory (workers off): versions and ETags,
conflicts between two editors, history/diff/revert, the workflow and who may publish,
claims, strict import and export, find and replace across the event."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from replay.domain.cutplan import Cut
from replay.domain.programme import parse_programme
from replay.domain.publication import PublicationRule, decide
from replay.domain.stages import PlanReview, StageStatus
from replay.domain.transcript import Cue
from replay.domain.webvtt import parse_webvtt, render_webvtt
from replay.jobs.queue import JobStatus
from replay.services.captions import vtt_path, write_corrections
from replay.services.publication import session_facts
from replay.settings import Settings
from replay.store.captions import Captions
from replay.store.db import Recording, Store
from replay.store.sqlite import sqlite_raw
from replay.store.users import Role
from replay.web.app import create_app
from replay.web.auth import USERS
from replay.web.keys import DB, QUEUE
from tests.app_store import own_store

PROGRAMME = (Path(__file__).parent.parent / "fixtures" / "programmes"
             / "mission-villes-2026.schedule.json")
SLUG = "mission-villes-2026"
CUES = [Cue(1.0, 3.0, ("Bonjour à tous.",)), Cue(3.5, 6.0, ("Bienvenue à netzerocities.",)),
        Cue(6.5, 8.0, ("Merci.",))]
WORDS = {"language": "fr", "segments": [{"start": 1.0, "end": 3.0, "text": "Bonjour à tous.",
                                         "words": [
    {"start": 1.0, "end": 1.5, "word": "Bonjour", "probability": 0.9},
    {"start": 1.5, "end": 2.0, "word": "à", "probability": 0.3}]}]}

Client = TestClient[web.Request, web.Application]


@dataclass
class Api:
    client: Client
    app: web.Application
    tokens: dict[str, str]
    settings: Settings
    recording: Recording
    store: Store  # the test's own connection (`own_store`); the app's runs on its thread

    def auth(self, who: str, **headers: str) -> dict[str, str]:
        found = {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}
        return {**found, **headers}

    def path(self, guid: str = "first", lang: str = "fr", tail: str = "") -> str:
        return f"/api/captions/{self.recording.id}/{guid}/{lang}{tail}"


def make_session(settings: Settings, recording: Recording, guid: str, cues: list[Cue]) -> None:
    speech = vtt_path(settings, recording, guid, "fr").parent
    speech.mkdir(parents=True, exist_ok=True)
    for lang in ("fr", "en"):
        (speech / f"subtitles.{lang}.vtt").write_text(render_webvtt(cues), encoding="utf-8")
    (speech / "transcript.fr.json").write_text(json.dumps(WORDS), encoding="utf-8")


@pytest_asyncio.fixture
async def api(tmp_path: Path, engine_url: str) -> AsyncIterator[Api]:
    """The captions API on each engine of the state store (the caption repository's
    acceptance suite)."""
    settings = Settings(data_dir=tmp_path / "data", cpu_threads=1, database_url=engine_url)
    app = create_app(settings, run_workers=False)
    async with TestClient(TestServer(app)) as client, own_store(app) as store:
        users = app[USERS]
        tokens = {}
        for name, role in (("organiser", Role.ORGANISER), ("editor", Role.EDITOR),
                           ("editor2", Role.EDITOR)):
            user = users.add(f"{name}@example.org", name.capitalize(), role, "mot de passe sûr")
            tokens[name] = users.create_token(user.id, "tests")
        store.save_event(parse_programme(PROGRAMME.read_bytes(), filename="p.json"))
        recording = store.add_recording(
            event_slug=SLUG, room="Plénière", sha256="ab" * 32, original=tmp_path / "o.mp4",
            source_name="o.mp4", started_at=datetime.fromisoformat("2026-03-03T09:00:00+01:00"))
        store.save_cuts(recording.id, [Cut(g, f"Session {g}", s, s + 60, s, s + 60, False, False)
                                       for g, s in (("first", 0.0), ("second", 60.0))])
        for guid in ("first", "second"):
            make_session(settings, recording, guid, CUES)
        yield Api(client, app, tokens, settings, recording, store)


async def get(api: Api, who: str = "editor", **kw: Any) -> tuple[dict[str, Any], str]:
    response = await api.client.get(api.path(**kw), headers=api.auth(who))
    assert response.status == 200, await response.text()
    return await response.json(), response.headers["ETag"]


def cues_body(*texts: str) -> list[dict[str, Any]]:
    return [{"start": c.start, "end": c.end, "text": t} for c, t in zip(CUES, texts, strict=False)]


async def put(api: Api, cues: list[dict[str, Any]], etag: str | None,
              who: str = "editor") -> aiohttp.ClientResponse:
    headers = api.auth(who) if etag is None else api.auth(who, **{"If-Match": etag})
    return await api.client.put(api.path(), headers=headers, json={"cues": cues,
                                                                   "reviewed_until": 4.0})


# -- reading and saving --------------------------------------------------------------------


async def test_first_read_imports_whisper_version(api: Api) -> None:
    body, etag = await get(api)
    assert etag == '"v1"'
    assert (body["version"], body["status"], body["author"]) == (1, "brouillon_automatique",
                                                                 "Whisper")
    assert [c["text"] for c in body["cues"]] == [c.text for c in CUES]
    assert len(body["warnings"]) == 3
    assert body["low_confidence"] == [{"start": 1.5, "end": 2.0, "word": "à",
                                       "probability": 0.3}]
    assert body["claimed_by"] is None
    assert body["machine_pending"] is False
    english, _ = await get(api, lang="en")
    assert english["low_confidence"] == []


async def test_save_needs_if_match_and_makes_a_version(api: Api) -> None:
    _, etag = await get(api)
    texts = ("Bonjour à tous.", "Bienvenue à NetZeroCities.", "Merci.")
    assert (await put(api, cues_body(*texts), None)).status == 428
    saved = await put(api, cues_body(*texts), etag)
    assert saved.status == 200, await saved.text()
    assert saved.headers["ETag"] == '"v2"'
    body = await saved.json()
    assert (body["version"], body["status"], body["author"]) == (2, "en_relecture", "Editor")
    assert body["reviewed_until"] == 4.0


@pytest.mark.parametrize("engine_url", ["sqlite"], indirect=True)  # traces SQLite's statements
async def test_a_save_writes_on_the_stores_thread_not_the_event_loop(api: Api) -> None:
    """The version is written through `AsyncStore` (its thread waits for SQLite's write
    lock, not the event loop)."""
    _, etag = await get(api)
    traced: list[tuple[str, str]] = []  # (the thread, the statement)

    def trace(store: Store) -> None:
        sqlite_raw(store).set_trace_callback(
            lambda sql: traced.append((threading.current_thread().name, sql)))

    await api.app[DB].run(trace)
    try:
        saved = await put(api, cues_body("Un.", "Deux.", "Trois."), etag)
    finally:
        await api.app[DB].run(lambda store: sqlite_raw(store).set_trace_callback(None))
    assert saved.status == 200, await saved.text()
    assert (await saved.json())["version"] == 2
    writes = [(thread, sql) for thread, sql in traced if sql.lstrip().upper().startswith(
        ("INSERT", "UPDATE", "DELETE")) and "caption" in sql]
    assert writes, "the version was written"
    assert all(thread.startswith("state-store") for thread, _ in writes), writes


async def test_second_editor_gets_a_conflict_with_both_versions(api: Api) -> None:
    _, etag = await get(api)
    first = await put(api, cues_body("Un.", "Deux.", "Trois."), etag)
    assert first.status == 200
    second = await put(api, cues_body("Uno.", "Dos.", "Tres."), etag, who="editor2")
    assert second.status == 409
    body = await second.json()
    assert "Editor" in body["error"]
    assert body["current"]["version"] == 2
    assert [c["text"] for c in body["current"]["cues"]] == ["Un.", "Deux.", "Trois."]
    assert [c["text"] for c in body["yours"]["cues"]] == ["Uno.", "Dos.", "Tres."]
    current, _ = await get(api)
    assert current["version"] == 2


@pytest.mark.parametrize(("cues", "cue"), [
    ([{"start": 2.0, "end": 1.0, "text": "a"}], 1),
    ([{"start": 1.0, "end": 2.0, "text": "a"}, {"start": 0.5, "end": 3.0, "text": "b"}], 2),
    ([{"start": 1.0, "end": 2.0, "text": "<script></script>"}], 1),
])
async def test_invalid_cues_are_refused_with_the_cue(api: Api, cues: list[dict[str, Any]],
                                                     cue: int) -> None:
    _, etag = await get(api)
    response = await put(api, cues, etag)
    assert response.status == 422
    body = await response.json()
    assert body["cue"] == cue
    assert f"repère {cue}" in body["error"]
    assert (await get(api))[0]["version"] == 1


async def test_markup_is_sanitised(api: Api) -> None:
    _, etag = await get(api)
    response = await put(api, [{"start": 1.0, "end": 2.0,
                                "text": "<i>oui</i> <img src=x onerror=alert(1)>non"}], etag)
    assert [c["text"] for c in (await response.json())["cues"]] == ["<i>oui</i> non"]


# -- history, diff, revert -----------------------------------------------------------------


async def test_history_diff_and_revert(api: Api) -> None:
    _, etag = await get(api)
    saved = await put(api, cues_body("Bonjour à toutes et à tous.", "Bienvenue.", "Merci."),
                      etag)
    history = await (await api.client.get(api.path(tail="/history"),
                                          headers=api.auth("editor"))).json()
    assert [(v["version"], v["author"]) for v in history["versions"]] == [
        (1, "Whisper"), (2, "Editor")]
    diff = await (await api.client.get(api.path(tail="/diff?from=1&to=2"),
                                       headers=api.auth("editor"))).json()
    assert [(c["kind"], c["index"]) for c in diff["changes"]] == [("changed", 1),
                                                                  ("changed", 2)]
    assert "Bonjour à toutes" in diff["changes"][0]["text"]
    one = await (await api.client.get(api.path(tail="/versions/1"),
                                      headers=api.auth("editor"))).json()
    assert one["cues"][0]["text"] == "Bonjour à tous."
    reverted = await api.client.post(api.path(tail="/revert"), json={"version": 1},
                                     headers=api.auth("editor",
                                                      **{"If-Match": saved.headers["ETag"]}))
    assert reverted.status == 200
    body = await reverted.json()
    assert body["version"] == 3
    assert [c["text"] for c in body["cues"]] == [c.text for c in CUES]
    stale = await api.client.post(api.path(tail="/revert"), json={"version": 2},
                                  headers=api.auth("editor", **{"If-Match": '"v2"'}))
    assert stale.status == 409


# -- workflow and permissions --------------------------------------------------------------


async def set_status(api: Api, status: str, who: str = "editor") -> aiohttp.ClientResponse:
    return await api.client.post(api.path(tail="/status"), json={"status": status},
                                 headers=api.auth(who))


async def test_editor_edits_and_approves_but_publishes_only_when_allowed(api: Api) -> None:
    _, etag = await get(api)
    await put(api, cues_body("Bonjour.", "Bienvenue.", "Merci bien."), etag)
    assert (await set_status(api, "valide")).status == 200
    assert (await set_status(api, "brouillon_automatique")).status == 409
    assert (await set_status(api, "publie")).status == 403
    options = await api.client.put(f"/api/events/{SLUG}/options",
                                   json={"editors_may_publish": True},
                                   headers=api.auth("organiser"))
    assert (await options.json())["editors_may_publish"] is True
    published = await set_status(api, "publie")
    assert published.status == 200, await published.text()
    job = (await published.json())["job"]
    jobs = await api.app[QUEUE].list(status=JobStatus.TODO)
    assert [(j.id, j.task, j.args) for j in jobs] == [(job, "publish_event", {"event": SLUG})]
    written = vtt_path(api.settings, api.recording, "first", "fr").read_text(encoding="utf-8")
    assert [c.text for c in parse_webvtt(written)] == ["Bonjour.", "Bienvenue.", "Merci bien."]
    answer = await published.json()
    assert answer["publish"] is False  # no video yet in this test
    assert "pas encore publiée" in answer["message"]
    body, _ = await get(api)
    # « publié » once the publish job has put it out (workers are off here)
    assert (body["status"], body["version"], body["machine_pending"]) == ("valide", 2, False)


async def test_organiser_publishes_and_policy_waits_for_validation(api: Api) -> None:
    await get(api)
    await api.client.put(f"/api/events/{SLUG}/options", json={"captions_policy": "valides"},
                         headers=api.auth("organiser"))
    assert (await set_status(api, "publie", "organiser")).status == 409
    assert (await set_status(api, "valide", "organiser")).status == 200
    assert (await set_status(api, "publie", "organiser")).status == 200


async def test_roles(api: Api) -> None:
    for method, path in (("GET", api.path()), ("PUT", api.path()),
                         ("GET", api.path(tail="/history")), ("POST", api.path(tail="/claim")),
                         ("GET", f"/api/events/{SLUG}/glossary"),
                         ("POST", f"/api/events/{SLUG}/replace")):
        response = await api.client.request(method, path)
        assert response.status == 401, (method, path)
    for method in ("GET", "PUT"):
        response = await api.client.request(method, f"/api/events/{SLUG}/options",
                                            headers=api.auth("editor"), json={})
        assert response.status == 403
    missing = await api.client.get(api.path(guid="nope"), headers=api.auth("editor"))
    assert missing.status == 404
    assert (await api.client.get(api.path(lang="de"), headers=api.auth("editor"))).status == 404


async def test_not_transcribed_yet_is_a_conflict(api: Api) -> None:
    vtt_path(api.settings, api.recording, "second", "fr").unlink()
    response = await api.client.get(api.path(guid="second"), headers=api.auth("editor"))
    assert response.status == 409
    assert "transcription" in (await response.json())["error"]


# -- claims --------------------------------------------------------------------------------


async def test_claims(api: Api) -> None:
    claim = api.path(tail="/claim")
    mine = await api.client.post(claim, headers=api.auth("editor"))
    assert (await mine.json())["claimed_by"]["name"] == "Editor"
    theirs = await api.client.post(claim, headers=api.auth("editor2"))
    assert theirs.status == 409
    body = await theirs.json()
    assert "Editor" in body["error"]
    assert body["claimed_by"]["since"] > 0
    assert (await api.client.delete(claim, headers=api.auth("editor2"))).status == 409
    assert (await get(api))[0]["claimed_by"]["name"] == "Editor"
    assert (await api.client.delete(claim, headers=api.auth("editor"))).status == 200
    assert (await api.client.post(claim, headers=api.auth("editor2"))).status == 200
    assert (await api.client.delete(claim, headers=api.auth("organiser"))).status == 200


# -- import and export ---------------------------------------------------------------------


def upload(data: str, filename: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data.encode()), filename=filename,
                   content_type="application/octet-stream")
    return form


async def post_file(api: Api, data: str, filename: str, etag: str | None = '"v1"'
                    ) -> aiohttp.ClientResponse:
    headers = api.auth("editor") if etag is None else api.auth("editor", **{"If-Match": etag})
    return await api.client.post(api.path(tail="/import"), data=upload(data, filename),
                                 headers=headers)


VTT_CUE = "00:00:01.000 --> 00:00:02.000\nBonjour\n"
SRT_CUE = "1\n00:00:01,000 --> 00:00:02,000\nBonjour\n"


@pytest.mark.parametrize(("data", "filename", "line", "reason"), [
    ("WEBVT\n\n" + VTT_CUE, "a.vtt", 1, "WEBVTT"),
    ("WEBVTT\n\nid --> x\n" + VTT_CUE, "a.vtt", 3, "identifiant"),
    ("WEBVTT\n\n" + VTT_CUE + "00:00:03.000 --> 00:00:04.000\nx\n", "a.vtt", 5, "ligne vide"),
    ("WEBVTT\n\n1000:00:01.000 --> 1000:00:02.000\nx\n", "a.vtt", 3, "démesuré"),
    ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<script>alert(1)</script>\n", "a.vtt", 4,
     "balise non autorisée"),
    ("1\n00:00:01,000 --> 00:00:02,000\n<script>alert(1)</script>\n", "a.srt", 3,
     "balise non autorisée"),
    (SRT_CUE + "2\n00:00:03,000 --> 00:00:04,000\nx\n", "a.srt", 5, "ligne vide"),
    ("1\n999:00:01,000 --> 999:00:02,000\nx\n", "a.srt", 2, "démesuré"),
    ("00:00:01,000 --> 00:00:02,000\nx\n", "a.srt", 1, "numéro"),
    ("bonjour", "a.txt", 1, "format inconnu"),
])
async def test_malformed_imports_are_refused_with_the_line(api: Api, data: str, filename: str,
                                                           line: int, reason: str) -> None:
    await get(api)
    response = await post_file(api, data, filename)
    assert response.status == 422, await response.text()
    body = await response.json()
    assert body["line"] == line
    assert f"ligne {line}" in body["error"]
    assert reason in body["error"]
    assert "Rien n’a été enregistré" in body["error"]
    assert (await get(api))[0]["version"] == 1


async def test_import_needs_if_match_and_export_round_trips(api: Api) -> None:
    await get(api)
    assert (await post_file(api, "WEBVTT\n\n" + VTT_CUE, "a.vtt", None)).status == 428
    imported = await post_file(api, SRT_CUE + "\n2\n00:00:03,000 --> 00:00:04,500\n"
                                    "<i>R&D</i> <b>fin\n", "corrigé.srt")
    assert imported.status == 200, await imported.text()
    body = await imported.json()
    assert body["version"] == 2
    assert [c["text"] for c in body["cues"]] == ["Bonjour", "<i>R&D</i> <b>fin"]
    vtt = await api.client.get(api.path(tail="/export.vtt"), headers=api.auth("editor"))
    assert vtt.content_type == "text/vtt"
    again = await post_file(api, await vtt.text(), "retour.vtt", '"v2"')
    assert [c["text"] for c in (await again.json())["cues"]] == [c["text"]
                                                                for c in body["cues"]]
    srt = await api.client.get(api.path(tail="/export.srt"), headers=api.auth("editor"))
    assert "00:00:03,000 --> 00:00:04,500" in await srt.text()


# -- find and replace, glossary ------------------------------------------------------------


async def test_find_replace_across_the_event(api: Api) -> None:
    request = {"find": "netzerocities", "replace": "NetZeroCities", "scope": "event",
               "lang": "fr", "case_sensitive": True}
    url = f"/api/events/{SLUG}/replace"
    preview = await (await api.client.post(url, json=request,
                                           headers=api.auth("editor"))).json()
    assert preview["applied"] is False
    assert preview["total"] == 2
    assert [(s["guid"], s["version"]) for s in preview["sessions"]] == [("first", 1),
                                                                        ("second", 1)]
    assert preview["sessions"][0]["changes"][0]["new"]["text"] == "Bienvenue à NetZeroCities."
    assert (await get(api))[0]["version"] == 1
    missing = await api.client.post(url, json={**request, "apply": True},
                                    headers=api.auth("editor"))
    assert missing.status == 428
    versions = {s["session"]: s["version"] for s in preview["sessions"]}
    _, etag = await get(api, guid="second")
    await api.client.put(api.path(guid="second"), json={"cues": cues_body("a", "b", "c")},
                         headers=api.auth("editor2", **{"If-Match": etag}))
    stale = await api.client.post(url, json={**request, "apply": True, "versions": versions},
                                  headers=api.auth("editor"))
    assert stale.status == 409
    assert (await get(api))[0]["version"] == 1  # all or nothing
    request["scope"] = "session"
    request.update(recording_id=api.recording.id, guid="first")
    applied = await api.client.post(url, json={**request, "apply": True, "versions": versions},
                                    headers=api.auth("editor"))
    assert applied.status == 200, await applied.text()
    body, etag = await get(api)
    assert (body["version"], etag) == (2, '"v2"')
    assert body["cues"][1]["text"] == "Bienvenue à NetZeroCities."


async def test_glossary_and_options(api: Api) -> None:
    url = f"/api/events/{SLUG}/glossary"
    saved = await api.client.put(url, json={"terms": ["NetZeroCities", " I4CE ", "i4ce",
                                                      "CapaCITIES"]},
                                 headers=api.auth("editor"))
    assert (await saved.json())["terms"] == ["NetZeroCities", "I4CE", "CapaCITIES"]
    shown = await api.client.get(url, headers=api.auth("editor"))
    assert (await shown.json())["terms"] == ["NetZeroCities", "I4CE", "CapaCITIES"]
    bad = await api.client.put(url, json={"terms": [""]}, headers=api.auth("editor"))
    assert bad.status == 400
    options = await api.client.get(f"/api/events/{SLUG}/options",
                                   headers=api.auth("organiser"))
    assert await options.json() == {"publication_rule": "apres_decoupage",
                                    "publication_rule_label": "après validation du découpage",
                                    "captions_policy": "brouillons",
                                    "editors_may_publish": False}
    wrong = await api.client.put(f"/api/events/{SLUG}/options",
                                 json={"captions_policy": "jamais"},
                                 headers=api.auth("organiser"))
    assert wrong.status == 400


async def test_retranscription_keeps_human_corrections(api: Api) -> None:
    _, etag = await get(api)
    await put(api, cues_body("Corrigé.", "Bienvenue.", "Merci."), etag)
    path = vtt_path(api.settings, api.recording, "first", "fr")
    path.write_text(render_webvtt([Cue(1.0, 2.0, ("Nouveau modèle.",))]), encoding="utf-8")
    body, _ = await get(api)
    assert (body["version"], body["cues"][0]["text"]) == (2, "Corrigé.")
    assert body["machine_pending"] is True
    untouched, _ = await get(api, guid="second")
    vtt_path(api.settings, api.recording, "second", "fr").write_text(
        render_webvtt([Cue(1.0, 2.0, ("Nouveau modèle.",))]), encoding="utf-8")
    redone, _ = await get(api, guid="second")
    assert (redone["version"], redone["author"]) == (untouched["version"] + 1, "Whisper")
    assert redone["cues"][0]["text"] == "Nouveau modèle."


async def test_session_cookie_needs_csrf(api: Api) -> None:
    users = api.app[USERS]
    editor = users.by_email("editor@example.org")
    assert editor is not None
    session = users.create_session(editor.id)
    cookies = {"replay_session": session}
    await get(api)
    response = await api.client.put(api.path(), json={"cues": []}, cookies=cookies,
                                    headers={"If-Match": '"v1"'})
    assert response.status == 403
    assert (await get(api))[0]["version"] == 1


async def test_publish_step_uses_corrections_and_the_policy(api: Api) -> None:
    _, etag = await get(api)
    await put(api, cues_body("Corrigé.", "Bienvenue.", "Merci."), etag)
    path = vtt_path(api.settings, api.recording, "first", "fr")
    path.write_text(render_webvtt([Cue(1.0, 2.0, ("Nouveau modèle.",))]), encoding="utf-8")
    captions = Captions(api.store.db)
    sessions = [(api.recording, "first"), (api.recording, "second")]
    assert write_corrections(captions, api.settings, sessions) == 1
    assert parse_webvtt(path.read_text(encoding="utf-8"))[0].text == "Corrigé."
    assert write_corrections(captions, api.settings, sessions) == 0
    for name in ("media", "speech"):
        api.store.set_stage(api.recording.id, "first", name, input_key="",
                            status=StageStatus.DONE)
    api.store.set_plan_review(api.recording.id, PlanReview.CONFIRMED)

    def goes_out() -> bool:
        rule = PublicationRule(options_now["publication_rule"])
        facts = session_facts(api.store, captions, api.recording, "first")
        return decide(rule, facts).publish

    options_now = {"publication_rule": "apres_decoupage"}
    assert goes_out()
    saved = await api.client.put(f"/api/events/{SLUG}/options",
                                 json={"captions_policy": "valides"},
                                 headers=api.auth("organiser"))
    options_now = await saved.json()
    assert options_now["publication_rule"] == "apres_sous_titres"
    assert not goes_out()
    assert (await set_status(api, "valide")).status == 200
    assert not goes_out(), "the English captions are not validated yet"
    await get(api, lang="en")
    assert (await api.client.post(api.path(lang="en", tail="/status"),
                                  json={"status": "valide"},
                                  headers=api.auth("editor"))).status == 200
    assert goes_out()


async def test_podcast_options(api: Api) -> None:
    url = f"/api/events/{SLUG}/podcast"
    shown = await api.client.get(url, headers=api.auth("organiser"))
    assert await shown.json() == {"author": "", "category": "Government", "explicit": False,
                                  "image": ""}
    saved = await api.client.put(url, json={"author": " Ville  de Lyon ", "category": "News",
                                            "image": "https://lyon.example/cover.jpg"},
                                 headers=api.auth("organiser"))
    assert saved.status == 200
    assert await saved.json() == {"author": "Ville de Lyon", "category": "News",
                                  "explicit": False, "image": "https://lyon.example/cover.jpg"}
    shown = await api.client.get(url, headers=api.auth("organiser"))
    assert (await shown.json())["author"] == "Ville de Lyon"
    # The other options are kept.
    options = await api.client.get(f"/api/events/{SLUG}/options", headers=api.auth("organiser"))
    assert (await options.json())["publication_rule"] == "apres_decoupage"
    for body in ({"category": "Podcasts"}, {"image": "http://lyon.example/cover.jpg"},
                 {"explicit": "non"}, {"author": 3}):
        bad = await api.client.put(url, json=body, headers=api.auth("organiser"))
        assert bad.status == 400, body
        message = (await bad.json())["error"]
        assert "invalide\u00a0:" in message, message
    # Nothing was lost.
    shown = await api.client.get(url, headers=api.auth("organiser"))
    assert (await shown.json())["category"] == "News"
    refused = await api.client.put(url, json={"category": "Arts"}, headers=api.auth("editor"))
    assert refused.status == 403


async def test_chapters(api: Api) -> None:
    url = f"/api/chapters/{api.recording.id}/first"
    shown = await api.client.get(url, headers=api.auth("editor"))
    assert await shown.json() == {"chapters": []}
    saved = await api.client.put(url, json={"chapters": [
        {"start": 4.5, "title": "Débat"}, {"start": 0, "title": "Accueil"}]},
        headers=api.auth("editor"))
    assert saved.status == 200
    expected = {"chapters": [{"start": 0.0, "title": "Accueil"},
                             {"start": 4.5, "title": "Débat"}]}
    assert await saved.json() == expected
    bad = await api.client.put(url, json={"chapters": [{"start": 99999, "title": "Trop tard"}]},
                               headers=api.auth("editor"))
    assert bad.status == 400
    assert "Chapitre 1\u00a0: «\u00a0start\u00a0»" in (await bad.json())["error"]
    shown = await api.client.get(url, headers=api.auth("organiser"))
    assert await shown.json() == expected  # nothing lost
    missing = await api.client.get(f"/api/chapters/{api.recording.id}/absente",
                                   headers=api.auth("editor"))
    assert missing.status == 404
    anonymous = await api.client.get(url)
    assert anonymous.status == 401
