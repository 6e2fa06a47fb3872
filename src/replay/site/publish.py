"""Publish processed sessions to the object store: media first, then playlists, then
pages, and the event index last, so a reader never follows a link to something missing.
Objects whose content did not change are not uploaded again.

HLS segments are published under names made of their content's SHA-256, and the variant
playlists are rewritten to name them so: segments are cached as immutable for a year,
and a re-cut writes new names instead of new content under the old ones. Once the
index is published, what it no longer reaches under each published session's folder
(and the event's assets) is deleted. Files are hashed in threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from replay.domain.captions import transcript_passages
from replay.domain.chapters import Chapter, chapters_webvtt
from replay.domain.cutplan import Cut
from replay.domain.model import Event, Session, path_component
from replay.domain.podcast import PodcastOptions, relative_links_warning
from replay.domain.webvtt import parse_webvtt
from replay.locale import _
from replay.media.commands import MASTER_PLAYLIST, add_subtitle_renditions
from replay.media.timestamps import timestamp_map
from replay.site.feeds import FeedItem, atom_feed, podcast_feed
from replay.site.pages import (
    EMBED_PAGE,
    SessionPage,
    render_embed_page,
    render_event_page,
    render_search_page,
    render_session_page,
    static_assets,
    with_related,
)
from replay.site.search import search_index
from replay.storage.port import ObjectStore, sha256_of_file

log = logging.getLogger(__name__)

SUBTITLE_NAMES = {"fr": "Français", "en": "English"}
SUBTITLE_FILES = ("subtitles.fr.vtt", "subtitles.en.vtt")
TRANSCRIPT_FILES = ("transcript.fr.txt", "transcript.fr.json")
CHAPTERS_FILE = "chapters.vtt"
#: Hex digits of a segment's SHA-256 in its published name (128 bits).
SEGMENT_NAME_DIGITS = 32
_URI_ATTRIBUTE = re.compile(r'URI="([^"]+)"')


@dataclass(frozen=True, slots=True)
class SessionOutputs:
    cut: Cut
    room: str
    session: Session
    media_dir: Path
    speech_dir: Path
    #: The languages whose captions are unreviewed machine output (labelled as such on
    #: the page); None leaves it to `publish_event`'s `drafts` (all of them, or none).
    automatic_languages: frozenset[str] | None = None
    #: Whether people corrected the French captions: the transcript, its downloads and the
    #: search index then come from them (``subtitles.fr.vtt``), not from Whisper's run.
    captions_edited: bool = False
    #: An instant replay made from the live's segments (labelled « Rediffusion du direct »
    #: until the full pass replaces it).
    live_replay: bool = False
    #: The chapters editors marked (none: the page shows none).
    chapters: tuple[Chapter, ...] = ()


@dataclass
class Uploader:
    """Uploads only what changed, counting what it did and remembering every key it
    wrote or found already there (what the publication reaches)."""

    objects: ObjectStore
    uploaded: int = 0
    unchanged: int = 0
    pruned: int = 0
    keys: set[str] = field(default_factory=set)
    #: What the organiser should know about this publication (French).
    warnings: list[str] = field(default_factory=list)

    async def file(self, key: str, path: Path, sha256: str | None = None) -> None:
        """Upload `path` under `key` unless it is there already (`sha256`: its digest,
        when the caller has it)."""
        self.keys.add(key)
        digest = sha256 or await asyncio.to_thread(sha256_of_file, path)
        if await self.objects.digest(key) == digest:
            self.unchanged += 1
            return
        await self.objects.put_file(key, path)
        self.uploaded += 1

    async def data(self, key: str, data: bytes) -> None:
        self.keys.add(key)
        if await self.objects.digest(key) == hashlib.sha256(data).hexdigest():
            self.unchanged += 1
            return
        await self.objects.put_bytes(key, data)
        self.uploaded += 1

    async def prune(self, prefixes: Iterable[str]) -> None:
        """Delete what is under `prefixes` and was not part of this publication."""
        for prefix in prefixes:
            for key in await self.objects.list_keys(prefix):
                if key not in self.keys:
                    await self.objects.delete(key)
                    self.pruned += 1


async def publish_event(
    objects: ObjectStore,
    event: Event,
    outputs: Sequence[SessionOutputs],
    *,
    drafts: bool,
    on_progress: Callable[[float], None] | None = None,
    base_url: str = "",
    podcast: PodcastOptions | None = None,
) -> Uploader:
    """Publish every session, then the event's index files, the index page last.

    ``base_url`` is the site's public address (the folder holding the events); the
    feeds link with absolute URLs under it, or relative to themselves when it is empty
    (podcast apps refuse those: the uploader's ``warnings`` say so). ``podcast``: the
    event's podcast options (its feed's iTunes tags).
    """
    uploader = Uploader(objects)
    if not base_url:
        uploader.warnings.append(_(relative_links_warning()))
        log.warning("event %s: the feeds carry relative links (no public_url)", event.slug)
    for name, data in static_assets():
        await uploader.data(f"{event.slug}/assets/{name}", data)
    ordered = sorted(outputs, key=lambda o: (o.session.start, o.room))
    pages = with_related([_page(event, item, drafts) for item in ordered])
    for done, (item, page) in enumerate(zip(ordered, pages, strict=True), start=1):
        await publish_session(uploader, event, item, page)
        if on_progress is not None:
            on_progress(done / (len(ordered) + 1))
    await _publish_index(uploader, event, ordered, pages, base_url=base_url, podcast=podcast)
    await uploader.prune([f"{event.slug}/assets/",
                          *(f"{session_prefix(event, item.session.slug)}/"
                            for item in ordered)])
    if on_progress is not None:
        on_progress(1.0)
    return uploader


async def publish_session(uploader: Uploader, event: Event, item: SessionOutputs,
                          page: SessionPage) -> None:
    prefix = session_prefix(event, item.session.slug)
    variants = await _publish_segments(uploader, prefix, item.media_dir / "hls")
    for name in ("replay.mp4", "audio.m4a", "poster.jpg"):
        if (item.media_dir / name).exists():
            await uploader.file(f"{prefix}/{name}", item.media_dir / name)
    for name in SUBTITLE_FILES:
        await uploader.file(f"{prefix}/{name}", item.speech_dir / name)
    for name, data in transcript_files(item).items():
        await uploader.data(f"{prefix}/{name}", data)
    if item.chapters:
        await uploader.data(f"{prefix}/{CHAPTERS_FILE}",
                            chapters_webvtt(item.chapters, item.cut.duration).encode())
    await _publish_playlists(uploader, prefix, item, variants)
    await uploader.data(f"{prefix}/{EMBED_PAGE}", render_embed_page(event, page).encode())
    await uploader.data(f"{prefix}/index.html", render_session_page(event, page).encode())


async def _publish_segments(uploader: Uploader, prefix: str, hls: Path) -> dict[str, str]:
    """Upload the segments each variant playlist names, under content names; the
    playlists rewritten to those names, by their path under ``hls/``."""
    variants = {}
    for variant in await asyncio.to_thread(lambda: sorted(hls.glob("*/index.m3u8"))):
        text = await asyncio.to_thread(variant.read_text, encoding="utf-8")
        names = {}
        for uri in segment_uris(text):
            source = variant.parent / uri
            digest = await asyncio.to_thread(sha256_of_file, source)
            names[uri] = content_name(uri, digest)
            folder = variant.parent.relative_to(hls).as_posix()
            await uploader.file(f"{prefix}/hls/{folder}/{names[uri]}", source, digest)
        variants[variant.relative_to(hls).as_posix()] = rename_segments(text, names)
    return variants


def segment_uris(playlist: str) -> list[str]:
    """The local files a media playlist names: segment lines and ``URI="..."``
    attributes (an fMP4 init section), in order, once each."""
    found: dict[str, None] = {}
    for line in playlist.splitlines():
        candidates = _URI_ATTRIBUTE.findall(line) if line.startswith("#") else [line.strip()]
        for uri in candidates:
            if uri and "://" not in uri and not uri.startswith("/") and ".." not in uri:
                found[uri] = None
    return list(found)


def content_name(uri: str, sha256: str) -> str:
    """``seg_00003.ts`` with SHA-256 ``ab12...`` becomes ``ab12...(32 digits).ts``."""
    return sha256[:SEGMENT_NAME_DIGITS] + PurePosixPath(uri).suffix


def rename_segments(playlist: str, names: dict[str, str]) -> str:
    """`playlist` with each segment URI (line or attribute) replaced by its new name."""
    def attribute(match: re.Match[str]) -> str:
        return f'URI="{names.get(match.group(1), match.group(1))}"'

    lines = []
    for line in playlist.splitlines(keepends=True):
        if line.startswith("#"):
            lines.append(_URI_ATTRIBUTE.sub(attribute, line))
        else:
            body = line.rstrip("\r\n")
            lines.append(names.get(body.strip(), body) + line[len(body):])
    return "".join(lines)


async def _publish_playlists(uploader: Uploader, prefix: str, item: SessionOutputs,
                             variants: dict[str, str]) -> None:
    hls = item.media_dir / "hls"
    start = float((hls / "start_time.txt").read_text() or 0)
    for name, text in variants.items():
        await uploader.data(f"{prefix}/hls/{name}", text.encode())
    renditions = []
    for language, name in SUBTITLE_NAMES.items():
        vtt = (item.speech_dir / f"subtitles.{language}.vtt").read_text(encoding="utf-8")
        await uploader.data(f"{prefix}/hls/subtitles.{language}.vtt",
                            with_timestamp_map(vtt, start).encode())
        await uploader.data(f"{prefix}/hls/subtitles.{language}.m3u8",
                            subtitle_playlist(f"subtitles.{language}.vtt",
                                              item.cut.duration).encode())
        renditions.append((language, name, f"subtitles.{language}.m3u8", language == "fr"))
    master = (hls / MASTER_PLAYLIST).read_text(encoding="utf-8")
    await uploader.data(f"{prefix}/hls/{MASTER_PLAYLIST}",
                        add_subtitle_renditions(master, renditions).encode())


def with_timestamp_map(vtt: str, start_time: float) -> str:
    header, _, rest = vtt.partition("\n")
    return f"{header}\n{timestamp_map(start_time)}\n{rest}"


def subtitle_playlist(uri: str, duration: float) -> str:
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n"
        f"#EXT-X-TARGETDURATION:{max(1, math.ceil(duration))}\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        f"#EXTINF:{duration:.3f},\n{uri}\n#EXT-X-ENDLIST\n"
    )


def _page(event: Event, item: SessionOutputs, drafts: bool) -> SessionPage:
    transcript = json.loads(transcript_files(item)["transcript.fr.json"])
    automatic = item.automatic_languages
    if automatic is None:
        automatic = frozenset(SUBTITLE_NAMES) if drafts else frozenset()
    return SessionPage(
        session=item.session,
        cut=item.cut,
        room=item.room,
        has_poster=(item.media_dir / "poster.jpg").exists(),
        drafts="fr" in automatic,
        segments=tuple((s["start"], s["text"]) for s in transcript["segments"]),
        has_audio=(item.media_dir / "audio.m4a").exists(),
        automatic_languages=automatic,
        live_replay=item.live_replay,
        chapters=tuple((c.start, c.title) for c in item.chapters),
    )


def transcript_files(item: SessionOutputs) -> dict[str, bytes]:
    """The transcript as text and JSON: Whisper's own files while nobody corrected the
    French captions, otherwise made from those captions (so the page, the downloads and
    the search find what the editors wrote)."""
    if not item.captions_edited:
        return {name: (item.speech_dir / name).read_bytes() for name in TRANSCRIPT_FILES}
    vtt = (item.speech_dir / "subtitles.fr.vtt").read_text(encoding="utf-8")
    passages = transcript_passages(parse_webvtt(vtt))
    text = "\n".join(p.text for p in passages) + "\n"
    data = {"language": "fr", "source": "subtitles.fr.vtt",
            "segments": [{"start": p.start, "end": p.end, "text": p.text} for p in passages]}
    return {"transcript.fr.txt": text.encode("utf-8"),
            "transcript.fr.json": json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")}


async def _publish_index(uploader: Uploader, event: Event, ordered: Sequence[SessionOutputs],
                         pages: Sequence[SessionPage], *, base_url: str,
                         podcast: PodcastOptions | None) -> None:
    """The event's lists, search index and feeds, then its page (which links to them)."""
    items = [_feed_item(item, page) for item, page in zip(ordered, pages, strict=True)]
    prefix = event.slug
    await uploader.data(f"{prefix}/replays.json", replays_json(pages).encode())
    await uploader.data(f"{prefix}/search.json", search_index(pages).encode())
    await uploader.data(f"{prefix}/recherche.html", render_search_page(event).encode())
    await uploader.data(f"{prefix}/atom.xml", atom_feed(event, items, base_url=base_url))
    await uploader.data(f"{prefix}/podcast.xml", podcast_feed(event, items, base_url=base_url,
                                                                podcast=podcast))
    await uploader.data(f"{prefix}/index.html", render_event_page(event, pages).encode())


