"""Programme import by URL against a listener on 127.0.0.1 only: the default policy
refuses it (and every other local address) without a byte sent, an injected policy
lets a test reach it, redirects are checked hop by hop, a host is resolved once, and
every failure reads the same."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver
from aiohttp.test_utils import BaseTestServer, TestServer

from replay.domain.addresses import IPAddress, is_public_address
from replay.locale import _
from replay.web.fetch import UNREACHABLE, FetchError, fetch_programme

LOOPBACK_V4 = "127.0.0.1"


def only_127_0_0_1(address: IPAddress) -> bool:
    return str(address) == LOOPBACK_V4


class Listener:
    def __init__(self, server: BaseTestServer, hits: list[str]) -> None:
        self.server, self.hits = server, hits

    def url(self, path: str, host: str = LOOPBACK_V4) -> str:
        return f"http://{host}:{self.server.port}{path}"


@pytest_asyncio.fixture
async def listener() -> AsyncIterator[Listener]:
    hits: list[str] = []

    async def programme(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b'{"schedule": {}}', content_type="application/json")

    async def redirect(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound(request.query["to"])

    async def loop(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound("/loop")

    async def missing(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/schedule.json", programme)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_get("/missing", missing)
    async with TestServer(app, host=LOOPBACK_V4, port=0) as server:
        yield Listener(server, hits)


async def refused(url: str, policy: Callable[[IPAddress], bool] = is_public_address) -> str:
    with pytest.raises(FetchError) as caught:
        await fetch_programme(url, policy=policy, timeout=5)
    assert caught.value.status == 422
    return str(caught.value)


async def test_an_injected_policy_reaches_the_listener(listener: Listener) -> None:
    data, name = await fetch_programme(listener.url("/schedule.json"), policy=only_127_0_0_1)
    assert (data, name) == (b'{"schedule": {}}', "schedule.json")
    assert listener.hits == ["/schedule.json"]


@pytest.mark.parametrize("host", [
    LOOPBACK_V4, "localhost", "[::1]", "0.0.0.0", "127.0.0.2", "2130706433", "0x7f000001",
    "[::ffff:127.0.0.1]",
])
async def test_the_default_policy_refuses_local_addresses_without_sending_anything(
        listener: Listener, host: str) -> None:
    assert await refused(listener.url("/schedule.json", host)) == _(UNREACHABLE)
    assert listener.hits == []


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[fe80::1]/",
    "http://[::ffff:169.254.169.254]/", "http://224.0.0.1/",
])
async def test_literal_addresses_are_refused_before_any_connection(url: str) -> None:
    def policy(address: IPAddress) -> bool:
        assert not is_public_address(address)  # checked, then refused: never dialled
        return False

    assert await refused(url, policy) == _(UNREACHABLE)


async def test_every_redirect_hop_is_checked(listener: Listener) -> None:
    for target in (listener.url("/schedule.json", "127.0.0.2"),  # loopback, not allowed
                   listener.url("/schedule.json", "[::1]"),
                   "http://169.254.169.254/", "http://10.0.0.1/"):
        listener.hits.clear()
        url = f"{listener.url('/redirect')}?to={target}"
        assert await refused(url, only_127_0_0_1) == _(UNREACHABLE)
        assert listener.hits == ["/redirect"]
    allowed = f"{listener.url('/redirect')}?to={listener.url('/schedule.json')}"
    assert (await fetch_programme(allowed, policy=only_127_0_0_1))[1] == "schedule.json"


async def test_a_redirect_loop_ends(listener: Listener) -> None:
    assert await refused(listener.url("/loop"), only_127_0_0_1) == _(UNREACHABLE)
    assert listener.hits == ["/loop"] * 4


async def test_closed_port_missing_file_and_refused_address_read_the_same(
        listener: Listener) -> None:
    with socket.socket() as spare:
        spare.bind((LOOPBACK_V4, 0))
        closed = f"http://{LOOPBACK_V4}:{spare.getsockname()[1]}/schedule.json"
    messages = {
        await refused(closed, only_127_0_0_1),
        await refused(listener.url("/missing"), only_127_0_0_1),
        await refused(listener.url("/schedule.json")),  # the default policy
    }
    assert messages == {_(UNREACHABLE)}


async def test_a_name_is_resolved_once_and_the_checked_address_is_used(
        listener: Listener, monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: a second lookup would answer 10.0.0.1; there is none."""
    answers = [LOOPBACK_V4, "10.0.0.1"]
    asked: list[str] = []

    async def resolve(self: ThreadedResolver, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        asked.append(host)
        address = answers.pop(0)
        return [ResolveResult(hostname=host, host=address, port=port,
                              family=socket.AF_INET, proto=0, flags=0)]

    monkeypatch.setattr(ThreadedResolver, "resolve", resolve)
    url = listener.url("/schedule.json", "programme.example")
    data, _kind = await fetch_programme(url, policy=only_127_0_0_1)
    assert data == b'{"schedule": {}}'
    assert asked == ["programme.example"]
    assert listener.hits == ["/schedule.json"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x",
                                 "http://", "pas une adresse"])
async def test_only_http_urls_are_taken(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        await fetch_programme(url)
    assert caught.value.status == 400
    assert "http://" in str(caught.value)
