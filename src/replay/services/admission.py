"""Admitting a recording: the one rule, whichever way the recording came (a tus or
multipart upload, `replay process` / `replay ingest`, the live archive).

A recording is admitted when its room is one of the event's, it is usable media (probed
first: nothing is kept before that), its wall-clock start is known (given, or the
container's `creation_time`) and it overlaps the programme. Then the original is kept
(by the caller's `keep`: moved from the uploads, copied from the command line), and the
recording and its probe are recorded in one transaction. Every refusal is a French
`Refused` (or `NotFound` for the event); nothing is kept when one is raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Final

from replay.domain.errors import MediaError
from replay.domain.model import Event
from replay.locale import _, describe
from replay.media.probe import MediaInfo, naming, probe
from replay.services.errors import NotFound, Refused
from replay.store.db import Recording
from replay.store.ports import EventRepository, RecordingRepository, StoreRunner

#: A wall-clock start as the refusals show one.
EXAMPLE: Final = "2026-03-03T09:28:00+01:00"
#: The field of a refusal about the wall-clock start (the CLI names its option for it).
STARTED_AT: Final = "started_at"
ROOM: Final = "room"


@dataclass(frozen=True, slots=True)
class Submission:
    """A recording offered for admission and what was said about it."""

    path: Path
    event: Event
    room: str
    started_at: datetime | None  # given by a person; else the container's creation_time
    display_name: str  # the name people know the file by (never a path component)


@dataclass(frozen=True, slots=True)
class Examined:
    """A submission that passed the rule: its probe and its wall-clock start."""

    info: MediaInfo
    started_at: datetime


#: Keeps the original once the submission passed: returns its SHA-256 and where it is.
Keep = Callable[[MediaInfo], Awaitable[tuple[str, Path]]]


def event_for(events: EventRepository, slug: str) -> Event:
    event = events.load_event(slug)
    if event is None:
        raise NotFound(_("Event “{slug}” not found: create it first (POST /api/events) or "
                         "check its identifier.").format(slug=slug), field="event")
    return event


def check_room(event: Event, room: str) -> None:
    if room not in event.rooms:
        known = ", ".join(_("“{room}”").format(room=r) for r in event.rooms)
        raise Refused(_("Unknown room “{room}”: the programme's rooms are {known}.").format(
            room=room, known=known), field=ROOM, correctable=True)


def parse_started_at(text: str | None) -> datetime | None:
    """A wall-clock start given as text, which must carry its time zone offset."""
    if text is None or not text.strip():
        return None
    try:
        started = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Refused(_("Start time “{text}” invalid: give an ISO 8601 date with its time "
                        "zone, for example {example}.").format(text=text, example=EXAMPLE),
                      field=STARTED_AT, correctable=True) from None
    if started.tzinfo is None:
        raise _without_time_zone()
    return started


def _without_time_zone() -> Refused:
    return Refused(_("Start time without a time zone: give it with its time zone, for "
                     "example {example}.").format(example=EXAMPLE), field=STARTED_AT,
                   correctable=True)


def check_start_before_end(event: Event, started: datetime | None) -> None:
    """A start known before the file is (a tus creation): refuse one after the programme."""
    if started is None or not event.sessions:
        return
    last = max(session.end for session in event.sessions)
    if started >= last:
        raise Refused(_("Start {start} after the end of the programme ({end}): check the date "
                        "and time of the recording's start.").format(
                            start=started.isoformat(), end=last.isoformat()),
                      field=STARTED_AT, correctable=True)


async def probe_media(path: Path, display_name: str) -> MediaInfo:
    try:
        return await probe(path)
    except MediaError as exc:
        detail = describe(naming(exc, display_name))
        raise Refused(_("File refused: it is not a usable audio or video recording ({detail})."
                        " Check that it is the whole recording, then send it again.").format(
                            detail=detail), field="file") from exc


def resolve_start(given: datetime | None, info: MediaInfo, display_name: str) -> datetime:
    started = given or info.creation_time
    if started is None:
        raise Refused(_("The file “{name}” does not say when it was recorded (no "
                        "creation_time): give the recording's start time, for example "
                        "{example}.").format(name=display_name, example=EXAMPLE),
                      field=STARTED_AT, correctable=True)
    if started.tzinfo is None:
        raise _without_time_zone()
    return started


def check_within_programme(event: Event, started: datetime, duration: float) -> None:
    if not event.sessions:
        raise Refused(_("The programme has no session: import it first."), field="event")
    end = started + timedelta(seconds=duration)
    first = min(s.start for s in event.sessions)
    last = max(s.end for s in event.sessions)
    if end <= first or started >= last:
        zone = first.tzinfo
        shown_start, shown_end = started.astimezone(zone), end.astimezone(zone)
        raise Refused(_(
            "The recording (from {start} to {end}, {seconds} s) falls entirely outside the "
            "programme (from {first} to {last}): check the start time or the device's clock."
        ).format(start=f"{shown_start:%d/%m/%Y %H:%M}", end=f"{shown_end:%H:%M}",
                 seconds=f"{duration:.0f}", first=f"{first:%d/%m/%Y %H:%M}",
                 last=f"{last:%d/%m/%Y %H:%M}"), field=STARTED_AT, correctable=True)


async def examine(submission: Submission) -> Examined:
    """The admission rule, keeping nothing: room, media, start, overlap with the programme."""
    check_room(submission.event, submission.room)
    info = await probe_media(submission.path, submission.display_name)
    started = resolve_start(submission.started_at, info, submission.display_name)
    check_within_programme(submission.event, started, info.duration)
    return Examined(info, started)


async def admit_recording(db: StoreRunner, submission: Submission,
                          keep: Keep) -> tuple[Recording, MediaInfo]:
    """Examine, keep the original, then record it with its probe in one transaction (run
    where `db` runs the store's work)."""
    examined = await examine(submission)
    sha256, original = await keep(examined.info)
    recording = await db.run(partial(record, submission=submission, examined=examined,
                                     sha256=sha256, original=original))
    return recording, examined.info


def record(recordings: RecordingRepository, *, submission: Submission, examined: Examined,
           sha256: str, original: Path) -> Recording:
    with recordings.transaction():
        recording = recordings.add_recording(
            event_slug=submission.event.slug, room=submission.room, sha256=sha256,
            original=original, source_name=submission.display_name,
            started_at=examined.started_at)
        recordings.set_probe(recording.id, examined.info.duration, asdict(examined.info))
    return replace(recording, duration=examined.info.duration)
