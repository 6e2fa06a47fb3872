"""The live in the web application: nginx's publish hooks, the stream keys in the API and
on the organisers' pages, and the supervisor's `cleanup_ctx`.

- ``POST /live/hooks/{secret}/publish`` (``publish_done``, ``update``): nginx's
  `on_publish` family. The secret, made at each start, keeps anyone else from calling
  them; a wrong or revoked key gets 403, which nginx turns into a refusal at once.
- ``GET /api/events/{slug}/live``: each room's RTMP URL and key, SRT URL and passphrase;
  ``POST .../live/{room}/key`` issues or regenerates a room's key, ``DELETE`` revokes it.
- ``GET /organisateur/evenements/{slug}/direct``: the same for organisers, with buttons.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from replay.domain.model import Event, Session
from replay.domain.programme import slugify
from replay.live import bridge
from replay.live.captions import live_hotwords
from replay.live.instant import LiveDeps
from replay.live.nginx import APPLICATION
from replay.live.publisher import LIVE_FOLDER, room_slug
from replay.live.replay import no_drafts
from replay.live.room_captions import LiveCaptions, player_delay
from replay.live.status import LivePage, publish_live_page
from replay.live.store import LiveStore, StreamKey, Take
from replay.live.supervisor import LiveSupervisor, load_plan
from replay.live.timeline import on_now
from replay.live.transcript_feed import TRANSCRIPT_FEEDS, TranscriptFeeds, setup_transcript_feeds
from replay.locale import N_, _
from replay.settings import Settings
from replay.web.api_common import load_event
from replay.web.api_routes import ORGANISER, SLUG, ApiRoute, add_api_routes, path_param
from replay.web.auth import Role, require
from replay.web.dashboard import HOME, render
from replay.web.errors import api_error
from replay.web.keys import DB, OBJECTS, QUEUE, SETTINGS

log = logging.getLogger(__name__)

LIVE: Final = web.AppKey("replay_live", LiveSupervisor)
_organiser: Final = require(Role.ORGANISER)
PAGE = "/organisateur/evenements/{slug}/direct"
#: Each room's « transcription en direct » (server-sent events under /events), by
#: `feed_key`.
TRANSCRIPT_BASE = "/live/{room}/transcription"


def setup_live(app: web.Application) -> None:
    """Routes of the live; the supervisor itself runs only when the setting
    live_enabled is on (`live_context`, added by the factory)."""
    router = app.router
    router.add_post("/live/hooks/{secret}/{call}", nginx_hook)
    setup_transcript_feeds(app, TranscriptFeeds(), TRANSCRIPT_BASE)
    add_api_routes(router, API_ROUTES)
    router.add_get(PAGE, keys_page, name="organisateur-direct")
    router.add_post(PAGE + "/{room}/cle", issue_form)
    router.add_post(PAGE + "/{room}/revocation", revoke_form)


async def live_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    deps = LiveDeps(settings=settings, db=app[DB], objects=app[OBJECTS], queue=app[QUEUE],
                    drafts=no_drafts)
    supervisor = LiveSupervisor(deps)
    captions = live_captions(deps, app[TRANSCRIPT_FEEDS]) \
        if settings.live_captions_enabled else None
    if captions is not None:
        supervisor.attach(listener=captions, drafts=captions.drafts,
                          subtitles=captions.subtitles(),
                          page=LivePage(player_delay(settings), TRANSCRIPT_BASE),
                          caption_wait=captions.caption_wait)
    app[LIVE] = supervisor
    await supervisor.start()
    yield
    await supervisor.stop()
    if captions is not None:
        await captions.stop()


def live_captions(deps: LiveDeps, feeds: TranscriptFeeds) -> LiveCaptions:
    """The live captions of every take: the programme of the take's room gives the
    hotwords and the sessions that must not be recorded. They read the programme as the
    live last read it (`LiveDeps.programmes`, refreshed at every look at the rooms, and
    before a take starts): not the store, from these plain calls on the event loop."""

    def sessions(take: Take) -> Sequence[Session]:
        known = deps.programmes.get(take.event_slug)
        return bridge.room_sessions(known[0], take.room) if known is not None else ()

    def hotwords(take: Take, now: datetime) -> str:
        known = deps.programmes.get(take.event_slug)
        if known is None:
            return ""
        event, glossary = known
        current, upcoming = on_now(bridge.room_sessions(event, take.room), now)
        return live_hotwords(event, [s for s in (current, upcoming) if s is not None],
                             glossary)

    def top_rung(take: Take) -> str:
        plan = load_plan(Path(take.folder))
        return plan.rungs[0].name if plan is not None else ""

    return LiveCaptions(deps.settings, deps.objects, feeds, top_rung=top_rung,
                        hotwords=hotwords, sessions=sessions)


# -- nginx's hooks ---------------------------------------------------------------------------


async def nginx_hook(request: web.Request) -> web.Response:
    supervisor = request.app.get(LIVE)
    if supervisor is None or request.match_info["secret"] != supervisor.hook_secret:
        raise web.HTTPNotFound()
    form = await request.post()
    name, peer = str(form.get("name", "")), str(form.get("addr", "?"))
    call = request.match_info["call"]
    if str(form.get("app", "")) != APPLICATION:
        raise web.HTTPForbidden()
    if call == "publish":
        key = await supervisor.check_publish(name, peer)
        if key is None:
            raise web.HTTPForbidden()
        # Our own SRT listener relays into nginx from this machine, saying so.
        via_srt = form.get("via") == "srt" and peer == "127.0.0.1"
        supervisor.publish_started(key, peer, "srt" if via_srt else "rtmp")
    elif call == "publish_done":
        await supervisor.publish_done(name)
    elif call == "update":
        if form.get("call") == "update_publish" and not await supervisor.still_valid(name):
            log.warning("live: publisher cut from %s: its key was revoked", peer)
            raise web.HTTPForbidden()
    else:
        raise web.HTTPNotFound()
    return web.Response(text="ok")


# -- keys -------------------------------------------------------------------------------------


def public_host(settings: Settings, fallback: str) -> str:
    if settings.live_public_host:
        return settings.live_public_host
    if settings.host not in ("0.0.0.0", "::", "127.0.0.1", ""):
        return settings.host
    return fallback or "localhost"


def key_json(settings: Settings, event: Event, room: str, key: StreamKey | None,
             host: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "room": room, "slug": room_slug(room),
        "live_page": f"/site/{event.slug}/{LIVE_FOLDER}/{room_slug(room)}/index.html",
        "key": None}
    if key is not None:
        entry["key"] = {
            "revoked": key.revoked,
            "rtmp_url": f"rtmp://{host}:{settings.live_rtmp_port}/{APPLICATION}",
            "stream_key": key.stream_key,
            "srt_url": (f"srt://{host}:{key.srt_port}?passphrase={key.srt_passphrase}"
                        "&pbkeylen=16&latency=200000"),
            "srt_passphrase": key.srt_passphrase,
        }
    return entry


def rooms_json(settings: Settings, store: LiveStore, event: Event,
               host: str) -> list[dict[str, Any]]:
    keys = {key.room: key for key in store.keys_of(event.slug)}
    return [key_json(settings, event, room, keys.get(room), host) for room in event.rooms]


def _room(event: Event, given: str) -> str | None:
    return next((room for room in event.rooms if given in (room, room_slug(room),
                                                           slugify(room))), None)


async def change_key(app: web.Application, event: Event, room: str, *,
                     revoke: bool) -> StreamKey | None:
    """Issue (or regenerate) or revoke a room's key and tell the running live."""
    port = app[SETTINGS].live_srt_port
    key = await app[DB].run(lambda store: _changed_key(LiveStore(store.db), event.slug, room,
                                                       port=port, revoke=revoke))
    supervisor = app.get(LIVE)
    if key is not None and supervisor is not None:
        supervisor.key_changed(key)
        await publish_live_page(app[OBJECTS], event, room, page=supervisor.live_page,
                                written=supervisor.deps.written)
    return key


