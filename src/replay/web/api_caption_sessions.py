"""The caption API of one session in one language: versions with ETag/If-Match,
history, diff and revert, the workflow, claims, WebVTT/SRT export and strict import
(`api_captions.setup_captions` adds these routes and the event-wide ones), and the
session's chapters (``/api/chapters/{id}/{guid}``).

``/api/captions/{id}/{guid}/{lang}`` is one session's captions in one language (``id``:
the recording, ``guid``: the session in its cut plan). Version 1 is imported from the
speech stage's WebVTT on first read (author « Whisper »). Every save needs the ETag it
started from in ``If-Match`` (428 without; 409 showing both versions when another save
came first).

Roles: editors (and organisers) read, edit, claim, approve and replace; publishing is
for organisers unless the event lets editors publish; the options are the organisers';
the glossary may be edited by editors too (they meet the names while correcting).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable
from functools import partial
from typing import Any, Final, TypeVar

from aiohttp import web

from replay.captions_io.files import read_subtitles, to_srt, to_webvtt
from replay.domain.captions import (
    CaptionError,
    Change,
    diff_cues,
    validate_cues,
    warnings_for,
)
from replay.domain.chapters import ChapterError, parse_chapters
from replay.domain.cutplan import Cut
from replay.domain.errors import SubtitleError
from replay.domain.subtitle_files import Refusal, validated_cues
from replay.domain.transcript import Cue
from replay.locale import N_, _, describe
from replay.services import caption_edits
from replay.services.caption_edits import CaptionTrack
from replay.services.captions import (
    LANGUAGES,
    default_options,
    machine_pending,
    read_source,
    speech_dir,
)
from replay.store.captions import (
    Author,
    Captions,
    CaptionState,
    CaptionVersion,
    EventOptions,
    VersionConflict,
)
from replay.store.db import Recording, Store
from replay.store.users import Role, User, Users
from replay.web.api_bodies import CaptionsChange, ChaptersChange, Revert, StatusChange
from replay.web.api_common import (
    answered,
    load_planned,
    not_in_plan,
    parse_id,
    read_body,
)
from replay.web.api_forms import CaptionFile, form_body, parse_form
from replay.web.api_models import Captions as CaptionsShape
from replay.web.api_models import Chapters
from replay.web.api_routes import (
    EDITOR,
    GUID,
    OBJECT,
    RECORDING,
    ApiRoute,
    Handler,
    Schema,
    add_api_routes,
    path_param,
    query_param,
)
from replay.web.auth import check_role, current_user
from replay.web.errors import HangUp, api_error, hang_up, hangs_up, json_response
from replay.web.keys import DB, OFFLOAD, QUEUE, SETTINGS
from replay.web.multipart import receive
from replay.web.offload import RETRY_AFTER, Busy, Offload
from replay.web.work_files import session_folder

CAPTIONS: Final = "/api/captions/{id}/{guid}/{lang}"
CHAPTERS: Final = "/api/chapters/{id}/{guid}"
IMPORT_MAX_BYTES: Final = 4 << 20
LOW_CONFIDENCE: Final = 0.5
T = TypeVar("T")
_ETAG: Final = re.compile(r'\s*(?:W/)?"v([0-9]{1,18})"\s*')
SUBTITLES_REFUSED: Final = N_("Subtitles refused")


def add_routes(router: web.UrlDispatcher) -> None:
    add_api_routes(router, ROUTES)


# -- the captions of one session ---------------------------------------------------------


#: One language's captions of one session (`caption_edits.CaptionTrack`).
Target = CaptionTrack


async def on_captions(request: web.Request, use: Callable[[Captions], T]) -> T:
    """``use(captions)`` on the store's thread (`AsyncStore.run`), never on the loop."""
    return await request.config_dict[DB].run(lambda store: use(Captions(store.db)))


