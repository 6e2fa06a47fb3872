"""The organisers' pages, in French: the events, one event's dashboard, the upload page.

`setup_dashboard(app)` adds, for organisers only (`require(Role.ORGANISER)`; anonymous
visitors are sent to the login page, other roles get 403):

- ``GET /organisateur/``: the events the organiser may work on, with links;
- ``GET /organisateur/evenements/{slug}``: recordings (received, and tus uploads still
  arriving), every session's pipeline stages (``dashboard.js`` polls
  ``GET /api/events/{slug}/sessions`` every 2 s and updates the page in place), the cut
  plan of each recording on a timeline with its speech map, and the publish buttons;
- ``GET /organisateur/evenements/{slug}/envoi``: a resumable tus upload (``upload.js``
  with tus-js-client against ``/api/uploads/``).

The pages are server-rendered from the store; their scripts call the JSON API of
`replay.web.api` (which `setup_api` must have added) with the session's CSRF token, which
every page carries in ``<meta name="csrf-token">``. Static files are served under
``/organisateur/static/``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from replay.domain.model import Event, Session
from replay.domain.publication import DEFAULT_RULE, RULE_LABELS, PublicationRule
from replay.locale import N_, _, format_moment, format_size, ngettext
from replay.services.captions import default_options
from replay.services.publication import publication_warnings
from replay.site.pages import clock, french_date
from replay.store.captions import Captions, EventOptions
from replay.store.db import Recording, Store
from replay.web import pages
from replay.web.api import HELD_KEY, held_uploads, tus_dir
from replay.web.auth import Role, User, csrf_token, current_user, require
from replay.web.error_pages import page_error as page_error
from replay.web.keys import DB, SETTINGS
from replay.web.pages import HOME as HOME
from replay.web.pages import LOGIN_PATH, NEW_EVENT, STATIC_URL, home_of, static_files
from replay.web.uploads_store import Upload, UploadStore

STATIC_DIR: Final = Path(__file__).parent / "static"
#: Time zones offered for the recording's start on the upload page (the event's first).
TIMEZONES: Final = ("Europe/Paris", "UTC", "Europe/London", "Europe/Brussels",
                    "America/Cayenne", "America/Guadeloupe", "America/Martinique",
                    "Indian/Reunion", "Indian/Mayotte", "Pacific/Noumea", "Pacific/Tahiti")

_organiser: Final = require(Role.ORGANISER)


def setup_dashboard(app: web.Application) -> None:
    """Add the organisers' pages and their static files to `app` (after `setup_auth`), and
    the landing page ``/`` that sends each role to its own home."""
    app.router.add_get("/", landing)
    app.router.add_get("/organisateur", _to_home)
    app.router.add_get(HOME, events_page, name="organisateur")
    app.router.add_get(NEW_EVENT, new_event_page, name="organisateur-nouvel-evenement")
    app.router.add_get("/organisateur/evenements/{slug}", event_page,
                       name="organisateur-evenement")
    app.router.add_get("/organisateur/evenements/{slug}/envoi", upload_page,
                       name="organisateur-envoi")
    app.router.add_get(STATIC_URL + "{tail:.+}", static_files(STATIC_DIR),
                       name="organisateur-static")


# -- view models ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordingView:
    id: int
    room: str
    name: str
    started: str
    started_iso: str
    duration: str
    state: str
    sessions: int


@dataclass(frozen=True, slots=True)
class UploadView:
    id: str
    name: str
    room: str
    percent: int
    received: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SessionView:
    guid: str
    title: str
    room: str
    day: str
    start: str
    end: str
    start_iso: str
    recorded: bool


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Paris")


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """« mardi 3 mars 2026 à 09:28 », in the event's time zone."""
    return format_moment(moment.astimezone(tz))


def french_size(size: int) -> str:
    """« 1,5 Go », « 820 Mo »: sizes for people, with a non-breaking space."""
    return format_size(size)


def recording_view(store: Store, recording: Recording, tz: ZoneInfo) -> RecordingView:
    cuts = store.load_cuts(recording.id)
    if cuts:
        state = ngettext("cut into {n} session", "cut into {n} sessions",
                         len(cuts)).format(n=len(cuts))
    elif recording.duration is None:
        state = _("received, analysis waiting")
    else:
        state = _("received, analysis running or waiting")
    duration = _("unknown duration") if recording.duration is None else clock(recording.duration)
    return RecordingView(recording.id, recording.room, recording.source_name,
                         local_time(recording.started_at, tz),
                         recording.started_at.isoformat(), duration, state, len(cuts))


def upload_view(upload: Upload) -> UploadView:
    percent = int(100 * upload.offset / upload.length) if upload.length else 0
    received = _("{done} of {total}").format(done=french_size(upload.offset),
                                             total=french_size(upload.length))
    return UploadView(upload.id, upload.filename or _("file"), upload.room or "", percent,
                      received, upload.metadata.get(HELD_KEY, ""))


def session_view(session: Session, tz: ZoneInfo, recorded: set[str]) -> SessionView:
    start, end = session.start.astimezone(tz), session.end.astimezone(tz)
    return SessionView(session.guid, session.title, session.room, french_date(start.date()),
                       f"{start:%H:%M}", f"{end:%H:%M}", session.start.isoformat(),
                       session.guid in recorded)


