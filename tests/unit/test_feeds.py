"""The Atom feed of replays and the audio podcast: well-formed XML whatever the programme
says, the right entries newest first, enclosures with their sizes, relative or absolute
links, and the same bytes when nothing changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import pytest

from replay.domain.cutplan import Cut
from replay.domain.model import Event, Person, Session
from replay.site.feeds import ATOM, ITUNES, FeedItem, atom_feed, feed_id, podcast_feed
from replay.site.pages import SessionPage

EVIL = "<script>alert(1)</script> « l’énergie » & ]]> 'co' \"x\""
T0 = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
A = f"{{{ATOM}}}"
BASE = "https://replays.example.org/site/"


def make_item(guid: str, slug: str, start: datetime, *, audio: int | None = 2000,
              title: str = f"Titre {EVIL}") -> FeedItem:
    session = Session(guid=guid, title=title, room="Salle A", start=start,
                      duration=timedelta(minutes=45), slug=slug, abstract=f"Résumé {EVIL}",
                      persons=(Person(f"Anne {EVIL}"), Person("Jean")))
    cut = Cut(guid, title, 10.0, 2710.4, 10.0, 2710.4, True, True)
    page = SessionPage(session, cut, "Salle A", True, False, ((0.0, "Bonjour"),),
                       has_audio=audio is not None)
    return FeedItem(page, video_bytes=123456, audio_bytes=audio)


def make_event(*items: FeedItem, title: str = f"Mission villes {EVIL}") -> Event:
    return Event(slug="villes-2026", title=title, start=date(2026, 3, 3), end=date(2026, 3, 4),
                 timezone="Europe/Paris", rooms=("Salle A",),
                 sessions=tuple(i.page.session for i in items))


ITEMS = (make_item("g1", "ouverture", T0),
         make_item("g2", "table-ronde", T0 + timedelta(hours=2), audio=None),
         make_item("g3", "cloture", T0 + timedelta(days=1), audio=98765))


def parse(data: bytes) -> Element:
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n')
    root: Element = SafeET.fromstring(data)
    return root


def text(element: Element | None) -> str:
    assert element is not None
    return element.text or ""


# -- Atom -------------------------------------------------------------------------------


def test_atom_feed_escapes_programme_texts_and_lists_replays_newest_first() -> None:
    event = make_event(*ITEMS)
    data = atom_feed(event, ITEMS)
    assert b"<script>" not in data
    feed = parse(data)
    assert feed.tag == f"{A}feed"
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "fr"
    assert text(feed.find(f"{A}title")) == f"{event.title} — replays"
    assert text(feed.find(f"{A}id")) == feed_id(event)
    assert text(feed.find(f"{A}author/{A}name")) == event.title
    assert text(feed.find(f"{A}updated")) == (T0 + timedelta(days=1, minutes=45)).isoformat()
    entries = feed.findall(f"{A}entry")
    assert [text(e.find(f"{A}title")) for e in entries] == [f"Titre {EVIL}"] * 3
    assert [text(e.find(f"{A}id")) for e in entries] == [
        feed_id(event, g) for g in ("g3", "g2", "g1")]
    assert len({text(e.find(f"{A}id")) for e in entries}) == 3
    first = entries[0]
    assert [text(n) for n in first.findall(f"{A}author/{A}name")] == [f"Anne {EVIL}", "Jean"]
    summary = text(first.find(f"{A}summary"))
    assert summary == f"Résumé {EVIL}\n\nAvec Anne {EVIL}, Jean."


def test_atom_links_are_relative_without_a_base_url() -> None:
    feed = parse(atom_feed(make_event(*ITEMS), ITEMS))
    links = {(link.get("rel"), link.get("href")) for link in feed.findall(f"{A}link")}
    assert links == {("self", "atom.xml"), ("alternate", "index.html")}
    entry = feed.findall(f"{A}entry")[0]
    found = [(link.get("rel"), link.get("type"), link.get("href"), link.get("length"))
             for link in entry.findall(f"{A}link")]
    assert found == [("alternate", "text/html", "cloture/index.html", None),
                     ("enclosure", "video/mp4", "cloture/replay.mp4", "123456"),
                     ("enclosure", "audio/mp4", "cloture/audio.m4a", "98765")]
    without_audio = feed.findall(f"{A}entry")[1]
    assert [link.get("type") for link in without_audio.findall(f"{A}link")] == [
        "text/html", "video/mp4"]


def test_atom_links_are_absolute_with_a_base_url() -> None:
    feed = parse(atom_feed(make_event(*ITEMS), ITEMS, base_url=BASE))
    hrefs = [link.get("href") for link in feed.iter(f"{A}link")]
    assert hrefs
    assert all(str(h).startswith("https://replays.example.org/site/villes-2026/") for h in hrefs)
    assert "https://replays.example.org/site/villes-2026/cloture/replay.mp4" in hrefs


def test_empty_feeds_are_valid_and_dated_by_the_event() -> None:
    event = make_event()
    feed = parse(atom_feed(event, []))
    assert feed.findall(f"{A}entry") == []
    assert text(feed.find(f"{A}updated")) == "2026-03-03T00:00:00+01:00"
    rss = parse(podcast_feed(event, []))
    assert rss.findall("channel/item") == []


@pytest.mark.parametrize("control", ["\x00", "\x08", "\x0b", "\x1f", "\ufffe"])
def test_characters_xml_cannot_carry_are_dropped(control: str) -> None:
    item = make_item("g1", "s", T0, title=f"Avant{control}après")
    event = make_event(item, title=f"Évènement{control}")
    for data in (atom_feed(event, [item]), podcast_feed(event, [item])):
        root = parse(data)
        titles = [e.text for e in root.iter() if e.tag in {f"{A}title", "title"}]
        assert "Avantaprès" in titles


def test_feeds_are_the_same_bytes_when_nothing_changed() -> None:
    event = make_event(*ITEMS)
    assert atom_feed(event, ITEMS) == atom_feed(event, list(reversed(ITEMS)))
    assert podcast_feed(event, ITEMS) == podcast_feed(event, list(reversed(ITEMS)))


# -- podcast ----------------------------------------------------------------------------


def test_podcast_lists_audio_enclosures_newest_first() -> None:
    event = make_event(*ITEMS)
    data = podcast_feed(event, ITEMS)
    assert b"<script>" not in data
    rss = parse(data)
    assert rss.tag == "rss"
    assert rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel is not None
    assert text(channel.find("title")) == f"{event.title} — audio"
    assert text(channel.find("language")) == "fr"
    assert text(channel.find("link")) == "index.html"
    assert f"«\u00a0{event.title}\u00a0»" in text(channel.find("description"))
    items = channel.findall("item")
    # The session without audio is not in the podcast.
    assert [text(i.find("link")) for i in items] == ["cloture/index.html", "ouverture/index.html"]
    first = items[0]
    assert text(first.find("title")) == f"Titre {EVIL}"
    guid = first.find("guid")
    assert guid is not None
    assert guid.get("isPermaLink") == "false"
    assert guid.text == feed_id(event, "g3")
    enclosure = first.find("enclosure")
    assert enclosure is not None
    assert enclosure.attrib == {"url": "cloture/audio.m4a", "length": "98765",
                                "type": "audio/mp4"}
    assert parsedate_to_datetime(text(first.find("pubDate"))) == ITEMS[2].page.session.end
    assert text(first.find(f"{{{ITUNES}}}duration")) == "2700"
    assert text(first.find(f"{{{ITUNES}}}author")) == f"Anne {EVIL}, Jean"


def test_podcast_enclosures_are_absolute_with_a_base_url() -> None:
    rss = parse(podcast_feed(make_event(*ITEMS), ITEMS, base_url=BASE.rstrip("/")))
    urls = [e.get("url") for e in rss.iter("enclosure")]
    assert urls == ["https://replays.example.org/site/villes-2026/cloture/audio.m4a",
                    "https://replays.example.org/site/villes-2026/ouverture/audio.m4a"]
    assert text(rss.find("channel/link")) == \
        "https://replays.example.org/site/villes-2026/index.html"


# -- issue 15: the iTunes tags podcast apps require, read by feedparser ------------------


def test_podcast_carries_the_itunes_tags_from_the_event_options() -> None:
    import feedparser

    from replay.domain.podcast import PodcastOptions

    options = PodcastOptions(author="Ville de Lyon", category="News", explicit=True,
                             image="https://lyon.example/cover.jpg")
    data = podcast_feed(make_event(*ITEMS), ITEMS, base_url=BASE, podcast=options)
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.author == "Ville de Lyon"
    assert feed.feed.image.href == "https://lyon.example/cover.jpg"
    assert [tag.term for tag in feed.feed.tags] == ["News"]
    # Apple's values are true and false (feedparser knows only the older yes and clean).
    assert text(parse(data).find(f"channel/{{{ITUNES}}}explicit")) == "true"
    assert [e.enclosures[0].href for e in feed.entries] == [
        "https://replays.example.org/site/villes-2026/cloture/audio.m4a",
        "https://replays.example.org/site/villes-2026/ouverture/audio.m4a"]


def test_podcast_tags_by_default_name_the_event_and_its_newest_poster() -> None:
    import feedparser

    event = make_event(*ITEMS)
    data = podcast_feed(event, ITEMS, base_url=BASE)
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.author == event.title
    assert feed.feed.image.href == "https://replays.example.org/site/villes-2026/cloture/poster.jpg"
    assert [tag.term for tag in feed.feed.tags] == ["Government"]
    assert text(parse(data).find(f"channel/{{{ITUNES}}}explicit")) == "false"


def test_a_podcast_without_posters_or_image_has_no_cover() -> None:
    items = [FeedItem(replace(ITEMS[0].page, has_poster=False), 1, 2)]
    rss = parse(podcast_feed(make_event(*items), items, base_url=BASE))
    assert rss.find(f"channel/{{{ITUNES}}}image") is None
    assert rss.find(f"channel/{{{ITUNES}}}category") is not None
