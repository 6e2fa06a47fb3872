"""The state store on both engines (the `engine_url` fixture: SQLite, PostgreSQL):
programme re-import by guid, recordings, cuts and stage states; and SQLite's migrations
from the versions before the version table."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from replay.domain.cutplan import Cut
from replay.domain.model import Event, Person, Session
from replay.domain.publication import PublicationRule, Release
from replay.domain.stages import PlanReview, StageStatus
from replay.settings import Settings
from replay.store.captions import Captions, EventOptions
from replay.store.db import MIGRATIONS, Store
from replay.store.factory import open_store
from replay.store.ports import StateStore

START = datetime.fromisoformat("2026-03-03T09:30:00+01:00")


def session(guid: str, title: str, minutes: int) -> Session:
    return Session(guid=guid, title=title, room="Plénière",
                   start=START + timedelta(minutes=minutes), duration=timedelta(minutes=30),
                   slug=guid, persons=(Person("Camille Martin", "NetZeroCities"),))


def event(*sessions: Session) -> Event:
    return Event(slug="mv", title="Mission Villes", start=date(2026, 3, 3),
                 end=date(2026, 3, 3), timezone="Europe/Paris", rooms=("Plénière",),
                 sessions=sessions)


@pytest.fixture
def store(engine_url: str) -> Iterator[Store]:
    opened = open_store(Settings(database_url=engine_url))
    yield opened
    opened.close()


def test_reimport_updates_by_guid_and_reports_changes(store: Store) -> None:
    first = store.save_event(event(session("a", "Ouverture", 0), session("b", "Table", 30)))
    assert (first.added, first.changed, first.removed) == (("a", "b"), (), ())
    again = store.save_event(event(session("a", "Ouverture", 0), session("b", "Table", 30)))
    assert (again.added, again.changed, again.removed) == ((), (), ())
    edited = store.save_event(event(session("a", "Ouverture !", 0), session("c", "Clôture", 60)))
    assert (edited.added, edited.changed, edited.removed) == (("c",), ("a",), ("b",))
    loaded = store.load_event("mv")
    assert loaded is not None
    assert [s.guid for s in loaded.sessions] == ["a", "c"]
    assert loaded.sessions[0] == session("a", "Ouverture !", 0)


def test_recording_is_unique_per_event_room_and_checksum(store: Store, tmp_path: Path) -> None:
    store.save_event(event(session("a", "Ouverture", 0)))
    kwargs = dict(event_slug="mv", room="Plénière", sha256="ab" * 32,
                  original=tmp_path / "x.mp4", source_name="x.mp4")
    first = store.add_recording(started_at=START, **kwargs)  # type: ignore[arg-type]
    second = store.add_recording(started_at=START, **kwargs)  # type: ignore[arg-type]
    assert first.id == second.id
    assert len(store.recordings_of("mv")) == 1


def test_the_probe_is_kept_with_the_recording(store: Store, tmp_path: Path) -> None:
    store.save_event(event(session("a", "Ouverture", 0)))
    recording = store.add_recording(event_slug="mv", room="Plénière", sha256="ef" * 32,
                                    original=tmp_path / "z.mp4", source_name="z.mp4",
                                    started_at=START)
    assert store.probe(recording.id) is None, "not probed yet"
    store.set_probe(recording.id, 12.5, {"format_name": "mov", "duration": 12.5,
                                         "creation_time": START, "sample_aspect": "4/3"})
    assert store.probe(recording.id) == {"format_name": "mov", "duration": 12.5,
                                         "creation_time": str(START), "sample_aspect": "4/3"}
    assert store.probe(recording.id + 1) is None


def test_cuts_and_stages_round_trip(store: Store, tmp_path: Path) -> None:
    store.save_event(event(session("a", "Ouverture", 0)))
    recording = store.add_recording(event_slug="mv", room="Plénière", sha256="cd" * 32,
                                    original=tmp_path / "y.mp4", source_name="y.mp4",
                                    started_at=START)
    cut = Cut("a", "Ouverture", 30.0, 1830.0, 48.5, 1850.25, True, False)
    store.save_cuts(recording.id, [cut])
    assert store.load_cuts(recording.id) == [cut]
    moved = dataclasses.replace(cut, start=50.0)
    store.save_cuts(recording.id, [moved])
    assert store.load_cuts(recording.id) == [moved]
    store.set_stage(recording.id, "a", "media", input_key="k1", status=StageStatus.RUNNING)
    store.set_stage(recording.id, "a", "media", input_key="k1", status=StageStatus.FAILED,
                    error="boom")
    state = store.stage(recording.id, "a", "media")
    assert state is not None
    assert (state.status, state.error, state.input_key) == ("failed", "boom", "k1")
    assert store.published_cuts("mv") == []
    store.set_stage(recording.id, "a", "publish", input_key="",
                    status=Release.RELEASED)
    assert [c for _, c in store.published_cuts("mv")] == [moved]


def test_reopening_keeps_everything(engine_url: str) -> None:
    settings = Settings(database_url=engine_url)
    first = open_store(settings)
    first.save_event(event(session("a", "Ouverture", 0)))
    first.close()
    second = open_store(settings)
    loaded = second.load_event("mv")
    second.close()
    assert loaded is not None
    assert [s.title for s in loaded.sessions] == ["Ouverture"]


def test_migration_4_keeps_the_captions_policy_and_earlier_validations(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:3], start=1):
        old.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    old.execute("INSERT INTO events VALUES ('e', 'E', '2026-03-03', '2026-03-03', 'UTC', '[]')")
    old.execute("INSERT INTO events VALUES ('f', 'F', '2026-03-03', '2026-03-03', 'UTC', '[]')")
    old.execute("INSERT INTO event_options VALUES ('e', 'valides', 0, '[]')")
    old.execute("INSERT INTO event_options VALUES ('f', 'brouillons', 0, '[]')")
    old.execute("INSERT INTO recordings VALUES (1, 'e', 'A', 'ab', '/o', 'o', "
                "'2026-03-03T09:00:00+00:00', 60, NULL, 0)")
    for lang, status, author in (("fr", "valide", None), ("en", "publie", None),
                                 ("de", "publie", 7)):
        old.execute("INSERT INTO caption_versions VALUES (1, 'g', ?, 1, '[]', 'x', ?, 0, ?, '')",
                    (lang, author, status))
        old.execute("INSERT INTO caption_state (recording_id, guid, lang, current_version, "
                    "status) VALUES (1, 'g', ?, 1, ?)", (lang, status))
    old.close()
    store = Store.open(path)
    captions = Captions(store.db)
    default = EventOptions(PublicationRule.DECOUPAGE, False)
    assert captions.options("e", default).publication_rule is PublicationRule.SOUS_TITRES
    assert captions.options("f", default).publication_rule is PublicationRule.DECOUPAGE
    reviewed = {lang: state.reviewed for lang in ("fr", "en", "de")
                if (state := captions.state((1, "g", lang))) is not None}
    # validated by a person, or published after a person's correction; not a draft put out
    assert reviewed == {"fr": True, "en": False, "de": True}
    store.close()


def test_plan_reviews_leave_the_stages_table_with_their_status(tmp_path: Path) -> None:
    """The migration moves the plan review rows (guid '', stage 'plan_review') out of
    `stages` into `plan_reviews`, and keeps every other stage row."""
    number = next(i for i, script in enumerate(MIGRATIONS) if "CREATE TABLE plan_reviews" in
                  script)
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    for version, script in enumerate(MIGRATIONS[:number], start=1):
        old.executescript(f"BEGIN; {script}; PRAGMA user_version={version}; COMMIT;")
    old.execute("INSERT INTO events VALUES ('e', 'E', '2026-03-03', '2026-03-03', 'UTC', '[]')")
    for recording in (1, 2, 3):
        old.execute("INSERT INTO recordings (id, event_slug, room, sha256, original, "
                    "source_name, started_at, created_at) VALUES (?, 'e', 'A', ?, '/o', 'o', "
                    "'2026-03-03T09:00:00+00:00', 0)", (recording, f"sha{recording}"))
    rows = [(1, "", "plan_review", "confirmed"), (2, "", "plan_review", "edited"),
            (1, "", "audio", "done"), (1, "g", "media", "failed"), (1, "g", "publish", "done")]
    for recording, guid, stage, status in rows:
        old.execute("INSERT INTO stages VALUES (?, ?, ?, 'k', ?, 0, NULL, 0)",
                    (recording, guid, stage, status))
    old.close()
    store = Store.open(path)
    assert store.plan_review(1) is PlanReview.CONFIRMED
    assert store.plan_review(2) is PlanReview.EDITED
    assert store.plan_review(3) is None
    assert [(s.guid, s.stage, s.status) for s in store.stages_of(1)] == [
        ("", "audio", StageStatus.DONE), ("g", "media", StageStatus.FAILED),
        ("g", "publish", Release.RELEASED)]
    assert store.stages_of(2) == []
    store.set_plan_review(3, PlanReview.EDITED)
    store.set_plan_review(3, PlanReview.CONFIRMED)
    assert store.plan_review(3) is PlanReview.CONFIRMED
    store.delete_recording(3)
    assert store.plan_review(3) is None
    store.close()


def test_the_store_is_the_whole_port(store: Store) -> None:
    """`Store` implements `store.ports.StateStore` (checked by mypy through this
    assignment), and its transactions nest."""
    port: StateStore = store
    with port.transaction(), port.transaction():
        port.save_event(event(session("a", "Ouverture", 0)))
    assert store.load_event("mv") is not None
