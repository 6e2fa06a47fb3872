"""Programme parsing: c3voc/pretalx `schedule.json`, frab `schedule.xml` and iCalendar.

Pure logic: `parse_programme` takes the file's bytes and returns an `Event` whose
sessions are in programme order. Every problem is a `ProgrammeError` with a
one-line message that says where the problem is and what to do about it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import PurePosixPath
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError
from zoneinfo import ZoneInfo

import defusedxml
import defusedxml.ElementTree as SafeElementTree
import icalendar

from replay.domain.errors import N_, ProgrammeError
from replay.domain.model import Event, Person, Session, guid_problem

__all__ = ["ACCEPTED_FORMATS", "HOTWORDS_LIMIT", "parse_programme", "programme_hotwords", "slugify"]

ACCEPTED_FORMATS = N_("a c3voc/pretalx schedule.json, a frab schedule.xml or an iCalendar (.ics) "
                      "file")
HOTWORDS_LIMIT = 400

Format = Literal["json", "xml", "ics"]

_CLOCK = re.compile(r"(\d{1,2}):([0-5]\d)(?::([0-5]\d))?")
_DURATION = re.compile(r"(-?)(\d{1,3}):([0-5]\d)(?::([0-5]\d))?")
_SAFE_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off", ""})
_EXTENSIONS: dict[str, Format] = {".json": "json", ".xml": "xml", ".ics": "ics", ".ical": "ics"}
_BOM = b"\xef\xbb\xbf"
_LIGATURES = str.maketrans(
    {"Œ": "OE", "œ": "oe", "Æ": "AE", "æ": "ae", "ß": "ss", "Ø": "O", "ø": "o", "Ł": "L", "ł": "l"}
)
_SCHEMA = "https://c3voc.de/schedule/schema.json"
#: Every session needs these: the message naming the one missing (`where` its place).
_NEEDED = {
    "guid": N_("{where}: missing; every session needs its guid"),
    "title": N_("{where}: missing; every session needs its title"),
    "duration": N_("{where}: missing; every session needs its duration"),
    "room": N_("{where}: missing; every session needs its room"),
}


# ---------------------------------------------------------------------------
# Public API


def parse_programme(data: bytes, *, filename: str = "") -> Event:
    """Parse a programme, detecting its format from its content.

    `filename` only improves error messages; it never decides the format.
    """
    try:
        return _parse(data, filename)
    except ProgrammeError as exc:
        if filename:
            raise ProgrammeError(N_("{file}: {reason}"), file=filename, reason=exc) from exc
        raise


def programme_hotwords(event: Event, sessions: Sequence[Session] | None = None) -> str:
    """Names, organisations and titles of `sessions` (default: all), for Whisper's hotwords.

    The most specific words come first (person names, then organisations, then
    titles); the result never exceeds `HOTWORDS_LIMIT` characters.
    """
    chosen = event.sessions if sessions is None else tuple(sessions)
    names = [person.name for session in chosen for person in session.persons]
    organisations = [person.organisation for session in chosen for person in session.persons]
    titles = [session.title for session in chosen if not session.is_break]
    return _join_within(_distinct([*names, *organisations, *titles]), HOTWORDS_LIMIT)


def slugify(text: str, *, max_length: int = 80) -> str:
    """Lowercase ASCII words joined by hyphens: accents stripped, punctuation dropped."""
    spelt_out = text.translate(_LIGATURES)
    ascii_text = unicodedata.normalize("NFKD", spelt_out).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return slug.strip("-")


# ---------------------------------------------------------------------------
# Shared machinery


@dataclass(frozen=True, slots=True)
class _Slot:
    """A parsed session and where it was found, for error messages."""

    where: str
    session: Session


@dataclass(frozen=True, slots=True)
class _Draft:
    """What a format parser found, before the checks common to all formats."""

    slug: str
    title: str
    timezone: str
    start: date | None
    end: date | None
    rooms: tuple[str, ...]
    slots: tuple[_Slot, ...]


def _parse(data: bytes, filename: str) -> Event:
    kind = _detect(data, filename)
    if kind == "json":
        draft = _parse_json(data)
    elif kind == "xml":
        draft = _parse_xml(data)
    else:
        draft = _parse_ics(data, PurePosixPath(filename).stem)
    return _finish(draft)


def _detect(data: bytes, filename: str) -> Format:
    head = data.removeprefix(_BOM).lstrip()[:64]
    if not head:
        raise ProgrammeError(N_("the file is empty; upload {formats}"), formats=_formats())
    if head[:1] in (b"{", b"["):
        return "json"
    if head[:1] == b"<":
        return "xml"
    if head.upper().startswith(b"BEGIN:VCALENDAR"):
        return "ics"
    hint = _EXTENSIONS.get(PurePosixPath(filename.lower()).suffix)
    if hint:
        raise ProgrammeError(
            N_("not a programme format this service reads (the name ends in .{hint} but the "
               "content is not {hint}); upload {formats}"), hint=hint, formats=_formats())
    raise ProgrammeError(N_("not a programme format this service reads; upload {formats}"),
                         formats=_formats())


def _formats() -> ProgrammeError:
    """The formats this service reads, as a message's value (translated with it)."""
    return ProgrammeError(ACCEPTED_FORMATS)


