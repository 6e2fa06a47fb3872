"""The programme's shapes, shared by parsers, planning and the site."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

from replay.domain.errors import N_, ProgrammeError

NBSP: Final = "\u00a0"
#: A session guid is a path component of its work directory: at most this many characters.
GUID_MAX_LENGTH: Final = 200


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    organisation: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """One programme slot. `start` is timezone-aware."""

    guid: str
    title: str
    room: str
    start: datetime
    duration: timedelta
    slug: str = ""
    subtitle: str = ""
    abstract: str = ""
    track: str = ""
    kind: str = ""
    language: str = ""
    persons: tuple[Person, ...] = ()
    do_not_record: bool = False
    recording_license: str = ""

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    @property
    def is_break(self) -> bool:
        return is_break_kind(self.kind) or is_break_kind(self.title)

    @property
    def publishable(self) -> bool:
        return not self.do_not_record and not self.is_break


BREAK_PREFIXES = ("pause", "break", "déjeuner", "dejeuner", "lunch", "coffee break")


def is_break_kind(text: str) -> bool:
    return text.strip().casefold().startswith(BREAK_PREFIXES)


@dataclass(frozen=True, slots=True)
class Event:
    """A conference: its identity and its sessions in programme order."""

    slug: str
    title: str
    start: date
    end: date
    timezone: str
    rooms: tuple[str, ...]
    sessions: tuple[Session, ...] = field(default=())

    def sessions_in_room(self, room: str) -> list[Session]:
        return sorted((s for s in self.sessions if s.room == room), key=lambda s: s.start)


def guid_problem(guid: str) -> ProgrammeError | None:
    """Why `guid` cannot name a session's directory (a reason, shown in the language of the
    message it is put in), or None.

    A guid becomes one path component (`services/workdirs.py`) and one part of page
    addresses: it must be non-empty, short, and hold no separator, no `..`, no NUL and
    no control character, so that no directory built from it leaves its parent.
    """
    if not guid.strip():
        return ProgrammeError(N_("the guid is empty"))
    if len(guid) > GUID_MAX_LENGTH:
        return ProgrammeError(N_("the guid is longer than {limit} characters"),
                              limit=GUID_MAX_LENGTH)
    if guid == ".":
        return ProgrammeError(N_('the guid is "."'))
    if ".." in guid:
        return ProgrammeError(N_('the guid contains ".."'))
    for char in guid:
        if char in "/\\":
            return ProgrammeError(N_('the guid contains the separator "{separator}"'),
                                  separator=char)
        if char == "\0" or unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"}:
            return ProgrammeError(N_("the guid contains a control character (U+{code})"),
                                  code=f"{ord(char):04X}")
    return None


def path_component(guid: str) -> str:
    """`guid` when it is safe as one path component; `ValueError` otherwise."""
    problem = guid_problem(guid)
    if problem is not None:
        raise ValueError(f"unsafe session guid {guid[:80]!r}: {problem}")
    return guid
