"""The public pages and publishing: escaping, valid HTML, French labels, replays.json, and
the order and economy of uploads to the object store."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import html5lib
import pytest

from replay.domain.cutplan import Cut
from replay.domain.model import Event, Person, Session
from replay.site.feeds import ATOM
from replay.site.pages import (
    SessionPage,
    clock,
    french_date,
    french_duration,
    render_embed_page,
    render_event_page,
    render_search_page,
    render_session_page,
    with_related,
)
from replay.site.publish import SessionOutputs, Uploader, publish_event, replays_json
from replay.storage.memory import MemoryStore

EVIL = "<script>alert(1)</script> « l’“énergie” & 'co' »"
SITE_SCRIPTS = {"../assets/controls.js", "../assets/share.js", "../assets/player.js",
                "assets/share.js", "assets/search.js", "assets/live.js"}
DRAFT_LABEL = "Sous-titres générés automatiquement"
T0 = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


# --- building blocks ------------------------------------------------------------------


def make_session(guid: str, slug: str, start: datetime, *, evil: bool = True) -> Session:
    text = f"{EVIL} {guid}" if evil else f"Table ronde {guid}"
    return Session(
        guid=guid,
        title=f"Titre {text}",
        room=f"Salle {EVIL}" if evil else "Salle A",
        start=start,
        duration=timedelta(minutes=60),
        slug=slug,
        subtitle=f"Sous-titre {text}",
        abstract=f"Résumé {text}",
        persons=(Person(f"Anne {EVIL}"), Person("Jean & Jeanne")),
        recording_license=f"CC BY 4.0 {EVIL}",
    )


def make_cut(item: Session, start: float, end: float) -> Cut:
    return Cut(item.guid, item.title, start, end, start, end, True, True)


def make_event(*sessions: Session) -> Event:
    return Event(
        slug="villes-2026",
        title=f"Mission villes {EVIL}",
        start=date(2026, 3, 3),
        end=date(2026, 3, 4),
        timezone="Europe/Paris",
        rooms=tuple(dict.fromkeys(s.room for s in sessions)),
        sessions=sessions,
    )


def make_page(item: Session, *, drafts: bool, has_poster: bool = True) -> SessionPage:
    return SessionPage(
        session=item,
        cut=make_cut(item, 61.5, 3661.5),
        room=item.room,
        has_poster=has_poster,
        drafts=drafts,
        segments=((0.0, f"Bonjour {EVIL}"), (65.2, "Merci & à bientôt")),
        has_audio=True,
    )


def parse(html: str) -> Element:
    """Parse as a browser would, failing on any parse error."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False,
                                 tree=html5lib.getTreeBuilder("etree"))
    root: Element = parser.parse(html)
    return root


def text_of(element: Element) -> str:
    """The element's text with HTML white space collapsed (no-break spaces are kept)."""
    return HTML_SPACE.sub(" ", "".join(element.itertext())).strip(" ")


def by_class(root: Element, tag: str, name: str) -> list[Element]:
    return [e for e in root.iter(tag) if name in e.get("class", "").split()]


def assert_safe(root: Element) -> None:
    """No script but the site's own, none inline, and no event handler attributes."""
    for script in root.iter("script"):
        assert script.get("src") in SITE_SCRIPTS
        assert not "".join(script.itertext()).strip()
    for element in root.iter():
        assert not [name for name in element.attrib if name.lower().startswith("on")]
    assert EVIL not in {e.get("src") for e in root.iter()}


# --- small formatters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 2), "lundi 2 mars 2026"),
        (date(2026, 3, 3), "mardi 3 mars 2026"),
        (date(2026, 2, 1), "dimanche 1 février 2026"),
        (date(2025, 8, 15), "vendredi 15 août 2025"),
        (date(2025, 12, 31), "mercredi 31 décembre 2025"),
        (date(2026, 1, 10), "samedi 10 janvier 2026"),
    ],
)
def test_french_date(day: date, expected: str) -> None:
    assert french_date(day) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "00:00"),
        (0.99, "00:00"),
        (59.9, "00:59"),
        (62, "01:02"),
        (3599, "59:59"),
        (3600, "1:00:00"),
        (3723.5, "1:02:03"),
        (36000, "10:00:00"),
    ],
)
def test_clock(seconds: float, expected: str) -> None:
    assert clock(seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "1\u00a0min"),
        (10, "1\u00a0min"),
        (60, "1\u00a0min"),
        (100, "2\u00a0min"),
        (45 * 60, "45\u00a0min"),
        (59 * 60 + 40, "1\u00a0h"),
        (3600, "1\u00a0h"),
        (3660, "1\u00a0h\u00a001"),
        (5400, "1\u00a0h\u00a030"),
        (2 * 3600 + 5 * 60, "2\u00a0h\u00a005"),
    ],
)
def test_french_duration(seconds: float, expected: str) -> None:
    assert french_duration(seconds) == expected