def _changed_key(live: LiveStore, slug: str, room: str, *, port: int,
                 revoke: bool) -> StreamKey | None:
    if revoke:
        live.revoke_key(slug, room)
    else:
        live.issue_key(slug, room, port)
    return live.key_for_room(slug, room)


async def rooms_of(request: web.Request, event: Event) -> list[dict[str, Any]]:
    """`rooms_json` of the event, its keys read on the store's thread."""
    settings = request.app[SETTINGS]
    host = public_host(settings, request.url.host or "")
    return await request.app[DB].run(
        lambda store: rooms_json(settings, LiveStore(store.db), event, host))


def _api_room(request: web.Request, event: Event) -> str:
    room = _room(event, request.match_info["room"])
    if room is None:
        raise api_error(404, _("Unknown room “{room}”: the event's rooms are {rooms}.").format(
            room=request.match_info["room"], rooms=", ".join(event.rooms)))
    return room


async def keys_api(request: web.Request) -> web.Response:
    event = await load_event(request, request.match_info["slug"])
    rooms = await rooms_of(request, event)
    return web.json_response({"event": event.slug, "rooms": rooms})


async def issue_api(request: web.Request) -> web.Response:
    event = await load_event(request, request.match_info["slug"])
    room = _api_room(request, event)
    key = await change_key(request.app, event, room, revoke=False)
    settings = request.app[SETTINGS]
    return web.json_response(key_json(settings, event, room, key,
                                      public_host(settings, request.url.host or "")),
                             status=201)


