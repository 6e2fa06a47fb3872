"""What the ladder needs to know about a source's video beyond probing: its H.264
profile, pixel format, field order and bitrate, and its keyframes near given times.

One ffprobe with the probed demuxer forced and the file protocol only (HTTP(S) only for
our store's URL, `probe.StoreUrl`), reading packet headers in short intervals
(``-read_intervals``): no decoding, a few megabytes read whatever the recording's length.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from replay.domain.ladder import SourceVideo, longest_gop
from replay.media.probe import MediaInfo, MediaInput, input_arg, input_protocols
from replay.media.runner import run_capture

#: Seconds read before and after each time asked for: longer than any GOP copied.
KEYFRAME_WINDOW = 10.0


def _intervals(around: Sequence[float], window: float) -> str:
    return ",".join(f"{max(0.0, t - window):.3f}%{t + window:.3f}" for t in sorted(around))


def source_video_argv(src: MediaInput, info: MediaInfo, around: Sequence[float] = (0.0,), *,
                      window: float = KEYFRAME_WINDOW, ffprobe: str = "ffprobe") -> list[str]:
    """ffprobe's argv: the first video stream's details, and its packets near ``around``."""
    return [
        ffprobe, "-v", "error", "-hide_banner",
        "-f", info.format_name, "-protocol_whitelist", input_protocols(src),
        "-select_streams", "v:0",
        "-read_intervals", _intervals(around or [0.0], window),
        "-show_entries", "stream=codec_name,profile,pix_fmt,field_order,bit_rate"
                         ":packet=pts_time,duration_time,size,flags:format=start_time",
        "-print_format", "json",
        input_arg(src),
    ]  # fmt: skip


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def _kbps(stream: dict[str, Any], packets: list[dict[str, Any]]) -> int:
    """The stream's bitrate, or (containers that do not say) the packets' read."""
    declared = _float(stream.get("bit_rate"))
    if declared:
        return round(declared / 1000)
    sized = [(_float(p.get("size")) or 0.0, _float(p.get("duration_time")) or 0.0)
             for p in packets]
    seconds = sum(duration for _, duration in sized)
    return round(sum(size for size, _ in sized) * 8 / seconds / 1000) if seconds > 0 else 0


def parse_source_video(raw: str | bytes, info: MediaInfo, around: Sequence[float] = (0.0,),
                       window: float = KEYFRAME_WINDOW) -> SourceVideo:
    """A :class:`SourceVideo` from the JSON of :func:`source_video_argv` (same ``around``
    and ``window``)."""
    data = json.loads(raw or b"{}")
    stream = (data.get("streams") or [{}])[0]
    packets = [p for p in data.get("packets") or [] if _float(p.get("pts_time")) is not None]
    start = _float((data.get("format") or {}).get("start_time")) or 0.0
    keyframes = sorted({round(float(p["pts_time"]) - start, 6)
                        for p in packets if "K" in str(p.get("flags", ""))})
    return SourceVideo(
        codec=str(stream.get("codec_name", "")),
        profile=str(stream.get("profile", "")),
        pix_fmt=str(stream.get("pix_fmt", "")),
        field_order=str(stream.get("field_order", "")),
        width=info.width,
        height=info.height,
        displayed_as_stored=info.rotation % 360 == 0 and info.sample_aspect == 1,
        fps=info.fps,
        kbps=_kbps(stream, packets),
        keyframes=tuple(keyframes),
        gop=longest_gop(keyframes, around, window),
    )


async def probe_source_video(src: MediaInput, info: MediaInfo, around: Sequence[float], *,
                             timeout: float = 60) -> SourceVideo:  # noqa: ASYNC109
    """The source's video details and its keyframes within a window of each of ``around``."""
    raw = await run_capture(source_video_argv(src, info, around), timeout=timeout)
    return parse_source_video(raw, info, around)