# --- the session page -----------------------------------------------------------------


@pytest.mark.parametrize("drafts", [True, False])
def test_session_page_escapes_programme_texts(drafts: bool) -> None:
    item = make_session("g1", "table-ronde-1", T0)
    event = make_event(item)
    root = parse(render_session_page(event, make_page(item, drafts=drafts)))
    assert_safe(root)
    assert root.get("lang") == "fr"
    title = root.find("head/title")
    assert title is not None
    assert text_of(title) == f"{item.title} — {event.title}"
    [h1] = list(root.iter("h1"))
    assert text_of(h1) == item.title
    [subtitle] = by_class(root, "p", "subtitle")
    assert text_of(subtitle) == item.subtitle
    [speakers] = by_class(root, "p", "speakers")
    assert text_of(speakers) == f"Avec Anne {EVIL}, Jean & Jeanne"
    [meta] = by_class(root, "p", "meta")
    assert item.room in text_of(meta)
    [licence] = by_class(root, "p", "licence")
    assert text_of(licence) == f"Licence\u00a0: {item.recording_license}"
    [abstract] = by_class(root, "div", "abstract")
    assert [text_of(e) for e in abstract] == ["Résumé", item.abstract]
    back = root.find(".//header/p/a")
    assert back is not None
    assert back.get("href") == "../index.html"
    assert text_of(back) == f"← {event.title}"


def test_session_page_transcript() -> None:
    item = make_session("g1", "table-ronde-1", T0)
    root = parse(render_session_page(make_event(item), make_page(item, drafts=False)))
    heading = root.find(".//h2[@id='transcript-title']")
    assert heading is not None
    assert text_of(heading) == "Transcription"
    lines = root.findall(".//ol[@id='transcript']/li")
    assert [li.get("data-start") for li in lines] == ["0.00", "65.20"]
    assert [text_of(li) for li in lines] == [f"00:00 Bonjour {EVIL}", "01:05 Merci & à bientôt"]
    assert [a.get("href") for li in lines for a in li.iter("a")] == ["#t=0", "#t=65"]
    spans = [span for li in lines for span in li.iter("span")]
    assert [span.text for span in spans] == [f"Bonjour {EVIL}", "Merci & à bientôt"]
    # The search within the transcript needs the script: hidden until player.js shows it.
    [search] = root.findall(".//section[@class='transcript']/form")
    assert search.get("role") == "search"
    assert "hidden" in search.attrib
    [label] = search.iter("label")
    assert label.get("for") == "transcript-query"
    assert text_of(label) == "Rechercher dans la transcription"


def test_session_page_without_speech() -> None:
    item = make_session("g1", "table-ronde-1", T0)
    page = replace(make_page(item, drafts=False), segments=())
    root = parse(render_session_page(make_event(item), page))
    assert root.find(".//ol[@id='transcript']") is None
    section = root.find(".//section[@class='transcript']")
    assert section is not None
    assert "Aucune parole" in text_of(section)


@pytest.mark.parametrize("drafts", [True, False])
def test_session_page_draft_label_only_for_drafts(drafts: bool) -> None:
    item = make_session("g1", "table-ronde-1", T0)
    root = parse(render_session_page(make_event(item), make_page(item, drafts=drafts)))
    labels = [e for e in root.iter() if e.text and DRAFT_LABEL in e.text]
    assert bool(labels) is drafts
    if drafts:
        assert labels[0].get("role") == "note"


@pytest.mark.parametrize("has_poster", [True, False])
def test_session_page_player(has_poster: bool) -> None:
    item = make_session("g1", "table-ronde-1", T0)
    page = make_page(item, drafts=False, has_poster=has_poster)
    root = parse(render_session_page(make_event(item), page))
    [video] = list(root.iter("video"))
    assert video.get("data-hls") == "hls/master.m3u8"
    assert video.get("poster") == ("poster.jpg" if has_poster else None)
    assert [s.get("src") for s in video.iter("source")] == ["replay.mp4"]
    tracks = [(t.get("kind"), t.get("srclang"), t.get("src"), "default" in t.attrib)
              for t in video.iter("track")]
    assert tracks == [
        # French captions of French speech (WCAG 1.2.2); English is a translation.
        ("captions", "fr", "subtitles.fr.vtt", True),
        ("subtitles", "en", "subtitles.en.vtt", False),
    ]
    downloads = {a.get("href"): text_of(a) for a in root.findall(".//ul[@class='downloads']//a")}
    assert downloads == {
        "replay.mp4": "Vidéo (MP4)",
        "audio.m4a": "Audio seul (M4A)",
        "subtitles.fr.vtt": "Sous-titres français (WebVTT)",
        "subtitles.en.vtt": "Sous-titres anglais (WebVTT)",
        "transcript.fr.txt": "Transcription (texte)",
    }
    # hls.js is loaded by player.js only where HLS does not play natively.
    assert [s.get("src") for s in root.iter("script")] == ["../assets/controls.js",
                                                           "../assets/share.js",
                                                           "../assets/player.js"]
    assert video.get("data-hls-js") in {"../assets/hls.light.min.js", None}


