"""The instant replay of a session, made from its live segments without re-encoding.

Media (the same layout as the VOD transcode, so publishing treats it the same way):
``hls/master.m3u8`` and ``hls/<rung>/index.m3u8``, VOD playlists over the live segments
where they already are in the object store (relative URLs, no copy); ``replay.mp4`` and
``audio.m4a`` remuxed from the download and audio rungs' segments; ``poster.jpg``.
Speech: the live captions of the session's span as automatic drafts (from a
`DraftCaptions` function: French, and English where the live made it; a language
without drafts gets empty subtitles, which the full pass fills).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from replay.domain.ladder import Rung
from replay.domain.transcript import Cue
from replay.domain.webvtt import render_webvtt
from replay.live import commands
from replay.live.playlists import master_playlist, replay_playlist, segment_name
from replay.live.store import LiveSegment
from replay.live.timeline import TakeClock
from replay.media.runner import run_ffmpeg
from replay.media.timestamps import MPEGTS_CLOCK


@dataclass(frozen=True, slots=True)
class TakeSpan:
    """Part of a take inside a replay: [start, end) on the take's clock, beginning
    `offset` seconds into the replay."""

    take_id: int
    start: float
    end: float
    offset: float


#: Draft captions by language ("fr", and "en" where the live made English too).
Drafts = Mapping[str, Sequence[Cue]]
#: The seam for the live captions: the cues of the session's spans, on the replay's clock.
DraftCaptions = Callable[[Sequence[TakeSpan]], Awaitable[Drafts]]


async def no_drafts(spans: Sequence[TakeSpan]) -> Drafts:
    return {}


@dataclass(frozen=True, slots=True)
class ReplaySource:
    """The session's segments per rung, where they are, and the takes they belong to."""

    rungs: tuple[Rung, ...]
    segments: Mapping[str, Sequence[LiveSegment]]
    local_folders: Mapping[tuple[int, str], Path]
    #: From the replay's `hls/<rung>/` folder to the day's folder in the object store.
    uri_to_day: str
    origins: Mapping[int, int]


def take_spans(segments: Sequence[LiveSegment]) -> list[TakeSpan]:
    spans: list[TakeSpan] = []
    offset = 0.0
    for segment in segments:
        if spans and spans[-1].take_id == segment.take:
            last = spans[-1]
            spans[-1] = TakeSpan(last.take_id, last.start, segment.start + segment.duration,
                                 last.offset)
        else:
            spans.append(TakeSpan(segment.take, segment.start,
                                  segment.start + segment.duration, offset))
        offset += segment.duration
    return spans


def download_rung(rungs: Sequence[Rung]) -> Rung:
    """The MP4's rung: 720p or the largest below it, as for the VOD replays."""
    video = [r for r in rungs if not r.is_audio_only]
    return next((r for r in video if r.height <= 720), video[0] if video else rungs[-1])


def audio_rung(rungs: Sequence[Rung]) -> Rung:
    return next(r for r in rungs if r.is_audio_only)


async def build_media(source: ReplaySource, media_dir: Path, *, timeout: float) -> None:  # noqa: ASYNC109
    shutil.rmtree(media_dir, ignore_errors=True)
    hls = media_dir / "hls"
    for rung in source.rungs:
        segments = source.segments.get(rung.name, ())
        (hls / rung.name).mkdir(parents=True)
        (hls / rung.name / "index.m3u8").write_text(
            replay_playlist(segments, f"{source.uri_to_day}/{rung.name}/"), encoding="utf-8")
    present = tuple(r for r in source.rungs if source.segments.get(r.name))
    (hls / "master.m3u8").write_text(master_playlist(present, "index.m3u8"), encoding="utf-8")
    first = source.segments[present[0].name][0]
    origin = source.origins.get(first.take, 0)
    (hls / "start_time.txt").write_text(f"{first.start + origin / MPEGTS_CLOCK:.6f}")
    download, audio = download_rung(source.rungs), audio_rung(source.rungs)
    await _remux(source, download, media_dir / "replay.mp4", "mp4", timeout)
    await _remux(source, audio, media_dir / "audio.m4a", "ipod", timeout)
    if not download.is_audio_only:
        await _poster(source, download, media_dir / "poster.jpg", timeout)


def _local(source: ReplaySource, rung: Rung, segment: LiveSegment) -> Path:
    return source.local_folders[(segment.take, rung.name)] / segment_name(segment.sequence)


async def _remux(source: ReplaySource, rung: Rung, target: Path, fmt: str,
                 timeout: float) -> None:  # noqa: ASYNC109 - the runner's limit
    paths = [_local(source, rung, s) for s in source.segments.get(rung.name, ())]
    listing = target.with_suffix(".ffconcat")
    listing.write_text(commands.ffconcat([p for p in paths if p.exists()]), encoding="utf-8")
    try:
        await run_ffmpeg(commands.concat_argv(listing, target, audio_only=rung.is_audio_only,
                                              output_format=fmt), timeout=timeout)
    finally:
        listing.unlink(missing_ok=True)


async def _poster(source: ReplaySource, rung: Rung, target: Path,
                  timeout: float) -> None:  # noqa: ASYNC109 - the runner's limit
    segments = list(source.segments.get(rung.name, ()))
    at = min(len(segments) - 1, max(0, len(segments) // 3))
    await run_ffmpeg(commands.poster_argv(_local(source, rung, segments[at]), target),
                     timeout=timeout)


def write_speech(speech_dir: Path, drafts: Drafts) -> None:
    """Draft captions in the layout of the VOD speech stage (English, when the live made
    none, waits for the full pass)."""
    shutil.rmtree(speech_dir, ignore_errors=True)
    speech_dir.mkdir(parents=True)
    cues = list(drafts.get("fr", ()))
    for language in ("fr", "en"):
        (speech_dir / f"subtitles.{language}.vtt").write_text(
            render_webvtt(list(drafts.get(language, ()))), encoding="utf-8")
    text = "\n".join(" ".join(cue.lines) for cue in cues)
    (speech_dir / "transcript.fr.txt").write_text(text + "\n", encoding="utf-8")
    segments = [{"start": c.start, "end": c.end, "text": " ".join(c.lines), "words": []}
                for c in cues]
    (speech_dir / "transcript.fr.json").write_text(
        json.dumps({"language": "fr", "segments": segments}, ensure_ascii=False, indent=1),
        encoding="utf-8")


def clocks_by_take(clocks: Sequence[TakeClock]) -> dict[int, TakeClock]:
    return {clock.take_id: clock for clock in clocks}