async def revoke_api(request: web.Request) -> web.Response:
    event = await load_event(request, request.match_info["slug"])
    room = _api_room(request, event)
    found = await request.app[DB].run(
        lambda store: LiveStore(store.db).key_for_room(event.slug, room))
    if found is None:
        raise api_error(404, _("The room “{room}” has no streaming key: nothing to "
                               "revoke.").format(room=room))
    key = await change_key(request.app, event, room, revoke=True)
    settings = request.app[SETTINGS]
    return web.json_response(key_json(settings, event, room, key,
                                      public_host(settings, request.url.host or "")))


# -- the organisers' page -------------------------------------------------------------------------


async def _page_event(request: web.Request) -> Event:
    try:
        return await load_event(request, request.match_info["slug"])
    except web.HTTPException:
        raise web.HTTPNotFound(text=_("Event not found or not accessible.")) from None


@_organiser
async def keys_page(request: web.Request) -> web.Response:
    event = await _page_event(request)
    rooms = await rooms_of(request, event)
    title = _("Live — {event}").format(event=event.title)
    return render(request, "live_keys.html", title=title, event=event, rooms=rooms,
                  home=HOME, live_on=request.app.get(LIVE) is not None)


async def _form_change(request: web.Request, *, revoke: bool) -> web.Response:
    event = await _page_event(request)
    room = _room(event, request.match_info["room"])
    if room is None:
        raise web.HTTPNotFound(text=_("Unknown room."))
    await change_key(request.app, event, room, revoke=revoke)
    raise web.HTTPSeeOther(PAGE.format(slug=event.slug) + f"#salle-{room_slug(room)}")


@_organiser
async def issue_form(request: web.Request) -> web.Response:
    return await _form_change(request, revoke=False)


@_organiser
async def revoke_form(request: web.Request) -> web.Response:
    return await _form_change(request, revoke=True)


# -- the API's routes ----------------------------------------------------------------------

_ROOM: Final = path_param("room", N_("Room (its name or its identifier, e.g. “pleniere”)"))
_KEY: Final = {"type": "object", "required": ["room", "slug", "live_page", "key"],
               "properties": {
                   "room": {"type": "string"}, "slug": {"type": "string"},
                   "live_page": {"type": "string"},
                   "key": {"type": ["object", "null"], "properties": {
                       "revoked": {"type": "boolean"}, "rtmp_url": {"type": "string"},
                       "stream_key": {"type": "string"}, "srt_url": {"type": "string"},
                       "srt_passphrase": {"type": "string"}}}}}
_ROOMS: Final = {"type": "object", "properties": {
    "event": {"type": "string"}, "rooms": {"type": "array", "items": _KEY}}}

API_ROUTES: Final = (
    ApiRoute("GET", "/api/events/{slug}/live", keys_api,
             N_("Each room's streaming URLs and keys (RTMP, SRT)"), ORGANISER,
             ("200", _ROOMS, N_("Rooms")), ("404",), params=(SLUG,)),
    ApiRoute("POST", "/api/events/{slug}/live/{room}/key", issue_api,
             N_("Create or regenerate a room's key (the old one stops working)"),
             ORGANISER, ("201", _KEY, N_("New key")), ("404",), params=(SLUG, _ROOM)),
    ApiRoute("DELETE", "/api/events/{slug}/live/{room}/key", revoke_api,
             N_("Revoke a room's key"), ORGANISER, ("200", _KEY, N_("Key revoked")),
             ("404",), params=(SLUG, _ROOM)),
)