def test_session_page_without_audio_offers_no_m4a() -> None:
    item = make_session("g1", "table-ronde-1", T0)
    page = replace(make_page(item, drafts=False), has_audio=False)
    root = parse(render_session_page(make_event(item), page))
    assert "audio.m4a" not in {a.get("href") for a in root.iter("a")}


# --- the event page -------------------------------------------------------------------


def event_pages(*, drafts: bool) -> tuple[Event, list[SessionPage]]:
    first = make_session("g1", "ouverture", T0)
    second = make_session("g2", "table-ronde", T0 + timedelta(hours=2))
    third = make_session("g3", "cloture", T0 + timedelta(days=1))
    event = make_event(first, second, third)
    return event, [make_page(s, drafts=drafts) for s in (third, second, first)]


@pytest.mark.parametrize("drafts", [True, False])
def test_event_page(drafts: bool) -> None:
    event, pages = event_pages(drafts=drafts)
    root = parse(render_event_page(event, pages))
    assert_safe(root)
    assert root.get("lang") == "fr"
    [h1] = list(root.iter("h1"))
    assert text_of(h1) == event.title
    [dates] = by_class(root, "p", "dates")
    assert text_of(dates) == "Du mardi 3 mars 2026 au mercredi 4 mars 2026"
    days = by_class(root, "section", "day")
    assert [text_of(d.findall("h2")[0]) for d in days] == ["Mardi 3 mars 2026",
                                                          "Mercredi 4 mars 2026"]
    rooms = [text_of(h3) for d in days for h3 in d.iter("h3")]
    assert rooms == [f"Salle {EVIL}", f"Salle {EVIL}"]
    titles = [text_of(t) for t in by_class(root, "span", "title")]
    assert titles == [p.session.title for p in reversed(pages)]
    links = [a.get("href") for li in by_class(root, "li", "session") for a in li.iter("a")]
    assert links == ["ouverture/index.html", "table-ronde/index.html", "cloture/index.html"]
    images = [img.get("src") for img in root.iter("img")]
    assert images == ["ouverture/poster.jpg", "table-ronde/poster.jpg", "cloture/poster.jpg"]
    metas = [text_of(m) for m in by_class(root, "p", "meta")]
    assert metas[0] == f"09:30 · 1\u00a0h · Anne {EVIL}, Jean & Jeanne"
    drafts_shown = [text_of(p) for p in by_class(root, "p", "draft")]
    assert drafts_shown == ([DRAFT_LABEL] * 3 if drafts else [])
    footer = root.find(".//footer")
    assert footer is not None
    # The same licence for every session: stated once.
    assert [text_of(p) for p in footer.findall("p")] == [
        f"Licence des enregistrements\u00a0: CC BY 4.0 {EVIL}"]
    assert [a.get("href") for a in footer.iter("a")] == ["atom.xml", "podcast.xml",
                                                         "replays.json"]
    feeds = {(link.get("type"), link.get("href")) for link in root.iter("link")
             if link.get("rel") == "alternate"}
    assert feeds == {("application/atom+xml", "atom.xml"), ("application/rss+xml", "podcast.xml")}
    [search] = [f for f in root.iter("form") if f.get("role") == "search"]
    assert search.get("action") == "recherche.html"
    assert [i.get("name") for i in search.iter("input")] == ["q"]
    [label] = search.iter("label")
    assert label.get("for") == "q"


def test_search_page() -> None:
    event, _pages = event_pages(drafts=False)
    root = parse(render_search_page(event))
    assert_safe(root)
    assert root.get("lang") == "fr"
    title = root.find("head/title")
    assert title is not None
    assert text_of(title) == f"Recherche — {event.title}"
    assert [s.get("src") for s in root.iter("script")] == ["assets/share.js",
                                                           "assets/search.js"]
    [results] = [d for d in root.iter("div") if d.get("id") == "results"]
    assert results.get("data-index") == "search.json"
    [status] = [p for p in root.iter("p") if p.get("id") == "search-status"]
    assert status.get("role") == "status"
    noscript = root.find(".//noscript")
    assert noscript is not None


