"""WebVTT and SRT: render cues, and parse WebVTT strictly. Pure logic, no I/O.

Cue text is plain text that may hold the WebVTT tags kept for display
(<i> <b> <u> <c…> <v …> <lang …> and their end tags). Rendering writes those tags
as they are and escapes everything else (& < >), so any text renders to a file
that parses back to the same text: a hostile « --> » or « <script> » stays text.
Parsing refuses a malformed file with the line and the reason, in French.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from replay.domain.errors import N_, SubtitleError, line_error
from replay.domain.transcript import Cue

_ARROW = "-->"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TAG = re.compile(r"<[^<>\n]*>")
#: Class names and annotations (the speaker of <v>, the language of <lang>) never hold a
#: quote, an equals sign or an ampersand: nothing that could close or add an attribute
#: where a player turns a tag into HTML.
_CLASSES = r"(?:\.[A-Za-z0-9_-]+)*"
_ANNOTATION = r"[^<>\n\"'`=&]*"
_ALLOWED_TAG = re.compile(
    rf"</(?:i|b|u|c|v|lang)>|<(?:i|b|u|c){_CLASSES}>|<(?:v|lang){_CLASSES}[ \t]{_ANNOTATION}>"
)
_TIMESTAMP = re.compile(r"(?:([0-9]{2,}):)?([0-9]{2}):([0-9]{2})\.([0-9]{3})")
_TIMING = re.compile(r"(\S+?)[ \t]*-->[ \t]*(\S+)(?:[ \t].*)?")
_SKIPPED_BLOCKS = ("NOTE", "STYLE", "REGION")
_MAX_HOURS = 99
#: An imported file holds at most this many cues (a ten-hour session at two seconds a
#: cue), each of at most this many characters (the reading rules want two lines of about
#: forty): what is beyond is an error, not a subtitle, and would only load the server.
MAX_CUES = 20_000
MAX_CUE_CHARS = 1_000


# --- rendering --------------------------------------------------------------------


def format_timestamp(seconds: float, *, decimal: str = ".") -> str:
    """`HH:MM:SS.mmm` (SRT wants `decimal=","`), rounded to the millisecond."""
    if seconds < 0:
        raise ValueError(f"negative timestamp: {seconds}")
    total_ms = round(seconds * 1000)
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def render_webvtt(cues: Sequence[Cue]) -> str:
    """A WebVTT file. Cues without visible text are left out; never a blank line
    inside a cue; refuses what `parse_webvtt` would refuse."""
    parts = ["WEBVTT\n\n"]
    previous_start = 0.0
    for index, lines, cue in _renderable(cues):
        _check_renderable(index, cue, previous_start)
        previous_start = cue.start
        timing = f"{format_timestamp(cue.start)} {_ARROW} {format_timestamp(cue.end)}"
        body = "\n".join(_escape(line) for line in lines)
        parts.append(f"{timing}\n{body}\n\n")
    return "".join(parts)


def render_srt(cues: Sequence[Cue]) -> str:
    """A SubRip file: numbered cues, `HH:MM:SS,mmm`, only <i> <b> <u> kept."""
    parts: list[str] = []
    for number, (_, lines, cue) in enumerate(_renderable(cues), start=1):
        start = format_timestamp(cue.start, decimal=",")
        end = format_timestamp(cue.end, decimal=",")
        body = "\n".join(_srt_line(line) for line in lines)
        parts.append(f"{number}\n{start} {_ARROW} {end}\n{body}\n\n")
    return "".join(parts)


def written_cues(cues: Sequence[Cue]) -> list[tuple[float, float, list[str]]]:
    """What a WebVTT writer may write of `cues`: (start, end, lines) with the kept tags as
    they are and everything else escaped, never a blank line; cues without visible text
    are left out; refuses what `parse_webvtt` would refuse (the checks of
    `render_webvtt`, for a writer such as webvtt-py that checks nothing)."""
    written: list[tuple[float, float, list[str]]] = []
    previous_start = 0.0
    for index, lines, cue in _renderable(cues):
        _check_renderable(index, cue, previous_start)
        previous_start = cue.start
        written.append((cue.start, cue.end, [_escape(line) for line in lines]))
    return written


def display_lines(cue: Cue) -> list[str]:
    """The cue's lines as they can be written: split at any line break, blank
    lines and NUL characters removed."""
    lines = (part for line in cue.lines for part in _LINE_BREAK.split(line))
    return [line.replace("\0", "\ufffd") for line in lines if line.strip()]


def _renderable(cues: Sequence[Cue]) -> Iterator[tuple[int, list[str], Cue]]:
    for index, cue in enumerate(cues, start=1):
        lines = display_lines(cue)
        if any(_visible(line).strip() for line in lines):
            yield index, lines, cue


def _check_renderable(index: int, cue: Cue, previous_start: float) -> None:
    if round(cue.start * 1000) < round(previous_start * 1000):
        raise SubtitleError(N_("cue {index}: it starts before the previous one"), index=index)
    if round(cue.end * 1000) <= round(cue.start * 1000):
        raise SubtitleError(N_("cue {index}: the end must come after the start"), index=index)
    if cue.end >= (_MAX_HOURS + 1) * 3600:
        raise SubtitleError(N_("cue {index}: timestamp beyond {hours} hours"), index=index,
                            hours=_MAX_HOURS)


def _visible(line: str) -> str:
    """The text a viewer sees: the line without its allowed tags."""
    return _ALLOWED_TAG.sub("", line)


def _escape(line: str) -> str:
    """Escape everything but the allowed tags, which are written as they are."""
    out: list[str] = []
    position = 0
    for tag in _ALLOWED_TAG.finditer(line):
        out.append(html.escape(line[position : tag.start()], quote=False))
        out.append(tag.group())
        position = tag.end()
    out.append(html.escape(line[position:], quote=False))
    return "".join(out)


def _srt_line(line: str) -> str:
    def keep_simple(tag: re.Match[str]) -> str:
        return tag.group() if re.fullmatch(r"</?[ibu]>", tag.group()) else ""

    return _ALLOWED_TAG.sub(keep_simple, line).replace(_ARROW, "->")


# --- parsing ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    text: str


def parse_webvtt(text: str, *, strict_markup: bool = False) -> list[Cue]:
    """The cues of a WebVTT file; NOTE, STYLE and REGION blocks are dropped.

    Raises SubtitleError("line N: reason") for anything malformed. Tags other than
    the kept WebVTT ones are dropped, or refused with `strict_markup` (uploads)."""
    lines = [_Line(number, line) for number, line in enumerate(_split_lines(text), start=1)]
    blocks = _blocks(lines)
    _check_header(blocks[0] if blocks else [], lines)
    cues: list[Cue] = []
    for block in blocks[1:]:
        cue = _parse_block(block, strict_markup)
        if cue is None:
            continue
        if cues and cue.start < cues[-1].start:
            raise line_error(block[0].number, N_("this cue starts before the previous one"))
        check_cue_limits(cue, len(cues) + 1, block[0].number)
        cues.append(cue)
    return cues


def check_cue_limits(cue: Cue, count: int, number: int) -> None:
    """Refuse the `count`-th cue of a file (at line `number`) past `MAX_CUES`, or longer
    than `MAX_CUE_CHARS`."""
    if count > MAX_CUES:
        raise line_error(number, N_("over {maximum} cues, split the file"),
                         maximum=MAX_CUES)
    if sum(len(line) for line in cue.lines) > MAX_CUE_CHARS:
        raise line_error(number, N_("cue of over {maximum} characters, cut it into several cues"),
                         maximum=MAX_CUE_CHARS)


def _split_lines(text: str) -> list[str]:
    text = text.removeprefix("\ufeff").replace("\0", "\ufffd")
    lines = _LINE_BREAK.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _blocks(lines: list[_Line]) -> list[list[_Line]]:
    """Runs of non-blank lines; the first run is the header."""
    blocks: list[list[_Line]] = []
    current: list[_Line] = []
    for line in lines:
        if line.text.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _check_header(header: list[_Line], lines: list[_Line]) -> None:
    first = lines[0].text if lines else ""
    if not header or header[0].number != 1 or not re.fullmatch(r"WEBVTT(?:[ \t].*)?", first):
        raise line_error(1, N_("the file must start with “{header}”"), header="WEBVTT")
    for line in header[1:]:
        if _ARROW in line.text:
            raise line_error(line.number, N_("a blank line is missing between the header and this "
                                             "cue"))


def _parse_block(block: list[_Line], strict_markup: bool = False) -> Cue | None:
    head = block[0].text
    if any(head == word or head.startswith((word + " ", word + "\t")) for word in _SKIPPED_BLOCKS):
        _check_no_arrow(block[1:])
        return None
    # A first line that looks like a time is a broken timing line, not an identifier.
    timing_index = 0 if _ARROW in head or re.match(r"\d+:\d", head) else 1
    if timing_index >= len(block):
        raise line_error(block[0].number, N_("timing line (“start --> end”) missing"))
    timing = block[timing_index]
    try:
        start, end = _parse_timing(timing)
    except SubtitleError:
        if timing_index == 0 and len(block) > 1 and _ARROW in block[1].text:
            raise line_error(timing.number, N_("an identifier cannot hold “{arrow}”"),
                             arrow=_ARROW) from None
        raise
    payload = block[timing_index + 1 :]
    _check_no_arrow(payload)
    if strict_markup:
        _check_markup(payload)
    lines = tuple(line for line in (_clean(item.text) for item in payload) if line.strip())
    if not any(_visible(line).strip() for line in lines):
        raise line_error(timing.number, N_("cue without text"))
    return Cue(start, end, lines)


def _check_no_arrow(lines: list[_Line]) -> None:
    for line in lines:
        if _ARROW in line.text:
            raise line_error(line.number, N_("a blank line is missing before this cue"))


def _check_markup(lines: list[_Line]) -> None:
    for line in lines:
        tag = forbidden_tag(line.text)
        if tag is not None:
            raise line_error(line.number, N_("tag “{tag}” not allowed, only <i> <b> <u> <c> <v> "
                                             "<lang> are"), tag=tag)


def forbidden_tag(line: str) -> str | None:
    """The first tag of `line` that is not a kept WebVTT tag, if any."""
    return next((tag.group() for tag in _TAG.finditer(line)
                 if not _ALLOWED_TAG.fullmatch(tag.group())), None)


def sanitise_line(line: str) -> str:
    """`line` without the tags that are not kept WebVTT tags (text left as it is)."""
    return _TAG.sub(lambda tag: tag.group() if _ALLOWED_TAG.fullmatch(tag.group()) else "",
                    line)


def visible_text(line: str) -> str:
    """The text a viewer sees: the line without its kept tags."""
    return _visible(line)


def _parse_timing(line: _Line) -> tuple[float, float]:
    match = _TIMING.fullmatch(line.text)
    if match is None:
        raise line_error(line.number, N_("timing line unreadable, expected “start --> end”"))
    start = _parse_timestamp(match.group(1), line.number)
    end = _parse_timestamp(match.group(2), line.number)
    if end <= start:
        raise line_error(line.number, N_("the cue's end must come after its start"))
    return start, end


def _parse_timestamp(text: str, number: int) -> float:
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise line_error(number, N_("invalid timestamp “{text}”, expected {expected}"),
                         text=text[:40], expected="HH:MM:SS.mmm")
    if len((match.group(1) or "").lstrip("0")) > len(str(_MAX_HOURS)):
        raise line_error(number, N_("timestamp too large “{text}” (over {hours} hours)"),
                         text=text[:40], hours=_MAX_HOURS)
    hours, minutes, seconds, millis = (int(group or 0) for group in match.groups())
    if hours > _MAX_HOURS:
        raise line_error(number, N_("timestamp too large “{text}” (over {hours} hours)"),
                         text=text, hours=_MAX_HOURS)
    if minutes > 59 or seconds > 59:
        raise line_error(number, N_("invalid timestamp “{text}”, minutes and seconds < 60"),
                         text=text[:40])
    return (hours * 3_600_000 + minutes * 60_000 + seconds * 1000 + millis) / 1000


def _clean(line: str) -> str:
    """Keep the allowed tags as they are, drop the others, unescape the text."""
    out: list[str] = []
    position = 0
    for tag in _TAG.finditer(line):
        out.append(html.unescape(line[position : tag.start()]))
        if _ALLOWED_TAG.fullmatch(tag.group()):
            out.append(tag.group())
        position = tag.end()
    out.append(html.unescape(line[position:]))
    return "".join(out)
