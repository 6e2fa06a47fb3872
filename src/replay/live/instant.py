"""When a session is over: its instant replay, and the archive stretch it closes.

Steps, for one session of one room: plan its cut on the live speech map (the VOD
planner over what was received since the stretch began), keep the stretch's archive
chunks up to the session's end as a recording (checksummed, wall-clock start), make the
replay's media from the live segments and its draft captions from the live captions,
record both as that recording's session, publish through the pipeline, and queue the
recording's full pass. Closing a stretch without a session (the room went off air
between sessions) keeps the recording and queues its full pass only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from replay.domain.cutplan import Cut, CutRules
from replay.domain.model import Event, Session
from replay.jobs.queue import JobQueue
from replay.live import bridge
from replay.live.archive import discard_chunks, keep_stretch
from replay.live.commands import LivePlan
from replay.live.publisher import LIVE_FOLDER, room_slug
from replay.live.replay import (
    DraftCaptions,
    ReplaySource,
    build_media,
    take_spans,
    write_speech,
)
from replay.live.speech import LiveSpeechMap
from replay.live.store import Chunk, LiveRunner, Take
from replay.live.take import PCM_FILE, SPEECH_FILE
from replay.live.timeline import (
    TakeClock,
    chunks_before,
    contiguous,
    offset_in,
    plan_session,
    segments_between,
)
from replay.settings import Settings
from replay.storage.exchange import exchange_for
from replay.storage.port import ObjectStore
from replay.store.db import Recording, Store
from replay.store.ports import StoreRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveDeps:
    settings: Settings
    #: Runs the live's store work (`AsyncStore`: on the store's thread, off the event loop).
    db: StoreRunner
    objects: ObjectStore
    queue: JobQueue
    drafts: DraftCaptions
    #: What this process last wrote of the polled files (status, rooms, page).
    written: dict[str, bytes] = field(default_factory=dict)
    #: Each event as last read with its glossary, by slug: what the live captions' plain
    #: (not awaited) hotword and session lookups read (`event` refreshes it).
    programmes: dict[str, tuple[Event, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def live(self) -> LiveRunner:
        return LiveRunner(self.db)

    async def event(self, slug: str) -> Event | None:
        """The event, read on the store's side (with its glossary, kept in `programmes`)."""
        found = await self.db.run(lambda store: _programme(self.settings, store, slug))
        if found is None:
            self.programmes.pop(slug, None)
            return None
        self.programmes[slug] = found
        return found[0]


def _programme(settings: Settings, store: Store,
               slug: str) -> tuple[Event, tuple[str, ...]] | None:
    event = bridge.load_event(store, slug)
    return None if event is None else (event, bridge.event_glossary(settings, store, event))


def take_clock(take: Take) -> TakeClock:
    folder = Path(take.folder)
    speech = LiveSpeechMap.load(folder / PCM_FILE, folder / SPEECH_FILE)
    return TakeClock(take.id, take.wall_start, tuple(speech.intervals))


def cut_rules(settings: Settings) -> CutRules:
    return CutRules(settings.snap_window_before, settings.snap_window_after,
                    settings.min_speech_gap, settings.cut_padding)


async def close_stretch(deps: LiveDeps, event: Event, room: str, chunks: Sequence[Chunk],
                        clocks: dict[int, TakeClock]) -> Recording | None:
    """Keep `chunks` as one recording and hand it to the pipeline."""
    if not chunks:
        return None
    sha256, original = await keep_stretch(chunks, deps.settings.originals_dir,
                                          timeout=deps.settings.job_timeout)
    await exchange_for(deps.objects, deps.settings.data_dir).share(original, sha256)
    started = clocks[chunks[0].take_id].wall(chunks[0].start)
    recording = await bridge.admit_archive(deps.db, event, room, sha256=sha256,
                                           original=original, started_at=started)
    await deps.live.run(lambda live: live.archive_chunks(list(chunks), recording.id))
    discard_chunks(chunks)
    log.info("live: %s, %s: %d s of the archive kept as recording %d", event.slug, room,
             round(sum(c.duration for c in chunks)), recording.id)
    return recording