def _feed_item(item: SessionOutputs, page: SessionPage) -> FeedItem:
    audio = item.media_dir / "audio.m4a"
    return FeedItem(page=page, video_bytes=(item.media_dir / "replay.mp4").stat().st_size,
                    audio_bytes=audio.stat().st_size if page.has_audio else None)


def replays_json(pages: Sequence[SessionPage]) -> str:
    entries = []
    for page in pages:
        slug = page.session.slug
        entries.append({
            "guid": page.session.guid,
            "title": page.session.title,
            "room": page.room,
            "recording_offset_start": page.cut.start,
            "recording_offset_end": page.cut.end,
            "hls": f"{slug}/hls/{MASTER_PLAYLIST}",
            "mp4": f"{slug}/replay.mp4",
            "poster": f"{slug}/poster.jpg" if page.has_poster else None,
            "subtitles": {lang: f"{slug}/subtitles.{lang}.vtt" for lang in SUBTITLE_NAMES},
            "transcript": f"{slug}/transcript.fr.txt",
            "transcript_json": f"{slug}/transcript.fr.json",
            "captions": "automatic" if page.drafts else "reviewed",  # the French track
            "captions_by_language": {lang: "automatic" if lang in page.automatic_languages
                                     else "reviewed" for lang in SUBTITLE_NAMES},
            "live_replay": page.live_replay,
        })
    return json.dumps({"replays": entries}, ensure_ascii=False, indent=1)


def session_prefix(event: Event, slug: str) -> str:
    """``<event>/<slug>``: the session's key prefix; a slug (a guid where the programme
    lost the session) that is not one safe component is refused (`path_component`)."""
    return f"{path_component(event.slug)}/{path_component(slug)}"


async def unpublish_session(objects: ObjectStore, event: Event, slug: str) -> int:
    """Delete every object of a session (`<event>/<slug>/...`); returns how many.

    The caller first publishes the event's index without the session, so that no index
    links here any more. Deletion then runs in the reverse of the publication order (the
    page, then playlists, then media), so what remains at any moment only refers to
    objects that are still there. Deleting what is already gone is no error: an
    interrupted unpublish is completed by running it again.
    """
    prefix = f"{session_prefix(event, slug)}/"
    keys = await objects.list_keys(prefix)
    for key in sorted(keys, key=_deletion_rank):
        await objects.delete(key)
    return len(keys)


def _deletion_rank(key: str) -> tuple[int, str]:
    if key.endswith(".html"):
        return 0, key
    if key.endswith(".m3u8"):
        return (1 if key.endswith(f"/{MASTER_PLAYLIST}") else 2), key
    return 3, key
