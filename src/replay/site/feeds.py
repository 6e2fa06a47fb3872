"""The event's feeds: an Atom feed of the replays and an audio-only podcast (RSS 2.0).

Built with ElementTree, so every programme text is escaped; characters that XML 1.0
cannot carry (control characters) are dropped. Links are relative to the feed (which
lies in the event's folder) when no ``base_url`` is given, absolute otherwise:
``base_url`` is the public address of the site's root, the folder holding the events.
Podcast players need absolute enclosure URLs, so publish with a ``base_url`` for them.

Identifiers are ``urn:uuid:`` names derived from the event and the programme's guid:
they stay the same when the site moves. Dates come from the programme (an entry is
dated by its session's end), so publishing again writes the same bytes.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from email.utils import format_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from replay.domain.model import Event
from replay.domain.podcast import PodcastOptions
from replay.locale import _
from replay.site.pages import SessionPage

ATOM = "http://www.w3.org/2005/Atom"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class FeedItem:
    """A published session and the sizes of its downloads (enclosure lengths)."""

    page: SessionPage
    video_bytes: int
    audio_bytes: int | None = None


def xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def feed_id(event: Event, guid: str = "") -> str:
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"replay:{event.slug}:{guid}"))


def site_link(event: Event, path: str, base_url: str) -> str:
    """``path`` (relative to the event's folder) as the feeds link to it."""
    if not base_url:
        return path
    return f"{base_url.rstrip('/')}/{event.slug}/{path}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = xml_text(text)
    return element


def _event_start(event: Event) -> datetime:
    try:
        zone: tzinfo = ZoneInfo(event.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return datetime.combine(event.start, time(), tzinfo=zone)


def _ordered(items: Sequence[FeedItem]) -> list[FeedItem]:
    """Newest first, as readers expect."""
    return sorted(items, key=lambda i: (i.page.session.start, i.page.session.slug), reverse=True)


def _updated(event: Event, items: Sequence[FeedItem]) -> datetime:
    return max((i.page.session.end for i in items), default=_event_start(event))


def _summary(page: SessionPage) -> str:
    parts = [page.session.subtitle, page.session.abstract]
    if page.speakers:
        parts.append(f"Avec {page.speakers}.")
    return "\n\n".join(part for part in parts if part)


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n{text}\n'.encode()


# -- Atom -------------------------------------------------------------------------------


def _a(tag: str) -> str:
    return f"{{{ATOM}}}{tag}"


def atom_feed(event: Event, items: Sequence[FeedItem], *, base_url: str = "") -> bytes:
    """The replays, newest first, each with its page and its MP4 as an enclosure."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(_a("feed"), {"{http://www.w3.org/XML/1998/namespace}lang": "fr"})
    _sub(feed, _a("title"), f"{event.title} — replays")
    _sub(feed, _a("id"), feed_id(event))
    _sub(feed, _a("updated"), _updated(event, items).isoformat())
    _sub(feed, _a("link"), rel="self", type="application/atom+xml",
         href=site_link(event, "atom.xml", base_url))
    _sub(feed, _a("link"), rel="alternate", type="text/html",
         href=site_link(event, "index.html", base_url))
    _sub(_sub(feed, _a("author")), _a("name"), event.title)
    for item in _ordered(items):
        _atom_entry(feed, event, item, base_url)
    return _serialise(feed)


def _atom_entry(feed: ET.Element, event: Event, item: FeedItem, base_url: str) -> None:
    session, slug = item.page.session, item.page.session.slug
    entry = _sub(feed, _a("entry"))
    _sub(entry, _a("title"), session.title)
    _sub(entry, _a("id"), feed_id(event, session.guid))
    _sub(entry, _a("published"), session.end.isoformat())
    _sub(entry, _a("updated"), session.end.isoformat())
    for person in session.persons:
        _sub(_sub(entry, _a("author")), _a("name"), person.name)
    _sub(entry, _a("link"), rel="alternate", type="text/html",
         href=site_link(event, f"{slug}/index.html", base_url))
    _sub(entry, _a("link"), rel="enclosure", type="video/mp4", length=str(item.video_bytes),
         href=site_link(event, f"{slug}/replay.mp4", base_url))
    if item.audio_bytes is not None:
        _sub(entry, _a("link"), rel="enclosure", type="audio/mp4",
             length=str(item.audio_bytes), href=site_link(event, f"{slug}/audio.m4a", base_url))
    if summary := _summary(item.page):
        _sub(entry, _a("summary"), summary, type="text")


# -- podcast (RSS 2.0) ------------------------------------------------------------------


def _i(tag: str) -> str:
    return f"{{{ITUNES}}}{tag}"


def podcast_feed(event: Event, items: Sequence[FeedItem], *, base_url: str = "",
                 podcast: PodcastOptions | None = None) -> bytes:
    """The sessions' audio (M4A) as a podcast, newest first; sessions without audio are
    left out. The iTunes tags podcast apps require come from the event's `podcast`
    options: author (the event's title by default), category, explicit, and the cover
    (the newest session's poster when the organiser gave none)."""
    options = podcast or PodcastOptions()
    ET.register_namespace("itunes", ITUNES)
    rss = ET.Element("rss", version="2.0")
    channel = _sub(rss, "channel")
    _sub(channel, "title", f"{event.title} — audio")
    _sub(channel, "link", site_link(event, "index.html", base_url))
    _sub(channel, "description",
         _("The audio recordings of the sessions of the event “{title}”.").format(
             title=event.title))
    _sub(channel, "language", "fr")
    _sub(channel, "lastBuildDate", format_datetime(_updated(event, items)))
    _sub(channel, _i("author"), options.author or event.title)
    if image := options.image or _newest_poster(event, items, base_url):
        _sub(channel, _i("image"), href=image)
    _sub(channel, _i("category"), text=options.category)
    _sub(channel, _i("explicit"), "true" if options.explicit else "false")
    for item in _ordered(items):
        if item.audio_bytes is not None:
            _podcast_item(channel, event, item, base_url)
    return _serialise(rss)


def _newest_poster(event: Event, items: Sequence[FeedItem], base_url: str) -> str:
    for item in _ordered(items):
        if item.page.has_poster:
            return site_link(event, f"{item.page.session.slug}/poster.jpg", base_url)
    return ""


def _podcast_item(channel: ET.Element, event: Event, item: FeedItem, base_url: str) -> None:
    page, slug = item.page, item.page.session.slug
    element = _sub(channel, "item")
    _sub(element, "title", page.session.title)
    _sub(element, "link", site_link(event, f"{slug}/index.html", base_url))
    _sub(element, "guid", feed_id(event, page.session.guid), isPermaLink="false")
    _sub(element, "pubDate", format_datetime(page.session.end))
    if summary := _summary(page):
        _sub(element, "description", summary)
    _sub(element, "enclosure", url=site_link(event, f"{slug}/audio.m4a", base_url),
         length=str(item.audio_bytes), type="audio/mp4")
    _sub(element, _i("duration"), str(round(page.cut.duration)))
    if page.speakers:
        _sub(element, _i("author"), page.speakers)
