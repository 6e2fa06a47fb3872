"""Caption review: statuses and their transitions, cue-list validation, readable diffs,
find and replace, and the editor's operations on cues. Pure logic, no I/O.

Every function takes and returns whole cue lists (never mutated). A valid list is
ordered by start, each cue starts before it ends, lasts less than 100 hours, and has
visible text; its times are whole milliseconds and its text is sanitised the way
`webvtt` keeps it (kept WebVTT tags only, no blank line). Such a list renders with
`render_webvtt` and parses back identical. More than two lines, overlaps and reading
speed are warnings (`cue_warnings`), never errors.
"""

from __future__ import annotations

import bisect
import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from replay.domain.cues import cue_warnings, rules_for
from replay.domain.errors import N_, Listed, SubtitleError
from replay.domain.transcript import Cue
from replay.domain.webvtt import (
    MAX_CUE_CHARS,
    MAX_CUES,
    format_timestamp,
    sanitise_line,
    visible_text,
)

MAX_SECONDS = 100 * 3600.0  # WebVTT files here keep hours on two digits
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class CaptionError(SubtitleError):
    """A cue list or an edit that would make it invalid; says which cue (1-based) and why."""

    def __init__(self, message: str, /, cue: int | None = None, **values: object) -> None:
        super().__init__(message, **values)
        self.cue = cue


class CaptionStatus(StrEnum):
    BROUILLON = "brouillon_automatique"
    RELECTURE = "en_relecture"
    VALIDE = "valide"
    PUBLIE = "publie"


#: The workflow: automatic draft → in review → approved → published, with the way back
#: to review (a correction after approval or release). Drafts and reviews may go out
#: directly where the event publishes automatic drafts (checked by the caller).
TRANSITIONS: dict[CaptionStatus, frozenset[CaptionStatus]] = {
    CaptionStatus.BROUILLON: frozenset({CaptionStatus.RELECTURE, CaptionStatus.VALIDE,
                                        CaptionStatus.PUBLIE}),
    CaptionStatus.RELECTURE: frozenset({CaptionStatus.VALIDE, CaptionStatus.PUBLIE}),
    CaptionStatus.VALIDE: frozenset({CaptionStatus.RELECTURE, CaptionStatus.PUBLIE}),
    CaptionStatus.PUBLIE: frozenset({CaptionStatus.RELECTURE, CaptionStatus.VALIDE,
                                     CaptionStatus.PUBLIE}),
}

#: Each status as people read it (English messages, translated where they are shown).
STATUS_LABELS = {
    CaptionStatus.BROUILLON: N_("automatic draft"),
    CaptionStatus.RELECTURE: N_("in review"),
    CaptionStatus.VALIDE: N_("approved"),
    CaptionStatus.PUBLIE: N_("published"),
}


def can_transition(current: CaptionStatus, target: CaptionStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: CaptionStatus, target: CaptionStatus) -> None:
    if not can_transition(current, target):
        allowed = Listed(_quoted(CaptionError(STATUS_LABELS[status]))
                         for status in CaptionStatus if status in TRANSITIONS[current])
        raise CaptionError(N_("cannot go from “{current}” to “{target}”; possible: {allowed}"),
                           current=CaptionError(STATUS_LABELS[current]),
                           target=CaptionError(STATUS_LABELS[target]), allowed=allowed)


def _quoted(text: object) -> CaptionError:
    """`text` between the quotation marks of the message's language."""
    return CaptionError(N_("“{text}”"), text=text)


def status_after_save(current: CaptionStatus) -> CaptionStatus:
    """A saved correction is to be reviewed again, whatever the status was."""
    return CaptionStatus.RELECTURE


# -- validation --------------------------------------------------------------------------


def _fail(index: int, reason: str, /, **values: object) -> CaptionError:
    """The error of cue `index`: `reason` (an English message) with its `values`."""
    return CaptionError(N_("cue {index}: {reason}"), index, index=index,
                        reason=SubtitleError(reason, **values))


def clean_lines(text_or_lines: str | Sequence[str]) -> tuple[str, ...]:
    """Lines as kept: split at line breaks, foreign tags dropped, trimmed, blank ones out."""
    raw = [text_or_lines] if isinstance(text_or_lines, str) else list(text_or_lines)
    parts = (part for line in raw for part in _LINE_BREAK.split(line.replace("\0", "\ufffd")))
    cleaned = (sanitise_line(part).strip() for part in parts)
    return tuple(line for line in cleaned if visible_text(line).strip())


def _ms(seconds: float) -> float:
    return round(seconds * 1000) / 1000


