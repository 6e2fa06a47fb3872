"""The event's search index: compact, in programme order, whole-second starts, texts kept
for display (matching folds accents and case in the browser)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from replay.domain.cutplan import Cut
from replay.domain.model import Person, Session
from replay.site.pages import SessionPage
from replay.site.search import INDEX_VERSION, normalise_text, search_index

T0 = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
EVIL = "<script>alert(1)</script> « l’énergie » & co"


def page(slug: str, start: datetime, segments: tuple[tuple[float, str], ...]) -> SessionPage:
    session = Session(guid=f"g-{slug}", title=f"Titre {EVIL}", room="Salle A", start=start,
                      duration=timedelta(hours=1), slug=slug,
                      persons=(Person("Anne Dupont"), Person("Jean Martin")))
    cut = Cut(session.guid, session.title, 0.0, 3600.0, 0.0, 3600.0, True, True)
    return SessionPage(session, cut, "Salle A", True, False, segments)


def index(*pages: SessionPage) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(search_index(pages))
    return data


def test_index_lists_sessions_in_programme_order() -> None:
    late = page("cloture", T0 + timedelta(days=1), ((3.0, "Au revoir"),))
    early = page("ouverture", T0, ((0.0, "Bonjour"),))
    data = index(late, early)
    assert data["version"] == INDEX_VERSION
    assert [s["slug"] for s in data["sessions"]] == ["ouverture", "cloture"]
    assert data["sessions"][0]["title"] == f"Titre {EVIL}"
    assert data["sessions"][0]["speakers"] == "Anne Dupont, Jean Martin"


def test_segments_start_on_whole_seconds_and_keep_their_text() -> None:
    segments = ((0.0, " Bonjour à toutes\n et à tous. "), (65.92, "L’énergie « citoyenne »"),
                (70.0, "   "), (3725.5, EVIL))
    [session] = index(page("s", T0, segments))["sessions"]
    assert session["segments"] == [[0, "Bonjour à toutes et à tous."],
                                   [65, "L’énergie « citoyenne »"], [3725, EVIL]]


def test_index_is_compact_json_without_escaped_accents() -> None:
    text = search_index([page("s", T0, ((1.0, "métropole été"),))])
    assert "\n" not in text
    assert "\", " not in text
    assert ": " not in text
    assert "métropole été" in text
    assert "\\u" not in text


def test_empty_event() -> None:
    assert index() == {"version": INDEX_VERSION, "sessions": []}


@pytest.mark.parametrize(("raw", "expected"), [
    ("a  b", "a b"), ("\ta\nb\r\n", "a b"), ("", ""), ("  ", ""), ("é\u00a0:", "é\u00a0:"),
])
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected
