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

from replay.domain.errors import ReplayError
from replay.domain.model import Event
from replay.domain.programme import slugify

NBSP = "\u00a0"
MAX_TITLE = 200
MAX_ROOMS = 50
FIELDS = ("title", "start", "end", "timezone", "rooms")


class EventFormError(ReplayError):
    """A field of the event form is wrong; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
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
        raise EventFormError("title", f"Nom manquant{NBSP}: donnez le nom de l’évènement, ou "
                                      "importez son programme.")
    if len(title) > MAX_TITLE:
        raise EventFormError("title", f"Nom trop long{NBSP}: {MAX_TITLE}{NBSP}caractères au "
                                      "plus.")
    start = _date(values["start"], "start", programme.start if programme else None)
    end = _date(values["end"], "end", programme.end if programme else None)
    if end < start:
        raise EventFormError("end", f"La date de fin précède celle du début{NBSP}: "
                                    "corrigez l’une des deux.")
    zone = values["timezone"] or (programme.timezone if programme else "")
    _check_zone(zone)
    rooms = _rooms(split_rooms(values["rooms"]), programme)
    slug = programme.slug if programme else slugify(title)
    if not slug:
        raise EventFormError("title", f"Nom inutilisable{NBSP}: il doit contenir des lettres "
                                      "ou des chiffres.")
    base = programme or Event(slug=slug, title=title, start=start, end=end, timezone=zone,
                              rooms=rooms)
    return dataclasses.replace(base, title=title, start=start, end=end, timezone=zone,
                               rooms=rooms)


def _date(text: str, field: str, fallback: date | None) -> date:
    if not text:
        if fallback is not None:
            return fallback
        label = "début" if field == "start" else "fin"
        raise EventFormError(field, f"Date de {label} manquante{NBSP}: choisissez-la, ou "
                                    "importez le programme.")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise EventFormError(field, f"Date «{NBSP}{text}{NBSP}» illisible{NBSP}: écrivez-la "
                                    "comme 2026-03-03.") from None


def _check_zone(name: str) -> None:
    try:
        if not name:
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise EventFormError("timezone", f"Fuseau horaire «{NBSP}{name}{NBSP}» inconnu{NBSP}: "
                                         "choisissez-en un dans la liste, par exemple "
                                         "Europe/Paris.") from None


def _rooms(given: tuple[str, ...], programme: Event | None) -> tuple[str, ...]:
    """The rooms typed, then those of the programme that were not (its sessions need them)."""
    known = {room.casefold() for room in given}
    rooms = given + tuple(room for room in (programme.rooms if programme else ())
                          if room.casefold() not in known)
    if not rooms:
        raise EventFormError("rooms", f"Aucune salle{NBSP}: donnez au moins une salle, une par "
                                      "ligne.")
    if len(rooms) > MAX_ROOMS:
        raise EventFormError("rooms", f"Trop de salles{NBSP}: {MAX_ROOMS} au plus.")
    return rooms