def _target(request: web.Request, recording: Recording, cuts: Iterable[Cut]) -> Target:
    guid = request.match_info["guid"]
    if guid not in {cut.guid for cut in cuts}:
        raise api_error(404, not_in_plan(guid, recording))
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise api_error(404, _("Unknown language “{lang}”: fr or en.").format(lang=lang))
    return Target(recording, guid, lang)


async def find_target(request: web.Request) -> Target:
    """The track, its speech folder fetched when a worker of another machine made it."""
    where = _target(request, *await load_planned(request))
    await session_folder(request, where.recording, where.guid, "speech")
    return where


async def loaded(request: web.Request, where: Target) -> tuple[CaptionState, str | None]:
    """The state, after importing the speech stage's file when it is new, and its text."""
    with answered():
        return await caption_edits.load(request.config_dict[SETTINGS],
                                        request.config_dict[DB], where)


def current_of(captions: Captions, where: Target) -> CaptionVersion:
    current = captions.current(where.key)
    assert current is not None  # loaded() imported it
    return current


def cue_json(cue: Cue) -> dict[str, Any]:
    return {"start": cue.start, "end": cue.end, "text": cue.text}


def etag(version: int) -> str:
    return f'"v{version}"'


def with_etag(response: web.Response, version: int) -> web.Response:
    response.headers["ETag"] = etag(version)
    return response


def user_json(store: Store, user_id: int | None, since: float | None) -> Any:
    """Who holds a claim (on the store's thread)."""
    if user_id is None:
        return None
    user = Users(store.db).get(user_id)
    return {"id": user_id, "name": user.name if user else "?", "since": since}


def _shown(store: Store, where: Target, state: CaptionState) -> tuple[CaptionVersion, Any]:
    return (current_of(Captions(store.db), where),
            user_json(store, state.claimed_by, state.claimed_at))


async def low_confidence(request: web.Request, where: Target) -> list[dict[str, Any]]:
    """Whisper's words under `LOW_CONFIDENCE` (French only: the English is a translation)."""
    if where.lang != "fr":
        return []
    path = speech_dir(request.config_dict[SETTINGS], where.recording, where.guid)
    text = await asyncio.to_thread(read_source, path / "transcript.fr.json")
    try:
        segments = json.loads(text or "{}").get("segments", [])
    except ValueError:
        return []
    return [{"start": w["start"], "end": w["end"], "word": w["word"],
             "probability": w["probability"]}
            for s in segments for w in s.get("words", [])
            if w.get("probability", 1.0) < LOW_CONFIDENCE]


async def captions_json(request: web.Request, where: Target, state: CaptionState,
                        source: str | None) -> dict[str, Any]:
    current, claimed_by = await request.config_dict[DB].run(
        lambda store: _shown(store, where, state))
    return {"recording": where.recording.id, "guid": where.guid, "lang": where.lang,
            "version": current.version, "status": str(state.status),
            "author": current.author, "created_at": current.created_at,
            "cues": [cue_json(c) for c in current.cues],
            "warnings": warnings_for(current.cues, where.lang),
            "low_confidence": await low_confidence(request, where),
            "claimed_by": claimed_by,
            "reviewed_until": state.reviewed_until,
            "machine_pending": machine_pending(state, source)}


async def respond(request: web.Request, where: Target, status: int = 200) -> web.Response:
    state, source = await loaded(request, where)
    body = await captions_json(request, where, state, source)
    return with_etag(json_response(body, status=status), body["version"])


async def show(request: web.Request) -> web.Response:
    return await respond(request, await find_target(request))


# -- saving ------------------------------------------------------------------------------


def expected_version(request: web.Request) -> int:
    value = request.headers.get("If-Match")
    if value is None:
        raise api_error(428, _("If-Match header missing: send back the ETag received with the "
                               "subtitles, so as not to overwrite someone else's work."))
    match = _ETAG.fullmatch(value)
    if match is None:
        raise api_error(400, _("If-Match unreadable: send the ETag back as it is (for example "
                               "{example}).").format(example='"v3"'))
    return int(match.group(1))


def validated(cues: list[Cue], what: str | None = None) -> list[Cue]:
    """`cues` if they are valid; else a 422 that starts with `what` (French)."""
    try:
        return validate_cues(cues)
    except CaptionError as exc:
        raise _refused(exc, what or _(SUBTITLES_REFUSED), cue=exc.cue) from None


def _refused(exc: SubtitleError, what: str, **detail: Any) -> web.HTTPException:
    body = {"error": _("{what}: {reason}. Nothing was saved.").format(what=what,
                                                                      reason=describe(exc)),
            **detail}
    return web.HTTPUnprocessableEntity(text=json.dumps(body, ensure_ascii=False),
                                       content_type="application/json")


def conflict(exc: VersionConflict, yours: list[Cue]) -> web.HTTPException:
    current = exc.current
    body = {"error": _("Conflict: {author} saved version {version} in the meantime. Compare "
                       "the two versions, then save from theirs.").format(
                           author=current.author, version=current.version),
            "current": {"version": current.version, "author": current.author,
                        "created_at": current.created_at,
                        "cues": [cue_json(c) for c in current.cues]},
            "yours": {"cues": [cue_json(c) for c in yours]}}
    response = web.HTTPConflict(text=json.dumps(body, ensure_ascii=False),
                                content_type="application/json")
    response.headers["ETag"] = etag(current.version)
    return response


def author(request: web.Request) -> Author:
    user = current_user(request)
    assert user is not None  # the role check came first
    return Author(user.name, user.id)


async def store_version(request: web.Request, where: Target, cues: list[Cue], *,
                        expected: int, note: str,
                        reviewed_until: float | None = None) -> web.Response:
    try:
        with answered():
            await caption_edits.save(request.config_dict[SETTINGS], request.config_dict[DB],
                                     where, cues, author(request), expected=expected,
                                     note=note, reviewed_until=reviewed_until)
    except VersionConflict as exc:
        raise conflict(exc, cues) from None
    return await respond(request, where)


@hangs_up
async def save(request: web.Request) -> web.StreamResponse:
    where = await find_target(request)
    expected = expected_version(request)
    async with offload_slot(request) as offload:
        body = await read_body(request, CaptionsChange)
        cues = await off_the_loop(offload, _(SUBTITLES_REFUSED), validated_cues,
                                  [Cue(c.start, c.end, (c.text,)) for c in body.cues])
    return await store_version(request, where, cues, expected=expected, note=body.note[:200],
                               reviewed_until=body.reviewed_until)


# -- history, diff, revert ---------------------------------------------------------------


def version_json(version: CaptionVersion, *, with_cues: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"version": version.version, "author": version.author,
                            "created_at": version.created_at, "status": str(version.status),
                            "note": version.note, "cue_count": len(version.cues)}
    if with_cues:
        data["cues"] = [cue_json(c) for c in version.cues]
    return data


async def history(request: web.Request) -> web.Response:
    where = await find_target(request)
    state, _cues = await loaded(request, where)
    versions = await on_captions(request, lambda captions: captions.history(where.key))
    return json_response({"current": state.current_version,
                          "versions": [version_json(v, with_cues=False) for v in versions]})


async def version_number(request: web.Request, where: Target, text: str | None,
                         default: int) -> CaptionVersion:
    number = default if text is None else parse_id(text)
    with answered():
        return await on_captions(request, lambda captions: caption_edits.version(
            captions, where, number, str(text)))


async def show_version(request: web.Request) -> web.Response:
    where = await find_target(request)
    await loaded(request, where)
    found = await version_number(request, where, request.match_info["n"], 0)
    return json_response(version_json(found, with_cues=True))


def change_json(change: Change) -> dict[str, Any]:
    return {"kind": change.kind, "index": change.index, "text": describe(change.message()),
            "old": None if change.old is None else cue_json(change.old),
            "new": None if change.new is None else cue_json(change.new)}


