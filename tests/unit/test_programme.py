"""Programme parsing: schedule.json, schedule.xml and iCalendar, their errors and hotwords."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.domain import model as replay_model
from replay.domain import programme as replay_programme
from replay.domain.errors import ProgrammeError, ReplayError
from replay.domain.model import Event, Person, Session
from replay.domain.programme import (
    HOTWORDS_LIMIT,
    parse_programme,
    programme_hotwords,
    slugify,
)
from replay.locale import LOCALE_DIR, describe

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "programmes"
REAL = FIXTURES / "mission-villes-2026.schedule.json"
SAMPLES = ["sample.schedule.json", "sample.schedule.xml", "sample.ics"]
PARIS_WINTER = timezone(timedelta(hours=1))


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _parse_file(name: str) -> Event:
    return parse_programme(_read(name), filename=name)


def _key(session: Session) -> tuple[str, str, str, datetime, timedelta]:
    return (session.guid, session.title, session.room, session.start, session.duration)


# ---------------------------------------------------------------------------
# Builders for schedule.json, schedule.xml and iCalendar documents


def _jsession(**fields: Any) -> dict[str, Any]:
    """A schedule.json session; a field given as None is left out."""
    base: dict[str, Any] = {
        "guid": "g-1",
        "date": "2026-03-03T09:30:00+01:00",
        "start": "09:30",
        "duration": "01:30",
        "title": "Atelier 1",
        "type": "Atelier",
        "do_not_record": False,
        "persons": [],
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def _jdoc(by_room: dict[str, list[dict[str, Any]]], /, **conference: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "acronym": "demo",
        "title": "Démo",
        "start": "2026-03-03",
        "end": "2026-03-03",
        "time_zone_name": "Europe/Paris",
        "days": [{"index": 0, "date": "2026-03-03", "rooms": by_room}],
    }
    base.update(conference)
    return {"schedule": {"conference": {k: v for k, v in base.items() if v is not None}}}


def _json(by_room: dict[str, list[dict[str, Any]]], /, **conference: Any) -> bytes:
    return json.dumps(_jdoc(by_room, **conference), ensure_ascii=False).encode()


def _xevent(guid: str = "x-1", **fields: str | None) -> str:
    base: dict[str, str | None] = {
        "date": "2026-03-03T09:30:00+01:00",
        "start": "09:30",
        "duration": "01:30",
        "title": "Atelier 1",
    }
    base.update(fields)
    children = "".join(f"<{tag}>{text}</{tag}>" for tag, text in base.items() if text is not None)
    attribute = f' guid="{guid}"' if guid else ""
    return f"<event{attribute}>{children}</event>"


def _xml(*events: str, room: str = "Salle Seine", zone: str = "Europe/Paris") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<schedule>\n'
        f"<conference><acronym>demo</acronym><title>Démo</title>"
        f"<time_zone_name>{zone}</time_zone_name></conference>\n"
        f'<day index="1" date="2026-03-03">\n<room name="{room}">\n'
        + "\n".join(events)
        + "\n</room>\n</day>\n</schedule>\n"
    ).encode()


def _vevent(*lines: str) -> list[str]:
    return ["BEGIN:VEVENT", "DTSTAMP:20260101T000000Z", *lines, "END:VEVENT"]


def _ics(*events: list[str], header: tuple[str, ...] = ("X-WR-TIMEZONE:Europe/Paris",)) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tests//FR", *header]
    lines += [line for event in events for line in event]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def _ok_vevent(uid: str = "u-1", start: str = "20260303T093000", **_: str) -> list[str]:
    return _vevent(
        f"UID:{uid}",
        "SUMMARY:Atelier 1",
        f"DTSTART;TZID=Europe/Paris:{start}",
        "DURATION:PT1H30M",
        "LOCATION:Salle Seine",
    )


# ---------------------------------------------------------------------------
# The real programme


def test_real_programme_parses() -> None:
    event = _parse_file(REAL.name)

    assert event.slug == "mission-villes-2026"
    assert event.title.startswith("Renforcer le pouvoir d'agir")
    assert event.timezone == "Europe/Paris"
    assert (event.start.isoformat(), event.end.isoformat()) == ("2026-03-03", "2026-03-04")
    assert event.rooms == ("Plénière", "Salle Seine", "Salle Marne")
    assert len(event.sessions) == 20
    assert len({session.guid for session in event.sessions}) == 20
    assert len({session.slug for session in event.sessions}) == 20


def test_real_programme_honours_do_not_record_and_breaks() -> None:
    sessions = {session.slug: session for session in _parse_file(REAL.name).sessions}

    assert sessions["mv26-1000-accueil"].do_not_record
    assert not sessions["mv26-1000-accueil"].is_break
    assert sessions["mv26-1006-dejeuner"].is_break
    assert not sessions["mv26-1001-mot-de-bienvenue-et-introduction"].do_not_record
    breaks = [session.title for session in sessions.values() if session.is_break]
    assert breaks == ["Pause", "Déjeuner", "Pause", "Pause", "Déjeuner"]
    publishable = [session for session in sessions.values() if session.publishable]
    assert len(publishable) == 12


def test_real_programme_is_in_programme_order() -> None:
    event = _parse_file(REAL.name)
    rank = {room: index for index, room in enumerate(event.rooms)}

    keys = [(session.start, rank[session.room]) for session in event.sessions]

    assert keys == sorted(keys)
    assert event.sessions[2].room == "Salle Seine"
    assert event.sessions[3].room == "Salle Marne"
    assert event.sessions[0].start == datetime(2026, 3, 3, 8, 30, tzinfo=PARIS_WINTER)


def test_real_programme_persons() -> None:
    event = _parse_file(REAL.name)
    welcome = next(s for s in event.sessions if s.slug.startswith("mv26-1001"))

    assert welcome.persons == (Person(name="Valérie Pécresse"),)


# ---------------------------------------------------------------------------
# Three formats, same programme


@pytest.mark.parametrize("name", [*SAMPLES, REAL.name])
def test_reparsing_is_identical(name: str) -> None:
    first, second = _parse_file(name), _parse_file(name)

    assert [s.guid for s in first.sessions] == [s.guid for s in second.sessions]
    assert first == second


@pytest.mark.parametrize("name", SAMPLES[1:])
def test_formats_give_equivalent_sessions(name: str) -> None:
    reference = _parse_file(SAMPLES[0])
    other = _parse_file(name)

    assert [_key(s) for s in other.sessions] == [_key(s) for s in reference.sessions]
    assert [s.do_not_record for s in other.sessions] == [False, False, False, True]
    assert [s.is_break for s in other.sessions] == [False, False, False, True]
    assert other.rooms == reference.rooms == ("Plénière", "Salle Seine")
    assert other.timezone == "Europe/Paris"
    assert other.start == reference.start


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_sessions(name: str) -> None:
    event = _parse_file(name)

    assert [s.title for s in event.sessions] == [
        "Ouverture",
        "Table ronde : la ville sobre",
        "Atelier « énergie »",
        "Pause",
    ]
    assert [s.slug for s in event.sessions][1:] == [
        "table-ronde-la-ville-sobre",
        "atelier-energie",
        "pause",
    ]
    assert event.sessions[0].persons[0].name == "Anne Martin"
    # starts are shown in the programme's zone, whatever the file wrote
    assert all(str(s.start.tzinfo) == "Europe/Paris" for s in event.sessions)


def test_xml_without_date_uses_day_start_and_zone() -> None:
    event = parse_programme(_xml(_xevent(date=None, start="14:00", duration="00:45")))

    assert event.sessions[0].start == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    assert event.sessions[0].duration == timedelta(minutes=45)


def test_xml_recording_optout_and_persons() -> None:
    event_xml = _xevent(recording="<license>CC BY 4.0</license><optout>true</optout>")
    event_xml = event_xml.replace(
        "</event>", "<persons><person id='1'>Zoé</person></persons></event>"
    )

    session = parse_programme(_xml(event_xml)).sessions[0]

    assert session.do_not_record
    assert session.recording_license == "CC BY 4.0"
    assert session.persons == (Person(name="Zoé"),)


def test_json_without_date_combines_day_start_and_zone() -> None:
    event = parse_programme(_json({"A": [_jsession(date=None, start="09:00")]}))

    assert event.sessions[0].start == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def test_json_naive_date_takes_programme_zone() -> None:
    event = parse_programme(_json({"A": [_jsession(date="2026-07-01T09:00:00")]}))

    assert event.sessions[0].start == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["CLASS:PRIVATE"], True),
        (["X-DO-NOT-RECORD:TRUE"], True),
        (["X-DO-NOT-RECORD:false"], False),
        (["CLASS:PUBLIC"], False),
        ([], False),
    ],
)
def test_ics_do_not_record(extra: list[str], expected: bool) -> None:
    event = _ok_vevent()
    event[-1:-1] = extra

    assert parse_programme(_ics(event)).sessions[0].do_not_record is expected


def test_ics_categories_and_description() -> None:
    event = _ok_vevent()
    event[-1:-1] = ["CATEGORIES:Table ronde,Débat", "DESCRIPTION:Une table ronde\\, longue."]

    session = parse_programme(_ics(event)).sessions[0]

    assert (session.track, session.kind) == ("Table ronde", "Débat")
    assert session.abstract == "Une table ronde, longue."


def test_ics_title_and_rooms_in_order_of_appearance() -> None:
    second = _ok_vevent("u-2")
    second[6] = "LOCATION:Salle Marne"
    calendar = _ics(second, _ok_vevent("u-1"), header=("X-WR-CALNAME:Journée à Lyon",))

    event = parse_programme(calendar)

    assert (event.title, event.slug) == ("Journée à Lyon", "journee-a-lyon")
    assert event.rooms == ("Salle Marne", "Salle Seine")
    assert event.timezone == "Europe/Paris"


def test_touching_sessions_are_fine() -> None:
    first = _jsession(guid="a", date="2026-03-03T09:00:00+01:00", duration="00:30")
    second = _jsession(guid="b", date="2026-03-03T09:30:00+01:00", duration="00:30")

    event = parse_programme(_json({"A": [second, first]}))

    assert [s.guid for s in event.sessions] == ["a", "b"]


def test_rooms_unknown_to_the_conference_list_come_last() -> None:
    rooms = {"B": [_jsession(guid="b")], "A": [_jsession(guid="a")]}

    event = parse_programme(_json(rooms, rooms=[{"name": "C"}, {"name": "A"}]))

    assert event.rooms == ("C", "A", "B")
    assert [s.room for s in event.sessions] == ["A", "B"]


# ---------------------------------------------------------------------------
# Slugs


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Atelier « énergie »", "atelier-energie"),
        ("Déjeuner", "dejeuner"),
        ("L'Œuvre & la Ville", "l-oeuvre-la-ville"),
        ("  --Hello--  ", "hello"),
        ("???", ""),
        ("a" * 100, "a" * 80),
        ("mot " * 30, "-".join(["mot"] * 20)),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_session_slugs_are_unique_and_safe() -> None:
    sessions = [
        _jsession(guid="a", date="2026-03-03T09:00:00+01:00", duration="00:15", title="Pause"),
        _jsession(guid="b", date="2026-03-03T10:00:00+01:00", duration="00:15", title="Pause"),
        _jsession(guid="c", date="2026-03-03T11:00:00+01:00", duration="00:15", slug="pause"),
        _jsession(guid="d", date="2026-03-03T12:00:00+01:00", duration="00:15", slug="../etc"),
        _jsession(guid="e", date="2026-03-03T13:00:00+01:00", duration="00:15", title="???"),
    ]

    event = parse_programme(_json({"A": sessions}, acronym="Démo 2026 !"))

    assert [s.slug for s in event.sessions] == ["pause", "pause-2", "pause-3", "etc", "session"]
    assert event.slug == "demo-2026"


# ---------------------------------------------------------------------------
# Errors: each says where, and what to do


def _overlapping_json() -> bytes:
    first = _jsession(guid="a", title="Premier", date="2026-03-03T09:30:00+01:00")
    second = _jsession(guid="b", title="Second", date="2026-03-03T10:00:00+01:00")
    return _json({"Salle Seine": [first, second]})


SEINE = 'schedule.conference.days[0].rooms["Salle Seine"]'

JSON_ERRORS: list[Any] = [
    pytest.param(
        b'{"schedule": {\n  "conference": ,\n}}', "line 2, column 17: invalid JSON", id="syntax"
    ),
    pytest.param(b"\xff{", "not a programme format", id="binary"),
    pytest.param(b'{"a": "\xff"}', "not UTF-8", id="not-utf8"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "nested too deeply", id="deep"),
    pytest.param(b"[]", "the top level: expected an object", id="root-list"),
    pytest.param(b"{}", "schedule: missing", id="no-schedule"),
    pytest.param(
        _json({}, days={"0": 1}), "schedule.conference.days: expected a list", id="days-object"
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(guid=None)]}), f"{SEINE}[0].guid: missing", id="guid"
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(guid=["x"])]}),
        f"{SEINE}[0].guid: expected text, found a list",
        id="guid-type",
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(title=" ")]}), f"{SEINE}[0].title: missing", id="title"
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(date=None, start=None)]}),
        f"{SEINE}[0].date: missing",
        id="no-start",
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(duration=None)]}),
        f"{SEINE}[0].duration: missing",
        id="no-duration",
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(duration="1h30")]}),
        f'{SEINE}[0].duration: duration "1h30" is not HH:MM',
        id="duration-format",
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(duration="00:00")]}),
        f"{SEINE}[0].duration: the duration must be longer than zero",
        id="duration-zero",
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(duration="-00:30")]}),
        f"{SEINE}[0].duration: the duration must be longer than zero",
        id="duration-negative",
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(date=None, start="25:00")]}),
        f'{SEINE}[0].start: time "25:00" is not HH:MM',
        id="start-format",
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(date="le 3 mars")]}),
        f'{SEINE}[0].date: "le 3 mars" is not an ISO 8601 date and time',
        id="date-format",
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(date="2026-03-03T09:30:00")]}, time_zone_name=None),
        f"{SEINE}[0].date: 2026-03-03T09:30:00 has no time zone",
        id="naive",
    ),
    pytest.param(
        _json({"A": [_jsession()]}, time_zone_name="Mars/Olympus"),
        'schedule.conference.time_zone_name: unknown time zone "Mars/Olympus"',
        id="zone",
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(do_not_record="peut-être")]}),
        f"{SEINE}[0].do_not_record",
        id="flag",
    ),
    pytest.param(
        _json({"Salle Seine": [_jsession(), _jsession(date="2026-03-04T09:30:00+01:00")]}),
        f'{SEINE}[1]: guid "g-1" is already used by "Atelier 1" ({SEINE}[0])',
        id="duplicate-guid",
    ),
    pytest.param(
        _overlapping_json(),
        f'{SEINE}[1]: "Second" (2026-03-03 10:00–11:30) overlaps "Premier" '
        '(2026-03-03 09:30–11:00) in room "Salle Seine"',
        id="overlap",
    ),
]


@pytest.mark.parametrize(("data", "where"), JSON_ERRORS)
def test_json_errors(data: bytes, where: str) -> None:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(data)

    message = str(caught.value)
    assert where in message
    assert "\n" not in message
    assert ";" in message  # what is wrong; what to do


EVENT = 'schedule/day[1]/room[@name="Salle Seine"]/event[@guid="x-1"]'

XML_ERRORS: list[Any] = [
    pytest.param(
        b"<schedule>\n<conference>\n</schedule>", "line 3, column 3: invalid XML", id="syntax"
    ),
    pytest.param(b"<html><body/></html>", "root element is <html>", id="not-frab"),
    pytest.param(b"<schedule/>", "schedule/conference: missing", id="no-conference"),
    pytest.param(_xml(_xevent(guid="")), "event[1]/@guid: missing", id="guid"),
    pytest.param(_xml(_xevent(title=None)), f"{EVENT}/title: missing", id="title"),
    pytest.param(_xml(_xevent(date=None, start=None)), f"{EVENT}/start: missing", id="no-start"),
    pytest.param(_xml(_xevent(duration=None)), f"{EVENT}/duration: missing", id="no-duration"),
    pytest.param(
        _xml(_xevent(duration="90 min")),
        f'{EVENT}/duration: duration "90 min" is not HH:MM',
        id="duration-format",
    ),
    pytest.param(
        _xml(_xevent(duration="0:00")),
        f"{EVENT}/duration: the duration must be longer than zero",
        id="duration-zero",
    ),
    pytest.param(
        _xml(_xevent(date=None, start="9h30")),
        f'{EVENT}/start: time "9h30" is not HH:MM',
        id="start-format",
    ),
    pytest.param(
        _xml(_xevent(date="2026-03-03T09:30:00"), zone=""),
        f"{EVENT}/date: 2026-03-03T09:30:00 has no time zone",
        id="naive",
    ),
    pytest.param(
        _xml(_xevent(recording="<optout>sometimes</optout>")),
        f"{EVENT}/recording/optout",
        id="optout",
    ),
    pytest.param(
        _xml(_xevent(), _xevent(date="2026-03-04T09:30:00+01:00")),
        f'{EVENT}: guid "x-1" is already used',
        id="duplicate-guid",
    ),
    pytest.param(
        _xml(_xevent(), _xevent("x-2", date="2026-03-03T10:59:00+01:00", title="Bis")),
        'event[@guid="x-2"]: "Bis" (2026-03-03 10:59–12:29) overlaps "Atelier 1" '
        "(2026-03-03 09:30–11:00)",
        id="overlap",
    ),
]


@pytest.mark.parametrize(("data", "where"), XML_ERRORS)
def test_xml_errors(data: bytes, where: str) -> None:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(data)

    assert where in str(caught.value)
    assert "\n" not in str(caught.value)


UID = 'VEVENT #1 (UID "u-1")'

ICS_ERRORS: list[Any] = [
    pytest.param(
        b"BEGIN:VCALENDAR\r\nnot a content line\r\nEND:VCALENDAR\r\n",
        "invalid iCalendar",
        id="syntax",
    ),
    pytest.param(_ics(), "the calendar has no VEVENT", id="empty"),
    pytest.param(_ics(_vevent("SUMMARY:x")), "VEVENT #1: UID missing", id="uid"),
    pytest.param(
        _ics(_vevent("UID:u-1", "DTSTART:20260303T090000Z", "DURATION:PT1H", "LOCATION:A")),
        f"{UID} SUMMARY: missing",
        id="summary",
    ),
    pytest.param(
        _ics(_vevent("UID:u-1", "SUMMARY:x", "LOCATION:A")), f"{UID}: DTSTART missing", id="start"
    ),
    pytest.param(
        _ics(_vevent("UID:u-1", "SUMMARY:x", "DTSTART:20260303T090000Z", "LOCATION:A")),
        f"{UID}: DTEND or DURATION missing",
        id="end",
    ),
    pytest.param(
        _ics(_vevent("UID:u-1", "SUMMARY:x", "DTSTART:20260303T090000Z", "DURATION:PT1H")),
        f"{UID} LOCATION: missing",
        id="location",
    ),
    pytest.param(
        _ics(_vevent("UID:u-1", "SUMMARY:x", "DTSTART:nine", "DURATION:PT1H", "LOCATION:A")),
        f"{UID}: DTSTART cannot be read",
        id="bad-start",
    ),
    pytest.param(
        _ics(
            _vevent(
                "UID:u-1", "SUMMARY:x", "DTSTART:20260303T090000", "DURATION:PT1H", "LOCATION:A"
            ),
            header=(),
        ),
        f"{UID}: DTSTART is a floating time; times need a time zone",
        id="floating",
    ),
    pytest.param(
        _ics(
            _vevent("UID:u-1", "SUMMARY:x", "DTSTART;TZID=Mars/Base:20260303T090000", "LOCATION:A")
        ),
        f'{UID}: DTSTART names an unknown time zone "Mars/Base"',
        id="unknown-tzid",
    ),
    pytest.param(
        _ics(_vevent("UID:u-1", "SUMMARY:x", "DTSTART;VALUE=DATE:20260303", "LOCATION:A")),
        f"{UID}: DTSTART is a whole day",
        id="all-day",
    ),
    pytest.param(
        _ics(
            _vevent(
                "UID:u-1",
                "SUMMARY:x",
                "DTSTART:20260303T090000Z",
                "DTEND:20260303T080000Z",
                "LOCATION:A",
            )
        ),
        f"{UID}: the duration must be longer than zero",
        id="end-before-start",
    ),
    pytest.param(
        _ics(_ok_vevent(), header=("X-WR-TIMEZONE:Nowhere/Land",)),
        'X-WR-TIMEZONE: unknown time zone "Nowhere/Land"',
        id="zone",
    ),
    pytest.param(
        _ics(_ok_vevent(), _ok_vevent(start="20260304T093000")),
        'VEVENT #2 (UID "u-1"): guid "u-1" is already used',
        id="duplicate-uid",
    ),
    pytest.param(
        _ics(_ok_vevent(), _ok_vevent("u-2", start="20260303T100000")),
        'VEVENT #2 (UID "u-2"): "Atelier 1" (2026-03-03 10:00–11:30) overlaps',
        id="overlap",
    ),
]


@pytest.mark.parametrize(("data", "where"), ICS_ERRORS)
def test_ics_errors(data: bytes, where: str) -> None:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(data)

    assert where in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"", "", "the file is empty"),
        (b"  \n", "programme.json", "programme.json: the file is empty"),
        (b"%PDF-1.7", "programme.pdf", "programme.pdf: not a programme format"),
        (b"hello", "p.json", "p.json: not a programme format this service reads (the name ends"),
        (b"Title,Start\n", "p.csv", "upload a c3voc/pretalx schedule.json, a frab schedule.xml"),
    ],
)
def test_unknown_formats(data: bytes, filename: str, expected: str) -> None:
    with pytest.raises(ProgrammeError, match="iCalendar") as caught:
        parse_programme(data, filename=filename)

    assert expected in str(caught.value)


def test_filename_prefixes_errors() -> None:
    with pytest.raises(ProgrammeError, match=r"^prog\.json: line 1, column 2: invalid JSON"):
        parse_programme(b"{,}", filename="prog.json")


# ---------------------------------------------------------------------------
# Hostile input

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE schedule [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<schedule><conference><title>&lol9;</title></conference></schedule>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE schedule [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<schedule><conference><title>&secret;</title></conference></schedule>
"""