def _finish(draft: _Draft) -> Event:
    _check_safe_guids(draft.slots)
    _check_unique_guids(draft.slots)
    rooms = _room_order(draft.rooms, (slot.session.room for slot in draft.slots))
    rank = {room: index for index, room in enumerate(rooms)}
    slots = sorted(draft.slots, key=lambda slot: (slot.session.start, rank[slot.session.room]))
    _check_overlaps(slots)
    sessions = _in_zone(_with_unique_slugs([slot.session for slot in slots]), draft.timezone)
    start, end = _event_dates(draft, sessions)
    return Event(
        slug=_safe_slug(draft.slug) or _safe_slug(draft.title) or "programme",
        title=draft.title,
        start=start,
        end=end,
        timezone=draft.timezone or _zone_name(sessions),
        rooms=rooms,
        sessions=tuple(sessions),
    )


def _in_zone(sessions: list[Session], zone_name: str) -> list[Session]:
    """Show every start in the programme's own time zone (the same instants)."""
    zone = _zone(zone_name, ProgrammeError(N_("the time zone")))
    if zone is None:
        return sessions
    return [replace(session, start=session.start.astimezone(zone)) for session in sessions]


def _check_safe_guids(slots: Iterable[_Slot]) -> None:
    """Guids name work directories: refuse any that could leave them (`guid_problem`)."""
    for slot in slots:
        problem = guid_problem(slot.session.guid)
        if problem is not None:
            raise ProgrammeError(
                N_('{where}: session "{title}" refused, {problem} ("{guid}"); give it a guid '
                   'without "/", "\\", ".." or control characters'),
                where=slot.where, title=_shown(slot.session.title), problem=problem,
                guid=_shown(slot.session.guid, 40))


def _check_unique_guids(slots: Iterable[_Slot]) -> None:
    seen: dict[str, _Slot] = {}
    for slot in slots:
        first = seen.setdefault(slot.session.guid, slot)
        if first is not slot:
            raise ProgrammeError(
                N_('{where}: guid "{guid}" is already used by "{title}" ({first}); give every '
                   "session its own guid"),
                where=slot.where, guid=_shown(slot.session.guid),
                title=_shown(first.session.title), first=first.where)