def test_event_page_without_replays() -> None:
    event = replace(make_event(make_session("g1", "a", T0)), end=date(2026, 3, 3))
    root = parse(render_event_page(event, []))
    [dates] = by_class(root, "p", "dates")
    assert text_of(dates) == "mardi 3 mars 2026"
    main = root.find(".//main")
    assert main is not None
    assert "Aucun replay" in text_of(main)


# --- replays.json ---------------------------------------------------------------------

ISSUE_FIELDS = {"guid", "title", "room", "recording_offset_start", "recording_offset_end",
                "hls", "mp4", "poster", "subtitles", "transcript"}


def test_replays_json() -> None:
    _event, pages = event_pages(drafts=True)
    pages[0] = replace(pages[0], has_poster=False)
    data: dict[str, Any] = json.loads(replays_json(pages))
    entries: list[dict[str, Any]] = data["replays"]
    assert len(entries) == 3
    for entry, page in zip(entries, pages, strict=True):
        assert set(entry) >= ISSUE_FIELDS
        slug = page.session.slug
        assert entry["guid"] == page.session.guid
        assert entry["title"] == page.session.title
        assert entry["room"] == page.room
        assert entry["recording_offset_start"] == 61.5
        assert entry["recording_offset_end"] == 3661.5
        assert entry["hls"] == f"{slug}/hls/master.m3u8"
        assert entry["mp4"] == f"{slug}/replay.mp4"
        assert entry["subtitles"] == {"fr": f"{slug}/subtitles.fr.vtt",
                                      "en": f"{slug}/subtitles.en.vtt"}
        assert entry["transcript"] == f"{slug}/transcript.fr.txt"
        paths = [entry["hls"], entry["mp4"], entry["transcript"], *entry["subtitles"].values()]
        if entry["poster"] is not None:
            paths.append(entry["poster"])
        for path in paths:
            assert not path.startswith("/")
            assert "://" not in path
            assert ".." not in path
    assert entries[0]["poster"] is None
    assert entries[1]["poster"] == "table-ronde/poster.jpg"


# --- publishing -----------------------------------------------------------------------

MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=1400000,RESOLUTION=854x480,CODECS="avc1.4d401e,mp4a.40.2"
480p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=426x240,CODECS="avc1.4d400d,mp4a.40.2"
240p/index.m3u8
"""
VARIANT = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:6
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:6.000,
seg_00000.ts
#EXT-X-ENDLIST
"""


def vtt(text: str) -> str:
    return f"WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n{text}\n"


def transcript_json(text: str) -> str:
    """Shaped like `replay.jobs.pipeline.transcript_json`."""
    return json.dumps({
        "language": "fr",
        "segments": [{"start": 1.0, "end": 3.0, "text": text, "words": [
            {"start": 1.0, "end": 1.5, "word": "Bonjour", "probability": 0.9}]}],
    }, ensure_ascii=False, indent=1)


def fake_outputs(root: Path, item: Session) -> SessionOutputs:
    media = root / item.slug / "media"
    speech = root / item.slug / "speech"
    (media / "hls" / "480p").mkdir(parents=True)
    speech.mkdir(parents=True)
    (media / "hls" / "master.m3u8").write_text(MASTER, encoding="utf-8")
    (media / "hls" / "480p" / "index.m3u8").write_text(VARIANT, encoding="utf-8")
    (media / "hls" / "480p" / "seg_00000.ts").write_bytes(b"\x47" + item.slug.encode() * 100)
    (media / "hls" / "start_time.txt").write_text("1.4", encoding="utf-8")
    (media / "replay.mp4").write_bytes(b"mp4 " + item.slug.encode())
    (media / "audio.m4a").write_bytes(b"m4a audio " + item.slug.encode())
    (media / "poster.jpg").write_bytes(b"jpg " + item.slug.encode())
    (speech / "subtitles.fr.vtt").write_text(vtt(f"Bonjour {EVIL}"), encoding="utf-8")
    (speech / "subtitles.en.vtt").write_text(vtt("Hello"), encoding="utf-8")
    (speech / "transcript.fr.txt").write_text(f"Bonjour {EVIL}\n", encoding="utf-8")
    (speech / "transcript.fr.json").write_text(transcript_json(f"Bonjour {EVIL}"),
                                               encoding="utf-8")
    return SessionOutputs(make_cut(item, 30.0, 3630.0), item.room, item, media, speech)