async def diff(request: web.Request) -> web.Response:
    where = await find_target(request)
    state, _cues = await loaded(request, where)
    latest = state.current_version
    old = await version_number(request, where, request.query.get("from"), max(latest - 1, 1))
    new = await version_number(request, where, request.query.get("to"), latest)
    changes = diff_cues(old.cues, new.cues)
    return json_response({"from": old.version, "to": new.version,
                          "changes": [change_json(c) for c in changes]})


async def revert(request: web.Request) -> web.Response:
    where = await find_target(request)
    expected = expected_version(request)
    number = (await read_body(request, Revert)).version
    await loaded(request, where)
    old = await version_number(request, where, str(number), number)
    try:
        with answered():
            await caption_edits.revert(request.config_dict[SETTINGS], request.config_dict[DB],
                                       where, number, author(request), expected=expected)
    except VersionConflict as exc:
        raise conflict(exc, list(old.cues)) from None
    return await respond(request, where)


# -- workflow and claims -------------------------------------------------------------------


async def event_options(request: web.Request, slug: str) -> EventOptions:
    defaults = default_options(request.config_dict[SETTINGS])
    return await on_captions(request, lambda captions: captions.options(slug, defaults))


def check_may_publish(request: web.Request, options: EventOptions) -> None:
    """Organisers publish; editors too where the event lets them."""
    if not options.editors_may_publish:
        check_role(request, Role.ORGANISER)


async def change_status(request: web.Request) -> web.Response:
    """Move one language's captions along the workflow (`caption_edits.change_status`)."""
    where = await find_target(request)
    wanted = (await read_body(request, StatusChange)).status
    user = current_user(request)
    with answered():
        change = await caption_edits.change_status(
            request.config_dict[SETTINGS], request.config_dict[DB],
            request.config_dict[QUEUE], where, wanted, by=None if user is None else user.id,
            check_publisher=partial(check_may_publish, request))
    body: dict[str, Any] = {"status": str(change.status), "job": change.job,
                            "unchanged": change.unchanged, "message": change.message}
    if change.publish is not None:
        body |= {"publish": change.publish, "reason": change.reason}
    return json_response(body)


async def claimed_by_other(request: web.Request, state: CaptionState,
                           user: User) -> web.HTTPException:
    holder = await request.config_dict[DB].run(
        lambda store: user_json(store, state.claimed_by, state.claimed_at))
    body = {"error": _("Session already taken by {name}: talk to this person before "
                       "correcting.").format(name=holder["name"]), "claimed_by": holder}
    return web.HTTPConflict(text=json.dumps(body, ensure_ascii=False),
                            content_type="application/json")


async def claim(request: web.Request) -> web.Response:
    where = await find_target(request)
    state, _cues = await loaded(request, where)
    user = current_user(request)
    assert user is not None
    if state.claimed_by not in (None, user.id):
        raise await claimed_by_other(request, state, user)
    holder = await request.config_dict[DB].run(partial(_claim, where=where, user_id=user.id))
    return json_response({"claimed_by": holder})


def _claim(store: Store, *, where: Target, user_id: int) -> Any:
    claimed = Captions(store.db).claim(where.key, user_id)
    return user_json(store, claimed.claimed_by, claimed.claimed_at)


async def release(request: web.Request) -> web.Response:
    """Give a claim up; someone else's only for organisers."""
    where = await find_target(request)
    state, _cues = await loaded(request, where)
    user = current_user(request)
    assert user is not None
    if state.claimed_by not in (None, user.id) and user.role is not Role.ORGANISER:
        raise await claimed_by_other(request, state, user)
    await on_captions(request, lambda captions: captions.release(where.key))
    return json_response({"claimed_by": None})


# -- export and import ---------------------------------------------------------------------


