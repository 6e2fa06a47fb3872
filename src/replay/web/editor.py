"""The editors' pages, in French: the sessions to correct, and one session's caption editor.

`setup_editor(app)` adds, for editors and organisers (`require(Role.EDITOR)`; anonymous
visitors are sent to the login page, users limited to other events get 403):

- ``GET /edition/``: the sessions of the events the editor may work on, with links, each
  language's review state and progress and who claimed it, filtered by ``etat``
  (``a_relire``, ``validees``) and ``prise`` (``moi``, ``libres``);
- ``GET /edition/{recording_id}/{guid}``: the editor of one session's captions. The page
  is server-rendered; ``editor.js`` does the work against the captions API
  (`replay.web.api_caption_sessions`: versions with ETag/If-Match, history, diff, revert,
  status, claims, import/export; `replay.web.api_captions`: find and replace, glossary)
  with the session's CSRF token from ``<meta name="csrf-token">``;
- ``GET /edition/{recording_id}/{guid}/forme-onde.json``: the session's waveform peaks
  (`replay.domain.waveform`), for the editor's wavesurfer.js;
- ``GET /edition/{recording_id}/{guid}/media/{tail}``: the session's work-directory media
  (``replay.mp4``, HLS...), with Range support, for sessions not published yet.
"""

from __future__ import annotations

import asyncio
import secrets
import wave
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final

from aiohttp import web

from replay.domain.captions import STATUS_LABELS, CaptionStatus
from replay.domain.cutplan import Cut
from replay.domain.model import Event
from replay.domain.waveform import PEAKS_PER_SECOND, peaks
from replay.locale import N_, _
from replay.services.captions import default_options
from replay.services.workdirs import AUDIO, recording_work_dir
from replay.site.pages import CONTENT_SECURITY_POLICY as SITE_POLICY
from replay.site.pages import clock
from replay.store.captions import Captions
from replay.store.db import Recording, Store
from replay.store.users import Users
from replay.web.api_common import parse_id
from replay.web.auth import Role, User, current_user, require
from replay.web.dashboard import page_error, render
from replay.web.errors import json_response
from replay.web.keys import DB, SETTINGS
from replay.web.work_files import present, session_folder

EDITOR_HOME: Final = "/edition/"
MEDIA_NAME: Final = "replay.mp4"

#: The shortcuts of the editor: (keys, what they do); `editor.js` implements these.
SHORTCUTS: Final = (
    (N_("Ctrl + Space"), N_("Play or pause")),
    ("Alt + ↓", N_("Next cue")),
    ("Alt + ↑", N_("Previous cue")),
    ("Alt + S", N_("Split the cue at the cursor")),
    ("Alt + M", N_("Merge with the next cue")),
    ("Alt + I", N_("Insert a cue at the playhead")),
    (N_("Alt + Del"), N_("Delete the cue")),
    ("Alt + ←", N_("Move the start 0.1 s earlier")),
    ("Alt + →", N_("Move the start 0.1 s later")),
    (N_("Alt + Shift + ←"), N_("Move the end 0.1 s earlier")),
    (N_("Alt + Shift + →"), N_("Move the end 0.1 s later")),
    ("Alt + R", N_("Mark corrected up to the playhead")),
    ("Ctrl + S", N_("Save now")),
)

_editor: Final = require(Role.EDITOR)


def setup_editor(app: web.Application) -> None:
    """Add the editors' pages to `app` (after `setup_auth` and `setup_dashboard`, whose
    static route serves ``editor.js`` and ``editor.css``)."""
    app.router.add_get("/edition", _to_home)
    app.router.add_get(EDITOR_HOME, sessions_page, name="edition")
    app.router.add_get("/edition/{id}/{guid}", editor_page, name="edition-seance")
    app.router.add_get("/edition/{id}/{guid}/forme-onde.json", waveform)
    app.router.add_get("/edition/{id}/{guid}/media/{tail:.+}", session_media)


#: The review filters of the sessions list: (value, label); `_matches` applies them.
REVIEW_FILTERS: Final = (
    ("", N_("all of them")),
    ("a_relire", N_("to review (at least one language neither validated nor published)")),
    ("validees", N_("validated or published in both languages")),
)
CLAIM_FILTERS: Final = (("", N_("all of them")), ("moi", N_("taken by me")),
                        ("libres", N_("free")))