@dataclass
class Published:
    store: MemoryStore
    event: Event
    outputs: list[SessionOutputs]
    uploader: Uploader


@pytest.fixture
async def published(tmp_path: Path) -> Published:
    first = make_session("g1", "ouverture", T0, evil=False)
    second = make_session("g2", "table-ronde", T0 + timedelta(hours=2), evil=False)
    event = make_event(first, second)
    outputs = [fake_outputs(tmp_path, second), fake_outputs(tmp_path, first)]
    store = MemoryStore()
    progress: list[float] = []
    uploader = await publish_event(store, event, outputs, drafts=True,
                                   on_progress=progress.append)
    assert progress == sorted(progress)
    assert progress[-1] == 1.0
    return Published(store, event, outputs, uploader)


async def test_publish_writes_everything_once(published: Published) -> None:
    store = published.store
    assert len(store.writes) == len(set(store.writes)) == published.uploader.uploaded
    assert published.uploader.unchanged == 0
    for slug in ("ouverture", "table-ronde"):
        prefix = f"villes-2026/{slug}/"
        segment = b"\x47" + slug.encode() * 100  # named after its content when published
        assert {k for k in store.objects if k.startswith(prefix)} == {
            prefix + name for name in (
                f"hls/480p/{hashlib.sha256(segment).hexdigest()[:32]}.ts",
                "hls/480p/index.m3u8", "hls/master.m3u8",
                "hls/subtitles.fr.vtt", "hls/subtitles.en.vtt",
                "hls/subtitles.fr.m3u8", "hls/subtitles.en.m3u8",
                "replay.mp4", "audio.m4a", "poster.jpg", "subtitles.fr.vtt", "subtitles.en.vtt",
                "transcript.fr.txt", "transcript.fr.json", "embed.html", "index.html")}
    assert "villes-2026/assets/player.js" in store.objects
    assert "villes-2026/assets/style.css" in store.objects
    assert "villes-2026/assets/search.js" in store.objects
    for name in ("replays.json", "search.json", "recherche.html", "atom.xml", "podcast.xml"):
        assert f"villes-2026/{name}" in store.objects


async def test_publish_order(published: Published) -> None:
    writes = published.store.writes
    assert writes[-1] == "villes-2026/index.html"
    for slug in ("ouverture", "table-ronde"):
        prefix = f"villes-2026/{slug}/"
        segments = [i for i, k in enumerate(writes) if k.startswith(prefix) and k.endswith(".ts")]
        playlists = [i for i, k in enumerate(writes)
                     if k.startswith(prefix) and k.endswith(".m3u8")]
        [page] = [i for i, k in enumerate(writes) if k == prefix + "index.html"]
        assert segments
        assert playlists
        assert max(segments) < min(playlists)
        assert max(playlists) < page
        assert max(i for i, k in enumerate(writes) if k.startswith(prefix)) == page
    # Sessions in programme order, whatever the order of the outputs.
    pages = [k for k in writes if k.endswith("/index.html")]
    assert pages == ["villes-2026/ouverture/index.html", "villes-2026/table-ronde/index.html",
                     "villes-2026/index.html"]


async def test_master_playlist_gets_the_subtitle_group(published: Published) -> None:
    master = published.store.objects["villes-2026/ouverture/hls/master.m3u8"].decode()
    lines = master.splitlines()
    media = [line for line in lines if line.startswith("#EXT-X-MEDIA:")]
    assert len(media) == 2
    assert all('TYPE=SUBTITLES,GROUP-ID="subs"' in line for line in media)
    assert 'LANGUAGE="fr"' in media[0]
    assert "DEFAULT=YES" in media[0]
    assert 'URI="subtitles.fr.m3u8"' in media[0]
    assert 'LANGUAGE="en"' in media[1]
    assert "DEFAULT=NO" in media[1]
    assert 'URI="subtitles.en.m3u8"' in media[1]
    variants = [line for line in lines if line.startswith("#EXT-X-STREAM-INF:")]
    assert len(variants) == 2
    assert all(line.endswith(',SUBTITLES="subs"') for line in variants)
    assert lines.index(media[-1]) < lines.index(variants[0])
    assert "480p/index.m3u8" in lines
    assert "240p/index.m3u8" in lines


async def test_hls_subtitles_are_tied_to_the_segments_clock(published: Published) -> None:
    prefix = "villes-2026/ouverture/"
    for language in ("fr", "en"):
        hls_copy = published.store.objects[f"{prefix}hls/subtitles.{language}.vtt"].decode()
        lines = hls_copy.splitlines()
        assert lines[0] == "WEBVTT"
        assert lines[1] == "X-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000"
        download = published.store.objects[f"{prefix}subtitles.{language}.vtt"].decode()
        assert "X-TIMESTAMP-MAP" not in download
        assert hls_copy.replace(lines[1] + "\n", "", 1) == download
        playlist = published.store.objects[f"{prefix}hls/subtitles.{language}.m3u8"].decode()
        assert f"subtitles.{language}.vtt" in playlist.splitlines()
        assert "#EXTINF:3600.000," in playlist
        assert playlist.rstrip().endswith("#EXT-X-ENDLIST")


async def test_published_pages_are_valid_and_labelled(published: Published) -> None:
    objects = published.store.objects
    index = parse(objects["villes-2026/index.html"].decode())
    assert_safe(index)
    assert [text_of(p) for p in by_class(index, "p", "draft")] == [DRAFT_LABEL] * 2
    page = parse(objects["villes-2026/ouverture/index.html"].decode())
    assert_safe(page)
    spans = page.findall(".//ol[@id='transcript']/li/span")
    assert [s.text for s in spans] == [f"Bonjour {EVIL}"]
    data = json.loads(objects["villes-2026/replays.json"])
    assert [e["guid"] for e in data["replays"]] == ["g1", "g2"]
    assert data["replays"][0]["recording_offset_start"] == 30.0


async def test_publishing_again_uploads_nothing(published: Published) -> None:
    before = len(published.store.writes)
    again = await publish_event(published.store, published.event, published.outputs,
                                drafts=True)
    assert again.uploaded == 0
    assert again.unchanged == published.uploader.uploaded
    assert len(published.store.writes) == before


async def test_a_corrected_subtitle_uploads_only_what_depends_on_it(
    published: Published,
) -> None:
    before = len(published.store.writes)
    [item] = [o for o in published.outputs if o.session.slug == "table-ronde"]
    (item.speech_dir / "subtitles.en.vtt").write_text(vtt("Hello, corrected"), encoding="utf-8")
    again = await publish_event(published.store, published.event, published.outputs,
                                drafts=True)
    changed = published.store.writes[before:]
    assert sorted(changed) == ["villes-2026/table-ronde/hls/subtitles.en.vtt",
                               "villes-2026/table-ronde/subtitles.en.vtt"]
    assert again.uploaded == 2
    stored = published.store.objects["villes-2026/table-ronde/hls/subtitles.en.vtt"].decode()
    assert "Hello, corrected" in stored


async def test_releasing_reviewed_captions_changes_only_pages_and_index(
    published: Published,
) -> None:
    before = len(published.store.writes)
    await publish_event(published.store, published.event, published.outputs, drafts=False)
    changed = published.store.writes[before:]
    # The embed pages carry the track labels too (« automatiques » goes).
    assert changed == ["villes-2026/ouverture/embed.html", "villes-2026/ouverture/index.html",
                       "villes-2026/table-ronde/embed.html",
                       "villes-2026/table-ronde/index.html",
                       "villes-2026/replays.json", "villes-2026/index.html"]


async def test_published_feeds_and_search_index(published: Published) -> None:
    objects = published.store.objects
    rss = SafeET.fromstring(objects["villes-2026/podcast.xml"])
    lengths = {e.get("url"): int(e.get("length", "-1")) for e in rss.iter("enclosure")}
    assert lengths == {f"{o.session.slug}/audio.m4a": (o.media_dir / "audio.m4a").stat().st_size
                       for o in published.outputs}
    atom = SafeET.fromstring(objects["villes-2026/atom.xml"])
    videos = {e.get("href"): int(e.get("length", "-1")) for e in atom.iter(f"{{{ATOM}}}link")
              if e.get("type") == "video/mp4"}
    assert videos == {f"{o.session.slug}/replay.mp4": (o.media_dir / "replay.mp4").stat().st_size
                      for o in published.outputs}
    search = json.loads(objects["villes-2026/search.json"])
    assert [s["slug"] for s in search["sessions"]] == ["ouverture", "table-ronde"]
    assert search["sessions"][0]["segments"] == [[1, f"Bonjour {EVIL}"]]


async def test_a_base_url_changes_only_the_feeds(published: Published) -> None:
    before = len(published.store.writes)
    await publish_event(published.store, published.event, published.outputs, drafts=True,
                        base_url="https://replays.example.org")
    assert published.store.writes[before:] == ["villes-2026/atom.xml", "villes-2026/podcast.xml"]
    rss = SafeET.fromstring(published.store.objects["villes-2026/podcast.xml"])
    assert {e.get("url") for e in rss.iter("enclosure")} == {
        f"https://replays.example.org/villes-2026/{slug}/audio.m4a"
        for slug in ("ouverture", "table-ronde")}