async def export(request: web.Request, suffix: str) -> web.Response:
    where = await find_target(request)
    await loaded(request, where)
    current = await on_captions(request, lambda captions: current_of(captions, where))
    cues = list(current.cues)
    text = to_webvtt(cues) if suffix == "vtt" else to_srt(cues)
    name = f"sous-titres-{where.recording.id}-{where.lang}.{suffix}"
    content_type = "text/vtt" if suffix == "vtt" else "application/x-subrip"
    response = web.Response(text=text, content_type=content_type, charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return with_etag(response, current.version)


async def export_vtt(request: web.Request) -> web.Response:
    return await export(request, "vtt")


async def export_srt(request: web.Request) -> web.Response:
    return await export(request, "srt")


BUSY: Final = N_("The server is already processing several subtitle files: try again in a "
                "moment.")


@contextlib.asynccontextmanager
async def offload_slot(request: web.Request) -> AsyncIterator[Offload]:
    """One of the app's worker slots (`OFFLOAD`), or a 429 to try again after
    `RETRY_AFTER` seconds; an account that comes back sooner is refused without its body
    being read (a flood of large bodies would otherwise keep the event loop busy)."""
    offload = request.config_dict[OFFLOAD]
    try:
        async with offload.slot():
            yield offload
    except Busy:
        user = current_user(request)
        if offload.refuse(user.id if user is not None else request.remote):
            raise HangUp(_busy_refusal()) from None
        error = api_error(429, _(BUSY))
        error.headers["Retry-After"] = str(RETRY_AFTER)
        raise error from None


def _busy_refusal() -> web.Response:
    """The 429 sent before hanging up (outside the error middleware, so built whole)."""
    refusal = json_response({"error": _(BUSY)}, status=429)
    refusal.headers["Retry-After"] = str(RETRY_AFTER)
    return refusal


async def refuse_before_the_body(request: web.Request) -> web.StreamResponse | None:
    """`Expect: 100-continue` (curl asks it past 1 MB): while every worker slot is taken,
    the 429 goes out before the client sends its file, so a refused import costs no
    transfer. The connection then closes at once, since the announced body never comes."""
    if request.headers.get("Expect", "").lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=_("Only “{expect}” is understood.").format(
            expect="Expect: 100-continue"))
    if request.config_dict[OFFLOAD].busy:
        # The body will not come: aiohttp would otherwise wait for it (its lingering close)
        # for 10 s, holding the connection of every refused client.
        return await hang_up(request, _busy_refusal())
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # what follows is the response's own size
    return None


async def off_the_loop(offload: Offload, what: str,
                       work: Callable[..., list[Cue] | Refusal], *args: Any) -> list[Cue]:
    """Run pure cue work in a worker process: parsing or checking thousands of cues in a
    thread would hold the interpreter lock against the event loop. Its refusal becomes a
    422 saying `what` was refused."""
    found = await offload.call(work, *args)
    if isinstance(found, Refusal):
        detail = {"cue": found.cue} if found.cue is not None else {"line": found.line}
        raise _refused(found.reason, what, **detail)
    return found


@hangs_up
async def import_file(request: web.Request) -> web.StreamResponse:
    where = await find_target(request)
    expected = expected_version(request)
    async with offload_slot(request) as offload:  # before the body: a refusal costs nothing
        received = await receive(request, file_field=CaptionFile.file_field,
                                 limit=IMPORT_MAX_BYTES, directory=None)
        parse_form(CaptionFile, received)
        assert received.data is not None  # the form has its file, kept in memory
        cues = await off_the_loop(offload, _("File refused"), read_subtitles, received.data,
                                  received.filename)
    return await store_version(request, where, cues, expected=expected,
                               note=_("import of {name}").format(
                                   name=received.filename or _("file"))[:200])


# -- chapters ------------------------------------------------------------------------------


async def _session_cut(request: web.Request) -> tuple[Recording, Cut]:
    (recording, cuts), guid = await load_planned(request), request.match_info["guid"]
    for cut in cuts:
        if cut.guid == guid:
            return recording, cut
    raise api_error(404, not_in_plan(guid, recording))


async def show_chapters(request: web.Request) -> web.Response:
    recording, cut = await _session_cut(request)
    chapters = await on_captions(request,
                                 lambda captions: captions.chapters(recording.id, cut.guid))
    return json_response({"chapters": [c.as_json() for c in chapters]})