def _check_overlaps(ordered: Sequence[_Slot]) -> None:
    last_in_room: dict[str, _Slot] = {}
    for slot in ordered:
        previous = last_in_room.get(slot.session.room)
        if previous is not None and slot.session.start < previous.session.end:
            raise ProgrammeError(
                N_('{where}: "{title}" ({span}) overlaps "{other}" ({other_span}) in room '
                   '"{room}"; correct the times or move one session to another room'),
                where=slot.where, title=_shown(slot.session.title), span=_span(slot.session),
                other=_shown(previous.session.title), other_span=_span(previous.session),
                room=_shown(slot.session.room))
        if previous is None or slot.session.end > previous.session.end:
            last_in_room[slot.session.room] = slot


def _span(session: Session) -> str:
    end_format = "%H:%M" if session.end.date() == session.start.date() else "%Y-%m-%d %H:%M"
    return f"{session.start:%Y-%m-%d %H:%M}–{session.end.strftime(end_format)}"


def _room_order(listed: Iterable[str], used: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*listed, *used]))


def _with_unique_slugs(sessions: Iterable[Session]) -> list[Session]:
    seen: set[str] = set()
    result = []
    for session in sessions:
        base = _safe_slug(session.slug) or slugify(session.title) or "session"
        slug, counter = base, 2
        while slug in seen:
            slug, counter = f"{base}-{counter}", counter + 1
        seen.add(slug)
        result.append(replace(session, slug=slug))
    return result


def _safe_slug(text: str) -> str:
    """Keep a given slug when it is safe in a path or URL, else make one."""
    text = text.strip()
    return text if _SAFE_SLUG.fullmatch(text) else slugify(text)


def _event_dates(draft: _Draft, sessions: Sequence[Session]) -> tuple[date, date]:
    days = [session.start.date() for session in sessions]
    start = draft.start or (min(days) if days else None)
    end = draft.end or (max(days) if days else None)
    if start is None or end is None:
        raise ProgrammeError(
            N_("the programme has no sessions and no start and end dates; add them"))
    return start, max(start, end)


def _zone_name(sessions: Sequence[Session]) -> str:
    if not sessions:
        return "UTC"
    start = sessions[0].start
    key = getattr(start.tzinfo, "key", None)
    if isinstance(key, str):
        return key
    offset = start.utcoffset() or timedelta(0)
    hours, rest = divmod(offset, timedelta(hours=1))
    # Etc/GMT names have the sign reversed: Etc/GMT-1 is UTC+01:00.
    return f"Etc/GMT{-hours:+d}" if hours and not rest else "UTC"


def _zone(name: str, where: str | ProgrammeError) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise ProgrammeError(
            N_('{where}: unknown time zone "{zone}"; use an IANA name like "Europe/Paris"'),
            where=where, zone=_shown(name)) from None


def _duration(text: str, where: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ProgrammeError(
            N_('{where}: duration "{duration}" is not HH:MM; write the length like "01:30"'),
            where=where, duration=_shown(text))
    sign, hours, minutes, seconds = match.groups()
    length = timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0))
    return _positive(-length if sign else length, where)


def _positive(length: timedelta, where: str) -> timedelta:
    if length <= timedelta(0):
        raise ProgrammeError(
            N_("{where}: the duration must be longer than zero (found {length}); give the "
               "session its real length"), where=where, length=str(length))
    return length


def _clock(text: str, where: str) -> time:
    match = _CLOCK.fullmatch(text.strip())
    if match is None or int(match.group(1)) > 23:
        raise ProgrammeError(N_('{where}: time "{time}" is not HH:MM; write it like "09:30"'),
                             where=where, time=_shown(text))
    hours, minutes, seconds = match.groups()
    return time(int(hours), int(minutes), int(seconds or 0))


def _calendar_date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise ProgrammeError(
            N_('{where}: date "{date}" is not YYYY-MM-DD; write it like "2026-03-03"'),
            where=where, date=_shown(text)) from None


def _instant(text: str, where: str, zone: tzinfo | None) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ProgrammeError(
            N_('{where}: "{moment}" is not an ISO 8601 date and time; write it like '
               '"2026-03-03T09:30:00+01:00"'), where=where, moment=_shown(text)) from None
    return _aware(moment, where, zone)


