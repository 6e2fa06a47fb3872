"""Removing a wrong recording: withdraw what came from it, then forget it, and nothing
else. The other recordings, their sessions and what is published of them stay as they
are; the index is published again without the removed sessions before their objects go.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from functools import partial

from replay.domain.model import Event
from replay.domain.publication import Release
from replay.jobs.context import WorkContext
from replay.jobs.pipeline import publish
from replay.jobs.queue import JobQueue, JobStatus
from replay.services.publication import (
    Candidate,
    candidates,
    publication_rule,
    release_of,
)
from replay.services.workdirs import forget_shared, recording_work_dir
from replay.settings import Settings
from replay.site.publish import unpublish_session
from replay.storage.port import ObjectStore
from replay.store.captions import Captions
from replay.store.db import Recording, Store
from replay.store.ports import StoreRunner

RECORDING_TASKS = ("analyse_recording", "media_session", "speech_session")


@dataclass(frozen=True, slots=True)
class Removed:
    recording: int
    sessions: tuple[str, ...]  # the guids of its cut plan
    withdrawn: tuple[str, ...]  # the slugs taken off the public site


async def remove_recording(settings: Settings, db: StoreRunner, objects: ObjectStore,
                           queue: JobQueue, event: Event, recording: Recording) -> Removed:
    """Cancel its jobs, forget it, publish the event without it, then delete the objects
    of the sessions no other recording publishes, and its files no other recording uses.

    The publication runs here, not in the event's publication job: the recording's rows
    are gone once it is forgotten, so a later job could not tell which objects to delete.
    Its store work runs where ``db`` runs it (off the event loop in the service).
    """
    ctx = WorkContext(settings=settings, db=db, objects=objects)
    for job in await queue.list():
        if job.task in RECORDING_TASKS and job.args.get("recording") == recording.id and \
                job.status in (JobStatus.TODO, JobStatus.DOING):
            await queue.cancel(job.id)
    before = await db.run(partial(_forget, settings=settings, event=event,
                                  recording=recording))
    guids = tuple(item.cut.guid for item in before.mine)
    await publish(ctx, event)
    still, shared = await db.run(partial(_after, others=before.others, recording=recording))
    gone = sorted({item.session.slug for item in before.mine} - still)
    for slug in gone:
        await unpublish_session(ctx.objects, event, slug)
    if not shared:
        await asyncio.to_thread(_delete_files, ctx, recording)
        await forget_shared(ctx.files, ctx.settings, recording)
    return Removed(recording.id, guids, tuple(gone))


@dataclass(frozen=True, slots=True)
class _Before:
    """The event's sessions as they stood before the removal: the removed recording's,
    and the other recordings'."""

    mine: list[Candidate]
    others: list[Candidate]


def _forget(store: Store, *, settings: Settings, event: Event, recording: Recording) -> _Before:
    """The event's sessions as they stood (the rule and the candidates, found once), then
    the recording forgotten."""
    captions = Captions(store.db)
    found = candidates(store, captions, event, publication_rule(captions, settings, event.slug))
    store.delete_recording(recording.id)
    return _Before([item for item in found if item.recording.id == recording.id],
                   [item for item in found if item.recording.id != recording.id])


def _after(store: Store, *, others: list[Candidate],
           recording: Recording) -> tuple[set[str], bool]:
    """The slugs still released by the other recordings (their release read again: the
    publication that just ran decided it), and whether another recording shares the
    removed one's original."""
    still = {item.session.slug for item in others
             if release_of(store, item.recording.id, item.cut.guid) is Release.RELEASED}
    return still, bool(store.recordings_with_sha256(recording.sha256))


def _delete_files(ctx: WorkContext, recording: Recording) -> None:
    shutil.rmtree(recording_work_dir(ctx.settings, recording), ignore_errors=True)
    if recording.original.is_relative_to(ctx.settings.originals_dir):
        recording.original.unlink(missing_ok=True)
