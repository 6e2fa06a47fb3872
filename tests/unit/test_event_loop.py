"""What could stall the event loop does not: the events list is one light query (no
programme is loaded whole), subtitle imports are parsed and checked in a thread."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from replay.domain.model import Event
from replay.domain.programme import parse_programme
from replay.store.db import Store
from replay.web.api import event_json
from replay.web.keys import DB, OFFLOAD
from replay.web.offload import Busy, Offload
from tests.unit.test_bad_input import PROGRAMME, SLUG, Api
from tests.unit.test_bad_input import api as bad_input_api

api = bad_input_api  # the same fixture: the real factory, an event, a session's captions


async def test_the_events_list_loads_no_programme(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    event = parse_programme(PROGRAMME.read_bytes(), filename="p.json")
    first = event.sessions[0]
    many = tuple(replace(first, guid=f"g{n}", slug=f"s{n}",
                         start=first.start + timedelta(minutes=n)) for n in range(3000))

    def seed(store: Store) -> list[Event | None]:
        store.save_event(replace(event, slug="grand", sessions=many))
        return [store.load_event(slug) for slug in (SLUG, "grand")]

    loaded = await api.app[DB].run(seed)
    expected = {e.slug: event_json(e) for e in loaded if e is not None}

    def whole(self: Store, slug: str) -> Any:
        raise AssertionError("the list loaded a whole programme")

    monkeypatch.setattr(Store, "load_event", whole)
    response = await api.client.get("/api/events", headers=api.headers)
    assert response.status == 200
    listed = {e["slug"]: e for e in (await response.json())["events"]}
    assert listed == expected
    assert listed["grand"]["session_count"] == 3000


async def test_subtitles_are_parsed_and_checked_in_the_worker_process(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The work goes to the app's process pool: neither this process's event loop nor a
    thread of it (which would hold the interpreter lock against the loop)."""
    pool = api.app[OFFLOAD].executor
    sent: list[str] = []
    submit = pool.submit

    def recording(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        sent.append(fn.__name__)
        future: Future[Any] = submit(fn, *args, **kwargs)
        return future

    monkeypatch.setattr(pool, "submit", recording)
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(b"WEBVTT\n\n00:01.000 --> 00:02.000\nBonjour\n"),
                   filename="a.vtt")
    response = await api.client.post(api.captions("/import"), data=form, headers={
        **api.headers, "If-Match": await api.etag()})
    assert response.status == 200, await response.text()
    saved = await api.client.put(api.captions(), json={"cues": [
        {"start": 1, "end": 2, "text": "Bonjour"}]}, headers={
        **api.headers, "If-Match": response.headers["ETag"]})
    assert saved.status == 200, await saved.text()
    assert sent == ["read_subtitles", "validated_cues"]
    assert isinstance(pool, ProcessPoolExecutor)


def test_event_summaries_follow_changes_from_any_connection(tmp_path: Path) -> None:
    here, there = (Store.open(tmp_path / "replay.sqlite3") for _ in range(2))
    try:
        event = parse_programme(PROGRAMME.read_bytes(), filename="p.json")
        here.save_event(event)
        assert [(s.slug, s.session_count) for s in here.event_summaries()] == [(SLUG, 20)]
        there.save_event(replace(event, sessions=event.sessions[:3]))  # another process
        assert [s.session_count for s in here.event_summaries()] == [3]
        here.save_event(replace(event, slug="autre"))  # this connection
        assert [(s.slug, s.session_count) for s in here.event_summaries()] == [
            ("autre", 20), (SLUG, 3)]
    finally:
        here.close()
        there.close()


async def test_past_a_few_waiting_requests_the_worker_says_busy() -> None:
    offload = Offload(workers=1, waiting=1)
    try:
        first = asyncio.create_task(offload.run(time.sleep, 0.5))
        await asyncio.sleep(0)  # the first takes the only slot
        with pytest.raises(Busy):
            await offload.run(time.sleep, 0)
        await first
        assert await offload.run(divmod, 7, 2) == (3, 1)
    finally:
        offload.shutdown()


async def test_a_busy_worker_is_a_429_to_try_again(api: Api) -> None:
    offload = api.app[OFFLOAD]
    etag = await api.etag()
    async with offload.slot(), offload.slot(), offload.slot(), offload.slot():  # all taken
        response = await api.client.put(api.captions(), json={"cues": []}, headers={
            **api.headers, "If-Match": etag})
        assert response.status == 429
        assert response.headers["Retry-After"] == "5"
        assert "réessayez dans un instant" in (await response.json())["error"]
        form = aiohttp.FormData()
        form.add_field("file", io.BytesIO(b"WEBVTT\n"), filename="a.vtt")
        imported = await api.client.post(api.captions("/import"), data=form, headers={
            **api.headers, "If-Match": etag})
        assert imported.status == 429
    freed = await api.client.put(api.captions(), json={"cues": []}, headers={
        **api.headers, "If-Match": etag})
    assert freed.status == 200  # a slot is free again


