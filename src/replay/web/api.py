"""The JSON API under ``/api/``: events and programmes, recordings and uploads.

`setup_api(app)` registers the routes of this module and of `api_sessions` (cut plans,
session status, retry, publish), mounts the tus sub-application at ``/api/uploads/`` and
serves the OpenAPI document at ``/api/openapi.json``. It needs `setup_auth` on the same
application (every handler checks the role) and the factory's SETTINGS, STORE and QUEUE.

Roles: organisers do everything on their events; editors may read events and sessions;
anonymous callers get 401 everywhere under ``/api/``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from replay.domain.addresses import AddressPolicy, is_public_address
from replay.domain.errors import ProgrammeError
from replay.domain.model import Event, Session
from replay.domain.programme import parse_programme
from replay.settings import Settings
from replay.store.db import EventSummary, ImportSummary, Recording
from replay.web import api_sessions
from replay.web.api_common import check_event_access, json_body, load_event, recording_json
from replay.web.auth import Role, authorizer, current_user, require
from replay.web.errors import NBSP, api_error, json_errors, json_response
from replay.web.fetch import FETCH_POLICY, PROGRAMME_MAX_BYTES, FetchError, fetch_programme
from replay.web.ingest import Incoming, Refused, admit_upload, check_room
from replay.web.keys import QUEUE, SETTINGS, STORE
from replay.web.multipart import Received, receive
from replay.web.openapi import openapi_document
from replay.web.quotas import Quotas, UploadLimits
from replay.web.tus import Admit, OnComplete, create_tus_app, parse_metadata
from replay.web.uploads_store import Upload, UploadStore

UPLOAD_LIMIT: Final = web.AppKey("replay_upload_max_bytes", int)
QUOTAS: Final = web.AppKey("replay_upload_quotas", Quotas)
TUS_PATH: Final = "/api/uploads/"

_organiser: Final = require(Role.ORGANISER)
_reader: Final = require(Role.EDITOR)  # editors and organisers


def tus_dir(settings: Settings) -> Path:
    """Where unfinished tus uploads are kept (the dashboard lists them)."""
    return settings.uploads_dir / "tus"


def setup_api(app: web.Application, *, upload_max_bytes: int | None = None,
              fetch_policy: AddressPolicy = is_public_address) -> None:
    """Add the API's routes, the tus sub-app and the JSON error middleware to `app`.
    `fetch_policy` decides which addresses a programme URL may lead to (tests only
    widen it, to reach a listener on 127.0.0.1)."""
    settings = app[SETTINGS]
    limit = upload_max_bytes
    if limit is None:
        limit = settings.upload_max_bytes
    app[UPLOAD_LIMIT] = limit
    app[FETCH_POLICY] = fetch_policy
    app.middlewares.append(json_errors)
    router = app.router
    router.add_get("/api/openapi.json", openapi)
    router.add_post("/api/events", create_event)
    router.add_get("/api/events", list_events)
    router.add_get("/api/events/{slug}", show_event)
    router.add_post("/api/events/{slug}/programme", import_programme)
    router.add_post("/api/events/{slug}/recordings", upload_recording)
    router.add_get("/api/events/{slug}/recordings", list_recordings)
    api_sessions.add_routes(router)
    tus_store = UploadStore(tus_dir(settings))
    quotas = Quotas(UploadLimits.from_settings(settings), tus_store, settings.data_dir)
    app[QUOTAS] = quotas
    app.add_subapp(TUS_PATH, create_tus_app(
        tus_store, max_size=limit, authorize=_authorize_tus,
        on_complete=_tus_handover(app, tus_store), identify=owner_of,
        admit=_tus_admission(quotas)))


# -- helpers -----------------------------------------------------------------------------


def event_json(event: Event, *, with_sessions: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": event.slug, "title": event.title, "start": event.start.isoformat(),
        "end": event.end.isoformat(), "timezone": event.timezone, "rooms": list(event.rooms),
        "session_count": len(event.sessions),
    }
    if with_sessions:
        data["sessions"] = [session_json(s) for s in event.sessions]
    return data


def summary_event_json(event: EventSummary) -> dict[str, Any]:
    """The same shape as `event_json` without sessions."""
    return {"slug": event.slug, "title": event.title, "start": event.start.isoformat(),
            "end": event.end.isoformat(), "timezone": event.timezone, "rooms": list(event.rooms),
            "session_count": event.session_count}


def session_json(session: Session) -> dict[str, Any]:
    return {"guid": session.guid, "title": session.title, "slug": session.slug,
            "room": session.room, "start": session.start.isoformat(),
            "end": session.end.isoformat(), "publishable": session.publishable}


def summary_json(summary: ImportSummary) -> dict[str, list[str]]:
    return {"added": list(summary.added), "changed": list(summary.changed),
            "removed": list(summary.removed)}


# -- events and programmes ---------------------------------------------------------------


@_reader
async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


async def _programme(request: web.Request) -> Event:
    """The programme in the request: a multipart ``programme`` file or JSON ``{"url"}``."""
    if request.content_type == "application/json":
        url = (await json_body(request)).get("url")
        if not isinstance(url, str):
            raise api_error(400, f"Champ « url » manquant{NBSP}: donnez l’adresse du "
                                 "programme, ou envoyez le fichier (champ « programme »).")
        try:
            data, filename = await fetch_programme(url,
                                                   policy=request.config_dict[FETCH_POLICY])
        except FetchError as exc:
            raise api_error(exc.status, str(exc)) from None
    else:
        received = await receive(request, file_field="programme", limit=PROGRAMME_MAX_BYTES,
                                 directory=None)
        if received.data is None:
            raise api_error(400, f"Fichier manquant{NBSP}: envoyez le programme dans le "
                                 "champ « programme », ou son adresse en JSON {\"url\": ...}.")
        data, filename = received.data, received.filename
    try:
        return parse_programme(data, filename=filename)
    except ProgrammeError as exc:
        raise api_error(400, f"Programme illisible{NBSP}: {exc}") from None


@_organiser
async def create_event(request: web.Request) -> web.Response:
    event = await _programme(request)
    check_event_access(request, event.slug)
    store = request.config_dict[STORE]
    if store.load_event(event.slug) is not None:
        raise api_error(409, f"L’événement « {event.slug} » existe déjà{NBSP}: pour mettre "
                             f"son programme à jour, utilisez POST /api/events/{event.slug}"
                             "/programme.")
    store.save_event(event)
    response = json_response(event_json(event, with_sessions=True), status=201)
    response.headers["Location"] = f"/api/events/{event.slug}"
    return response


@_reader
async def list_events(request: web.Request) -> web.Response:
    """The events the user may work on, without their sessions (one light query)."""
    user = current_user(request)
    summaries = request.config_dict[STORE].event_summaries()
    return json_response({"events": [summary_event_json(e) for e in summaries
                                     if user is not None and user.may_access_event(e.slug)]})


@_reader
async def show_event(request: web.Request) -> web.Response:
    return json_response(event_json(load_event(request, request.match_info["slug"]),
                                    with_sessions=True))


def _preview(request: web.Request) -> bool:
    value = request.query.get("preview", "true").strip().lower()
    if value not in {"true", "false", "1", "0"}:
        raise api_error(400, f"Paramètre « preview » invalide{NBSP}: true ou false.")
    return value in {"true", "1"}


@_organiser
async def import_programme(request: web.Request) -> web.Response:
    """Re-import: the changes by guid; applied only with ``preview=false``."""
    slug = request.match_info["slug"]
    load_event(request, slug)
    preview = _preview(request)
    event = dataclasses.replace(await _programme(request), slug=slug)
    store = request.config_dict[STORE]
    summary = store.diff_event(event) if preview else store.save_event(event)
    return json_response({**summary_json(summary), "applied": not preview})


# -- recordings --------------------------------------------------------------------------


@_organiser
async def upload_recording(request: web.Request) -> web.Response:
    """A small recording as multipart: ``file``, ``room``, ``started_at`` (``sha256``
    optional, checked when given)."""
    slug = request.match_info["slug"]
    load_event(request, slug)
    limit = request.config_dict[UPLOAD_LIMIT]
    try:
        async with request.config_dict[QUOTAS].receiving(owner_of(request),
                                                         request.content_length or limit):
            received = await receive(request, file_field="file", limit=limit,
                                     directory=request.config_dict[SETTINGS].uploads_dir
                                     / "incoming")
    except Refused as refusal:
        raise api_error(refusal.status, refusal.message) from None
    try:
        recording, job = await _admit_received(request, slug, received)
    finally:
        received.discard()  # admitted: already moved into the originals
    return json_response({"recording": recording_json(recording), "job": job}, status=201)


async def _admit_received(request: web.Request, slug: str,
                          received: Received) -> tuple[Recording, int]:
    if received.path is None:
        raise api_error(400, f"Fichier manquant{NBSP}: envoyez l’enregistrement dans le "
                             "champ « file ».")
    expected = received.fields.get("sha256", "").strip().lower()
    if expected and expected != received.sha256:
        raise api_error(422, f"L’empreinte SHA-256 du fichier reçu ne correspond pas{NBSP}: "
                             "le fichier est rejeté, renvoyez-le.")
    incoming = Incoming(received.path, received.sha256, slug, received.fields.get("room", ""),
                        received.fields.get("started_at"), received.filename)
    app = request.config_dict
    try:
        return await admit_upload(app[SETTINGS], app[STORE], app[QUEUE], incoming)
    except Refused as refusal:
        raise api_error(refusal.status, refusal.message) from None


@_organiser
async def list_recordings(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    load_event(request, slug)
    recordings = request.config_dict[STORE].recordings_of(slug)
    return json_response({"recordings": [recording_json(r) for r in recordings]})


# -- tus ---------------------------------------------------------------------------------

_tus_role: Final = authorizer(Role.ORGANISER)


def owner_of(request: web.Request) -> str:
    """Uploads belong to the user who started them (checked before: never anonymous)."""
    user = current_user(request)
    return "" if user is None else str(user.id)


def _tus_admission(quotas: Quotas) -> Admit:
    async def admit(request: web.Request, length: int) -> None:
        try:
            await quotas.admit(owner_of(request), length)
        except Refused as refusal:
            raise api_error(refusal.status, refusal.message) from None

    return admit


async def _authorize_tus(request: web.Request) -> None:
    """Organisers only; a new upload must name an event they may use and one of its rooms
    (refused before any byte is sent)."""
    await _tus_role(request)
    if request.method != "POST":
        return
    try:
        metadata: Mapping[str, str] = parse_metadata(request.headers.get("Upload-Metadata"))
    except ValueError:
        return  # the tus app refuses it with its own message
    slug, room = metadata.get("event", ""), metadata.get("room", "")
    if slug:
        event = load_event(request, slug)
        if room:
            try:
                check_room(event, room)
            except Refused as refusal:
                raise api_error(refusal.status, refusal.message) from None


def _tus_handover(app: web.Application, tus_store: UploadStore) -> OnComplete:
    async def on_complete(upload: Upload) -> None:
        incoming = Incoming(upload.path, upload.sha256 or "", upload.event or "",
                            upload.room or "", upload.started_at, upload.filename or "fichier")
        try:
            await admit_upload(app[SETTINGS], app[STORE], app[QUEUE], incoming)
        except Refused as refusal:
            await tus_store.remove(upload.id)
            raise api_error(refusal.status, refusal.message) from None

    return on_complete