async def pending_uploads(app: web.Application, slug: str) -> list[UploadView]:
    """tus uploads of this event still arriving (not complete, not expired)."""
    root = tus_dir(app[SETTINGS])
    if not root.is_dir():
        return []
    now = time.time()
    uploads = await UploadStore(root).all()
    return [upload_view(u) for u in uploads
            if u.event == slug and not u.complete and u.expires > now]


# -- pages ----------------------------------------------------------------------------------


async def _to_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently(HOME)


async def landing(request: web.Request) -> web.StreamResponse:
    """Each role to its own home; anonymous visitors to the login page."""
    user = current_user(request)
    if user is None:
        raise web.HTTPSeeOther(LOGIN_PATH)
    raise web.HTTPSeeOther(home_of(user)[0])


@_organiser
async def new_event_page(request: web.Request) -> web.Response:
    """Create an event: name, dates, time zone, rooms, its programme (a file or an address,
    previewed before anything is created) and its publication rule (``event_new.js``)."""
    today = date.today().isoformat()
    return render(request, "event_new.html", title=_("Create an event"), today=today,
                  timezones=TIMEZONES, rules=_rules(DEFAULT_RULE))


@_organiser
async def events_page(request: web.Request) -> web.Response:
    user = current_user(request)
    assert user is not None  # the role check came first
    found = await request.app[DB].run(partial(_events_of, user=user))
    views = [{"event": e, "dates": _dates(e), "recordings": count} for e, count in found]
    return render(request, "events.html", title=_("Your events"), events=views)


def _events_of(store: Store, *, user: User) -> list[tuple[Event, int]]:
    """The events `user` may work on, each with its number of recordings."""
    events = [store.load_event(slug) for slug in store.event_slugs()
              if user.may_access_event(slug)]
    return [(e, len(store.recordings_of(e.slug))) for e in events if e is not None]


@_organiser
async def event_page(request: web.Request) -> web.Response:
    event = await _event(request)
    tz = zone(event.timezone)
    recordings, recorded, rule = await request.app[DB].run(partial(
        _event_state, event=event, tz=tz, defaults=default_options(request.app[SETTINGS])))
    sessions = [session_view(s, tz, recorded) for s in event.sessions if s.publishable]
    held = [upload_view(u) for u in await held_uploads(request.app[SETTINGS], event.slug)]
    return render(request, "event.html", title=event.title, event=event, dates=_dates(event),
                  recordings=recordings, sessions=sessions, rules=_rules(rule),
                  uploads=await pending_uploads(request.app, event.slug), held=held,
                  warnings=publication_warnings(request.app[SETTINGS]))


def _event_state(store: Store, *, event: Event, tz: ZoneInfo, defaults: EventOptions
                 ) -> tuple[list[RecordingView], set[str], PublicationRule]:
    """The event's recordings, the guids cut out of them, and its publication rule."""
    recordings = [recording_view(store, r, tz) for r in store.recordings_of(event.slug)]
    recorded = {cut.guid for r in recordings for cut in store.load_cuts(r.id)}
    rule = Captions(store.db).options(event.slug, defaults).publication_rule
    return recordings, recorded, rule


@dataclass(frozen=True, slots=True)
class RuleView:
    value: str
    label: str
    help: str
    chosen: bool


RULE_HELP: Final = {
    PublicationRule.AUTOMATIQUE: N_("each session comes out as soon as its video and its "
                                    "subtitles are ready (subtitles marked as automatic)."),
    PublicationRule.DECOUPAGE: N_("each session waits until an organiser has validated the "
                                  "cut plan of its recording."),
    PublicationRule.SOUS_TITRES: N_("each session also waits until its French and English "
                                    "subtitles have been validated by a person."),
}


def _rules(chosen: PublicationRule) -> list[RuleView]:
    return [RuleView(str(rule), _(RULE_LABELS[rule]).capitalize(), _(RULE_HELP[rule]),
                     rule is chosen) for rule in PublicationRule]


@_organiser
async def upload_page(request: web.Request) -> web.Response:
    event = await _event(request)
    zones = [event.timezone] + [z for z in TIMEZONES if z != event.timezone]
    held = {u.id: u for u in await held_uploads(request.app[SETTINGS], event.slug)}
    title = _("Send a recording – {event}").format(event=event.title)
    return render(request, "upload.html", title=title,
                  event=event, dates=_dates(event), timezones=zones,
                  held=held.get(request.query.get("retenu", "")))


async def _event(request: web.Request) -> Event:
    slug = request.match_info["slug"]
    user = current_user(request)
    if user is None or not user.may_access_event(slug):
        raise _page_error(request, web.HTTPForbidden,
                          _("You have no access to this event: ask an organiser who has "
                            "access to it."))
    event = await request.app[DB].run(lambda store: store.load_event(slug))
    if event is None:
        raise _page_error(request, web.HTTPNotFound,
                          _("Event not found: it may have been renamed. Go back to the list "
                            "of your events."))
    return event


def _dates(event: Event) -> str:
    if event.start == event.end:
        return french_date(event.start)
    return _("from {start} to {end}").format(start=french_date(event.start),
                                             end=french_date(event.end))


# -- rendering ------------------------------------------------------------------------------


def render(request: web.Request, name: str, *, status: int = 200, **values: Any) -> web.Response:
    """Page `name` of the pages' environment (`replay.web.pages`), with the user and the
    CSRF token its layout shows."""
    context = {"csrf": csrf_token(request), "user": current_user(request), **values}
    return pages.render(request, name, context, status=status)


def _page_error(request: web.Request, kind: type[web.HTTPException],
                message: str) -> web.HTTPException:
    return page_error(request, kind, message)
