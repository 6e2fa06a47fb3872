"""The editors' pages, in French: the sessions to correct, and one session's caption editor.

`setup_editor(app)` adds, for editors and organisers (`require(Role.EDITOR)`; anonymous
visitors are sent to the login page, users limited to other events get 403):

- ``GET /edition/``: the sessions of the events the editor may work on, with links;
- ``GET /edition/{recording_id}/{guid}``: the editor of one session's captions. The page
  is server-rendered; ``editor.js`` does the work against the captions API
  (`replay.web.api_caption_sessions`: versions with ETag/If-Match, history, diff, revert,
  status, claims, import/export; `replay.web.api_captions`: find and replace, glossary)
  with the session's CSRF token from ``<meta name="csrf-token">``;
- ``GET /edition/{recording_id}/{guid}/media/{tail}``: the session's work-directory media
  (``replay.mp4``, HLS...), with Range support, for sessions not published yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

from replay.domain.cutplan import Cut
from replay.domain.model import Event
from replay.services.captions import speech_dir
from replay.site.pages import clock
from replay.store.db import Recording
from replay.web.api_caption_sessions import event_options
from replay.web.api_common import parse_id
from replay.web.auth import NBSP, Role, current_user, require
from replay.web.dashboard import page_error, render
from replay.web.keys import SETTINGS, STORE

EDITOR_HOME: Final = "/edition/"
MEDIA_NAME: Final = "replay.mp4"

#: The shortcuts of the editor: (keys, what they do); `editor.js` implements these.
SHORTCUTS: Final = (
    ("Ctrl + Espace", "Lecture ou pause"),
    ("Alt + ↓", "Repère suivant"),
    ("Alt + ↑", "Repère précédent"),
    ("Alt + S", "Couper le repère au curseur"),
    ("Alt + M", "Fusionner avec le repère suivant"),
    ("Alt + I", "Insérer un repère à la tête de lecture"),
    ("Alt + Suppr", "Supprimer le repère"),
    ("Alt + ←", "Avancer le début de 0,1" + NBSP + "s"),
    ("Alt + →", "Retarder le début de 0,1" + NBSP + "s"),
    ("Alt + Maj + ←", "Avancer la fin de 0,1" + NBSP + "s"),
    ("Alt + Maj + →", "Retarder la fin de 0,1" + NBSP + "s"),
    ("Alt + R", "Marquer corrigé jusqu’à la tête de lecture"),
    ("Ctrl + S", "Enregistrer maintenant"),
)

_editor: Final = require(Role.EDITOR)


def setup_editor(app: web.Application) -> None:
    """Add the editors' pages to `app` (after `setup_auth` and `setup_dashboard`, whose
    static route serves ``editor.js`` and ``editor.css``)."""
    app.router.add_get("/edition", _to_home)
    app.router.add_get(EDITOR_HOME, sessions_page, name="edition")
    app.router.add_get("/edition/{id}/{guid}", editor_page, name="edition-seance")
    app.router.add_get("/edition/{id}/{guid}/media/{tail:.+}", session_media)


@dataclass(frozen=True, slots=True)
class SessionLink:
    recording: int
    guid: str
    title: str
    room: str
    span: str

    @property
    def href(self) -> str:
        return f"{EDITOR_HOME}{self.recording}/{self.guid}"


@dataclass(frozen=True, slots=True)
class EventSessions:
    event: Event
    sessions: list[SessionLink]


async def _to_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently(EDITOR_HOME)


@_editor
async def sessions_page(request: web.Request) -> web.Response:
    store = request.app[STORE]
    user = current_user(request)
    groups = []
    for slug in store.event_slugs():
        event = store.load_event(slug)
        if event is None or user is None or not user.may_access_event(slug):
            continue
        links = [SessionLink(r.id, c.guid, c.title, r.room,
                             f"{clock(c.start)}–{clock(c.end)}")
                 for r in store.recordings_of(slug) for c in store.load_cuts(r.id)]
        groups.append(EventSessions(event, links))
    return render(request, "editor_list.html", title="Sous-titres à corriger",
                  groups=groups)


@_editor
async def editor_page(request: web.Request) -> web.Response:
    recording, cut = _session(request)
    event = request.app[STORE].load_event(recording.event_slug)
    if event is None:
        raise _page_error(request, web.HTTPNotFound, "Évènement introuvable.")
    user = current_user(request)
    assert user is not None
    options = event_options(request, event.slug)
    may_publish = user.role is Role.ORGANISER or options.editors_may_publish
    return render(request, "editor.html", title=f"Sous-titres – {cut.title}", event=event,
                  recording=recording, cut=cut, video=_video_url(request, recording, cut,
                                                                 event),
                  may_publish=may_publish, shortcuts=SHORTCUTS, user_id=user.id)


@_editor
async def session_media(request: web.Request) -> web.StreamResponse:
    """A file of the session's media folder (Range requests work: `web.FileResponse`)."""
    recording, cut = _session(request)
    root = _media_dir(request, recording, cut).resolve()
    path = (root / request.match_info["tail"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "private, no-cache"})


# -- helpers -------------------------------------------------------------------------------


def _session(request: web.Request) -> tuple[Recording, Cut]:
    text, guid = request.match_info["id"], request.match_info["guid"]
    store = request.app[STORE]
    number = parse_id(text)
    recording = None if number is None else store.recording(number)
    if recording is None:
        raise _page_error(request, web.HTTPNotFound, f"Enregistrement introuvable{NBSP}: "
                          "revenez à la liste des séances.")
    user = current_user(request)
    if user is None or not user.may_access_event(recording.event_slug):
        raise _page_error(request, web.HTTPForbidden,
                          f"Vous n’avez pas accès à cet évènement{NBSP}: demandez-le à un "
                          "organisateur qui y a accès.")
    for cut in store.load_cuts(recording.id):
        if cut.guid == guid:
            return recording, cut
    raise _page_error(request, web.HTTPNotFound, f"Séance introuvable dans cet "
                      f"enregistrement{NBSP}: revenez à la liste des séances.")


def _media_dir(request: web.Request, recording: Recording, cut: Cut) -> Path:
    return speech_dir(request.app[SETTINGS], recording, cut.guid).parent / "media"


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
