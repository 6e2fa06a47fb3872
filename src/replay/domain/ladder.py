"""The HLS bitrate ladder: which renditions a session gets, from the source's size.

Rungs are named after their *short side* ("720p" is 1280x720 for a landscape
source and 720x1280 for a portrait one), which is how players and video sites
name them. Callers pass the source's *display* size (sample aspect ratio and
rotation applied, see ``MediaInfo.display_size``), so anamorphic and rotated
phone recordings come out with square pixels and the right orientation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: BANDWIDTH in the master playlist is the nominal bitrate plus 1/10 (container
#: overhead and rate-control peaks). ffmpeg's HLS muxer adds the same tenth, so
#: :func:`bandwidth` matches what it writes.
BANDWIDTH_OVERHEAD_DIVISOR = 10

#: Floor for the video bitrate of a rung made for a source smaller than the
#: smallest rung of the ladder.
MIN_VIDEO_KBPS = 150


@dataclass(frozen=True)
class Rung:
    """One rendition. The audio-only rung has ``width == height == video_kbps == 0``."""

    name: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int

    @property
    def is_audio_only(self) -> bool:
        return self.video_kbps == 0


DEFAULT_LADDER: tuple[Rung, ...] = (
    Rung("1080p", 1920, 1080, 5000, 128),
    Rung("720p", 1280, 720, 2800, 128),
    Rung("480p", 854, 480, 1400, 96),
    Rung("360p", 640, 360, 800, 96),
    # Speech from a room: 64 kb/s AAC is clear, and small enough for poor links.
    Rung("audio", 0, 0, 0, 64),
)


def _even(value: float, limit: int) -> int:
    """Nearest even integer, at least 2 and at most ``limit`` rounded down to even.

    H.264 4:2:0 needs even dimensions; the limit keeps rounding from upscaling.
    """
    return max(2, min(2 * round(value / 2), limit - limit % 2))


def _fit(rung: Rung, width: int, height: int, short: int) -> Rung:
    """The rung scaled so that the source's short side becomes ``short`` pixels."""
    if width >= height:
        size = (_even(short * width / height, width), _even(short, height))
    else:
        size = (_even(short, width), _even(short * height / width, height))
    return Rung(rung.name, size[0], size[1], rung.video_kbps, rung.audio_kbps)


def _own_size_rung(smallest: Rung, width: int, height: int) -> Rung:
    """One rung at the source's own size, for sources below the whole ladder."""
    short = _even(min(width, height), min(width, height))
    ratio = (width * height) / (smallest.width * smallest.height)
    kbps = max(MIN_VIDEO_KBPS, round(smallest.video_kbps * ratio))
    template = Rung(f"{short}p", 0, 0, kbps, smallest.audio_kbps)
    return _fit(template, width, height, short)


def choose_ladder(
    source_width: int, source_height: int, ladder: Sequence[Rung] = DEFAULT_LADDER
) -> list[Rung]:
    """The rungs to encode for a source of this display size, largest first.

    No video rung is larger than the source (its short side bounds the rung
    height); widths keep the source's aspect ratio, rounded to even numbers. A
    source smaller than every rung gets one rung at its own size. The list
    always ends with the ladder's audio-only rung; a source without a picture
    (zero size) gets only that one.
    """
    audio = [rung for rung in ladder if rung.is_audio_only]
    if not audio:
        raise ValueError("the ladder has no audio-only rung")
    video = sorted((r for r in ladder if not r.is_audio_only), key=lambda r: -r.height)
    if source_width <= 0 or source_height <= 0 or not video:
        return audio[:1]
    short = min(source_width, source_height)
    chosen = [_fit(r, source_width, source_height, r.height) for r in video if r.height <= short]
    if not chosen:
        chosen = [_own_size_rung(video[-1], source_width, source_height)]
    return [*chosen, audio[0]]


def bandwidth(rung: Rung) -> int:
    """BANDWIDTH for the master playlist, in bits per second, overhead included."""
    bits = (rung.video_kbps + rung.audio_kbps) * 1000
    return bits + bits // BANDWIDTH_OVERHEAD_DIVISOR
