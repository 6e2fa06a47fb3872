"""Where our own HLS segments start on the MPEG-TS clock, for WebVTT's X-TIMESTAMP-MAP."""

from __future__ import annotations

import json
from pathlib import Path

from replay.media.probe import path_arg
from replay.media.runner import run_capture

MPEGTS_CLOCK = 90000


def segment_start_argv(segment: Path, *, ffprobe: str = "ffprobe") -> list[str]:
    return [
        ffprobe, "-v", "error", "-f", "mpegts", "-protocol_whitelist", "file",
        "-show_entries", "format=start_time", "-print_format", "json", path_arg(segment),
    ]  # fmt: skip


def parse_start_time(raw: bytes) -> float:
    value = json.loads(raw).get("format", {}).get("start_time")
    return float(value) if value not in (None, "N/A") else 0.0


async def segment_start(segment: Path, *, timeout: float = 60) -> float:  # noqa: ASYNC109
    return parse_start_time(await run_capture(segment_start_argv(segment), timeout=timeout))


def timestamp_map(start_time: float) -> str:
    """The header line that ties WebVTT cue times to the segments' clock."""
    return f"X-TIMESTAMP-MAP=MPEGTS:{round(start_time * MPEGTS_CLOCK)},LOCAL:00:00:00.000"
