"""The JSON API under ``/api/``: events and programmes, recordings and uploads.

`setup_api(app)` registers the routes of this module and of `api_sessions` (cut plans,
session status, retry, publish), each declared once in a table (``ROUTES``, see
`replay.web.api_routes`), and mounts the tus sub-application at ``/api/uploads/``
(documented beside, `tus_paths`). It needs `setup_auth` on the same
application (every handler checks the role) and the factory's SETTINGS, DB (the store, on
its own thread) and QUEUE.

Roles: organisers do everything on their events; editors may read events and sessions;
anonymous callers get 401 everywhere under ``/api/``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from replay.domain.addresses import AddressPolicy, is_public_address
from replay.domain.event_form import FIELDS, EventFormError, event_from_form
from replay.domain.model import Event, Session
from replay.domain.publication import DEFAULT_RULE, PublicationRule, parse_rule
from replay.locale import N_, _, describe
from replay.services import admission, programmes
from replay.services.errors import ServiceError
from replay.settings import Settings
from replay.store.db import EventSummary, ImportSummary, Recording
from replay.web import api_sessions
from replay.web.api_bodies import EventDescription, HeldCorrection, ProgrammeSource
from replay.web.api_common import (
    answered,
    check_event_access,
    load_event,
    read_body,
    recording_json,
)
from replay.web.api_models import EventDetail, EventList, RecordingList, Uploaded
from replay.web.api_models import ImportSummary as ImportSummaryShape
from replay.web.api_routes import (
    EDITOR,
    ERRORS,
    OBJECT,
    ORGANISER,
    SLUG,
    UPLOAD_ID,
    ApiRoute,
    JSONObj,
    add_api_routes,
    query_param,
    ref,
    translated,
)
from replay.web.auth import Role, authorizer, current_user
from replay.web.errors import APIError, api_error, json_response
from replay.web.fetch import FETCH_POLICY, PROGRAMME_MAX_BYTES, FetchError, fetch_programme
from replay.web.ingest import Incoming, admit_upload
from replay.web.keys import DB, OBJECTS, QUEUE, SETTINGS
from replay.web.multipart import Received, receive
from replay.web.quotas import Quotas, UploadLimits
from replay.web.tus import Admit, OnComplete, create_tus_app, parse_metadata
from replay.web.uploads_store import Upload, UploadNotFound, UploadStore

UPLOAD_LIMIT: Final = web.AppKey("replay_upload_max_bytes", int)
QUOTAS: Final = web.AppKey("replay_upload_quotas", Quotas)
TUS_PATH: Final = "/api/uploads/"
#: How a programme's address is sent, as the refusals show it.
URL_JSON: Final = '{"url": ...}'


def tus_dir(settings: Settings) -> Path:
    """Where unfinished tus uploads are kept (the dashboard lists them)."""
    return settings.uploads_dir / "tus"


def setup_api(app: web.Application, *, upload_max_bytes: int | None = None,
              fetch_policy: AddressPolicy = is_public_address) -> None:
    """Add the API's routes and the tus sub-app to `app` (its JSON errors come from the
    factory's error middleware, `replay.web.error_pages`).
    `fetch_policy` decides which addresses a programme URL may lead to (tests only
    widen it, to reach a listener on 127.0.0.1)."""
    settings = app[SETTINGS]
    limit = upload_max_bytes
    if limit is None:
        limit = settings.upload_max_bytes
    app[UPLOAD_LIMIT] = limit
    app[FETCH_POLICY] = fetch_policy
    add_api_routes(app.router, ROUTES)
    api_sessions.add_routes(app.router)
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


@dataclass(frozen=True, slots=True)
class EventRequest:
    """What a request describes: form fields (see `event_form`) and a programme, if any."""

    fields: dict[str, str]
    programme: Event | None


async def _event_request(request: web.Request,
                         model: type[ProgrammeSource]) -> EventRequest:
    """JSON (as `model`): the fields and an optional programme ``url``; multipart: the
    fields and an optional ``programme`` file."""
    if request.content_type == "application/json":
        body = await read_body(request, model)
        fields = {name: _field_text(value) for name, value
                  in body.model_dump(exclude_unset=True, exclude={"url"}).items()}
        if not body.url:
            return EventRequest(fields, None)
        try:
            data, filename = await fetch_programme(body.url,
                                                   policy=request.config_dict[FETCH_POLICY])
        except FetchError as exc:
            raise api_error(exc.status, str(exc)) from None
        return EventRequest(fields, _parsed(data, filename))
    received = await receive(request, file_field="programme", limit=PROGRAMME_MAX_BYTES,
                             directory=None)
    programme = None if received.data is None else _parsed(received.data, received.filename)
    return EventRequest(dict(received.fields), programme)


def _field_text(value: object) -> str:
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return "" if value is None else str(value)


def _parsed(data: bytes, filename: str) -> Event:
    with answered():
        return programmes.read_programme(data, filename)


async def _programme(request: web.Request) -> Event:
    """The programme in the request: a multipart ``programme`` file or JSON ``{"url"}``."""
    found = (await _event_request(request, ProgrammeSource)).programme
    if found is None:
        raise api_error(400, _(
            "Programme missing: send the file in the field “programme”, or its address in "
            "JSON {json}.").format(json=URL_JSON))
    return found


def _new_event(found: EventRequest) -> Event:
    if found.programme is None and not any(found.fields.get(name) for name in FIELDS):
        raise api_error(400, _(
            "Programme missing: send the file in the field “programme”, its address in JSON "
            "{json}, or describe the event (title, start, end, timezone, rooms).").format(
                json=URL_JSON))
    try:
        return event_from_form(found.fields, found.programme)
    except EventFormError as exc:
        raise APIError(400, describe(exc), field=exc.field) from None


def _rule_field(found: EventRequest) -> PublicationRule:
    text = found.fields.get("publication_rule", "")
    rule = parse_rule(text) if text else DEFAULT_RULE
    if rule is None:
        names = ", ".join(str(r) for r in PublicationRule)
        raise APIError(400, _("“publication_rule” is invalid: one of {names}.").format(
            names=names),
                       field="publication_rule")
    return rule


async def create_event(request: web.Request) -> web.Response:
    """Create an event from its description, its programme, or both; with
    ``preview=true``, only say what would be created."""
    found = await _event_request(request, EventDescription)
    event, rule = _new_event(found), _rule_field(found)
    check_event_access(request, event.slug)
    db, settings = request.config_dict[DB], request.config_dict[SETTINGS]
    if _preview(request, default="false"):
        exists = await db.run(lambda store: store.load_event(event.slug) is not None)
        return json_response({**event_json(event, with_sessions=True), "exists": exists,
                              "publication_rule": str(rule)})
    with answered():
        await db.run(lambda store: programmes.create_event(store, settings, event, rule))
    response = json_response(event_json(event, with_sessions=True), status=201)
    response.headers["Location"] = f"/api/events/{event.slug}"
    return response


async def list_events(request: web.Request) -> web.Response:
    """The events the user may work on, without their sessions (one light query)."""
    user = current_user(request)
    summaries = await request.config_dict[DB].run(lambda store: store.event_summaries())
    return json_response({"events": [summary_event_json(e) for e in summaries
                                     if user is not None and user.may_access_event(e.slug)]})


async def show_event(request: web.Request) -> web.Response:
    return json_response(event_json(await load_event(request, request.match_info["slug"]),
                                    with_sessions=True))


def _preview(request: web.Request, default: str = "true") -> bool:
    value = request.query.get("preview", default).strip().lower()
    if value not in {"true", "false", "1", "0"}:
        raise api_error(400, _("Parameter “preview” is invalid: true or false."))
    return value in {"true", "1"}


async def import_programme(request: web.Request) -> web.Response:
    """Re-import: the changes by guid; applied only with ``preview=false``."""
    slug = request.match_info["slug"]
    before = await load_event(request, slug)
    preview = _preview(request)
    event = dataclasses.replace(await _programme(request), slug=slug)
    summary = await request.config_dict[DB].run(
        lambda store: programmes.import_programme(store, event, apply=not preview))
    titles = {s.guid: s.title for s in (*before.sessions, *event.sessions)}
    return json_response({**summary_json(summary), "applied": not preview, "titles": titles})


# -- recordings --------------------------------------------------------------------------


async def upload_recording(request: web.Request) -> web.Response:
    """A small recording as multipart: ``file``, ``room``, ``started_at`` (``sha256``
    optional, checked when given)."""
    slug = request.match_info["slug"]
    await load_event(request, slug)
    limit = request.config_dict[UPLOAD_LIMIT]
    try:
        async with request.config_dict[QUOTAS].receiving(owner_of(request),
                                                         request.content_length or limit):
            received = await receive(request, file_field="file", limit=limit,
                                     directory=request.config_dict[SETTINGS].uploads_dir
                                     / "incoming")
    except ServiceError as refusal:
        raise api_error(refusal.status, refusal.message) from None
    try:
        recording, job = await _admit_received(request, slug, received)
    finally:
        received.discard()  # admitted: already moved into the originals
    return json_response({"recording": recording_json(recording), "job": job}, status=201)


async def _admit_received(request: web.Request, slug: str,
                          received: Received) -> tuple[Recording, int]:
    if received.path is None:
        raise api_error(400, _("File missing: send the recording in the field “file”."))
    expected = received.fields.get("sha256", "").strip().lower()
    if expected and expected != received.sha256:
        raise api_error(422, _("The SHA-256 digest of the file received does not match: the "
                               "file is rejected, send it again."))
    incoming = Incoming(received.path, received.sha256, slug, received.fields.get("room", ""),
                        received.fields.get("started_at"), received.filename)
    app = request.config_dict
    try:
        return await admit_upload(app[SETTINGS], app[DB], app[QUEUE], app[OBJECTS], incoming)
    except ServiceError as refusal:
        raise api_error(refusal.status, refusal.message) from None


async def list_recordings(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    await load_event(request, slug)
    recordings = await request.config_dict[DB].run(lambda store: store.recordings_of(slug))
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
        except ServiceError as refusal:
            raise api_error(refusal.status, refusal.message) from None

    return admit


async def _authorize_tus(request: web.Request) -> None:
    """Organisers only; a new upload must name an event they may use, one of its rooms, and
    a start that can fall within its programme (refused before any byte is sent)."""
    await _tus_role(request)
    if request.method != "POST":
        return
    try:
        metadata: Mapping[str, str] = parse_metadata(request.headers.get("Upload-Metadata"))
    except ValueError:
        return  # the tus app refuses it with its own message
    slug, room = metadata.get("event", ""), metadata.get("room", "")
    if slug:
        event = await load_event(request, slug)
        try:
            if room:
                admission.check_room(event, room)
            admission.check_start_before_end(
                event, admission.parse_started_at(metadata.get("started_at")))
        except ServiceError as refusal:
            raise api_error(refusal.status, refusal.message) from None


#: How long a complete upload refused for what was said about it waits for a correction.
HELD_SECONDS: Final = 7 * 24 * 3600.0


def _tus_handover(app: web.Application, tus_store: UploadStore) -> OnComplete:
    async def on_complete(upload: Upload) -> None:
        try:
            await admit_upload(app[SETTINGS], app[DB], app[QUEUE], app[OBJECTS],
                               incoming_of(upload))
        except ServiceError as refusal:
            await _hold_or_drop(tus_store, upload, refusal)
            raise APIError(refusal.status, refusal.message,
                           held=upload.id if refusal.correctable else None) from None

    return on_complete


def incoming_of(upload: Upload) -> Incoming:
    return Incoming(upload.path, upload.sha256 or "", upload.event or "", upload.room or "",
                    upload.started_at, upload.filename or "fichier")


async def _hold_or_drop(tus_store: UploadStore, upload: Upload,
                        refusal: ServiceError) -> None:
    """Keep a whole file refused for its room or start, so that correcting them admits it
    without sending it again; drop one that is not usable media."""
    if not refusal.correctable:
        await tus_store.remove(upload.id)
        return
    metadata = {**upload.metadata, HELD_KEY: refusal.message}
    await tus_store.save(replace(upload, complete=True, metadata=metadata,
                                 expires=time.time() + HELD_SECONDS))


# -- uploads held for a correction ---------------------------------------------------------

HELD_KEY: Final = "refused"


def held_json(upload: Upload) -> dict[str, Any]:
    return {"id": upload.id, "event": upload.event, "room": upload.room,
            "started_at": upload.started_at, "filename": upload.filename,
            "size": upload.length, "reason": upload.metadata.get(HELD_KEY, ""),
            "expires": upload.expires}


async def held_uploads(settings: Settings, slug: str) -> list[Upload]:
    root = tus_dir(settings)
    if not root.is_dir():
        return []
    now = time.time()
    return [u for u in await UploadStore(root).all()
            if u.complete and HELD_KEY in u.metadata and u.event == slug and u.expires > now]


async def list_held(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    await load_event(request, slug)
    found = await held_uploads(request.config_dict[SETTINGS], slug)
    return json_response({"uploads": [held_json(u) for u in found]})


async def _held(request: web.Request, store: UploadStore) -> Upload:
    upload_id = request.match_info["upload_id"]
    try:
        upload = await store.get(upload_id)
    except UploadNotFound:
        upload = None
    if upload is None or not upload.complete or HELD_KEY not in upload.metadata:
        raise api_error(404, _("Upload “{upload}” not found: it may have been admitted "
                               "already, or it expired.").format(upload=upload_id))
    await load_event(request, upload.event or "")
    return upload


async def admit_held(request: web.Request) -> web.Response:
    """Correct the room or the start of a held upload and admit it: nothing is sent again."""
    settings = request.config_dict[SETTINGS]
    store = UploadStore(tus_dir(settings))
    upload = await _held(request, store)
    body = await read_body(request, HeldCorrection)
    changes = {key: value.strip() for key, value in body.model_dump(exclude_none=True).items()
               if value.strip()}
    upload = replace(upload, metadata={**upload.metadata, **changes})
    app = request.config_dict
    try:
        recording, job = await admit_upload(settings, app[DB], app[QUEUE], app[OBJECTS],
                                            incoming_of(upload))
    except ServiceError as refusal:
        await _hold_or_drop(store, upload, refusal)
        raise APIError(refusal.status, refusal.message,
                       held=upload.id if refusal.correctable else None) from None
    await store.remove(upload.id)
    return json_response({"recording": recording_json(recording), "job": job}, status=201)


# -- the routes ----------------------------------------------------------------------------

_PREVIEW_FALSE: Final = query_param("preview", {"type": "boolean", "default": False})
_PREVIEW_TRUE: Final = query_param("preview", {"type": "boolean", "default": True})

#: The programme as a file (multipart) or by its address (JSON).
_PROGRAMME_BODY: Final = {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["programme"],
        "properties": {"programme": {"type": "string", "format": "binary",
                                     "description": N_("schedule.json, schedule.xml or iCal")}}}},
    "application/json": {"schema": ref(ProgrammeSource.__name__)},
}}

_UPLOAD_BODY: Final = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "room"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "room": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time",
                       "description": N_("Start by the wall clock, with its time zone; otherwise "
                                         "the file's creation_time")},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    }}}}}

_EVENT_FIELDS: Final = {
    "title": {"type": "string"}, "start": {"type": "string", "format": "date"},
    "end": {"type": "string", "format": "date"}, "timezone": {"type": "string"},
    "rooms": {"type": "string", "description": N_("One room per line")},
    "publication_rule": {"type": "string",
                         "enum": ["automatique", "apres_decoupage", "apres_sous_titres"]},
}

#: The event as a form with an optional programme file, or in JSON.
_EVENT_BODY: Final = {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        **_EVENT_FIELDS, "programme": {"type": "string", "format": "binary",
                                       "description": N_("schedule.json, schedule.xml or iCal "
                                                         "(optional)")}}}},
    "application/json": {"schema": ref(EventDescription.__name__)},
}}

ROUTES: Final = (
    ApiRoute("GET", "/api/events", list_events, N_("The events"), EDITOR,
             ("200", EventList, N_("Events"))),
    ApiRoute("POST", "/api/events", create_event,
             N_("Create an event: its description, its programme, or both (preview=true: "
                "only say what would be created)"), ORGANISER,
             ("201", EventDetail, N_("Created")), ("400", "409", "413", "415", "422"),
             body=_EVENT_BODY, params=(_PREVIEW_FALSE,)),
    ApiRoute("GET", "/api/events/{slug}", show_event, N_("An event and its sessions"), EDITOR,
             ("200", EventDetail, N_("Event")), ("404",), params=(SLUG,)),
    ApiRoute("POST", "/api/events/{slug}/programme", import_programme,
             N_("Import the programme again (preview of the changes by guid, applied with "
                "preview=false)"), ORGANISER, ("200", ImportSummaryShape, N_("Changes")),
             ("404", "415", "422"), body=_PROGRAMME_BODY, params=(SLUG, _PREVIEW_TRUE)),
    ApiRoute("GET", "/api/events/{slug}/recordings", list_recordings, N_("The recordings"),
             ORGANISER, ("200", RecordingList, N_("List")), ("404",), params=(SLUG,)),
    ApiRoute("POST", "/api/events/{slug}/recordings", upload_recording,
             N_("Upload a small recording (multipart)"), ORGANISER,
             ("201", Uploaded, N_("Recorded, analysis queued")), ("404", "415", "422", "429"),
             body=_UPLOAD_BODY, params=(SLUG,)),
    ApiRoute("GET", "/api/events/{slug}/held-uploads", list_held,
             N_("The uploads received whole but refused for their room or their start"),
             ORGANISER, ("200", OBJECT, N_("Uploads to complete")), ("404",), params=(SLUG,)),
    ApiRoute("POST", "/api/held-uploads/{upload_id}", admit_held,
             N_("Correct the room or the start of a held upload, and admit it without "
                "sending it again"),
             ORGANISER, ("201", Uploaded, N_("Admitted, analysis queued")), ("400", "404", "422"),
             body=HeldCorrection, params=(UPLOAD_ID,)),
)

_TUS: Final = N_("Resumable upload, tus protocol 1.0.0 (extensions creation, checksum, "
                 "termination, expiration). Metadata: event, room, started_at, filename, "
                 "sha256 (checked at the end). Role: organiser.")

#: What a tus request may be answered besides its success (errors as French text, or JSON
#: for the refusals of the API around it: role, event, room, quotas).
_TUS_ERRORS: Final = ("400", "401", "403", "404", "409", "410", "412", "413", "415", "422",
                      "423", "429", "460", "507")


def _tus_op(summary: str, status: str) -> JSONObj:
    responses: JSONObj = {status: {"description": _("tus answer")}}
    for code in _TUS_ERRORS:
        responses[code] = {"description": _(ERRORS[code])}
    return {"summary": _(summary), "description": _(_TUS), "responses": responses}


def tus_paths() -> JSONObj:
    """The tus sub-application's operations (`create_tus_app` registers them), as
    documented."""
    return {
        TUS_PATH: {"options": _tus_op(N_("tus capabilities"), "204"),
                   "post": _tus_op(N_("Create an upload"), "201")},
        TUS_PATH + "{upload_id}": {
            "parameters": [translated(UPLOAD_ID)],
            "options": _tus_op(N_("tus capabilities"), "204"),
            "head": _tus_op(N_("The upload's offset"), "200"),
            "patch": _tus_op(N_("Send a chunk"), "204"),
            "delete": _tus_op(N_("Abandon the upload"), "204"),
        },
    }
