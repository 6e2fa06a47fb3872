"""Programme guids are path components: refused at import when unsafe, and the one path
function built from them never leaves its base directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.domain.errors import ProgrammeError
from replay.domain.model import GUID_MAX_LENGTH, guid_problem, path_component
from replay.domain.programme import parse_programme
from replay.locale import describe
from replay.services.workdirs import child_dir

BAD_GUIDS = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("a/b", id="slash"),
    pytest.param("/etc", id="absolute"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("..", id="dotdot"),
    pytest.param(".", id="dot"),
    pytest.param("../../outside", id="climb"),
    pytest.param("x..y", id="dotdot-inside"),
    pytest.param("a\0b", id="nul"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\x1bb", id="escape"),
    pytest.param("a\u202eb", id="bidi-override"),
    pytest.param("g" * (GUID_MAX_LENGTH + 1), id="too-long"),
]
GOOD_GUIDS = ["g-1", "2c7f1b4e-8d1a-4a6f-9f4b-0d6a1e2b3c4d", "séance.1", "a b",
              "g" * GUID_MAX_LENGTH]


def _programme(guid: str, title: str = "Table ronde «\u00a0énergie\u00a0»") -> bytes:
    session: dict[str, Any] = {
        "guid": guid, "date": "2026-03-03T09:30:00+01:00", "start": "09:30",
        "duration": "01:00", "title": title, "type": "Table ronde", "persons": []}
    document = {"schedule": {"conference": {
        "acronym": "demo", "title": "Démo", "start": "2026-03-03", "end": "2026-03-03",
        "time_zone_name": "Europe/Paris",
        "days": [{"index": 0, "date": "2026-03-03", "rooms": {"Salle A": [session]}}]}}}
    return json.dumps(document, ensure_ascii=False).encode()


@pytest.mark.parametrize("guid", BAD_GUIDS)
def test_bad_guid_has_a_french_problem(guid: str) -> None:
    problem = guid_problem(guid)
    assert problem is not None
    assert describe(problem).startswith("le guid ")
    assert str(problem).startswith("the guid ")
    with pytest.raises(ValueError, match="unsafe session guid"):
        path_component(guid)


@pytest.mark.parametrize("guid", GOOD_GUIDS)
def test_good_guid_passes(guid: str) -> None:
    assert guid_problem(guid) is None
    assert path_component(guid) == guid


@pytest.mark.parametrize("guid", [p for p in BAD_GUIDS if str(p.values[0]).strip()])
def test_programme_with_bad_guid_is_refused_naming_the_session(guid: str) -> None:
    with pytest.raises(ProgrammeError) as raised:
        parse_programme(_programme(guid, title="Atelier mobilité"), filename="p.json")
    message = describe(raised.value)
    assert "séance «\u00a0Atelier mobilité\u00a0» refusée, le guid" in message
    assert "p.json" in message
    assert "\n" not in message
    assert "\0" not in message


def test_programme_with_good_guids_is_read() -> None:
    event = parse_programme(_programme("2c7f1b4e-8d1a"), filename="p.json")
    assert [session.guid for session in event.sessions] == ["2c7f1b4e-8d1a"]


@pytest.mark.parametrize("guid", BAD_GUIDS)
def test_child_dir_refuses_bad_guid(tmp_path: Path, guid: str) -> None:
    with pytest.raises(ValueError, match="unsafe session guid"):
        child_dir(tmp_path / "sessions", guid)


@given(st.text(max_size=GUID_MAX_LENGTH + 20))
def test_child_dir_never_leaves_its_base(name: str) -> None:
    base = Path("/data/work/0123456789abcdef/sessions")
    try:
        path = child_dir(base, name)
    except ValueError:
        return
    assert path.parent == base
    assert base in path.resolve().parents  # lexical: nothing under /data exists here
