"""Publish processed sessions to the object store: media first, then playlists, then
pages, and the event index last, so a reader never follows a link to something missing.
Objects whose content did not change are not uploaded again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from replay.domain.cutplan import Cut
from replay.domain.model import Event, Session
from replay.media.commands import MASTER_PLAYLIST, add_subtitle_renditions
from replay.media.timestamps import timestamp_map
from replay.site.pages import SessionPage, render_event_page, render_session_page, static_assets
from replay.storage.port import ObjectStore, sha256_of_file

SUBTITLE_NAMES = {"fr": "Français", "en": "English"}
SPEECH_FILES = ("subtitles.fr.vtt", "subtitles.en.vtt", "transcript.fr.txt",
                "transcript.fr.json")


@dataclass(frozen=True, slots=True)
class SessionOutputs:
    cut: Cut
    room: str
    session: Session
    media_dir: Path
    speech_dir: Path


@dataclass
class Uploader:
    """Uploads only what changed, counting what it did."""

    objects: ObjectStore
    uploaded: int = 0
    unchanged: int = 0

    async def file(self, key: str, path: Path) -> None:
        if await self.objects.digest(key) == sha256_of_file(path):
            self.unchanged += 1
            return
        await self.objects.put_file(key, path)
        self.uploaded += 1

    async def data(self, key: str, data: bytes) -> None:
        import hashlib

        if await self.objects.digest(key) == hashlib.sha256(data).hexdigest():
            self.unchanged += 1
            return
        await self.objects.put_bytes(key, data)
        self.uploaded += 1


async def publish_event(
    objects: ObjectStore,
    event: Event,
    outputs: Sequence[SessionOutputs],
    *,
    drafts: bool,
    on_progress: Callable[[float], None] | None = None,
) -> Uploader:
    uploader = Uploader(objects)
    for name, data in static_assets():
        await uploader.data(f"{event.slug}/assets/{name}", data)
    ordered = sorted(outputs, key=lambda o: (o.session.start, o.room))
    for done, item in enumerate(ordered, start=1):
        await publish_session(uploader, event, item, drafts=drafts)
        if on_progress is not None:
            on_progress(done / (len(ordered) + 1))
    pages = [_page(event, item, drafts) for item in ordered]
    await uploader.data(f"{event.slug}/replays.json", replays_json(pages).encode())
    await uploader.data(f"{event.slug}/index.html", render_event_page(event, pages).encode())
    if on_progress is not None:
        on_progress(1.0)
    return uploader


async def publish_session(uploader: Uploader, event: Event, item: SessionOutputs,
                          *, drafts: bool) -> None:
    prefix = f"{event.slug}/{item.session.slug}"
    hls = item.media_dir / "hls"
    for segment in sorted(hls.rglob("*.ts")):
        await uploader.file(f"{prefix}/hls/{segment.relative_to(hls).as_posix()}", segment)
    for name in ("replay.mp4", "poster.jpg"):
        if (item.media_dir / name).exists():
            await uploader.file(f"{prefix}/{name}", item.media_dir / name)
    for name in SPEECH_FILES:
        await uploader.file(f"{prefix}/{name}", item.speech_dir / name)
    await _publish_playlists(uploader, prefix, item)
    page = _page(event, item, drafts)
    await uploader.data(f"{prefix}/index.html", render_session_page(event, page).encode())


async def _publish_playlists(uploader: Uploader, prefix: str, item: SessionOutputs) -> None:
    hls = item.media_dir / "hls"
    start = float((hls / "start_time.txt").read_text() or 0)
    for variant in sorted(hls.glob("*/index.m3u8")):
        await uploader.file(f"{prefix}/hls/{variant.relative_to(hls).as_posix()}", variant)
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
    transcript = json.loads((item.speech_dir / "transcript.fr.json").read_text("utf-8"))
    return SessionPage(
        session=item.session,
        cut=item.cut,
        room=item.room,
        has_poster=(item.media_dir / "poster.jpg").exists(),
        drafts=drafts,
        segments=tuple((s["start"], s["text"]) for s in transcript["segments"]),
    )


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
            "captions": "automatic" if page.drafts else "reviewed",
        })
    return json.dumps({"replays": entries}, ensure_ascii=False, indent=1)
