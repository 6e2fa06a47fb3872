"""The one admission rule (`services.admission`): the same checks and French refusals for
an upload, the command line and the live archive; nothing is kept when one refuses.
Probing is real ffprobe on a tiny generated file; the store is a real SQLite file."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from replay.cli import build_parser
from replay.domain.model import Event, Session
from replay.media.probe import MediaInfo, stored_media_info
from replay.services import admission
from replay.services.errors import Conflict, NotFound, Refused, ServiceError
from replay.store.db import Store
from replay.store.ports import InPlace

NBSP = "\u00a0"
PARIS = timezone(timedelta(hours=1))
START = datetime(2026, 3, 3, 9, 0, tzinfo=PARIS)
EVENT = Event(slug="villes", title="Villes", start=date(2026, 3, 3), end=date(2026, 3, 3),
              timezone="Europe/Paris", rooms=("Plénière", "Salle Seine"), sessions=(
                  Session("s1", "Ouverture", "Plénière", START, timedelta(minutes=30)),
                  Session("s2", "Table ronde", "Plénière", START + timedelta(minutes=30),
                          timedelta(hours=1))))


def _info(duration: float = 600.0, creation_time: datetime | None = None) -> MediaInfo:
    return MediaInfo("mov,mp4", duration, False, 0, 0, 0.0, "", True, "aac", 48000,
                     creation_time)


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=2", "-c:a", "aac", str(path)],
                   check=True, timeout=60)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "replay.db")
    opened.save_event(EVENT)
    return opened


def test_errors_carry_their_status() -> None:
    assert Refused("x").status == 422
    assert Refused("x", status=507).status == 507
    assert NotFound("x").status == 404
    assert Conflict("x").status == 409
    assert isinstance(Refused("x"), ServiceError)


def test_unknown_room_lists_the_rooms() -> None:
    with pytest.raises(Refused) as refused:
        admission.check_room(EVENT, "Salle Loire")
    assert refused.value.message == (
        f"Salle «{NBSP}Salle Loire{NBSP}» inconnue{NBSP}: les salles du programme sont "
        f"«{NBSP}Plénière{NBSP}», «{NBSP}Salle Seine{NBSP}».")
    assert refused.value.field == admission.ROOM
    assert refused.value.correctable


@pytest.mark.parametrize("text", ["2026-03-03T09:00:00", "hier", "2026-13-03T09:00:00+01:00"])
def test_a_start_without_zone_or_unreadable_is_refused(text: str) -> None:
    with pytest.raises(Refused, match="fuseau") as refused:
        admission.parse_started_at(text)
    assert refused.value.field == admission.STARTED_AT


@pytest.mark.parametrize(("text", "words"), [
    ("2026-03-03T09:00:00", f"Heure de début sans fuseau horaire{NBSP}:"),
    ("hier", f"Heure de début «{NBSP}hier{NBSP}» invalide{NBSP}:"),
])
def test_the_command_line_reads_the_start_with_the_services_parser(
        text: str, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(Refused, match=words):
        admission.parse_started_at(text)
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["process", "r.mp4", "--schedule", "s.json",
                                   "--room", "Plénière", "--started-at", text])
    assert exited.value.code == 2
    assert words in capsys.readouterr().err


def test_a_blank_start_on_the_command_line_is_not_given() -> None:
    args = build_parser().parse_args(["process", "r.mp4", "--schedule", "s.json",
                                      "--room", "Plénière", "--started-at", " "])
    assert args.started_at is None


@pytest.mark.parametrize(("given", "info", "expected"), [
    (START, _info(), START),
    (None, _info(creation_time=START.astimezone(UTC)), START),
    (START, _info(creation_time=START + timedelta(hours=5)), START),  # what people say wins
])
def test_the_start_is_given_or_read_from_the_file(given: datetime | None, info: MediaInfo,
                                                 expected: datetime) -> None:
    assert admission.resolve_start(given, info, "a.mp4") == expected


def test_no_start_anywhere_is_refused_naming_the_file() -> None:
    with pytest.raises(Refused, match="ne dit pas quand") as refused:
        admission.resolve_start(None, _info(), "salle.mp4")
    assert f"«{NBSP}salle.mp4{NBSP}»" in refused.value.message


@pytest.mark.parametrize(("offset", "duration", "inside"), [
    (timedelta(minutes=-20), 600.0, False),  # ends before the first session
    (timedelta(minutes=-20), 1800.0, True),  # overlaps the start
    (timedelta(minutes=89), 3600.0, True),  # overlaps the end
    (timedelta(minutes=90), 60.0, False),  # starts at the end
    (timedelta(days=60), 60.0, False),
])
def test_a_recording_must_overlap_the_programme(offset: timedelta, duration: float,
                                               inside: bool) -> None:
    started = START + offset
    if inside:
        admission.check_within_programme(EVENT, started, duration)
        return
    with pytest.raises(Refused, match="hors du programme"):
        admission.check_within_programme(EVENT, started, duration)


def test_an_event_without_sessions_admits_nothing() -> None:
    empty = Event("vide", "Vide", date(2026, 3, 3), date(2026, 3, 3), "Europe/Paris", ("A",))
    with pytest.raises(Refused, match="aucune séance"):
        admission.check_within_programme(empty, START, 60.0)


def test_unknown_event_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="introuvable"):
        admission.event_for(store, "absent")


async def test_admitted_recording_is_recorded_with_its_probe(store: Store, tone: Path) -> None:
    kept: list[float] = []

    async def keep(info: MediaInfo) -> tuple[str, Path]:
        kept.append(info.duration)
        return "ab" * 32, tone

    submission = admission.Submission(tone, EVENT, "Plénière", START, "tone.m4a")
    recording, info = await admission.admit_recording(InPlace(store), submission, keep)
    assert kept == [info.duration]
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert recording.duration == info.duration
    stored = store.recording(recording.id)
    assert stored is not None
    assert stored.duration == info.duration
    assert stored.started_at == START
    # What a session's media job reads instead of probing the original again.
    assert stored_media_info(store.probe(recording.id)) == info


@pytest.mark.parametrize(("room", "started", "words"), [
    ("Salle Loire", START, "inconnue"),
    ("Plénière", START + timedelta(days=1), "hors du programme"),
    ("Plénière", None, "ne dit pas quand"),
])
async def test_refused_submissions_keep_nothing(store: Store, tone: Path, room: str,
                                               started: datetime | None, words: str) -> None:
    async def keep(info: MediaInfo) -> tuple[str, Path]:
        raise AssertionError("nothing is kept before the rule passed")

    submission = admission.Submission(tone, EVENT, room, started, "tone.m4a")
    with pytest.raises(Refused, match=words):
        await admission.admit_recording(InPlace(store), submission, keep)
    assert store.recordings_of(EVENT.slug) == []


async def test_not_media_is_refused_by_its_display_name(store: Store, tmp_path: Path) -> None:
    junk = tmp_path / "0123abcd.upload"
    junk.write_bytes(b"pas une video" * 50)

    async def keep(info: MediaInfo) -> tuple[str, Path]:
        raise AssertionError("nothing is kept before the rule passed")

    submission = admission.Submission(junk, EVENT, "Plénière", START, "réunion.mp4")
    with pytest.raises(Refused, match="Fichier refusé") as refused:
        await admission.admit_recording(InPlace(store), submission, keep)
    assert "réunion.mp4" in refused.value.message
    assert "0123abcd" not in refused.value.message
    assert store.recordings_of(EVENT.slug) == []
