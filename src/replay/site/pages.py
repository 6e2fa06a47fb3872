"""The public pages, rendered with Jinja2 (autoescaped: programme texts are never markup),
their words from the French catalogue (`replay.locale`, Jinja's i18n extension)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cache
from importlib import resources
from itertools import groupby

import jinja2

from replay.domain.cutplan import Cut
from replay.domain.model import Event, Session
from replay.locale import format_day, translations

log = logging.getLogger(__name__)

STATIC_FILES = ("style.css", "controls.js", "share.js", "player.js", "search.js",
                "live.js", "live-transcript.js", "live-transcript.css")
#: hls.js builds: the light one for replays, the full one (WebVTT in live HLS) for live pages.
VENDOR_FILES = ("hls.light.min.js", "hls.min.js")
#: The pages' Content-Security-Policy, in a <meta> element (an object store or a CDN may
#: send no header): everything from the site's origin, no inline script or style; the
#: player plays media through blob: URLs and may run hls.js in a worker made from a blob.
#: `replay serve` sends it as a header too, with frame-ancestors, which a <meta> cannot.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'")


#: Each session's page made to be framed by other sites (`replay serve` lets any site
#: frame it, and only it).
EMBED_PAGE = "embed.html"
#: How many related replays a session page lists at most.
MAX_RELATED = 8


@dataclass(frozen=True, slots=True)
class Related:
    """Another published session of the same track or room, as linked under the player."""

    slug: str
    title: str
    start: datetime
    same_track: bool


@dataclass(frozen=True, slots=True)
class SessionPage:
    session: Session
    cut: Cut
    room: str
    has_poster: bool
    drafts: bool
    segments: tuple[tuple[float, str], ...]
    has_audio: bool = False
    automatic_languages: frozenset[str] = frozenset()  # captions no person validated
    live_replay: bool = False
    related: tuple[Related, ...] = ()
    #: (start, title) of the chapters editors marked, in order (chapters.vtt).
    chapters: tuple[tuple[float, str], ...] = ()

    @property
    def speakers(self) -> str:
        return ", ".join(p.name for p in self.session.persons)


def french_date(day: date) -> str:
    """« mardi 3 mars 2026 » (`replay.locale.format_day`, through Babel)."""
    return format_day(day)


def clock(seconds: float) -> str:
    """« 1:02:03 » or « 02:03 »: a timestamp for people."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def french_duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}\u00a0h\u00a0{minutes:02d}" if minutes else f"{hours}\u00a0h"
    return f"{minutes}\u00a0min"


@cache
def site_environment() -> jinja2.Environment:
    """The one Jinja environment of the public site's pages."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("replay.site", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(), newstyle=True)  # type: ignore[attr-defined]
    env.filters["french_date"] = french_date
    env.filters["clock"] = clock
    env.filters["duration"] = french_duration
    env.globals["content_security_policy"] = CONTENT_SECURITY_POLICY
    return env


def render_session_page(event: Event, page: SessionPage) -> str:
    template = site_environment().get_template("session.html")
    return template.render(event=event, page=page, has_hls_js=_has_vendor("hls.light.min.js"),
                           embed_page=EMBED_PAGE)


def render_embed_page(event: Event, page: SessionPage) -> str:
    """The session's player alone, for other sites' ``<iframe>``."""
    template = site_environment().get_template("embed.html")
    return template.render(event=event, page=page, has_hls_js=_has_vendor("hls.light.min.js"))


def with_related(pages: Sequence[SessionPage]) -> list[SessionPage]:
    """Each page with the other pages of its track (when it has one) or its room: those
    of the same track first, then by start."""
    found = []
    for page in pages:
        session = page.session
        same = [(bool(session.track) and other.session.track == session.track, other)
                for other in pages if other.session.slug != session.slug]
        chosen = sorted(((track, other) for track, other in same
                         if track or other.room == page.room),
                        key=lambda pair: (not pair[0], pair[1].session.start))
        related = tuple(Related(other.session.slug, other.session.title, other.session.start,
                                track) for track, other in chosen[:MAX_RELATED])
        found.append(replace(page, related=related))
    return found


def render_event_page(event: Event, pages: Sequence[SessionPage]) -> str:
    ordered = sorted(pages, key=lambda p: (p.session.start, _room_rank(event, p.room)))
    days = [
        (day, [(room, list(items)) for room, items in groupby(
            sorted(group, key=lambda p: (_room_rank(event, p.room), p.session.start)),
            key=lambda p: p.room)])
        for day, group in ((d, list(g)) for d, g in groupby(
            ordered, key=lambda p: p.session.start.date()))
    ]
    licences = sorted({p.session.recording_license for p in pages if p.session.recording_license})
    return site_environment().get_template("event.html").render(
        event=event, days=days, licences=licences)


def render_search_page(event: Event) -> str:
    """The event's search page: a form, and results that search.js fills in."""
    return site_environment().get_template("search.html").render(event=event)


def _room_rank(event: Event, room: str) -> int:
    return event.rooms.index(room) if room in event.rooms else len(event.rooms)


def _has_vendor(name: str) -> bool:
    return resources.files("replay.site").joinpath("static", "vendor", name).is_file()


def static_assets() -> list[tuple[str, bytes]]:
    """The site's own CSS and JavaScript, and hls.js when the setup installed it."""
    static = resources.files("replay.site").joinpath("static")
    assets = [(name, static.joinpath(name).read_bytes()) for name in STATIC_FILES]
    for name in VENDOR_FILES:
        vendored = static.joinpath("vendor", name)
        if vendored.is_file():
            assets.append((name, vendored.read_bytes()))
        else:
            log.warning("%s is not installed: pages will play the MP4 only (run the setup)", name)
    return assets
