"""Admitting an uploaded recording (tus or multipart): the web's side of
`services.admission`.

The file is already on disk under a name the server chose, its SHA-256 computed while it
arrived. The admission rule checks it (event, room, media, start); then it is moved, not
copied, into the originals by its SHA-256, recorded, and its analysis queued. Refusals
are `services.errors` with an HTTP status and a French message; the caller removes the
refused file. Client file names are for display only: the original's
name is its digest, with at most a short, checked extension.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Final

from replay.jobs.queue import JobQueue
from replay.services import admission
from replay.services.errors import NotFound, Refused, ServiceError
from replay.services.work import enqueue_recording
from replay.settings import Settings
from replay.storage.exchange import exchange_for
from replay.storage.port import ObjectStore
from replay.store.db import Recording
from replay.store.ports import StoreRunner

__all__ = ["Incoming", "NotFound", "Refused", "ServiceError", "admit_upload", "keep_original"]

NBSP: Final = "\u00a0"
_SUFFIX: Final = re.compile(r"\.[a-z0-9]{1,8}")


@dataclass(frozen=True, slots=True)
class Incoming:
    """A received file, server-named in the uploads directory, and what it is bound to."""

    path: Path
    sha256: str
    event_slug: str
    room: str
    started_at: str | None  # ISO 8601 from the client; else the container's creation_time
    display_name: str  # the client's file name, reduced to a display name


async def admit_upload(settings: Settings, db: StoreRunner, queue: JobQueue,
                       objects: ObjectStore, incoming: Incoming) -> tuple[Recording, int]:
    """Admit (`services.admission`), keep by moving (and put in the object store for the
    workers of other machines, `storage.exchange`), queue the analysis; a `ServiceError`
    when the upload cannot be used (the caller removes or holds the refused file). The
    store's work runs where `db` runs it (off the event loop)."""
    event = await db.run(partial(admission.event_for, slug=incoming.event_slug))
    submission = admission.Submission(
        path=incoming.path, event=event, room=incoming.room,
        started_at=admission.parse_started_at(incoming.started_at),
        display_name=incoming.display_name)

    async def keep(_info: object) -> tuple[str, Path]:
        original = await asyncio.to_thread(keep_original, incoming.path, settings.originals_dir,
                                           incoming.sha256, _suffix(incoming.display_name))
        await exchange_for(objects, settings.data_dir).share(original, incoming.sha256)
        return incoming.sha256, original

    recording, _ = await admission.admit_recording(db, submission, keep)
    await asyncio.to_thread(incoming.path.unlink, missing_ok=True)  # the move's second half
    return recording, await enqueue_recording(queue, recording.id)


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