@pytest.mark.timeout(10)
@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
def test_hostile_xml_is_refused(data: bytes) -> None:
    with pytest.raises(ProgrammeError, match="refused for safety"):
        parse_programme(data, filename="schedule.xml")


HOSTILE_TITLE = """<script>alert("x")</script> & l'"atelier" <b>gras</b>"""


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ics_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")


@pytest.mark.parametrize(
    "data",
    [
        _json({"A": [_jsession(title=HOSTILE_TITLE, abstract=HOSTILE_TITLE)]}),
        _xml(_xevent(title=_xml_escape(HOSTILE_TITLE), abstract=_xml_escape(HOSTILE_TITLE))),
        _xml(
            _xevent(title=f"<![CDATA[{HOSTILE_TITLE}]]>", abstract=f"<![CDATA[{HOSTILE_TITLE}]]>")
        ),
        _ics(
            _vevent(
                "UID:u-1",
                f"SUMMARY:{_ics_escape(HOSTILE_TITLE)}",
                f"DESCRIPTION:{_ics_escape(HOSTILE_TITLE)}",
                "DTSTART:20260303T090000Z",
                "DURATION:PT1H",
                "LOCATION:A",
            )
        ),
    ],
    ids=["json", "xml", "xml-cdata", "ics"],
)
def test_markup_in_titles_survives_as_text(data: bytes) -> None:
    session = parse_programme(data).sessions[0]

    assert session.title == HOSTILE_TITLE
    assert session.abstract == HOSTILE_TITLE
    assert session.slug == "script-alert-x-script-l-atelier-b-gras-b"


