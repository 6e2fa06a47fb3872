"""Admitting an uploaded recording (tus or multipart): the web's `pipeline.admit`.

The file is already on disk under a name the server chose, its SHA-256 computed while it
arrived. It is checked against the event and the room, probed (bad media is refused with
the reason), then moved, not copied, into the originals by its SHA-256, recorded, and its
analysis queued. Refusals are `Refused` with an HTTP status and a French message; the
caller removes the refused file. Client file names are for display only: the original's
name is its digest, with at most a short, checked extension.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Final

from replay.domain.errors import MediaError, PlanError
from replay.domain.model import Event
from replay.jobs.pipeline import check_within_programme
from replay.jobs.queue import JobQueue
from replay.jobs.tasks import enqueue_recording
from replay.media.probe import MediaInfo, probe
from replay.settings import Settings
from replay.store.db import Recording, Store

NBSP: Final = "\u00a0"
_SUFFIX: Final = re.compile(r"\.[a-z0-9]{1,8}")


class Refused(Exception):
    """The upload cannot be admitted; `message` is French and says what to do.
    `correctable`: the file is fine, what was said about it (room, start) is not."""

    def __init__(self, status: int, message: str, *, correctable: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.correctable = status, message, correctable


@dataclass(frozen=True, slots=True)
class Incoming:
    """A received file, server-named in the uploads directory, and what it is bound to."""

    path: Path
    sha256: str
    event_slug: str
    room: str
    started_at: str | None  # ISO 8601 from the client; else the container's creation_time
    display_name: str  # the client's file name, reduced to a display name


def event_for(store: Store, slug: str) -> Event:
    event = store.load_event(slug)
    if event is None:
        raise Refused(404, f"Événement « {slug} » introuvable{NBSP}: créez-le d’abord "
                           "(POST /api/events) ou vérifiez son identifiant.")
    return event


def check_room(event: Event, room: str) -> None:
    if room not in event.rooms:
        known = ", ".join(f"« {r} »" for r in event.rooms)
        raise Refused(422, f"Salle « {room} » inconnue{NBSP}: les salles du programme sont "
                           f"{known}.", correctable=True)


def parse_started_at(text: str | None) -> datetime | None:
    """The wall-clock start the client gave, which must carry its time zone offset."""
    if text is None or not text.strip():
        return None
    try:
        started = datetime.fromisoformat(text.strip())
    except ValueError:
        started = None
    if started is None or started.tzinfo is None:
        raise Refused(422, f"Heure de début « {text} » invalide{NBSP}: donnez une date ISO "
                           "8601 avec son fuseau, par exemple 2026-03-03T09:28:00+01:00.",
                      correctable=True)
    return started


async def admit_upload(settings: Settings, store: Store, queue: JobQueue,
                       incoming: Incoming) -> tuple[Recording, int]:
    """Check, probe, keep, record and queue; `Refused` when the upload cannot be used."""
    event = event_for(store, incoming.event_slug)
    check_room(event, incoming.room)
    given = parse_started_at(incoming.started_at)
    info = await _probe(incoming)
    started = _start(given, info)
    _check_within(event, started, info.duration)
    original = await asyncio.to_thread(keep_original, incoming.path, settings.originals_dir,
                                       incoming.sha256, _suffix(incoming.display_name))
    recording = store.add_recording(
        event_slug=event.slug, room=incoming.room, sha256=incoming.sha256, original=original,
        source_name=incoming.display_name, started_at=started)
    store.set_probe(recording.id, info.duration, asdict(info))
    await asyncio.to_thread(incoming.path.unlink, missing_ok=True)  # the move's second half
    recording = dataclasses.replace(recording, duration=info.duration)
    return recording, await enqueue_recording(queue, recording.id)


async def _probe(incoming: Incoming) -> MediaInfo:
    try:
        return await probe(incoming.path)
    except MediaError as exc:
        detail = str(exc).replace(incoming.path.name, incoming.display_name)
        raise Refused(422, f"Fichier refusé{NBSP}: ce n’est pas un enregistrement audio ou "
                           f"vidéo exploitable ({detail}). Vérifiez que c’est bien "
                           "l’enregistrement complet, puis renvoyez-le.") from exc


def _start(given: datetime | None, info: MediaInfo) -> datetime:
    started = given or info.creation_time
    if started is None:
        raise Refused(422, f"Le fichier ne dit pas quand il a été enregistré{NBSP}: indiquez "
                           "l’heure de début de l’enregistrement.", correctable=True)
    return started


def _check_within(event: Event, started: datetime, duration: float) -> None:
    try:
        check_within_programme(event, started, duration)
    except PlanError as exc:
        raise Refused(422, f"L’enregistrement (début {started.isoformat()}, {duration:.0f}{NBSP}s)"
                           f" tombe entièrement hors du programme de l’évènement{NBSP}: "
                           "vérifiez l’heure de début ou l’horloge de l’appareil.",
                      correctable=True) from exc


def _suffix(display_name: str) -> str:
    suffix = PurePosixPath(display_name).suffix.lower()
    return suffix if _SUFFIX.fullmatch(suffix) else ""


def keep_original(source: Path, originals: Path, sha256: str, suffix: str) -> Path:
    """Link `source` into the originals as ``<sha256><suffix>``, read-only (the caller
    unlinks `source` once the recording is recorded: a move in two steps, so a failure in
    between leaves the upload whole for a retry). Same content already kept: reused."""
    originals.mkdir(parents=True, exist_ok=True)
    target = originals / f"{sha256}{suffix}"
    if target.exists():
        return target
    source.chmod(0o444)
    try:
        os.link(source, target)
    except FileExistsError:
        pass
    except OSError:  # another file system: copy beside the target, then rename
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(source, partial)
        partial.chmod(0o444)
        os.replace(partial, target)
    return target
