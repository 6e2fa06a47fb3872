"""What the API's handler modules share: access to an event, JSON bodies (read as their
`replay.web.api_bodies` model), shapes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final, TypeVar

from aiohttp import web

from replay.domain.cutplan import Cut
from replay.domain.model import Event
from replay.locale import _
from replay.services.admission import event_for
from replay.services.errors import ServiceError
from replay.store.db import Recording, Store
from replay.web.api_bodies import Body, parse_body
from replay.web.auth import current_user
from replay.web.errors import APIError, api_error
from replay.web.keys import DB

AnyBody = TypeVar("AnyBody", bound=Body)

#: An id in a path: ASCII digits only (``str.isdigit`` also takes « ² »), at most 18 of
#: them, so that it fits SQLite's 64-bit integers.
_ID: Final = re.compile(r"[0-9]{1,18}")
#: Where the recordings' numbers are listed, as a refusal names it.
RECORDINGS_REQUEST: Final = "GET /api/events/{slug}/recordings"


def parse_id(text: str | None) -> int | None:
    """The number `text` spells, when it can be a row id; None otherwise."""
    return int(text) if text is not None and _ID.fullmatch(text) else None


def check_event_access(request: web.Request, slug: str) -> None:
    """403 unless the current user may work on event `slug` (roles are checked before)."""
    user = current_user(request)
    if user is None or not user.may_access_event(slug):
        raise api_error(403, _("You have no access to the event “{slug}”: ask an organiser "
                               "for it.").format(slug=slug))


async def load_event(request: web.Request, slug: str) -> Event:
    check_event_access(request, slug)
    with answered():
        return await request.config_dict[DB].run(lambda store: event_for(store, slug))


async def load_recording(request: web.Request, key: str = "id") -> Recording:
    text = request.match_info[key]
    recording = await request.config_dict[DB].run(lambda store: recording_in(store, text))
    check_event_access(request, recording.event_slug)
    return recording


async def load_planned(request: web.Request) -> tuple[Recording, list[Cut]]:
    """`load_recording`, with the recording's cut plan read in the same run."""
    text = request.match_info["id"]

    def planned(store: Store) -> tuple[Recording, list[Cut]]:
        recording = recording_in(store, text)
        return recording, store.load_cuts(recording.id)

    recording, cuts = await request.config_dict[DB].run(planned)
    check_event_access(request, recording.event_slug)
    return recording, cuts


def not_in_plan(guid: str, recording: Recording) -> str:
    """The refusal of session `guid`, which `recording`'s cut plan lacks."""
    return _("The session “{guid}” is not in the cut plan of recording {number}.").format(
        guid=guid, number=recording.id)


def recording_in(store: Store, text: str) -> Recording:
    """The recording numbered `text` (a path's id), or a 404 (access is not checked)."""
    number = parse_id(text)
    recording = None if number is None else store.recording(number)
    if recording is None:
        raise api_error(404, _("Recording “{number}” not found: check its number ({request})."
                               ).format(number=text, request=RECORDINGS_REQUEST))
    return recording


async def read_body(request: web.Request, model: type[AnyBody]) -> AnyBody:
    """The request's JSON body as `model` (`parse_body`: a 400 naming what is wrong)."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    return parse_body(model, body)


def recording_json(recording: Recording) -> dict[str, Any]:
    return {"id": recording.id, "event": recording.event_slug, "room": recording.room,
            "sha256": recording.sha256, "source_name": recording.source_name,
            "started_at": recording.started_at.isoformat(), "duration": recording.duration}


def answer(error: ServiceError) -> APIError:
    """A service's refusal as the API's JSON error: its status, its French message, and
    its details beside (``{"error": ..., "confirm": [...]}``)."""
    return APIError(error.status, error.message, **error.details)


@contextmanager
def answered() -> Iterator[None]:
    """Run a service call; a refusal becomes the API's error (`answer`)."""
    try:
        yield
    except ServiceError as refusal:
        raise answer(refusal) from None