@dataclass(frozen=True, slots=True)
class TrackReview:
    """One language of a session, as the list shows it."""

    status: CaptionStatus | None  # None: nobody opened it yet (the automatic draft)
    progress: int  # percent of the session marked corrected

    @property
    def label(self) -> str:
        return _(STATUS_LABELS[self.status or CaptionStatus.BROUILLON])

    @property
    def done(self) -> bool:
        return self.status in {CaptionStatus.VALIDE, CaptionStatus.PUBLIE}


@dataclass(frozen=True, slots=True)
class SessionLink:
    recording: int
    guid: str
    title: str
    room: str
    span: str
    tracks: tuple[tuple[str, TrackReview], ...] = ()  # (language name, review)
    claimed_by: str = ""  # who claimed it (« vous » for the viewer)
    mine: bool = False

    @property
    def href(self) -> str:
        return f"{EDITOR_HOME}{self.recording}/{self.guid}"


def _matches(link: SessionLink, review: str, claim: str) -> bool:
    if review == "a_relire" and all(t.done for _name, t in link.tracks):
        return False
    if review == "validees" and not all(t.done for _name, t in link.tracks):
        return False
    if claim == "moi" and not link.mine:
        return False
    return not (claim == "libres" and link.claimed_by)


def _review(store: Store, recording: int, cut: Cut,
            user_id: int) -> tuple[tuple[tuple[str, TrackReview], ...], str, bool]:
    captions = Captions(store.db)
    tracks, holder = [], None
    for lang, name in (("fr", _("french")), ("en", _("english"))):
        state = captions.state((recording, cut.guid, lang))
        if state is None:
            tracks.append((name, TrackReview(None, 0)))
            continue
        done = state.reviewed_until or 0.0
        span = max(cut.end - cut.start, 1e-9)
        tracks.append((name, TrackReview(state.status, min(100, round(100 * done / span)))))
        holder = holder or state.claimed_by
    if holder is None:
        return tuple(tracks), "", False
    if holder == user_id:
        return tuple(tracks), _("you"), True
    user = Users(store.db).get(holder)
    return tuple(tracks), user.name if user is not None else _("account {number}").format(
        number=holder), False


@dataclass(frozen=True, slots=True)
class EventSessions:
    event: Event
    sessions: list[SessionLink]
    total: int = 0  # before the filters


async def _to_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently(EDITOR_HOME)


@_editor
async def sessions_page(request: web.Request) -> web.Response:
    user = current_user(request)
    assert user is not None  # the role check came first
    review = request.query.get("etat", "")
    claim = request.query.get("prise", "")
    if review not in dict(REVIEW_FILTERS) or claim not in dict(CLAIM_FILTERS):
        review, claim = "", ""
    groups = await request.app[DB].run(partial(_groups, user=user, review=review,
                                               claim=claim))
    return render(request, "editor_list.html", title=_("Subtitles to correct"),
                  groups=groups, review=review, claim=claim,
                  review_filters=_translated(REVIEW_FILTERS),
                  claim_filters=_translated(CLAIM_FILTERS))


def _shortcuts() -> list[tuple[str, str]]:
    """The editor's shortcuts, keys and actions in French."""
    return [(_(keys), _(action)) for keys, action in SHORTCUTS]


