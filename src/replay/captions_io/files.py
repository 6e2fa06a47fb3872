"""WebVTT and SRT files through webvtt-py, behind the strict validator.

webvtt-py reads, writes and converts subtitle files, but it drops a malformed cue
silently and leaves markup in cue text. So nothing reaches it unchecked:

- Reading (an editor's import): `replay.domain.subtitle_files.imported_cues` validates
  the file first (a French refusal naming the line; markup sanitised; limits and order
  checked); then webvtt-py reads it (its SRT reader for ``.srt``), and it must find the
  validator's cues, millisecond for millisecond: a file the two read differently is
  refused rather than half-imported. The cues kept are the validator's (sanitised text).
- Writing (exports): `replay.domain.webvtt.written_cues` checks and escapes the cues
  (kept tags only; ``&`` ``<`` ``>`` escaped; never a blank line inside a cue), then
  webvtt-py writes the WebVTT file, or converts the same captions to SubRip (keeping
  <i> <b> <u>; SRT has no character references, so those are turned back into text and a
  text « --> » into « -> »).

This module lives outside `replay.domain`, which stays free of I/O and file-format
libraries: webvtt-py is an adapter's dependency, like ffmpeg-python in `replay.media`.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Final

import webvtt
import webvtt.srt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from replay.domain.errors import SubtitleError
from replay.domain.subtitle_files import Refusal, imported_cues
from replay.domain.transcript import Cue
from replay.domain.webvtt import format_timestamp, written_cues
from replay.locale import N_

NBSP: Final = "\u00a0"
ARROW: Final = "-->"
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
DISAGREEMENT: Final = N_("Ambiguous file: its cues do not read the same way everywhere. Export "
                         "it again from your subtitling software.")


def read_subtitles(data: bytes, filename: str) -> list[Cue] | Refusal:
    """The file's cues, validated, then read by webvtt-py; or why they are refused."""
    checked = imported_cues(data, filename)
    if isinstance(checked, Refusal):
        return checked
    # Sanitised as the validator read it: no byte-order mark, no NUL, lines trimmed.
    text = data.decode("utf-8").removeprefix("\ufeff").replace("\0", "\ufffd")
    text = "\n".join(line.strip() for line in _LINE_BREAK.split(text))
    kind = "srt" if PurePosixPath(filename).suffix.lower() == ".srt" else "vtt"
    try:
        captions = webvtt.from_buffer(io.StringIO(text), format=kind).captions
    except (MalformedCaptionError, MalformedFileError):
        return Refusal(SubtitleError(DISAGREEMENT))
    found = [(c.start_time.in_milliseconds(), c.end_time.in_milliseconds()) for c in captions]
    expected = [(round(cue.start * 1000), round(cue.end * 1000)) for cue in checked]
    if found != expected:
        return Refusal(SubtitleError(DISAGREEMENT))
    return checked


def _document(cues: Sequence[Cue]) -> webvtt.WebVTT:
    return webvtt.WebVTT(captions=[
        webvtt.Caption(start=format_timestamp(start), end=format_timestamp(end),
                       text="\n".join(lines))
        for start, end, lines in written_cues(cues)])


def to_webvtt(cues: Sequence[Cue]) -> str:
    """A WebVTT file of `cues` (see `written_cues` for what is refused or left out)."""
    return f"{_document(cues).content}\n"


def to_srt(cues: Sequence[Cue]) -> str:
    """A SubRip file of `cues`: numbered, ``HH:MM:SS,mmm``, only <i> <b> <u> kept."""
    out = io.StringIO()
    webvtt.srt.write(out, _document(cues).captions, styles=[])
    blocks = out.getvalue().split("\n\n") if out.getvalue() else []
    return "".join(f"{_srt_text(block)}\n\n" for block in blocks)


def _srt_text(block: str) -> str:
    number, timing, *lines = block.split("\n")
    text = (html.unescape(line).replace(ARROW, "->") for line in lines)
    return "\n".join([number, timing, *text])