def _recording_cut(cut: Cut, origin: datetime, chunks: Sequence[Chunk],
                   clocks: dict[int, TakeClock], duration: float) -> Cut:
    def at(seconds: float) -> float:
        moment = origin.timestamp() + seconds
        return min(duration, offset_in(chunks, clocks, datetime.fromtimestamp(moment, UTC)))

    return replace(cut, scheduled_start=at(cut.scheduled_start),
                   scheduled_end=at(cut.scheduled_end), start=round(at(cut.start), 3),
                   end=round(at(cut.end), 3))


async def instant_replay(deps: LiveDeps, event: Event, room: str, session: Session,
                         plan: LivePlan, now: datetime) -> str:
    """Make and publish the session's instant replay; returns what became of it."""
    chunks, takes = await deps.live.run(lambda live: (
        live.pending_chunks(event.slug, room),
        {t.id: t for t in live.takes_of(event.slug, room)}))
    clocks = {take_id: take_clock(take) for take_id, take in takes.items()}
    if not chunks:
        return "skipped: nothing of it was received"
    origin = clocks[chunks[0].take_id].wall(chunks[0].start)
    cut = plan_session(session, bridge.room_sessions(event, room), origin=origin, now=now,
                       clocks=list(clocks.values()), rules=cut_rules(deps.settings))
    if cut is None:
        return "skipped: too little of it was received"
    start, end = (datetime.fromtimestamp(origin.timestamp() + s, UTC) for s in (cut.start,
                                                                                cut.end))
    *before, kept = contiguous(chunks_before(chunks, clocks, end), clocks,
                               deps.settings.live_reconnect_grace)
    for group in before:  # what came before a long gap is a recording of its own
        earlier = await close_stretch(deps, event, room, group, clocks)
        if earlier is not None:
            await bridge.queue_full_pass(deps.queue, earlier)
    recording = await close_stretch(deps, event, room, kept, clocks)
    if recording is None or recording.duration is None:
        return "skipped: no archive"
    media_dir, speech_dir = bridge.session_dirs(deps.settings, recording, session.guid)
    source = await _replay_source(deps, takes, plan, clocks, start, end)
    if not source.segments.get(plan.rungs[0].name):
        return "skipped: no live segment"
    await build_media(source, media_dir, timeout=deps.settings.job_timeout)
    top = source.segments[plan.rungs[0].name]
    write_speech(speech_dir, await deps.drafts(take_spans(top)))
    files = exchange_for(deps.objects, deps.settings.data_dir)
    for folder in (media_dir, speech_dir):  # for a publish worker on another machine
        await files.share(folder)
    replay_cut = _recording_cut(cut, origin, kept, clocks, recording.duration)
    await deps.db.run(lambda store: bridge.record_instant_replay(store, recording, replay_cut))
    await bridge.publish_event(deps.settings, deps.db, deps.objects, event,
                               decided=[session.guid])
    await bridge.queue_full_pass(deps.queue, recording)
    return "published"


async def _replay_source(deps: LiveDeps, takes: dict[int, Take], plan: LivePlan,
                         clocks: dict[int, TakeClock], start: datetime,
                         end: datetime) -> ReplaySource:
    any_take = next(iter(takes.values()))
    day = max(t.day for t in takes.values())
    listed = await deps.live.run(lambda live: {
        rung.name: live.segments(any_take.event_slug, any_take.room, day, rung.name)
        for rung in plan.rungs})
    segments = {name: segments_between(found, clocks, start, end)
                for name, found in listed.items()}
    folders = {(take_id, rung.name): Path(take.folder) / rung.name
               for take_id, take in takes.items() for rung in plan.rungs}
    uri = f"../../../{LIVE_FOLDER}/{room_slug(any_take.room)}/{day}"
    origins = {t.id: t.mpegts_origin or 0 for t in takes.values()}
    return ReplaySource(plan.rungs, segments, folders, uri, origins)
