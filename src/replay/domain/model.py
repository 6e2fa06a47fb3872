"""The programme's shapes, shared by parsers, planning and the site."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


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
