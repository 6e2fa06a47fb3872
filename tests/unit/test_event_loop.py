"""What could stall the event loop does not: the events list is one light query (no
programme is loaded whole), subtitle imports are parsed and checked in a thread."""

from __future__ import annotations

import io
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from replay.domain.programme import parse_programme
from replay.store.db import Store
from replay.web import api_caption_sessions
from replay.web.api import event_json
from replay.web.keys import STORE
from tests.unit.test_bad_input import PROGRAMME, SLUG, Api
from tests.unit.test_bad_input import api as bad_input_api

api = bad_input_api  # the same fixture: the real factory, an event, a session's captions


async def test_the_events_list_loads_no_programme(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    store = api.app[STORE]
    event = parse_programme(PROGRAMME.read_bytes(), filename="p.json")
    first = event.sessions[0]
    many = tuple(replace(first, guid=f"g{n}", slug=f"s{n}",
                         start=first.start + timedelta(minutes=n)) for n in range(3000))
    store.save_event(replace(event, slug="grand", sessions=many))
    loaded = [store.load_event(slug) for slug in (SLUG, "grand")]
    expected = {e.slug: event_json(e) for e in loaded if e is not None}

    def whole(self: Store, slug: str) -> Any:
        raise AssertionError("the list loaded a whole programme")

    monkeypatch.setattr(Store, "load_event", whole)
    response = await api.client.get("/api/events", headers=api.headers)
    assert response.status == 200
    listed = {e["slug"]: e for e in (await response.json())["events"]}
    assert listed == expected
    assert listed["grand"]["session_count"] == 3000


async def test_a_subtitle_import_is_parsed_off_the_loop(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    real = api_caption_sessions.parse_upload

    def parsing(data: bytes, filename: str) -> Any:
        threads.append(threading.get_ident())
        return real(data, filename)

    monkeypatch.setattr(api_caption_sessions, "parse_upload", parsing)
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(b"WEBVTT\n\n00:01.000 --> 00:02.000\nBonjour\n"),
                   filename="a.vtt")
    response = await api.client.post(api.captions("/import"), data=form, headers={
        **api.headers, "If-Match": await api.etag()})
    assert response.status == 200, await response.text()
    assert threads
    assert threading.get_ident() not in threads