# -- issue 8: corrections reach the transcript and search; labels per language -----------


async def test_corrected_captions_make_the_transcript_its_downloads_and_the_search(
        published: Published) -> None:
    outputs = [replace(o, captions_edited=o.session.slug == "ouverture")
               for o in published.outputs]
    [edited] = [o for o in outputs if o.captions_edited]
    (edited.speech_dir / "subtitles.fr.vtt").write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nBonjour Tournesol,\n\n"
        "00:00:03.100 --> 00:00:05.000\nbienvenue à tous.\n\n"
        "00:00:09.000 --> 00:00:10.000\nSuite\n", encoding="utf-8")
    await publish_event(published.store, published.event, outputs, drafts=True)
    objects = published.store.objects
    text = objects["villes-2026/ouverture/transcript.fr.txt"].decode()
    assert text == "Bonjour Tournesol, bienvenue à tous.\nSuite\n"
    data = json.loads(objects["villes-2026/ouverture/transcript.fr.json"])
    assert [(s["start"], s["text"]) for s in data["segments"]] == [
        (1.0, "Bonjour Tournesol, bienvenue à tous."), (9.0, "Suite")]
    page = parse(objects["villes-2026/ouverture/index.html"].decode())
    spans = page.findall(".//ol[@id='transcript']/li/span")
    assert [s.text for s in spans] == ["Bonjour Tournesol, bienvenue à tous.", "Suite"]
    search = {s["slug"]: s["segments"] for s in json.loads(objects["villes-2026/search.json"])
              ["sessions"]}
    assert search["ouverture"] == [[1, "Bonjour Tournesol, bienvenue à tous."], [9, "Suite"]]
    assert search["table-ronde"] == [[1, f"Bonjour {EVIL}"]], "Whisper's, not corrected"
    untouched = json.loads(objects["villes-2026/table-ronde/transcript.fr.json"])
    assert untouched["segments"][0]["words"], "an uncorrected transcript keeps its words"


async def test_each_language_keeps_its_automatic_label_until_reviewed(
        published: Published) -> None:
    labels = {"ouverture": frozenset({"en"}), "table-ronde": frozenset({"fr", "en"})}
    outputs = [replace(o, automatic_languages=labels[o.session.slug])
               for o in published.outputs]
    await publish_event(published.store, published.event, outputs, drafts=True)
    objects = published.store.objects
    reviewed_fr = parse(objects["villes-2026/ouverture/index.html"].decode())
    notes = [text_of(p) for p in by_class(reviewed_fr, "p", "draft")]
    assert notes == ["Les sous-titres anglais sont une traduction automatique, non relue\u00a0: "
                     "ils peuvent contenir des erreurs."]
    tracks = {t.get("srclang"): t.get("label") for t in reviewed_fr.iter("track")}
    assert tracks == {"fr": "Français", "en": "English (automatic)"}
    drafts = parse(objects["villes-2026/table-ronde/index.html"].decode())
    assert [text_of(p) for p in by_class(drafts, "p", "draft")] == [
        f"{DRAFT_LABEL}\u00a0: ils peuvent contenir des erreurs."]
    entries = {e["guid"]: e for e in json.loads(objects["villes-2026/replays.json"])["replays"]}
    assert entries["g1"]["captions_by_language"] == {"fr": "reviewed", "en": "automatic"}
    assert entries["g2"]["captions_by_language"] == {"fr": "automatic", "en": "automatic"}


# -- issue 15: podcast apps refuse relative links --------------------------------------


async def test_publication_warns_when_the_feeds_carry_relative_links(
        published: Published, tmp_path: Path) -> None:
    assert published.uploader.warnings == [
        "Le podcast est publié avec des liens relatifs, faute d’adresse publique du site "
        "(réglage «\u00a0public_url\u00a0»)\u00a0: les applications de podcast le refuseront."]
    again = await publish_event(MemoryStore(), published.event, published.outputs,
                                drafts=True, base_url="https://replays.example.org/site")
    assert again.warnings == []


# -- issue 15: related replays, the embed page and its code ------------------------------


