"""The editor on an API machine of its own: a session processed by workers of other
machines (their own data directories) is opened, corrected and its media played on the
API, which fetches what it reads through the S3 bucket (moto over HTTP), checked against
the shared manifests (`web.work_files`, `storage.exchange`)."""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
import wave
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from replay.domain.cutplan import Cut
from replay.domain.programme import parse_programme
from replay.domain.transcript import Cue
from replay.domain.webvtt import render_webvtt
from replay.services.workdirs import AUDIO, SPEECH_MAP, recording_work_dir, session_work_dir
from replay.settings import Settings
from replay.storage.exchange import exchange_for
from replay.storage.factory import object_store_for
from replay.store.db import Recording
from replay.store.users import Role
from replay.web.app import create_app
from replay.web.auth import USERS
from tests.app_store import own_store
from tests.integration.conftest import MotoS3

PROGRAMME = (Path(__file__).parent.parent / "fixtures" / "programmes"
             / "mission-villes-2026.schedule.json")
SLUG = "mission-villes-2026"
CUES = [Cue(1.0, 3.0, ("Bonjour à tous.",)), Cue(3.5, 6.0, ("Bienvenue.",))]
WORDS = {"language": "fr", "segments": [{"start": 1.0, "end": 3.0, "text": "Bonjour à tous.",
                                         "words": [
    {"start": 1.0, "end": 1.5, "word": "Bonjour", "probability": 0.9},
    {"start": 1.5, "end": 2.0, "word": "à", "probability": 0.3}]}]}
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8
SHA256 = hashlib.sha256(VIDEO).hexdigest()

Client = TestClient[web.Request, web.Application]
#: The API's client, an organiser's token, the bucket's private prefix.
ApiMachine = tuple[Client, str, str]


def machine(data: Path, moto_s3: MotoS3, prefix: str) -> Settings:
    return Settings(data_dir=data, cpu_threads=1, object_store_url=f"s3://{moto_s3.bucket}/"
                    f"{prefix}/site", s3_endpoint_url=moto_s3.endpoint, s3_region="us-east-1")


async def process_elsewhere(worker: Settings, recording: Recording, guid: str) -> None:
    """What the analysis, speech and media jobs leave and share on their machines."""
    files = exchange_for(object_store_for(None, worker), worker.data_dir)
    work = recording_work_dir(worker, recording)
    session = session_work_dir(worker, recording, guid)
    (session / "speech").mkdir(parents=True)
    (session / "media").mkdir(parents=True)
    for lang in ("fr", "en"):
        (session / "speech" / f"subtitles.{lang}.vtt").write_text(render_webvtt(CUES))
    (session / "speech" / "transcript.fr.json").write_text(json.dumps(WORDS))
    (session / "media" / "replay.mp4").write_bytes(VIDEO)
    with wave.open(str(work / AUDIO), "wb") as audio:  # 8 s at 16 kHz, a constant level
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(16000)
        audio.writeframes(struct.pack("<h", 3277) * 16000 * 8)
    (work / SPEECH_MAP).write_text(json.dumps([[1.0, 6.0]]))
    original = worker.originals_dir / recording.original.name
    original.parent.mkdir(parents=True)
    original.write_bytes(VIDEO)
    for path in (original, work / AUDIO, work / SPEECH_MAP, session / "speech",
                 session / "media"):
        await files.share(path)


@pytest_asyncio.fixture
async def api_machine(tmp_path: Path, moto_s3: MotoS3,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ApiMachine]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    prefix = f"editor/{uuid.uuid4().hex}"
    api = machine(tmp_path / "api", moto_s3, prefix)
    app = create_app(api, run_workers=False)
    async with TestClient(TestServer(app)) as client, own_store(app) as store:
        editor = app[USERS].add("ed@example.org", "Ed", Role.ORGANISER, "mot de passe sûr")
        token = app[USERS].create_token(editor.id, "tests")
        store.save_event(parse_programme(PROGRAMME.read_bytes(), filename="p.json"))
        recording = store.add_recording(
            event_slug=SLUG, room="Plénière", sha256=SHA256,
            original=api.originals_dir / f"{SHA256}.mp4",
            source_name="o.mp4", started_at=datetime.fromisoformat("2026-03-03T09:00:00+01:00"))
        store.set_probe(recording.id, 8.0, {})
        store.save_cuts(recording.id, [Cut("first", "Séance", 0.0, 8.0, 0.0, 8.0,
                                           False, False)])
        await process_elsewhere(machine(tmp_path / "worker", moto_s3, prefix), recording,
                                "first")
        assert not (tmp_path / "api" / "work").exists()
        yield client, token, f"{prefix}/_private/"


async def test_an_editor_on_the_api_machine_reads_a_session_made_elsewhere(
        api_machine: ApiMachine) -> None:
    client, token, _ = api_machine
    auth = {"Authorization": f"Bearer {token}"}
    captions = await client.get("/api/captions/1/first/fr", headers=auth)
    assert captions.status == 200, await captions.text()
    body = await captions.json()
    assert [c["text"] for c in body["cues"]] == ["Bonjour à tous.", "Bienvenue."]
    assert [w["word"] for w in body["low_confidence"]] == ["à"]

    saved = await client.put("/api/captions/1/first/fr",
                             headers={**auth, "If-Match": captions.headers["ETag"]},
                             json={"cues": [{"start": 1.0, "end": 3.0, "text": "Bonjour."}]})
    assert saved.status == 200, await saved.text()
    assert (await saved.json())["version"] == 2

    media = await client.get("/edition/1/first/media/replay.mp4",
                             headers={**auth, "Range": "bytes=0-11"})
    assert media.status == 206, await media.text()
    assert await media.read() == VIDEO[:12]

    window = await client.get("/api/recordings/1/waveform?at=2", headers=auth)
    assert window.status == 200, await window.text()
    assert (await window.json())["speech"] == [[1.0, 6.0]]


async def test_removing_the_recording_deletes_its_private_files(
        api_machine: ApiMachine, moto_s3: MotoS3) -> None:
    client, token, private = api_machine
    other = f"{private}work/{'0' * 16}/speech.json"  # another recording's
    moto_s3.client.put_object(Bucket=moto_s3.bucket, Key=other, Body=b"[]")

    def private_keys() -> list[str]:
        listed = moto_s3.client.list_objects_v2(Bucket=moto_s3.bucket, Prefix=private)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    before = private_keys()
    assert f"{private}originals/{SHA256}.mp4" in before
    assert any(key.endswith("/speech.manifest.json") for key in before)
    removed = await client.delete("/api/recordings/1",
                                  headers={"Authorization": f"Bearer {token}"})
    assert removed.status == 200, await removed.text()
    assert private_keys() == [other]
