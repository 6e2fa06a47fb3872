"""The HLS bitrate ladder: which renditions a session gets, from the source's size.

Rungs are named after their *short side* ("720p" is 1280x720 for a landscape
source and 720x1280 for a portrait one), which is how players and video sites
name them. Callers pass the source's *display* size (sample aspect ratio and
rotation applied, see ``MediaInfo.display_size``), so anamorphic and rotated
phone recordings come out with square pixels and the right orientation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

#: BANDWIDTH in the master playlist is the nominal bitrate plus 1/10 (container
#: overhead and rate-control peaks). ffmpeg's HLS muxer adds the same tenth, so
#: :func:`bandwidth` matches what it writes.
BANDWIDTH_OVERHEAD_DIVISOR = 10

#: Floor for the video bitrate of a rung made for a source smaller than the
#: smallest rung of the ladder.
MIN_VIDEO_KBPS = 150


@dataclass(frozen=True)
class Rung:
    """One rendition. The audio-only rung has ``width == height == video_kbps == 0``.

    ``copy_video``: the rung is the source's own video stream, copied without
    re-encoding (see :func:`with_passthrough`); ``video_kbps`` is then the source's.
    """

    name: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int
    copy_video: bool = False

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


#: H.264 profiles every HLS player decodes (8-bit 4:2:0); High 10, 4:2:2 and 4:4:4 are not.
PASSTHROUGH_PROFILES = frozenset({"Constrained Baseline", "Baseline", "Main", "High"})
PASSTHROUGH_PIXEL_FORMATS = frozenset({"yuv420p", "yuvj420p"})
#: Field orders of progressive video (``unknown``: the container does not say, as MP4 from
#: x264 or OBS); interlaced video is deinterlaced by the encoded rungs, never copied.
PROGRESSIVE = frozenset({"progressive", "unknown", ""})
MAX_PASSTHROUGH_FPS = 60.0


@dataclass(frozen=True, slots=True)
class SourceVideo:
    """What decides whether a source's video stream can be copied as the top rung.

    ``width``/``height`` are the stored size; ``displayed_as_stored`` is False when a
    sample aspect ratio or a rotation changes what players would show. ``kbps`` is 0
    when unknown; ``keyframes`` are the times (seconds from the recording's start) of
    the keyframes found near the times asked for, sorted; ``gop`` is the longest interval
    seen between two consecutive ones (0 when fewer than two were seen together).
    """

    codec: str
    profile: str
    pix_fmt: str
    field_order: str
    width: int
    height: int
    displayed_as_stored: bool
    fps: float
    kbps: int
    keyframes: tuple[float, ...] = ()
    gop: float = 0.0


def longest_gop(keyframes: Sequence[float], around: Sequence[float], window: float) -> float:
    """The longest interval between consecutive keyframes within ``window`` seconds of
    one of ``around`` (keyframes near different times are not neighbours); 0 when no
    such pair exists."""
    gaps = [b - a
            for t in around
            for a, b in pairwise(sorted(k for k in keyframes if abs(k - t) <= window))]
    return max(gaps, default=0.0)


@dataclass(frozen=True, slots=True)
class PassthroughRules:
    #: The source may exceed the top rung's nominal bitrate by this factor.
    max_bitrate_ratio: float = 1.6
    #: Longest keyframe interval copied: it bounds the segment length and how far a
    #: session's cut moves to land on a keyframe.
    max_gop_seconds: float = 4.0


def _stream_refusal(source: SourceVideo) -> str | None:
    if source.codec != "h264":
        return f"codec {source.codec or 'unknown'} is not H.264"
    if source.profile not in PASSTHROUGH_PROFILES:
        return f"H.264 profile {source.profile or 'unknown'} is not one every player decodes"
    if source.pix_fmt not in PASSTHROUGH_PIXEL_FORMATS:
        return f"pixel format {source.pix_fmt or 'unknown'} is not 8-bit 4:2:0"
    if source.field_order not in PROGRESSIVE:
        return f"interlaced video ({source.field_order})"
    if not 0 < source.fps <= MAX_PASSTHROUGH_FPS:
        return f"frame rate {source.fps:g} is outside 0–{MAX_PASSTHROUGH_FPS:g}"
    return None


def passthrough_refusal(source: SourceVideo, top: Rung, rules: PassthroughRules) -> str | None:
    """Why the source's video cannot be copied as the ``top`` rung, or None when it can."""
    refusal = _stream_refusal(source)
    if refusal is not None:
        return refusal
    if not source.displayed_as_stored or (source.width, source.height) != (top.width, top.height):
        return f"{source.width}x{source.height} is not the {top.width}x{top.height} of {top.name}"
    if not 0 < source.kbps <= top.video_kbps * rules.max_bitrate_ratio:
        return (f"bitrate {source.kbps or 'unknown'} kb/s is above {rules.max_bitrate_ratio:g} "
                f"x {top.video_kbps} kb/s")
    if not 0 < source.gop <= rules.max_gop_seconds:
        return f"keyframes are more than {rules.max_gop_seconds:g} s apart"
    return None


def with_passthrough(rungs: Sequence[Rung], source: SourceVideo,
                     rules: PassthroughRules = PassthroughRules()) -> list[Rung]:
    """``rungs`` (from :func:`choose_ladder`) with the top video rung copied from the
    source when the source fits it; unchanged otherwise."""
    video = [rung for rung in rungs if not rung.is_audio_only]
    if not video or passthrough_refusal(source, video[0], rules) is not None:
        return list(rungs)
    top = replace(video[0], video_kbps=source.kbps, copy_video=True)
    return [top if rung is video[0] else rung for rung in rungs]


def is_keyframe(at: float, keyframes: Sequence[float], tolerance: float = 0.0005) -> bool:
    """Whether a source keyframe lies at ``at`` seconds (within ``tolerance``)."""
    return any(abs(at - keyframe) <= tolerance for keyframe in keyframes)