async def first_answer_to_an_announced_body(api: Api, path: str, etag: str) -> bytes:
    """The status line the server sends first to a request announcing a 4 MB body with
    `Expect: 100-continue` (on a raw connection: which answer comes first is the point);
    after a refusal, the server must have closed the connection."""
    url = api.client.make_url(path)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        head = [f"POST {path} HTTP/1.1", f"Host: {url.host}:{url.port}",
                f"Authorization: {api.headers['Authorization']}", f"If-Match: {etag}",
                "Content-Type: text/vtt", f"Content-Length: {4 << 20}",
                "Expect: 100-continue"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        if not status.startswith(b"HTTP/1.1 100"):
            # a refusal closes the connection at once (aiohttp would wait 10 s for the body)
            await asyncio.wait_for(reader.read(), 3)
        return status
    finally:
        writer.close()


async def test_a_client_that_asks_first_is_refused_before_sending_its_file(api: Api) -> None:
    """`Expect: 100-continue`: while every slot is taken, the 429 comes instead of « 100
    Continue », so the client never sends its file; with a slot free, the import goes
    through as usual."""
    etag = await api.etag()
    offload = api.app[OFFLOAD]
    path = api.captions("/import")
    async with offload.slot(), offload.slot(), offload.slot(), offload.slot():  # all taken
        assert await first_answer_to_an_announced_body(api, path, etag) == (
            b"HTTP/1.1 429 Too Many Requests\r\n")
        async with api.client.post(path, data=b"WEBVTT\n", expect100=True, headers={
                **api.headers, "If-Match": etag, "Content-Type": "text/vtt"}) as refused:
            assert refused.status == 429
            assert refused.headers["Retry-After"] == "5"
            assert "réessayez dans un instant" in (await refused.json())["error"]
    assert await first_answer_to_an_announced_body(api, path, etag) == (
        b"HTTP/1.1 100 Continue\r\n")
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(b"WEBVTT\n\n00:01.000 --> 00:02.000\nBonjour\n"),
                   filename="a.vtt")
    imported = await api.client.post(path, data=form, headers={
        **api.headers, "If-Match": etag}, expect100=True)
    assert imported.status == 200, await imported.text()


@pytest.mark.parametrize(("calls", "impatient"), [
    ([("ana", 0.0)], [False]),
    ([("ana", 0.0), ("ana", 4.9)], [False, True]),
    ([("ana", 0.0), ("ana", 5.1)], [False, False]),
    ([("ana", 0.0), ("bob", 1.0), ("ana", 2.0), ("bob", 7.0)], [False, False, True, False]),
    # told again each time: coming back 3 s after the second refusal is still too soon
    ([("ana", 0.0), ("ana", 4.0), ("ana", 7.0)], [False, True, True]),
])
def test_an_account_that_does_not_wait_as_told_is_impatient(
        calls: list[tuple[str, float]], impatient: list[bool]) -> None:
    now = [0.0]
    offload = Offload(clock=lambda: now[0])
    try:
        seen = []
        for client, at in calls:
            now[0] = at
            seen.append(offload.refuse(client))
        assert seen == impatient
    finally:
        offload.shutdown()


async def refused_then(api: Api, path: str, etag: str) -> tuple[bytes, bool]:
    """Announce a 4 MB body without `Expect` and send only its first bytes: the status line
    answered, and whether the server then closed the connection without waiting for the
    rest (it waits when it lingers to read the body)."""
    url = api.client.make_url(path)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        head = [f"POST {path} HTTP/1.1", f"Host: {url.host}:{url.port}",
                f"Authorization: {api.headers['Authorization']}", f"If-Match: {etag}",
                "Content-Type: text/vtt", f"Content-Length: {4 << 20}"]
        writer.write(("\r\n".join(head) + "\r\n\r\nWEBVTT\n\n").encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        try:
            await asyncio.wait_for(reader.read(), 2)
        except TimeoutError:
            return status, False
        return status, True
    finally:
        writer.close()


async def test_an_account_that_comes_back_too_soon_is_cut_off_unread(api: Api) -> None:
    """The first refusal is polite (the body is read, so every client sees the 429); an
    account sending its file again before Retry-After is answered and cut off at once."""
    etag = await api.etag()
    offload = api.app[OFFLOAD]
    path = api.captions("/import")
    async with offload.slot(), offload.slot(), offload.slot(), offload.slot():  # all taken
        first, first_closed = await refused_then(api, path, etag)
        again, again_closed = await refused_then(api, path, etag)
    assert first == again == b"HTTP/1.1 429 Too Many Requests\r\n"
    assert not first_closed  # still reading the announced body
    assert again_closed