def _aware(moment: datetime, where: str, zone: tzinfo | None) -> datetime:
    if moment.tzinfo is not None and moment.utcoffset() is not None:
        return moment
    if zone is None:
        raise ProgrammeError(
            N_("{where}: {moment} has no time zone and the programme names none; add a UTC "
               "offset (like +01:00) or the programme's time zone"),
            where=where, moment=moment.isoformat())
    return moment.replace(tzinfo=zone)


def _combine(day: date | None, clock: str, zone: tzinfo | None, where: str) -> datetime:
    if day is None:
        raise ProgrammeError(
            N_("{where}: the session has a start time but no date; add its date"), where=where)
    return _aware(datetime.combine(day, _clock(clock, where)), where, zone)


def _flag(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().casefold()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ProgrammeError(N_('{where}: "{value}" is not true or false; write "true" or "false"'),
                         where=where, value=_shown(str(value)))


def _q(value: str, limit: int = 80) -> str:
    """A user-supplied value quoted on one line, shortened if long."""
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return json.dumps(shown, ensure_ascii=False)


def _shown(value: str, limit: int = 80) -> str:
    """A user-supplied value for a message's quotes: on one line, shortened if long."""
    return _q(value, limit)[1:-1]


def _one_line(text: str, limit: int = 120) -> str:
    return " ".join(text.split())[:limit]


def _distinct(items: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        text = " ".join(item.split())
        if text:
            seen.setdefault(text.casefold(), text)
    return list(seen.values())


def _join_within(items: Iterable[str], limit: int) -> str:
    joined = ""
    for item in items:
        candidate = f"{joined}, {item}" if joined else item
        if len(candidate) <= limit:
            joined = candidate
    return joined


# ---------------------------------------------------------------------------
# c3voc / pretalx schedule.json


def _parse_json(data: bytes) -> _Draft:
    root = _load_json(data)
    schedule = _obj(_need(_obj(root, ""), "schedule", ""), "schedule")
    path = "schedule.conference"
    conference = _obj(_need(schedule, "conference", "schedule"), path)
    zone_name = _text(conference, "time_zone_name", path)
    zone = _zone(zone_name, f"{path}.time_zone_name")
    days = _list(_need(conference, "days", path), f"{path}.days")
    slots = [
        slot
        for index, day in enumerate(days)
        for slot in _json_day(day, f"{path}.days[{index}]", zone)
    ]
    title = _text(conference, "title", path) or _text(conference, "acronym", path)
    if not title:
        raise ProgrammeError(N_("{where}: missing; give the conference a title"),
                             where=f"{path}.title")
    return _Draft(
        slug=_text(conference, "acronym", path) or title,
        title=title,
        timezone=zone_name,
        start=_optional_date(conference, "start", path),
        end=_optional_date(conference, "end", path),
        rooms=_json_rooms(conference, path),
        slots=tuple(slots),
    )


def _load_json(data: bytes) -> object:
    try:
        return json.loads(data.removeprefix(_BOM))
    except json.JSONDecodeError as exc:
        raise ProgrammeError(
            N_("line {line}, column {column}: invalid JSON ({reason}); fix the syntax there"),
            line=exc.lineno, column=exc.colno, reason=exc.msg) from None
    except UnicodeDecodeError:
        raise ProgrammeError(N_("the JSON is not UTF-8 text; save it as UTF-8")) from None
    except RecursionError:
        raise ProgrammeError(
            N_("the JSON is nested too deeply to be a programme; export the programme again")
        ) from None


def _json_day(raw: object, path: str, zone: tzinfo | None) -> list[_Slot]:
    day = _obj(raw, path)
    day_text = _text(day, "date", path)
    day_date = _calendar_date(day_text, f"{path}.date") if day_text else None
    rooms = _obj(_need(day, "rooms", path), f"{path}.rooms")
    slots = []
    for key, sessions in rooms.items():
        room_path = f"{path}.rooms[{_q(key, 200)}]"
        room = key.strip()
        if not room:
            raise ProgrammeError(N_("{where}: the room has no name; name it"), where=room_path)
        for index, session in enumerate(_list(sessions, room_path)):
            slots.append(_json_session(session, f"{room_path}[{index}]", room, day_date, zone))
    return slots


def _json_session(
    raw: object, path: str, room: str, day: date | None, zone: tzinfo | None
) -> _Slot:
    obj = _obj(raw, path)
    session = Session(
        guid=_text(obj, "guid", path, required=True),
        title=_text(obj, "title", path, required=True),
        room=room,
        start=_json_start(obj, path, day, zone),
        duration=_duration(_text(obj, "duration", path, required=True), f"{path}.duration"),
        slug=_text(obj, "slug", path),
        subtitle=_text(obj, "subtitle", path),
        abstract=_text(obj, "abstract", path) or _text(obj, "description", path),
        track=_text(obj, "track", path),
        kind=_text(obj, "type", path),
        language=_text(obj, "language", path),
        persons=_json_persons(obj.get("persons"), f"{path}.persons"),
        do_not_record=_flag(obj.get("do_not_record"), f"{path}.do_not_record"),
        recording_license=_text(obj, "recording_license", path),
    )
    return _Slot(path, session)


def _json_start(
    obj: dict[str, object], path: str, day: date | None, zone: tzinfo | None
) -> datetime:
    clock = _text(obj, "start", path)
    if clock:
        _clock(clock, f"{path}.start")
    moment = _text(obj, "date", path)
    if moment:
        return _instant(moment, f"{path}.date", zone)
    if clock:
        return _combine(day, clock, zone, f"{path}.start")
    raise ProgrammeError(
        N_("{where}: missing; give the session's start as an ISO date and time with its offset"),
        where=f"{path}.date")


def _json_persons(raw: object, path: str) -> tuple[Person, ...]:
    if raw is None:
        return ()
    persons = []
    for index, item in enumerate(_list(raw, path)):
        person = _json_person(item, f"{path}[{index}]")
        if person.name:
            persons.append(person)
    return tuple(persons)


def _json_person(raw: object, path: str) -> Person:
    if isinstance(raw, str):
        return Person(name=raw.strip())
    obj = _obj(raw, path)
    names = [_text(obj, key, path) for key in ("public_name", "name", "full_public_name")]
    name = next((name for name in names if name), "")
    organisation = _text(obj, "organisation", path) or _text(obj, "organization", path)
    return Person(name=name, organisation=organisation)


def _json_rooms(conference: dict[str, object], path: str) -> tuple[str, ...]:
    raw = conference.get("rooms")
    if raw is None:
        return ()
    names = []
    for index, item in enumerate(_list(raw, f"{path}.rooms")):
        where = f"{path}.rooms[{index}]"
        name = item if isinstance(item, str) else _text(_obj(item, where), "name", where)
        if name.strip():
            names.append(name.strip())
    return tuple(names)


def _optional_date(obj: dict[str, object], key: str, path: str) -> date | None:
    text = _text(obj, key, path)
    return _calendar_date(text, f"{path}.{key}") if text else None


def _need(obj: dict[str, object], key: str, path: str) -> object:
    value = obj.get(key)
    if value is None:
        where = f"{path}.{key}" if path else key
        raise ProgrammeError(
            N_("{where}: missing; add it (see the c3voc schedule.json schema ({schema}))"),
            where=where, schema=_SCHEMA)
    return value


def _text(obj: dict[str, object], key: str, path: str, *, required: bool = False) -> str:
    value = obj.get(key)
    where = f"{path}.{key}"
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    elif value is None:
        text = ""
    else:
        raise ProgrammeError(N_("{where}: expected text, found {found}; write a string"),
                             where=where, found=_json_kind(value))
    if required and not text:
        raise ProgrammeError(_NEEDED[key], where=where)
    return text


def _obj(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ProgrammeError(
            N_("{where}: expected an object, found {found}; see the c3voc schedule.json schema "
               "({schema})"),
            where=path or ProgrammeError(N_("the top level")), found=_json_kind(value),
            schema=_SCHEMA)
    return {str(key): item for key, item in value.items()}


def _list(value: object, path: str) -> list[object]:
    if not isinstance(value, list):
        raise ProgrammeError(
            N_("{where}: expected a list, found {found}; see the c3voc schedule.json schema "
               "({schema})"), where=path, found=_json_kind(value), schema=_SCHEMA)
    return list(value)


def _json_kind(value: object) -> ProgrammeError:
    """What JSON `value` is, as a message's value (translated with it)."""
    kinds: dict[type, str] = {dict: N_("an object"), list: N_("a list"), str: N_("text"),
                              bool: N_("true/false")}
    number = isinstance(value, int | float)
    return ProgrammeError(kinds.get(type(value), N_("a number") if number else N_("null")))


# ---------------------------------------------------------------------------
# frab schedule.xml


def _parse_xml(data: bytes) -> _Draft:
    root = _load_xml(data)
    if root.tag != "schedule":
        raise ProgrammeError(
            N_("the XML root element is <{tag}>, not <schedule>; upload {formats}"),
            tag=root.tag, formats=_formats())
    conference = root.find("conference")
    if conference is None:
        raise ProgrammeError(N_("{where}: missing; add the <conference> element"),
                             where="schedule/conference")
    zone_name = _xtext(conference, "time_zone_name")
    zone = _zone(zone_name, "schedule/conference/time_zone_name")
    slots = [
        slot
        for index, day in enumerate(root.findall("day"), start=1)
        for slot in _xml_day(day, f"schedule/day[{index}]", zone)
    ]
    title = _xtext(conference, "title") or _xtext(conference, "acronym")
    if not title:
        raise ProgrammeError(N_("{where}: missing; give the conference a title"),
                             where="schedule/conference/title")
    return _Draft(
        slug=_xtext(conference, "acronym") or title,
        title=title,
        timezone=zone_name,
        start=_xml_date(conference, "start", "schedule/conference"),
        end=_xml_date(conference, "end", "schedule/conference"),
        rooms=_xml_rooms(conference),
        slots=tuple(slots),
    )


def _load_xml(data: bytes) -> Element:
    try:
        root: Element = SafeElementTree.fromstring(data)
    except ParseError as exc:
        line, column = exc.position
        raise ProgrammeError(
            N_("line {line}, column {column}: invalid XML ({reason}); fix the syntax there"),
            line=line, column=column + 1, reason=_xml_reason(exc)) from None
    except defusedxml.DefusedXmlException as exc:
        raise ProgrammeError(
            N_("the XML declares entities or external references ({kind}), which are refused "
               "for safety; remove the DOCTYPE"), kind=type(exc).__name__) from None
    return root


def _xml_reason(exc: ParseError) -> str:
    return str(exc).split(":", 1)[0]


def _xml_day(day: Element, path: str, zone: tzinfo | None) -> list[_Slot]:
    day_text = day.get("date", "")
    day_date = _calendar_date(day_text, f"{path}/@date") if day_text else None
    slots = []
    for room in day.findall("room"):
        name = room.get("name", "").strip()
        room_path = f"{path}/room[@name={_q(name, 200)}]"
        for index, event in enumerate(room.findall("event"), start=1):
            guid = event.get("guid", "").strip()
            where = (
                f"{room_path}/event[@guid={_q(guid)}]" if guid else f"{room_path}/event[{index}]"
            )
            slots.append(_xml_session(event, where, name, day_date, zone))
    return slots


def _xml_session(
    event: Element, path: str, room: str, day: date | None, zone: tzinfo | None
) -> _Slot:
    recording = event.find("recording")
    session = Session(
        guid=_xrequired(event.get("guid", ""), f"{path}/@guid", "guid"),
        title=_xrequired(_xtext(event, "title"), f"{path}/title", "title"),
        room=_xtext(event, "room") or room,
        start=_xml_start(event, path, day, zone),
        duration=_duration(
            _xrequired(_xtext(event, "duration"), f"{path}/duration", "duration"),
            f"{path}/duration",
        ),
        slug=_xtext(event, "slug"),
        subtitle=_xtext(event, "subtitle"),
        abstract=_xtext(event, "abstract") or _xtext(event, "description"),
        track=_xtext(event, "track"),
        kind=_xtext(event, "type"),
        language=_xtext(event, "language"),
        persons=_xml_persons(event),
        do_not_record=_xml_optout(recording, f"{path}/recording/optout"),
        recording_license=_xtext(recording, "license") if recording is not None else "",
    )
    if not session.room:
        raise ProgrammeError(N_("{where}: missing; give the session its room"),
                             where=f"{path}/room")
    return _Slot(path, session)


def _xml_start(event: Element, path: str, day: date | None, zone: tzinfo | None) -> datetime:
    clock = _xtext(event, "start")
    if clock:
        _clock(clock, f"{path}/start")
    moment = _xtext(event, "date")
    if moment:
        return _instant(moment, f"{path}/date", zone)
    if clock:
        return _combine(day, clock, zone, f"{path}/start")
    raise ProgrammeError(N_("{where}: missing; give the session its <date> or <start>"),
                         where=f"{path}/start")


def _xml_optout(recording: Element | None, where: str) -> bool:
    if recording is None:
        return False
    return _flag(_xtext(recording, "optout"), where)


def _xml_persons(event: Element) -> tuple[Person, ...]:
    names = (" ".join(person.itertext()).strip() for person in event.iterfind("persons/person"))
    return tuple(Person(name=name) for name in names if name)


def _xml_rooms(conference: Element) -> tuple[str, ...]:
    names = (room.get("name", "").strip() for room in conference.iterfind("rooms/room"))
    return tuple(name for name in names if name)


def _xml_date(element: Element, tag: str, path: str) -> date | None:
    text = _xtext(element, tag)
    return _calendar_date(text, f"{path}/{tag}") if text else None


def _xtext(element: Element, tag: str) -> str:
    child = element.find(tag)
    return "".join(child.itertext()).strip() if child is not None else ""


def _xrequired(text: str, where: str, name: str) -> str:
    if not text.strip():
        raise ProgrammeError(_NEEDED[name], where=where)
    return text.strip()


# ---------------------------------------------------------------------------
# iCalendar


def _parse_ics(data: bytes, fallback_name: str) -> _Draft:
    calendar = _load_ics(data)
    zone_name = _ical_text(calendar.get("X-WR-TIMEZONE"))
    zone = _zone(zone_name, "X-WR-TIMEZONE")
    events = calendar.walk("VEVENT")
    if not events:
        raise ProgrammeError(N_("the calendar has no VEVENT; add one event per session"))
    slots = [_ics_session(event, index, zone) for index, event in enumerate(events, start=1)]
    title = (
        _ical_text(calendar.get("X-WR-CALNAME"))
        or _ical_text(calendar.get("NAME"))
        or fallback_name
        or "Programme"
    )
    return _Draft(
        slug=title,
        title=title,
        timezone=zone_name,
        start=None,
        end=None,
        rooms=(),
        slots=tuple(slots),
    )


def _load_ics(data: bytes) -> Any:
    try:
        return icalendar.Calendar.from_ical(data.removeprefix(_BOM))
    except (ValueError, IndexError, KeyError) as exc:
        reason = _one_line(str(exc).split(":", 1)[0])
        raise ProgrammeError(N_("invalid iCalendar ({reason}); fix the file's syntax"),
                             reason=reason) from None


def _ics_session(event: Any, index: int, zone: tzinfo | None) -> _Slot:
    uid = _ical_text(event.get("UID"))
    where = f"VEVENT #{index} (UID {_q(uid)})" if uid else f"VEVENT #{index}"
    _ics_check_errors(event, where)
    if not uid:
        raise ProgrammeError(N_("{where}: UID missing; give every event a stable UID"),
                             where=where)
    start = _ics_moment(event, "DTSTART", where, zone)
    categories = _ics_categories(event)
    session = Session(
        guid=uid,
        title=_xrequired(_ical_text(event.get("SUMMARY")), f"{where} SUMMARY", "title"),
        room=_xrequired(_ical_text(event.get("LOCATION")), f"{where} LOCATION", "room"),
        start=start,
        duration=_positive(_ics_duration(event, start, where, zone), where),
        abstract=_ical_text(event.get("DESCRIPTION")),
        track=categories[0] if categories else "",
        kind=categories[-1] if categories else "",
        persons=_ics_persons(event),
        do_not_record=_ics_do_not_record(event, where),
    )
    return _Slot(where, session)


def _ics_check_errors(event: Any, where: str) -> None:
    for name, reason in getattr(event, "errors", ()):
        raise ProgrammeError(
            N_("{where}: {name} cannot be read ({reason}); fix that property"),
            where=where, name=name, reason=_one_line(str(reason)))


def _ics_moment(event: Any, name: str, where: str, zone: tzinfo | None) -> datetime:
    prop = event.get(name)
    if prop is None:
        raise ProgrammeError(N_("{where}: {name} missing; give the session its start time"),
                             where=where, name=name)
    value = prop.dt
    if not isinstance(value, datetime):
        raise ProgrammeError(
            N_("{where}: {name} is a whole day; sessions need a start and end time"),
            where=where, name=name)
    tzid = _ical_text(getattr(prop, "params", {}).get("TZID"))
    if value.tzinfo is None and tzid:
        raise ProgrammeError(
            N_('{where}: {name} names an unknown time zone "{zone}"; use an IANA name like '
               '"Europe/Paris" or include its VTIMEZONE'), where=where, name=name,
            zone=_shown(tzid))
    try:
        return _aware(value, f"{where} {name}", zone)
    except ProgrammeError:
        raise ProgrammeError(
            N_("{where}: {name} is a floating time; times need a time zone: add TZID to the "
               "property or X-WR-TIMEZONE to the calendar"), where=where, name=name) from None


def _ics_duration(event: Any, start: datetime, where: str, zone: tzinfo | None) -> timedelta:
    if event.get("DTEND") is not None:
        return _ics_moment(event, "DTEND", where, zone) - start
    duration = event.get("DURATION")
    if duration is None or not isinstance(duration.dt, timedelta):
        raise ProgrammeError(N_("{where}: DTEND or DURATION missing; give the session its end"),
                             where=where)
    length: timedelta = duration.dt
    return length


def _ics_categories(event: Any) -> list[str]:
    raw = event.get("CATEGORIES")
    props = raw if isinstance(raw, list) else [raw] if raw is not None else []
    names = (_ical_text(cat) for prop in props for cat in getattr(prop, "cats", ()))
    return [name for name in names if name]


def _ics_persons(event: Any) -> tuple[Person, ...]:
    raw = event.get("ATTENDEE")
    attendees = raw if isinstance(raw, list) else [raw] if raw is not None else []
    names = (_ical_text(getattr(item, "params", {}).get("CN")) for item in attendees)
    return tuple(Person(name=name) for name in names if name)


def _ics_do_not_record(event: Any, where: str) -> bool:
    private = _ical_text(event.get("CLASS")).upper() == "PRIVATE"
    return private or _flag(_ical_text(event.get("X-DO-NOT-RECORD")), f"{where} X-DO-NOT-RECORD")


def _ical_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return _ical_text(value[0]) if value else ""
    return str(value).strip()
