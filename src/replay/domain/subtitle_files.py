"""A subtitle file imported by an editor, read and checked in one call that returns plain
data: the web runs it in a worker process (pure-Python parsing of a large file in a thread
would hold the interpreter lock and stall the event loop). Pure logic, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

from replay.domain.captions import CaptionError, validate_cues
from replay.domain.errors import N_, SubtitleError, line_error
from replay.domain.srt import parse_srt
from replay.domain.transcript import Cue
from replay.domain.webvtt import parse_webvtt

NBSP: Final = "\u00a0"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why cues were refused: the reason (shown in French with `replay.locale.describe`),
    and the file's line or the cue (1-based) it concerns when known."""

    reason: SubtitleError
    line: int | None = None
    cue: int | None = None


def parse_subtitles(data: bytes, filename: str) -> list[Cue]:
    """The file's cues, by its extension (or its WEBVTT header); SubtitleError if bad."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise line_error(line, N_("the file must be UTF-8")) from None
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix == ".srt":
        return parse_srt(text)
    if suffix == ".vtt" or text.removeprefix("\ufeff").startswith("WEBVTT"):
        return parse_webvtt(text, strict_markup=True)
    raise line_error(1, N_("unknown format, send a .vtt or .srt file"))


def imported_cues(data: bytes, filename: str) -> list[Cue] | Refusal:
    """The file's cues, parsed and validated, or why they are refused."""
    try:
        cues = parse_subtitles(data, filename)
    except SubtitleError as exc:
        line = exc.values.get("line")
        return Refusal(exc, line=line if isinstance(line, int) else None)
    return validated_cues(cues)


def validated_cues(cues: Sequence[Cue]) -> list[Cue] | Refusal:
    """The cues cleaned and checked, or why they are refused (the cue it concerns)."""
    try:
        return validate_cues(cues)
    except CaptionError as exc:
        return Refusal(exc, cue=exc.cue)
