"""The live's web side through the real factory: stream keys in the API and on the
organisers' page, and nginx's publish hooks (a wrong or revoked key gets 403, logged with
the room and the peer's address)."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from replay.domain.programme import parse_programme
from replay.settings import Settings
from replay.store.db import Store
from replay.store.users import Role
from replay.web.app import create_app
from replay.web.auth import users_for
from replay.web.keys import DB

PROGRAMME = Path(__file__).parent.parent / "fixtures" / "programmes" / \
    "mission-villes-2026.schedule.json"
SLUG = "mission-villes-2026"

Client = TestClient[web.Request, web.Application]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with closing(socket.socket(socket.AF_INET, kind)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Live:
    client: Client
    app: web.Application
    headers: dict[str, str]

    async def json(self, method: str, path: str, status: int) -> Any:
        response = await self.client.request(method, path, headers=self.headers)
        assert response.status == status, await response.text()
        return await response.json()

    async def hook(self, call: str, name: str, secret: str | None = None,
                   form_call: str | None = None) -> int:
        from replay.live.web import LIVE

        secret = secret or self.app[LIVE].hook_secret
        response = await self.client.post(
            f"/live/hooks/{secret}/{call}",
            data={"app": "live", "name": name, "addr": "198.51.100.23",
                  "call": form_call or call})
        return response.status


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    # The live runs (no pipeline workers); nginx is not installed under this name, so
    # only the hooks are exercised here, never a port of the machine's.
    settings = Settings(data_dir=tmp_path / "data", cpu_threads=1, live_listen_host="127.0.0.1",
                        live_rtmp_port=free_port(), live_srt_port=free_port(socket.SOCK_DGRAM),
                        nginx_binary=str(tmp_path / "no-nginx"))
    app = create_app(settings, worker_queues=())
    async with TestClient(TestServer(app)) as client:
        def seed(store: Store) -> str:
            store.save_event(parse_programme(PROGRAMME.read_bytes()))
            users = users_for(store.db, settings)
            user = users.add("orga@example.org", "Orga", Role.ORGANISER,
                             "un mot de passe solide")
            return users.create_token(user.id, "tests")

        token = await app[DB].run(seed)  # the live's watch uses the store's thread meanwhile
        yield Live(client, app, {"Authorization": f"Bearer {token}"})


async def test_keys_issue_regenerate_revoke_through_the_api(live: Live) -> None:
    listing = await live.json("GET", f"/api/events/{SLUG}/live", 200)
    assert {room["room"] for room in listing["rooms"]} >= {"Plénière"}
    assert all(room["key"] is None for room in listing["rooms"])

    issued = await live.json("POST", f"/api/events/{SLUG}/live/pleniere/key", 201)
    key = issued["key"]
    assert key["rtmp_url"].startswith("rtmp://")
    assert key["rtmp_url"].endswith("/live")
    assert key["srt_url"].startswith("srt://")
    assert key["srt_passphrase"] in key["srt_url"]
    assert await live.hook("publish", key["stream_key"]) == 200
    assert await live.hook("publish_done", key["stream_key"]) == 200

    again = await live.json("POST", f"/api/events/{SLUG}/live/Plénière/key", 201)
    assert again["key"]["stream_key"] != key["stream_key"]
    assert await live.hook("publish", key["stream_key"]) == 403, "the old key is gone"

    revoked = await live.json("DELETE", f"/api/events/{SLUG}/live/pleniere/key", 200)
    assert revoked["key"]["revoked"] is True
    assert await live.hook("publish", again["key"]["stream_key"]) == 403
    assert await live.hook("update", again["key"]["stream_key"], form_call="update_publish") == 403
    await live.json("DELETE", f"/api/events/{SLUG}/live/nowhere/key", 404)


async def test_refusals_are_logged_with_the_room_and_the_peer(
        live: Live, caplog: pytest.LogCaptureFixture) -> None:
    issued = await live.json("POST", f"/api/events/{SLUG}/live/pleniere/key", 201)
    await live.json("DELETE", f"/api/events/{SLUG}/live/pleniere/key", 200)
    with caplog.at_level(logging.WARNING, logger="replay.live"):
        assert await live.hook("publish", issued["key"]["stream_key"]) == 403
        assert await live.hook("publish", "not-a-key") == 403
    messages = [record.getMessage() for record in caplog.records]
    assert any("Plénière" in m and "198.51.100.23" in m and "revoked" in m for m in messages)
    assert any("198.51.100.23" in m and "unknown stream key" in m for m in messages)


async def test_hooks_need_the_secret_and_anonymous_callers_get_no_keys(live: Live) -> None:
    issued = await live.json("POST", f"/api/events/{SLUG}/live/pleniere/key", 201)
    assert await live.hook("publish", issued["key"]["stream_key"], secret="guess") == 404
    response = await live.client.get(f"/api/events/{SLUG}/live")
    assert response.status == 401


async def test_the_organisers_page_shows_keys_and_regenerates(live: Live) -> None:
    issued = await live.json("POST", f"/api/events/{SLUG}/live/pleniere/key", 201)
    page = await live.client.get(f"/organisateur/evenements/{SLUG}/direct",
                                 headers=live.headers)
    html = await page.text()
    assert page.status == 200
    assert issued["key"]["stream_key"] in html
    assert "Régénérer la clé" in html
    assert "style=" not in html
    assert "<script>" not in html
