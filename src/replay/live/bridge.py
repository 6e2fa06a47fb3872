"""Every call from the live into the rest of the project, in one place.

The live produces recordings; the pipeline does the rest. Here: reading the programme,
admitting an archive stretch as a recording, recording an instant replay as that
recording's session (media and draft captions from the live, marked so the full pass
replaces them), publishing through the pipeline's publication, queueing the recording's
analysis, and listing the published replays. When the application layer (`services/`)
arrives, these functions are re-pointed at it and nothing else in `live/` changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from replay.domain.cutplan import Cut
from replay.domain.model import Event, Session
from replay.domain.stages import StageStatus
from replay.jobs.context import WorkContext
from replay.jobs.pipeline import LIVE_STAGE_KEY, publish
from replay.jobs.queue import JobQueue
from replay.jobs.tasks import enqueue_recording
from replay.services import admission, programmes
from replay.services.captions import default_options
from replay.services.workdirs import session_work_dir
from replay.settings import Settings
from replay.storage.port import ObjectStore
from replay.store.captions import Captions
from replay.store.db import Recording, Store
from replay.store.ports import StoreRunner


def load_event(store: Store, slug: str) -> Event | None:
    return store.load_event(slug)


def import_programme(store: Store, event: Event) -> None:
    programmes.import_programme(store, event, apply=True)


def event_slugs(store: Store) -> list[str]:
    return store.event_slugs()


def room_sessions(event: Event, room: str) -> list[Session]:
    return event.sessions_in_room(room)


async def admit_archive(db: StoreRunner, event: Event, room: str, *, sha256: str,
                        original: Path, started_at: datetime) -> Recording:
    """An archive stretch becomes a recording like an upload (`services.admission`):
    its room checked, probed, recorded with its wall-clock start. The stretch is the
    room's own live, so it is not refused for lying outside the programme: the analysis
    finds no session in it."""
    submission = admission.Submission(original, event, room, started_at,
                                      f"direct-{started_at:%Y%m%d-%H%M%S}.ts")
    admission.check_room(event, room)
    info = await admission.probe_media(original, submission.display_name)
    examined = admission.Examined(info, started_at)

    def record(store: Store) -> Recording:
        recording = admission.record(store, submission=submission, examined=examined,
                                     sha256=sha256, original=original)
        probed = store.recording(recording.id)
        assert probed is not None
        return probed

    return await db.run(record)


def session_dirs(settings: Settings, recording: Recording, guid: str) -> tuple[Path, Path]:
    """Where the session's media and speech outputs go (the pipeline's layout)."""
    folder = session_work_dir(settings, recording, guid)
    return folder / "media", folder / "speech"


def record_instant_replay(store: Store, recording: Recording, cut: Cut) -> None:
    """The recording's plan is this session, its media and drafts are done from the live:
    publishing takes it as any processed session; the full pass (whose input keys
    differ) does both stages again."""
    store.save_cuts(recording.id, [cut])
    for stage in ("media", "speech"):
        store.set_stage(recording.id, cut.guid, stage, input_key=f"{LIVE_STAGE_KEY}{cut.guid}",
                        status=StageStatus.DONE, progress=1.0)


async def publish_event(settings: Settings, db: StoreRunner, objects: ObjectStore,
                        event: Event, *, decided: Sequence[str] = ()) -> None:
    """Publish the event; `decided` names the instant replays to put out whatever the
    event's publication rule: they are the replay of what was just shown live."""
    ctx = WorkContext(settings=settings, db=db, objects=objects)
    await publish(ctx, event, decided=decided)


async def queue_full_pass(queue: JobQueue, recording: Recording) -> int:
    """The archive enters the existing pipeline: analysis, cut plan, transcription,
    translation, then the editors' workflow."""
    return await enqueue_recording(queue, recording.id)


def published_sessions(store: Store, event: Event, room: str) -> list[tuple[Session, bool]]:
    """The room's published replays (session, made from the live), in programme order."""
    by_guid = {s.guid: s for s in event.sessions}
    found: dict[str, tuple[Session, bool]] = {}
    for recording, cut in store.published_cuts(event.slug):
        session = by_guid.get(cut.guid)
        if recording.room != room or session is None:
            continue
        media = store.stage(recording.id, cut.guid, "media")
        live = media is not None and media.input_key.startswith(LIVE_STAGE_KEY)
        found[cut.guid] = (session, live)
    return sorted(found.values(), key=lambda pair: pair[0].start)


def event_glossary(settings: Settings, store: Store, event: Event) -> tuple[str, ...]:
    """The event's glossary (the hotwords its organisers gave), as the offline pass
    reads it."""
    return tuple(Captions(store.db).options(event.slug, default_options(settings)).glossary)