def test_newlines_in_titles_stay_out_of_error_messages() -> None:
    first = _jsession(guid="a", title="Un\nDeux")
    second = _jsession(guid="b", title="Trois\r\nQuatre", date="2026-03-03T10:00:00+01:00")

    with pytest.raises(ProgrammeError) as caught:
        parse_programme(_json({"A": [first, second]}))

    assert "\n" not in str(caught.value)
    assert r'"Un\nDeux"' in str(caught.value)


# ---------------------------------------------------------------------------
# Property: serialised non-overlapping sessions parse back; overlapping are refused


@dataclass(frozen=True)
class _Gen:
    guid: str
    title: str
    room: str
    start: datetime
    minutes: int

    def as_json(self) -> dict[str, Any]:
        hours, minutes = divmod(self.minutes, 60)
        return _jsession(
            guid=self.guid,
            title=self.title,
            date=self.start.isoformat(),
            start=f"{self.start:%H:%M}",
            duration=f"{hours:02d}:{minutes:02d}",
        )

    def key(self) -> tuple[str, str, str, datetime, timedelta]:
        return (self.guid, self.title, self.room, self.start, timedelta(minutes=self.minutes))


_WORDS = (
    st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=30)
    .map(str.strip)
    .filter(bool)
)
_ZONES = st.sampled_from(
    [UTC, PARIS_WINTER, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
)


@st.composite
def _programmes(draw: st.DrawFn) -> list[_Gen]:
    rooms = draw(st.lists(_WORDS, min_size=1, max_size=3, unique=True))
    zone = draw(_ZONES)
    sessions: list[_Gen] = []
    for room in rooms:
        moment = datetime(2026, 3, 3, 8, 0, tzinfo=zone) + timedelta(
            minutes=draw(st.integers(0, 600))
        )
        for _ in range(draw(st.integers(1, 5))):
            moment += timedelta(minutes=draw(st.integers(0, 90)))
            minutes = draw(st.integers(1, 240))
            title = draw(_WORDS)
            sessions.append(_Gen(f"guid-{len(sessions)}", title, room, moment, minutes))
            moment += timedelta(minutes=minutes)
    return sessions


def _serialise(sessions: list[_Gen]) -> bytes:
    rooms: dict[str, list[dict[str, Any]]] = {}
    for session in sessions:
        rooms.setdefault(session.room, []).append(session.as_json())
    return _json(rooms, time_zone_name=None)


@settings(deadline=None)
@given(_programmes())
def test_property_round_trip(sessions: list[_Gen]) -> None:
    event = parse_programme(_serialise(sessions))

    assert sorted(_key(s) for s in event.sessions) == sorted(g.key() for g in sessions)
    starts = [s.start for s in event.sessions]
    assert starts == sorted(starts)
    assert len({s.slug for s in event.sessions}) == len(sessions)


@settings(deadline=None)
@given(_programmes(), st.data())
def test_property_overlaps_are_refused(sessions: list[_Gen], data: st.DataObject) -> None:
    victim = data.draw(st.sampled_from(sessions))
    offset = data.draw(st.integers(0, victim.minutes - 1))
    intruder = _Gen(
        "intruder",
        "Intrus",
        victim.room,
        victim.start + timedelta(minutes=offset),
        data.draw(st.integers(1, 120)),
    )
    position = data.draw(st.integers(0, len(sessions)))

    with pytest.raises(ProgrammeError, match="overlaps"):
        parse_programme(_serialise([*sessions[:position], intruder, *sessions[position:]]))


# ---------------------------------------------------------------------------
# Hotwords


def _person_session(guid: str, title: str, *persons: Person, kind: str = "") -> Session:
    start = datetime(2026, 3, 3, 9, tzinfo=UTC)
    return Session(guid, title, "A", start, timedelta(hours=1), kind=kind, persons=persons)


def _event(*sessions: Session) -> Event:
    day = datetime(2026, 3, 3).date()
    return Event("e", "E", day, day, "UTC", ("A",), sessions)


def test_hotwords_names_first_then_organisations_then_titles() -> None:
    event = _event(
        _person_session("1", "Table ronde", Person("Anne Martin", "Ville de Lyon")),
        _person_session("2", "Pause", kind="Pause"),
        _person_session("3", "Atelier", Person("Jean Dupont"), Person("anne  martin", "ADEME")),
    )

    assert programme_hotwords(event) == (
        "Anne Martin, Jean Dupont, Ville de Lyon, ADEME, Table ronde, Atelier"
    )


def test_hotwords_of_some_sessions() -> None:
    first = _person_session("1", "Table ronde", Person("Anne Martin"))
    second = _person_session("2", "Atelier", Person("Jean Dupont"))

    assert programme_hotwords(_event(first, second), [second]) == "Jean Dupont, Atelier"
    assert programme_hotwords(_event(first, second), []) == ""


def test_hotwords_are_capped_keeping_names() -> None:
    persons = [Person(f"Personne numéro {index}") for index in range(40)]
    event = _event(_person_session("1", "Un titre " * 20, *persons))

    words = programme_hotwords(event)

    assert len(words) <= HOTWORDS_LIMIT
    assert words.startswith("Personne numéro 0, Personne numéro 1,")
    assert "titre" not in words


def test_hotwords_of_the_real_programme() -> None:
    words = programme_hotwords(_parse_file(REAL.name))

    assert len(words) <= HOTWORDS_LIMIT
    assert words.startswith("Valérie Pécresse, Nantes Métropole, Marseille")
    assert words.count("Marseille") == 1
    assert "Déjeuner" not in words


# ---------------------------------------------------------------------------
# People read every error in French: English messages and values, from the catalogue

NBSP = "\u00a0"
PROGRAMME_SOURCES = [Path(replay_programme.__file__), Path(replay_model.__file__)]
MORE_ERRORS: list[Any] = [
    pytest.param(b"", id="empty"),
    pytest.param(b"hello", id="not-a-format"),
    pytest.param(b"[]", id="top-level"),
    pytest.param(b'{"schedule": "x"}', id="not-an-object"),
    pytest.param(b'{"a": "\xff"}', id="not-utf8"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="too-deep"),
    pytest.param(b'{"schedule": {"conference": {"title": "T", "days": []}}}', id="no-dates"),
    pytest.param(_json({" ": [_jsession()]}), id="room-without-name"),
    pytest.param(_json({"A": [_jsession(title=["x"])]}), id="not-text"),
    pytest.param(_json({"A": [_jsession(guid="a/b")]}), id="unsafe-guid"),
    pytest.param(_json({"A": [_jsession(guid="g" * 201)]}), id="long-guid"),
    pytest.param(_json({"A": [_jsession(guid="a\u0001b")]}), id="control-guid"),
    pytest.param(BILLION_LAUGHS, id="hostile-xml"),
]
EVERY_ERROR = [
    *(pytest.param(param.values[0], id=f"{kind}-{param.id}") for kind, params in (
        ("json", JSON_ERRORS), ("xml", XML_ERRORS), ("ics", ICS_ERRORS)) for param in params),
    *MORE_ERRORS,
]


@cache
def _catalogue() -> frozenset[str]:
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "replay.po").open("rb") as source:
        return frozenset(message.id for message in read_po(source)
                         if isinstance(message.id, str) and message.id and message.string)


