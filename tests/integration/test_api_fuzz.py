"""schemathesis against /api/openapi.json of the real factory, served on 127.0.0.1 (port
0) in a thread: generated valid and invalid requests for every operation must never
get a 5xx, nor a status code the document does not declare. A bounded run (a few
examples per operation, no shrinking past the first failure), well under a minute.

Nothing leaves the machine: every URL-typed field (the programme's ``url``) is pointed
at a local address before the request is sent, and the default address policy refuses
it without connecting; requests go straight to the server (no proxy from the
environment).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from replay.domain.cutplan import Cut
from replay.domain.programme import parse_programme
from replay.domain.transcript import Cue
from replay.domain.webvtt import render_webvtt
from replay.services.captions import vtt_path
from replay.settings import Settings
from replay.store.factory import open_store
from replay.store.users import Role
from replay.web.app import create_app
from replay.web.auth import users_for
from replay.web.keys import SETTINGS
from replay.web.openapi import openapi_document

PROGRAMME = (Path(__file__).parent.parent / "fixtures" / "programmes"
             / "mission-villes-2026.schedule.json")
SLUG = "mission-villes-2026"
#: Where URL-typed fields lead: a local address the default policy refuses unopened.
LOCAL_URL = "http://127.0.0.1:9/schedule.json"
EXAMPLES_PER_OPERATION = 25


@dataclass
class Live:
    url: str
    token: str
    http: requests.Session


def _serve(app: web.Application, sock: socket.socket, ready: threading.Event,
           state: dict[str, Any]) -> None:
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.SockSite(runner, sock).start())
    state["token"] = _populate(app, app[SETTINGS])
    state["loop"] = loop
    ready.set()
    loop.run_forever()
    loop.run_until_complete(runner.cleanup())
    loop.close()


def _populate(app: web.Application, settings: Settings) -> str:
    """An organiser, an event, a recording cut in two sessions with captions: ids 1 and
    the guids « first » and « second » exist, so some generated requests find them (over a
    connection of the test's own: the app's runs on its store's thread)."""
    with closing(open_store(settings)) as store:
        users = users_for(store.db, settings)
        user = users.add("orga@example.org", "Orga", Role.ORGANISER, "un mot de passe sûr")
        store.save_event(parse_programme(PROGRAMME.read_bytes(), filename="p.json"))
        recording = store.add_recording(
            event_slug=SLUG, room="Plénière", sha256="ab" * 32, original=Path("/dev/null"),
            source_name="o.mp4",
            started_at=datetime.fromisoformat("2026-03-03T09:00:00+01:00"))
        store.save_cuts(recording.id, [Cut(g, g, s, s + 60, s, s + 60, False, False)
                                       for g, s in (("first", 0.0), ("second", 60.0))])
        for guid in ("first", "second"):
            speech = vtt_path(settings, recording, guid, "fr").parent
            speech.mkdir(parents=True, exist_ok=True)
            for lang in ("fr", "en"):
                (speech / f"subtitles.{lang}.vtt").write_text(
                    render_webvtt([Cue(1.0, 2.0, ("Bonjour",))]), "utf-8")
            (speech / "transcript.fr.json").write_text(json.dumps({"segments": []}), "utf-8")
        return users.create_token(user.id, "schemathesis")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("fuzz") / "data",
                              cpu_threads=1, upload_max_bytes=1 << 20), run_workers=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    ready, state = threading.Event(), dict[str, Any]()
    thread = threading.Thread(target=_serve, args=(app, sock, ready, state), daemon=True)
    thread.start()
    assert ready.wait(30), "the server did not start"
    http = requests.Session()
    http.trust_env = False  # no proxy from the environment: straight to 127.0.0.1
    try:
        yield Live(f"http://127.0.0.1:{sock.getsockname()[1]}", state["token"], http)
    finally:
        http.close()
        state["loop"].call_soon_threadsafe(state["loop"].stop)
        thread.join(30)


#: The document is pure data (no server needed to read it): one test per operation.
OPERATIONS = [result.ok() for result in
              schemathesis.openapi.from_dict(openapi_document()).get_all_operations()
              if isinstance(result, Ok)]


def local_urls(case: Any) -> None:
    """Every URL-typed field of the body leads to a local address."""
    if isinstance(case.body, dict) and "url" in case.body:
        case.body["url"] = LOCAL_URL


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valides", "invalides"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_the_api_answers_only_as_documented(operation: Any, mode: GenerationMode,
                                            live: Live) -> None:
    auth = {"Authorization": f"Bearer {live.token}"}

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
              database=None, suppress_health_check=list(HealthCheck))
    def answers(case: Any) -> None:
        local_urls(case)
        case.call_and_validate(base_url=live.url, session=live.http, headers=auth,
                               checks=[not_a_server_error, status_code_conformance,
                                       response_schema_conformance])

    answers()
