"""Uploads through the real factory: bound to their creator, counted per organiser,
within a byte quota and the disk's free space; the tus purge re-reads the expiry under
the lock; upload files are private to the server's user."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import stat
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from replay.locale import _
from replay.settings import Settings
from replay.store.users import Role
from replay.web.api import QUOTAS
from replay.web.app import create_app
from replay.web.auth import USERS
from replay.web.keys import DB
from replay.web.quotas import DISK_FULL
from replay.web.uploads_store import UploadStore

PROGRAMME = (Path(__file__).parent.parent / "fixtures" / "programmes"
             / "mission-villes-2026.schedule.json")
SLUG = "mission-villes-2026"
ROOM = "Plénière"
STARTED = "2026-03-03T09:00:00+01:00"
TUS = {"Tus-Resumable": "1.0.0"}
GiB = 1 << 30

Client = TestClient[web.Request, web.Application]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class Site:
    client: Client
    app: web.Application
    tokens: dict[str, str]
    data_dir: Path

    def auth(self, who: str, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **TUS, **headers}

    async def create(self, who: str, length: int, **metadata: str) -> aiohttp.ClientResponse:
        values = {"event": SLUG, "room": ROOM, "started_at": STARTED, **metadata}
        header = ",".join(f"{k} {b64(v)}" for k, v in values.items())
        return await self.client.post("/api/uploads/", headers=self.auth(
            who, **{"Upload-Length": str(length), "Upload-Metadata": header}))

    async def created(self, who: str, length: int, **metadata: str) -> str:
        response = await self.create(who, length, **metadata)
        assert response.status == 201, await response.text()
        return response.headers["Location"]


async def start(tmp_path: Path, quota: int = 80 * GiB) -> AsyncIterator[Site]:
    base = Settings(data_dir=tmp_path / "data", cpu_threads=1, upload_max_bytes=40 * GiB,
                    upload_quota_bytes=quota)
    app = create_app(base, run_workers=False)
    async with TestClient(TestServer(app)) as client:
        users = app[USERS]
        tokens = {}
        for name, events in (("alice", ()), ("bruno", ("autre-evenement",)), ("chloe", ())):
            user = users.add(f"{name}@example.org", name, Role.ORGANISER, "un mot de passe sûr",
                             event_slugs=events)
            tokens[name] = users.create_token(user.id, "tests")
        response = await client.post("/api/events", headers={
            "Authorization": f"Bearer {tokens['alice']}"}, data={
                "programme": PROGRAMME.open("rb")})
        assert response.status == 201, await response.text()
        app[QUOTAS].free = lambda path: 1 << 50  # this disk's free space is not the test's
        yield Site(client, app, tokens, base.data_dir)


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async for found in start(tmp_path):
        yield found


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("media") / "plenary.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10:duration=3",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:v", "libx264",
         "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path)], check=True, timeout=60)
    return path.read_bytes()


# -- ownership -----------------------------------------------------------------------------


async def test_an_upload_is_invisible_to_everyone_but_its_creator(
        site: Site, media: bytes) -> None:
    location = await site.created("alice", len(media), sha256=hashlib.sha256(media).hexdigest())
    half = len(media) // 2
    patch = {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    for intruder in ("bruno", "chloe"):  # limited to another event, or to none
        head = await site.client.head(location, headers=site.auth(intruder))
        assert head.status == 404
        assert "Upload-Offset" not in head.headers
        written = await site.client.patch(location, data=media[:half],
                                          headers=site.auth(intruder, **patch))
        assert written.status == 404
        deleted = await site.client.delete(location, headers=site.auth(intruder))
        assert deleted.status == 404
        assert "introuvable" in await deleted.text()
    mine = await site.client.head(location, headers=site.auth("alice"))
    assert (mine.status, mine.headers["Upload-Offset"]) == (200, "0")
    completed = await site.client.patch(location, data=media,
                                        headers=site.auth("bruno", **patch))
    assert completed.status == 404
    assert await site.app[DB].run(lambda store: store.recordings_of(SLUG)) == []
    done = await site.client.patch(location, data=media, headers=site.auth("alice", **patch))
    assert done.status == 204, await done.text()
    (recording,) = await site.app[DB].run(lambda store: store.recordings_of(SLUG))
    assert recording.sha256 == hashlib.sha256(media).hexdigest()


# -- how many, how large -------------------------------------------------------------------


async def test_a_hundred_announced_20_gib_uploads_are_not_all_accepted(site: Site) -> None:
    statuses = [(await site.create("alice", 20 * GiB)).status for _ in range(100)]
    assert statuses[:4] == [201] * 4
    assert set(statuses[4:]) == {429}
    refused = await site.create("alice", 1000)
    assert "4\u00a0envois en cours" in (await refused.json())["error"]
    assert (await site.create("chloe", 1000)).status == 201  # per organiser


async def test_an_abandoned_upload_frees_its_place(site: Site) -> None:
    locations = [await site.created("alice", 1000) for _ in range(4)]
    assert (await site.create("alice", 1000)).status == 429
    deleted = await site.client.delete(locations[0], headers=site.auth("alice"))
    assert deleted.status == 204
    assert (await site.create("alice", 1000)).status == 201


async def test_the_byte_quota_counts_what_unfinished_uploads_announce(tmp_path: Path) -> None:
    async for site in start(tmp_path, quota=3 * GiB):
        await site.created("alice", 2 * GiB)
        refused = await site.create("alice", 2 * GiB)
        assert refused.status == 507
        error = (await refused.json())["error"]
        assert error.startswith("Quota d’envoi dépassé\u00a0:")
        assert await site.created("alice", GiB)  # what is left fits
        assert await site.created("chloe", 2 * GiB)  # another organiser's own quota


async def test_a_full_disk_refuses_uploads_with_a_french_507(
        site: Site, media: bytes) -> None:
    site.app[QUOTAS].free = lambda path: 3 * GiB
    assert (await site.create("alice", GiB // 2)).status == 201  # 2 GiB stay free
    refused = await site.create("alice", GiB)  # 0.5 GiB pending + 1 GiB: below 2 GiB free
    assert refused.status == 507
    assert (await refused.json())["error"] == _(DISK_FULL)
    site.app[QUOTAS].free = lambda path: 0
    form = aiohttp.FormData()
    form.add_field("room", ROOM)
    form.add_field("started_at", STARTED)
    form.add_field("file", io.BytesIO(media), filename="plenary.mp4")
    plain = await site.client.post(f"/api/events/{SLUG}/recordings", data=form,
                                   headers={"Authorization": f"Bearer {site.tokens['alice']}"})
    assert plain.status == 507
    assert (await plain.json())["error"] == _(DISK_FULL)
    assert await site.app[DB].run(lambda store: store.recordings_of(SLUG)) == []


async def test_plain_uploads_count_while_they_are_received(site: Site, media: bytes) -> None:
    quotas = site.app[QUOTAS]
    async with quotas.receiving("1", 1000), quotas.receiving("1", 1000):
        for _ in range(2):
            await site.created("alice", 1000)  # alice is user 1
        assert (await site.create("alice", 1000)).status == 429
    assert (await site.create("alice", 1000)).status == 201


# -- files -----------------------------------------------------------------------------------


async def test_upload_files_are_private_to_the_server(site: Site, media: bytes) -> None:
    location = await site.created("alice", len(media) * 2)
    written = await site.client.patch(location, data=media, headers=site.auth(
        "alice", **{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
    assert written.status == 204
    tus = site.data_dir / "uploads" / "tus"
    assert stat.S_IMODE(tus.stat().st_mode) == 0o700
    files = sorted(tus.iterdir())
    assert [p.suffix for p in files] == [".bin", ".json"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}


# -- the purge ---------------------------------------------------------------------------------


async def test_the_purge_keeps_an_upload_renewed_after_it_was_listed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = UploadStore(tmp_path / "tus")
    upload = await store.create(10, {}, now=0.0, expires=100.0, owner="1")
    listed = store.all

    async def listing_then_a_chunk_arrives() -> list[object]:
        found = await listed()
        await store.save(dataclasses.replace(upload, offset=5, expires=1000.0))
        return list(found)

    monkeypatch.setattr(store, "all", listing_then_a_chunk_arrives)
    assert await store.purge_expired(now=150.0) == []
    kept = await store.get(upload.id)
    assert (kept.offset, kept.expires, kept.owner) == (5, 1000.0, "1")
    monkeypatch.undo()
    assert await store.purge_expired(now=2000.0) == [upload.id]