def _msgids(error: ReplayError) -> list[str]:
    """`error`'s message and those of its values that are messages too."""
    return [error.msgid, *(msgid for value in error.values.values()
                           if isinstance(value, ReplayError) for msgid in _msgids(value))]


@pytest.mark.parametrize("data", EVERY_ERROR)
def test_every_programme_error_is_said_in_french(data: bytes) -> None:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(data, filename="programme")

    error = caught.value
    french = describe(error)
    assert not [msgid for msgid in _msgids(error) if msgid not in _catalogue()]
    assert french.startswith(f"programme{NBSP}: ")
    assert french != str(error)
    assert "\n" not in french
    assert f"{NBSP};" in french  # what is wrong; what to do


def test_a_french_error_keeps_the_place_and_the_value() -> None:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(_json({"Salle Seine": [_jsession(duration="1h30")]}), filename="p.json")

    assert describe(caught.value) == (
        f"p.json{NBSP}: {SEINE}[0].duration{NBSP}: la durée «{NBSP}1h30{NBSP}» n’est pas au "
        f"format HH:MM{NBSP}; écrivez-la comme «{NBSP}01:30{NBSP}»")
    assert str(caught.value) == (f'p.json: {SEINE}[0].duration: duration "1h30" is not HH:MM; '
                                 'write the length like "01:30"')


def test_programme_errors_are_built_from_marked_messages() -> None:
    """No message written in an f-string: each is a msgid for the catalogue, its values
    apart."""
    for source in PROGRAMME_SOURCES:
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "ProgrammeError"):
                assert node.args, (source.name, node.lineno)
                assert not isinstance(node.args[0], ast.JoinedStr | ast.Constant | ast.BinOp), (
                    source.name, node.lineno)