def _translated(pairs: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """`pairs` with their second member in French."""
    return [(first, _(second)) for first, second in pairs]


def _groups(store: Store, *, user: User, review: str, claim: str) -> list[EventSessions]:
    """The sessions of each event `user` may work on, as the filters keep them."""
    groups = []
    for slug in store.event_slugs():
        event = store.load_event(slug)
        if event is None or not user.may_access_event(slug):
            continue
        links = [SessionLink(r.id, c.guid, c.title, r.room,
                             f"{clock(c.start)}–{clock(c.end)}",
                             *_review(store, r.id, c, user.id))
                 for r in store.recordings_of(slug) for c in store.load_cuts(r.id)]
        groups.append(EventSessions(event, [link for link in links
                                            if _matches(link, review, claim)], len(links)))
    return groups


@_editor
async def editor_page(request: web.Request) -> web.Response:
    recording, cut = await _session(request)
    defaults = default_options(request.app[SETTINGS])
    event, options = await request.app[DB].run(lambda store: (
        store.load_event(recording.event_slug),
        Captions(store.db).options(recording.event_slug, defaults)))
    if event is None:
        raise _page_error(request, web.HTTPNotFound, _("Event not found."))
    user = current_user(request)
    assert user is not None
    may_publish = user.role is Role.ORGANISER or options.editors_may_publish
    nonce = secrets.token_urlsafe(18)
    title = _("Subtitles – {title}").format(title=cut.title)
    response = render(request, "editor.html", title=title, event=event,
                      recording=recording, cut=cut, video=_video_url(request, recording, cut,
                                                                     event),
                      may_publish=may_publish, shortcuts=_shortcuts(), user_id=user.id,
                      style_nonce=nonce)
    response.headers["Content-Security-Policy"] = editor_policy(nonce)
    return response


def editor_policy(nonce: str) -> str:
    """The site's policy, but for the one style element wavesurfer.js writes into its
    shadow root, which carries this response's nonce."""
    policy = SITE_POLICY.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")
    assert policy != SITE_POLICY
    return f"{policy}; frame-ancestors 'none'"


@_editor
async def waveform(request: web.Request) -> web.Response:
    """The session's waveform (`PEAKS_PER_SECOND` peaks a second), read from the
    recording's 16 kHz speech audio; 404 while it is not made yet."""
    recording, cut = await _session(request)
    wav = recording_work_dir(request.app[SETTINGS], recording) / AUDIO
    await present(request, wav)
    try:
        found = await asyncio.to_thread(_read_span, wav, cut.start, cut.end)
    except (OSError, EOFError, wave.Error):
        return json_response({"error": _("Waveform unavailable: the recording's audio is not "
                                         "extracted yet.")},
                             status=404)
    return json_response({"duration": cut.end - cut.start,
                          "peaks_per_second": PEAKS_PER_SECOND, "peaks": found})


def _read_span(path: Path, start: float, end: float) -> list[float]:
    with wave.open(str(path), "rb") as audio:
        if audio.getnchannels() != 1 or audio.getsampwidth() != 2:
            raise wave.Error("not 16-bit mono")
        rate = audio.getframerate()
        audio.setpos(min(audio.getnframes(), max(0, round(start * rate))))
        pcm = audio.readframes(max(0, round((end - start) * rate)))
    return peaks(pcm, rate)


@_editor
async def session_media(request: web.Request) -> web.StreamResponse:
    """A file of the session's media folder (Range requests work: `web.FileResponse`)."""
    recording, cut = await _session(request)
    root = (await session_folder(request, recording, cut.guid, "media")).resolve()
    path = (root / request.match_info["tail"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "private, no-cache"})


# -- helpers -------------------------------------------------------------------------------


async def _session(request: web.Request) -> tuple[Recording, Cut]:
    text, guid = request.match_info["id"], request.match_info["guid"]
    number = parse_id(text)
    recording, cuts = (None, []) if number is None else await request.app[DB].run(
        partial(_recording_and_cuts, number=number))
    if recording is None:
        raise _page_error(request, web.HTTPNotFound, _(
            "Recording not found: go back to the list of sessions."))
    user = current_user(request)
    if user is None or not user.may_access_event(recording.event_slug):
        raise _page_error(request, web.HTTPForbidden,
                          _("You have no access to this event: ask an organiser who has "
                            "access to it."))
    for cut in cuts:
        if cut.guid == guid:
            return recording, cut
    raise _page_error(request, web.HTTPNotFound, _(
        "Session not found in this recording: go back to the list of sessions."))


def _recording_and_cuts(store: Store, *, number: int) -> tuple[Recording | None, list[Cut]]:
    recording = store.recording(number)
    return recording, [] if recording is None else store.load_cuts(recording.id)


def _video_url(request: web.Request, recording: Recording, cut: Cut, event: Event) -> str:
    """The published MP4 when there is one, else the work directory's (may not exist yet)."""
    slugs = [s.slug for s in event.sessions if s.guid == cut.guid and s.slug]
    site = request.app[SETTINGS].site_dir
    for slug in slugs:
        if (site / event.slug / slug / MEDIA_NAME).is_file():
            return f"/site/{event.slug}/{slug}/{MEDIA_NAME}"
    return f"{EDITOR_HOME}{recording.id}/{cut.guid}/media/{MEDIA_NAME}"


def _page_error(request: web.Request, kind: type[web.HTTPException],
                message: str) -> web.HTTPException:
    return page_error(request, kind, message)
