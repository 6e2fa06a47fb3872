"""Chapters an editor marks in a session (a title at a time: a speaker's turn, a new
topic), published as a WebVTT chapters track and a list under the player. Nothing is
ever invented: a session without marked chapters has none."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from replay.domain.errors import N_, ReplayError
from replay.domain.webvtt import format_timestamp

_WHITE_SPACE: Final = re.compile(r"[ \t\r\n\f\v\u2028\u2029]+")
MAX_CHAPTERS: Final = 200
MAX_TITLE_CHARS: Final = 150
#: Two chapters closer than this are one mistake (a double click).
MIN_SPACING: Final = 1.0


@dataclass(frozen=True, slots=True)
class Chapter:
    start: float  # seconds from the session's start
    title: str

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start, "title": self.title}


class ChapterError(ReplayError, ValueError):
    """A message naming the chapter (by its number) and what is wrong."""


def parse_chapters(value: object, duration: float) -> tuple[Chapter, ...]:
    """Chapters from JSON (``[{"start": s, "title": t}, ...]``), sorted by start; a
    session of `duration` seconds. `ChapterError` for anything else."""
    if not isinstance(value, list) or len(value) > MAX_CHAPTERS:
        raise ChapterError(N_("“chapters” invalid: a list of {maximum} chapters at most, each "
                              "with “start” (seconds) and “title”."), maximum=MAX_CHAPTERS)
    chapters = [_chapter(number, item, duration) for number, item in enumerate(value, 1)]
    chapters.sort(key=lambda c: c.start)
    for before, after in pairwise(chapters):
        if after.start - before.start < MIN_SPACING:
            raise ChapterError(N_("The chapters “{first}” and “{second}” start less than a "
                                  "second apart."), first=before.title, second=after.title)
    return tuple(chapters)


def _chapter(number: int, item: object, duration: float) -> Chapter:
    if not isinstance(item, dict):
        raise ChapterError(N_("Chapter {number}: an object with “start” and “title”."),
                           number=number)
    start, title = item.get("start"), item.get("title")
    if isinstance(start, bool) or not isinstance(start, int | float) or \
            not 0 <= start < duration:
        raise ChapterError(N_("Chapter {number}: “start” must be a number of seconds between 0 "
                              "and the session's duration ({duration} s)."),
                           number=number, duration=f"{duration:.0f}")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_CHARS:
        raise ChapterError(N_("Chapter {number}: a title of 1 to {maximum} characters is "
                              "needed."), number=number, maximum=MAX_TITLE_CHARS)
    return Chapter(round(float(start), 3), _tidy(title))


def chapters_webvtt(chapters: Sequence[Chapter], duration: float) -> str:
    """A WebVTT chapters track: each chapter lasts until the next, the last until the
    end. Titles are text (escaped), on one line."""
    parts = ["WEBVTT\n\n"]
    ends = [c.start for c in chapters[1:]] + [duration]
    for number, (chapter, end) in enumerate(zip(chapters, ends, strict=True), 1):
        timing = f"{format_timestamp(chapter.start)} --> {format_timestamp(end)}"
        parts.append(f"{number}\n{timing}\n{html.escape(chapter.title, quote=False)}\n\n")
    return "".join(parts)


def _tidy(text: str) -> str:
    """One line, runs of white space made one space; no-break spaces (French typography)
    are kept as they are."""
    return _WHITE_SPACE.sub(" ", text).strip(" ")
