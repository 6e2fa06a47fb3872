"""SubRip (SRT) parsed strictly. Pure logic, no I/O.

A block is a cue number, a timing line ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` and at least
one line of text; blocks are separated by blank lines. Only <i> <b> <u> are kept
(``<font …>`` and ``{\\an8}``-style overrides are dropped, as players do); any other
tag is refused. A malformed file raises SubtitleError("line N: reason") (shown in French),
and nothing of it is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from replay.domain.errors import N_, line_error
from replay.domain.transcript import Cue
from replay.domain.webvtt import check_cue_limits

_ARROW = "-->"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TIMING = re.compile(r"(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+X1:.*)?")
_TIMESTAMP = re.compile(r"([0-9]{2,}):([0-9]{2}):([0-9]{2}),([0-9]{3})")
_NUMBER = re.compile(r"[0-9]+")
_TAG = re.compile(r"<[^<>\n]*>")
_KEPT_TAG = re.compile(r"</?[ibu]>")
_DROPPED_TAG = re.compile(r"</?font(?:[ \t][^<>\n]*)?>", re.IGNORECASE)
_OVERRIDE = re.compile(r"\{\\[^{}\n]*\}")
_MAX_HOURS = 99


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    text: str


def parse_srt(text: str) -> list[Cue]:
    """The cues of an SRT file, in order; raises SubtitleError naming the line."""
    blocks = _blocks(text)
    if not blocks:
        raise line_error(1, N_("empty file, no cue"))
    cues: list[Cue] = []
    for block in blocks:
        cue = _parse_block(block)
        if cues and cue.start < cues[-1].start:
            raise line_error(block[0].number, N_("this cue starts before the previous one"))
        check_cue_limits(cue, len(cues) + 1, block[0].number)
        cues.append(cue)
    return cues


def _blocks(text: str) -> list[list[_Line]]:
    raw = _LINE_BREAK.split(text.removeprefix("\ufeff").replace("\0", "\ufffd"))
    blocks: list[list[_Line]] = []
    current: list[_Line] = []
    for number, line in enumerate(raw, start=1):
        if line.strip():
            current.append(_Line(number, line))
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _parse_block(block: list[_Line]) -> Cue:
    head = block[0]
    if _ARROW in head.text:
        raise line_error(head.number, N_("cue number missing before the timing line"))
    if not _NUMBER.fullmatch(head.text.strip()):
        raise line_error(head.number, N_("cue number expected, found “{text}”"),
                         text=head.text.strip()[:40])
    if len(block) < 2:
        raise line_error(head.number, N_("timing line missing after the number"))
    start, end = _parse_timing(block[1])
    lines = tuple(_text_line(line) for line in block[2:])
    if not any(line.strip() for line in lines):
        raise line_error(block[1].number, N_("cue without text"))
    return Cue(start, end, lines)


def _text_line(line: _Line) -> str:
    if _ARROW in line.text:
        raise line_error(line.number, N_("a blank line is missing before this cue"))
    text = _OVERRIDE.sub("", _DROPPED_TAG.sub("", line.text))
    for tag in _TAG.finditer(text):
        if not _KEPT_TAG.fullmatch(tag.group()):
            raise line_error(line.number, N_("tag “{tag}” not allowed, only <i> <b> <u> are"),
                             tag=tag.group()[:40])
    return text.strip()


def _parse_timing(line: _Line) -> tuple[float, float]:
    match = _TIMING.fullmatch(line.text.strip())
    if match is None:
        raise line_error(line.number, N_("timing line unreadable, expected “{expected}”"),
                         expected="HH:MM:SS,mmm --> HH:MM:SS,mmm")
    start = _timestamp(match.group(1), line.number)
    end = _timestamp(match.group(2), line.number)
    if end <= start:
        raise line_error(line.number, N_("the cue's end must come after its start"))
    return start, end


def _timestamp(text: str, number: int) -> float:
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise line_error(number, N_("invalid timestamp “{text}”, expected {expected}"),
                         text=text[:40], expected="HH:MM:SS,mmm")
    if len(match.group(1).lstrip("0")) > len(str(_MAX_HOURS)):
        raise line_error(number, N_("timestamp too large “{text}” (over {hours} hours)"),
                         text=text[:40], hours=_MAX_HOURS)
    hours, minutes, seconds, millis = (int(group) for group in match.groups())
    if hours > _MAX_HOURS:
        raise line_error(number, N_("timestamp too large “{text}” (over {hours} hours)"),
                         text=text[:40], hours=_MAX_HOURS)
    if minutes > 59 or seconds > 59:
        raise line_error(number, N_("invalid timestamp “{text}”, minutes and seconds < 60"),
                         text=text[:40])
    return (hours * 3_600_000 + minutes * 60_000 + seconds * 1000 + millis) / 1000