async def save_chapters(request: web.Request) -> web.Response:
    """Replace the session's chapters (times from the session's start); they go out with
    the session's next publication."""
    recording, cut = await _session_cut(request)
    body = await read_body(request, ChaptersChange)
    try:
        chapters = parse_chapters([c.model_dump() for c in body.chapters], cut.duration)
    except ChapterError as error:
        raise api_error(400, describe(error)) from None
    who = author(request)
    await on_captions(request, lambda captions: captions.save_chapters(
        recording.id, cut.guid, chapters, who))
    return json_response({"chapters": [c.as_json() for c in chapters]})


# -- the routes ----------------------------------------------------------------------------

_LANG: Final = path_param("lang", N_("Captions' language: fr or en"))
_PARAMS: Final = (RECORDING, GUID, _LANG)
_CAPTIONS: Final = ("200", CaptionsShape, N_("The captions (header ETag \"v<version>\")"))
_BETWEEN: Final = tuple(query_param(name, {"type": "integer"}) for name in ("from", "to"))


def _on_captions(method: str, tail: str, handler: Handler, summary: str,
                 ok: tuple[str, Schema, str], *errors: str, **more: Any) -> ApiRoute:
    """A route of one session's captions in one language (404 and 409 besides)."""
    return ApiRoute(method, CAPTIONS + tail, handler, summary, EDITOR, ok,
                    tuple(sorted({"404", "409", *errors})), params=_PARAMS, **more)


ROUTES: Final = (
    _on_captions("GET", "", show, N_("The current captions"), _CAPTIONS),
    _on_captions("PUT", "", save, N_("Save a new version (If-Match required)"),
                 _CAPTIONS, "400", "422", "428", "429", body=CaptionsChange),
    _on_captions("GET", "/history", history, N_("The versions' history"),
                 ("200", OBJECT, N_("Versions"))),
    _on_captions("GET", "/versions/{n}", show_version, N_("One version"),
                 ("200", OBJECT, N_("Version"))).with_params(
        path_param("n", N_("Version number"), integer=True)),
    _on_captions("GET", "/diff", diff, N_("The changes between two versions (from, to)"),
                 ("200", OBJECT, N_("Changes"))).with_params(*_BETWEEN),
    _on_captions("POST", "/revert", revert,
                 N_("Restore a version (makes a new version; If-Match required)"),
                 _CAPTIONS, "400", "428", body=Revert),
    _on_captions("POST", "/status", change_status,
                 N_("Change the stage: en_relecture, valide, publie (publishing: organiser, or "
                    "editor if the event allows it)"), ("200", OBJECT, N_("New stage")), "400",
                 body=StatusChange),
    _on_captions("POST", "/claim", claim, N_("Take the session on"),
                 ("200", OBJECT, N_("Taken"))),
    _on_captions("DELETE", "/claim", release, N_("Release the session"),
                 ("200", OBJECT, N_("Released"))),
    _on_captions("GET", "/export.vtt", export_vtt, N_("Download as WebVTT"),
                 ("200", {"type": "string"}, "text/vtt")),
    _on_captions("GET", "/export.srt", export_srt, N_("Download as SRT"),
                 ("200", {"type": "string"}, "SubRip")),
    _on_captions("POST", "/import", import_file,
                 N_("Import a .vtt or .srt file (strict; If-Match required)"), _CAPTIONS,
                 "400", "413", "415", "422", "428", "429", body=form_body(CaptionFile),
                 expect_handler=refuse_before_the_body),
    ApiRoute("GET", CHAPTERS, show_chapters, N_("A session's chapters"), EDITOR,
             ("200", Chapters, N_("Chapters")), ("404",), params=(RECORDING, GUID)),
    ApiRoute("PUT", CHAPTERS, save_chapters,
             N_("Replace a session's chapters (published with it)"), EDITOR,
             ("200", Chapters, N_("Chapters")), ("400", "404"), body=ChaptersChange,
             params=(RECORDING, GUID)),
)
