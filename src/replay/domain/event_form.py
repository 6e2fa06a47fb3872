"""An event as organisers describe it on the creation page: its name, dates, time zone
and rooms, with or without a programme (whose values fill what the form leaves empty).
Pure logic, no I/O; every refusal is a French sentence that says what to fix.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from replay.domain.errors import N_, ReplayError
from replay.domain.model import Event
from replay.domain.programme import slugify

MAX_TITLE = 200
MAX_ROOMS = 50
FIELDS = ("title", "start", "end", "timezone", "rooms")


class EventFormError(ReplayError):
    """A field of the event form is wrong; `field` names it."""

    def __init__(self, field: str, message: str, /, **values: object) -> None:
        super().__init__(message, **values)
        self.field = field


def split_rooms(text: str) -> tuple[str, ...]:
    """Rooms typed one per line (or separated by semicolons), trimmed, each once."""
    seen: dict[str, str] = {}
    for part in re.split(r"[\n;]", text):
        name = " ".join(part.split())
        if name:
            seen.setdefault(name.casefold(), name)
    return tuple(seen.values())


def event_from_form(fields: Mapping[str, str], programme: Event | None = None) -> Event:
    """The event the form describes; its programme's sessions come with it."""
    values = {name: fields.get(name, "").strip() for name in FIELDS}
    title = values["title"] or (programme.title if programme else "")
    if not title:
        raise EventFormError("title", N_("Name missing: give the event's name, or import its "
                                         "programme."))
    if len(title) > MAX_TITLE:
        raise EventFormError("title", N_("Name too long: {maximum} characters at most."),
                             maximum=MAX_TITLE)
    start = _date(values["start"], "start", programme.start if programme else None)
    end = _date(values["end"], "end", programme.end if programme else None)
    if end < start:
        raise EventFormError("end", N_("The end date comes before the start date: correct one "
                                       "of them."))
    zone = values["timezone"] or (programme.timezone if programme else "")
    _check_zone(zone)
    rooms = _rooms(split_rooms(values["rooms"]), programme)
    slug = programme.slug if programme else slugify(title)
    if not slug:
        raise EventFormError("title", N_("Name unusable: it must hold letters or digits."))
    base = programme or Event(slug=slug, title=title, start=start, end=end, timezone=zone,
                              rooms=rooms)
    return dataclasses.replace(base, title=title, start=start, end=end, timezone=zone,
                               rooms=rooms)


def _date(text: str, field: str, fallback: date | None) -> date:
    if not text:
        if fallback is not None:
            return fallback
        missing = (N_("Start date missing: choose it, or import the programme.")
                   if field == "start" else
                   N_("End date missing: choose it, or import the programme."))
        raise EventFormError(field, missing)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise EventFormError(field, N_("Date “{text}” unreadable: write it like 2026-03-03."),
                             text=text) from None


def _check_zone(name: str) -> None:
    try:
        if not name:
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise EventFormError("timezone", N_("Time zone “{name}” unknown: choose one from the "
                                            "list, Europe/Paris for instance."),
                             name=name) from None


def _rooms(given: tuple[str, ...], programme: Event | None) -> tuple[str, ...]:
    """The rooms typed, then those of the programme that were not (its sessions need them)."""
    known = {room.casefold() for room in given}
    rooms = given + tuple(room for room in (programme.rooms if programme else ())
                          if room.casefold() not in known)
    if not rooms:
        raise EventFormError("rooms", N_("No room: give one room at least, one a line."))
    if len(rooms) > MAX_ROOMS:
        raise EventFormError("rooms", N_("Too many rooms: {maximum} at most."),
                             maximum=MAX_ROOMS)
    return rooms
