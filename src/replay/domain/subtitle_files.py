"""A subtitle file imported by an editor, read and checked in one call that returns plain
data: the web runs it in a worker process (pure-Python parsing of a large file in a thread
would hold the interpreter lock and stall the event loop). Pure logic, no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

from replay.domain.captions import CaptionError, validate_cues
from replay.domain.errors import SubtitleError
from replay.domain.srt import parse_srt
from replay.domain.transcript import Cue
from replay.domain.webvtt import parse_webvtt

NBSP: Final = "\u00a0"
_LINE: Final = re.compile(r"ligne ([0-9]+)")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why cues were refused: the French reason, and the file's line or the cue (1-based)
    it concerns when known."""

    reason: str
    line: int | None = None
    cue: int | None = None


def parse_subtitles(data: bytes, filename: str) -> list[Cue]:
    """The file's cues, by its extension (or its WEBVTT header); SubtitleError if bad."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SubtitleError(f"ligne {line}{NBSP}: le fichier doit être en UTF-8") from None
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix == ".srt":
        return parse_srt(text)
    if suffix == ".vtt" or text.removeprefix("\ufeff").startswith("WEBVTT"):
        return parse_webvtt(text, strict_markup=True)
    raise SubtitleError(f"ligne 1{NBSP}: format inconnu, envoyez un fichier .vtt ou .srt")


def imported_cues(data: bytes, filename: str) -> list[Cue] | Refusal:
    """The file's cues, parsed and validated, or why they are refused."""
    try:
        cues = parse_subtitles(data, filename)
    except SubtitleError as exc:
        line = _LINE.match(str(exc))
        return Refusal(str(exc), line=int(line.group(1)) if line else None)
    return validated_cues(cues)


def validated_cues(cues: Sequence[Cue]) -> list[Cue] | Refusal:
    """The cues cleaned and checked, or why they are refused (the cue it concerns)."""
    try:
        return validate_cues(cues)
    except CaptionError as exc:
        return Refusal(str(exc), cue=exc.cue)