def clean_cue(cue: Cue, index: int = 1) -> Cue:
    """`cue` with times to the millisecond and sanitised text; raises when unusable."""
    for value in (cue.start, cue.end):
        if not math.isfinite(value) or value < 0:
            raise _fail(index, N_("negative or invalid timestamp"))
    start, end = _ms(cue.start), _ms(cue.end)
    if end <= start:
        raise _fail(index, N_("the end must come after the start"))
    if end >= MAX_SECONDS:
        raise _fail(index, N_("timestamp beyond 99 hours"))
    if sum(len(line) for line in cue.lines) > MAX_CUE_CHARS:
        raise _fail(index, N_("over {maximum} characters, cut it into several cues"),
                    maximum=MAX_CUE_CHARS)
    lines = clean_lines(cue.lines)
    if not lines:
        raise _fail(index, N_("cue without text"))
    return Cue(start, end, lines)


def validate_cues(cues: Sequence[Cue]) -> list[Cue]:
    """The list cleaned (see `clean_cue`); raises CaptionError naming the first bad cue."""
    if len(cues) > MAX_CUES:
        raise _fail(MAX_CUES + 1, N_("over {maximum} cues, split the session"),
                    maximum=MAX_CUES)
    out: list[Cue] = []
    for index, cue in enumerate(cues, start=1):
        cleaned = clean_cue(cue, index)
        if out and cleaned.start < out[-1].start:
            raise _fail(index, N_("it starts ({start}) before the previous cue ({previous})"),
                        start=format_timestamp(cleaned.start),
                        previous=format_timestamp(out[-1].start))
        out.append(cleaned)
    return out


def warnings_for(cues: Sequence[Cue], language: str) -> list[list[str]]:
    """Per cue, the codes of the reading rules it breaks (`cues.cue_warnings`)."""
    rules = rules_for(language)
    return [cue_warnings(cue, rules, cues[i + 1] if i + 1 < len(cues) else None)
            for i, cue in enumerate(cues)]


# -- diff --------------------------------------------------------------------------------

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class Change:
    """One cue added, removed or changed; `index` is its 1-based place (in the new list,
    or in the old one for a removal)."""

    kind: ChangeKind
    index: int
    old: Cue | None
    new: Cue | None

    def message(self) -> CaptionError:
        """The change as people read it (shown with `replay.locale.describe`)."""
        if self.kind == "added" and self.new is not None:
            return CaptionError(N_("added {what}"), what=_cue_text(self.new))
        if self.kind == "removed" and self.old is not None:
            return CaptionError(N_("removed {what}"), what=_cue_text(self.old))
        assert self.old is not None
        assert self.new is not None
        return CaptionError(N_("changed {old} → {new}"), old=_cue_text(self.old),
                            new=_cue_text(self.new))


def _cue_text(cue: Cue) -> CaptionError:
    times = f"{format_timestamp(cue.start)} → {format_timestamp(cue.end)}"
    return CaptionError(N_("[{times}] “{text}”"), times=times, text=" / ".join(cue.lines))


def _key(cue: Cue) -> tuple[int, int, tuple[str, ...]]:
    return round(cue.start * 1000), round(cue.end * 1000), cue.lines


def diff_cues(old: Sequence[Cue], new: Sequence[Cue]) -> list[Change]:
    """What changed from `old` to `new`, cue by cue, in order."""
    matcher = difflib.SequenceMatcher(a=[_key(c) for c in old], b=[_key(c) for c in new],
                                      autojunk=False)
    changes: list[Change] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(a1 - a0, b1 - b0)
        changes += [Change("changed", b0 + k + 1, old[a0 + k], new[b0 + k])
                    for k in range(paired)]
        changes += [Change("removed", a + 1, old[a], None) for a in range(a0 + paired, a1)]
        changes += [Change("added", b + 1, None, new[b]) for b in range(b0 + paired, b1)]
    return changes


# -- find and replace --------------------------------------------------------------------


def find_pattern(find: str, *, whole_word: bool, case_sensitive: bool) -> re.Pattern[str]:
    if not find.strip():
        raise CaptionError(N_("text to search empty: type a word or a phrase"))
    pattern = re.escape(find)
    if whole_word:
        pattern = rf"(?<!\w){pattern}(?!\w)"
    return re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)


def find_replace(cues: Sequence[Cue], find: str, replace: str, *, whole_word: bool = True,
                 case_sensitive: bool = False) -> tuple[list[Cue], list[Change]]:
    """Replace `find` line by line in every cue; the new list and one change per cue."""
    pattern = find_pattern(find, whole_word=whole_word, case_sensitive=case_sensitive)
    out: list[Cue] = []
    changes: list[Change] = []
    for index, cue in enumerate(cues, start=1):
        lines = tuple(pattern.sub(lambda _: replace, line) for line in cue.lines)
        if lines == cue.lines:
            out.append(cue)
            continue
        changed = Cue(cue.start, cue.end, lines)
        out.append(changed)
        changes.append(Change("changed", index, cue, changed))
    return out, changes