def test_related_replays_are_the_same_track_first_then_the_same_room() -> None:
    base = make_session("g1", "a", T0, evil=False)
    sessions = [
        replace(base, track="Énergie"),
        replace(base, guid="g2", slug="b", start=T0 + timedelta(hours=3), track="Énergie",
                room="Salle B"),
        replace(base, guid="g3", slug="c", start=T0 + timedelta(hours=1), track="Mobilité"),
        replace(base, guid="g4", slug="d", start=T0 + timedelta(hours=2), track="",
                room="Salle B"),
    ]
    pages = with_related([make_page(s, drafts=False) for s in sessions])
    related = {p.session.slug: [(r.slug, r.same_track) for r in p.related] for p in pages}
    assert related == {
        "a": [("b", True), ("c", False)],  # b: same track, other room; c: same room
        "b": [("a", True), ("d", False)],
        "c": [("a", False)],
        "d": [("b", False)],
    }
    alone = with_related([make_page(replace(base, track=""), drafts=False)])
    assert alone[0].related == ()


def test_session_page_lists_related_replays_and_offers_the_embed_code() -> None:
    first = replace(make_session("g1", "a", T0), track="Énergie")
    second = replace(make_session("g2", "b", T0 + timedelta(hours=1)), track="Énergie")
    pages = with_related([make_page(first, drafts=False), make_page(second, drafts=False)])
    root = parse(render_session_page(make_event(first, second), pages[0]))
    [related] = by_class(root, "section", "related")
    heading = related.find("h2")
    assert heading is not None
    assert text_of(heading) == "Autres replays du même thème"
    assert [(a.get("href"), text_of(a)) for a in related.iter("a")] == [
        ("../b/index.html", second.title)]
    code = root.find(".//textarea[@id='embed-code']")
    assert code is not None
    assert code.get("data-embed") == "embed.html"
    iframe = parse(f"<!DOCTYPE html><title>t</title>{code.text}").find(".//iframe")
    assert iframe is not None
    assert iframe.get("src") == "embed.html"  # player.js makes it absolute
    assert iframe.get("title") == first.title
    label = root.find(".//label[@for='embed-code']")
    assert label is not None


def test_session_page_without_related_replays_lists_none() -> None:
    item = make_session("g1", "a", T0)
    root = parse(render_session_page(make_event(item), make_page(item, drafts=False)))
    assert by_class(root, "section", "related") == []


def test_embed_page_is_the_player_alone() -> None:
    item = make_session("g1", "a", T0)
    root = parse(render_embed_page(make_event(item), make_page(item, drafts=True)))
    assert_safe(root)
    [video] = list(root.iter("video"))
    assert [t.get("src") for t in video.iter("track")] == ["subtitles.fr.vtt",
                                                           "subtitles.en.vtt"]
    assert root.find(".//ol[@id='transcript']") is None
    [link] = [a for a in root.iter("a") if a.get("target") == "_blank"]
    assert link.get("href") == "index.html"
    assert link.get("rel") == "noopener"
    assert [s.get("src") for s in root.iter("script")] == ["../assets/controls.js",
                                                           "../assets/player.js"]


async def test_marked_chapters_are_published_as_a_track_and_a_list(tmp_path: Path) -> None:
    from replay.domain.chapters import Chapter

    first = make_session("g1", "ouverture", T0, evil=False)
    second = make_session("g2", "table-ronde", T0 + timedelta(hours=2), evil=False)
    marked = replace(fake_outputs(tmp_path, first),
                     chapters=(Chapter(0.0, "Accueil"), Chapter(125.0, f"Débat {EVIL}")))
    store = MemoryStore()
    await publish_event(store, make_event(first, second),
                        [marked, fake_outputs(tmp_path, second)], drafts=False)
    vtt_text = store.objects["villes-2026/ouverture/chapters.vtt"].decode()
    assert vtt_text.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:02:05.000\nAccueil\n\n")
    assert "00:02:05.000 --> 01:00:00.000" in vtt_text
    root = parse(store.objects["villes-2026/ouverture/index.html"].decode())
    assert_safe(root)
    [track] = [t for t in root.iter("track") if t.get("kind") == "chapters"]
    assert track.get("src") == "chapters.vtt"
    entries = root.findall(".//ol[@id='chapters']/li")
    assert [(li.get("data-start"), text_of(li)) for li in entries] == [
        ("0.000", "00:00 Accueil"), ("125.000", f"02:05 Débat {EVIL}")]
    assert [a.get("href") for li in entries for a in li.iter("a")] == ["#t=0", "#t=125"]
    # Nothing marked, nothing shown.
    assert "villes-2026/table-ronde/chapters.vtt" not in store.objects
    other = parse(store.objects["villes-2026/table-ronde/index.html"].decode())
    assert other.find(".//ol[@id='chapters']") is None
    assert [t for t in other.iter("track") if t.get("kind") == "chapters"] == []