# -- edit operations ---------------------------------------------------------------------


def _at(cues: Sequence[Cue], index: int) -> Cue:
    if not 0 <= index < len(cues):
        raise CaptionError(N_("cue {number} does not exist (there are {count})"),
                           number=index + 1, count=len(cues))
    return cues[index]


def split_cue(cues: Sequence[Cue], index: int, at: float, char_index: int) -> list[Cue]:
    """Cut cue `index` (0-based) at time `at` and at character `char_index` of its text
    (lines joined by a line break)."""
    cue = _at(cues, index)
    at = _ms(at)
    if not cue.start < at < cue.end:
        raise _fail(index + 1, N_("the cut point must fall inside the cue"))
    text = cue.text
    first, second = clean_lines(text[:char_index]), clean_lines(text[char_index:])
    if not first or not second:
        raise _fail(index + 1, N_("the cut would leave a cue without text"))
    return [*cues[:index], Cue(cue.start, at, first), Cue(at, cue.end, second),
            *cues[index + 1:]]


def merge_with_next(cues: Sequence[Cue], index: int) -> list[Cue]:
    cue, following = _at(cues, index), _at(cues, index + 1)
    merged = Cue(cue.start, max(cue.end, following.end), cue.lines + following.lines)
    return [*cues[:index], merged, *cues[index + 2:]]


def insert_cue(cues: Sequence[Cue], cue: Cue) -> list[Cue]:
    """`cue` (cleaned) at its place by start, after the cues starting at the same time."""
    cleaned = clean_cue(cue, len(cues) + 1)
    place = bisect.bisect_right([c.start for c in cues], cleaned.start)
    return [*cues[:place], cleaned, *cues[place:]]


def delete_cue(cues: Sequence[Cue], index: int) -> list[Cue]:
    _at(cues, index)
    return [*cues[:index], *cues[index + 1:]]


def nudge_cue(cues: Sequence[Cue], index: int, *, start: float = 0.0,
              end: float = 0.0) -> list[Cue]:
    """Move cue `index`'s start and end by these seconds; its order must not change."""
    cue = _at(cues, index)
    moved = clean_cue(Cue(cue.start + start, cue.end + end, cue.lines), index + 1)
    before = cues[index - 1].start if index > 0 else 0.0
    after = cues[index + 1].start if index + 1 < len(cues) else math.inf
    if not before <= moved.start <= after:
        raise _fail(index + 1, N_("the shift would move it before or after a neighbouring cue"))
    return [*cues[:index], moved, *cues[index + 1:]]


def with_glossary(glossary: Sequence[str], hotwords: str, limit: int) -> str:
    """Whisper's hotwords: the event glossary first, then `hotwords`, within `limit`."""
    joined = ""
    seen: set[str] = set()
    for item in [*glossary, *hotwords.split(", ")]:
        text = " ".join(item.split())
        if not text or text.casefold() in seen:
            continue
        candidate = f"{joined}, {text}" if joined else text
        if len(candidate) <= limit:
            joined = candidate
            seen.add(text.casefold())
    return joined


# -- transcript --------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.?!…][»\"”’)\]\u00a0]*$")
PARAGRAPH_GAP = 2.0  # seconds of silence that end a passage of the transcript


@dataclass(frozen=True, slots=True)
class Passage:
    """A stretch of the transcript: whole sentences, as the captions spell them."""

    start: float
    end: float
    text: str


def transcript_passages(cues: Sequence[Cue]) -> list[Passage]:
    """The captions as a transcript: cues joined into sentences (a cue ending a sentence,
    or a silence of `PARAGRAPH_GAP`, ends a passage), their lines joined by spaces."""
    passages: list[Passage] = []
    pending: list[Cue] = []
    for cue in cues:
        if pending and cue.start - pending[-1].end >= PARAGRAPH_GAP:
            passages.append(_passage(pending))
            pending = []
        pending.append(cue)
        if _SENTENCE_END.search(visible_text(" ".join(cue.lines)).rstrip()):
            passages.append(_passage(pending))
            pending = []
    if pending:
        passages.append(_passage(pending))
    return passages


def _passage(cues: Sequence[Cue]) -> Passage:
    text = " ".join(visible_text(line).strip() for cue in cues for line in cue.lines)
    return Passage(cues[0].start, max(cue.end for cue in cues), re.sub(" {2,}", " ", text))
