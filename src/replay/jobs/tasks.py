"""The pipeline as queue tasks, for `replay serve` and the workers.

The task graph, for one recording (queues in brackets, locks after them)::

    analyse_recording [media] analyse:<recording>
        probe, audio 16 kHz, speech map, cut plan; then per session of the plan:
        ├── media_session  [media]  media:<recording>:<guid>    transcode ladder
        │     reads the analysis's probe, and only its span of the original: on a
        │     machine without it, through the object store's presigned URL
        └── speech_session [speech] speech:<recording>:<guid>   transcribe fr, translate en
              whichever of the two finishes second enqueues
              publish_event [publish] publish:<event>            sessions, then the index

Every task reuses the stages of `jobs.pipeline`, which skip work already done with the
same inputs, so a retried or repeated job redoes only what is missing. Fencing: a task
writes into scratch paths named after its job and attempt, and moves them into place
(or publishes, or enqueues the next job) only after ``still_current()`` confirmed that
its attempt still holds the job; a superseded attempt discards its work
(`context.StaleAttempt`). Bad media found by probing fails the job at once
(`PermanentError`), with ffprobe's reason for the organiser.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from replay.domain.cutplan import Cut
from replay.domain.errors import MediaError
from replay.domain.model import Event
from replay.domain.stages import StageStatus
from replay.jobs.context import Context, Lanes, WorkContext
from replay.jobs.metrics import StageDurations
from replay.jobs.pipeline import (
    ProcessRequest,
    admit,
    analyse,
    extract_audio,
    local_original,
    publish,
    recording_dir,
    transcode_session,
    transcribe_session,
)
from replay.jobs.queue import JobQueue, PermanentError
from replay.jobs.worker import JobContext, TaskFn
from replay.media.probe import MediaInfo, MediaInput, probe, stored_media_info
from replay.services.work import (
    MEDIA,
    PUBLISH,
    QUEUES,
    SPEECH,
    enqueue_recording,
    publish_job,
    session_jobs,
)
from replay.services.workdirs import AUDIO
from replay.settings import Settings
from replay.speech.models import resolve_model
from replay.speech.transcriber import (
    FALLBACK_TEMPERATURES,
    Transcriber,
    WhisperConfig,
    WhisperTranscriber,
)
from replay.storage.port import ObjectStore
from replay.store.db import Recording, Store
from replay.store.ports import StoreRunner

__all__ = ["MEDIA", "PUBLISH", "QUEUES", "SPEECH", "TaskDeps", "enqueue_recording",
           "publish_job", "session_jobs", "task_table", "whisper_for"]


@dataclass(frozen=True, slots=True)
class TaskDeps:
    """What the tasks work with, built once per worker process. ``db`` runs their store
    work (`AsyncStore`: on the store's own thread, never on the workers' event loop)."""

    settings: Settings
    db: StoreRunner
    queue: JobQueue
    objects: ObjectStore
    transcriber: Transcriber
    lanes: Lanes
    durations: StageDurations = field(default_factory=StageDurations)

    def work_context(self, job: JobContext) -> WorkContext:
        """The context of one attempt of a job that neither transcodes nor transcribes."""
        return WorkContext(settings=self.settings, db=self.db, objects=self.objects,
                           progress=JobProgress(job.report_progress, self.durations),
                           attempt_tag=f"job{job.job_id}-{job.attempt}",
                           still_current=job.still_current)

    def context(self, job: JobContext) -> Context:
        """The pipeline's context for one attempt of one job: progress goes to the job,
        scratch paths and the fence are the attempt's."""
        return Context(settings=self.settings, db=self.db, objects=self.objects,
                       transcriber=self.transcriber, lanes=self.lanes,
                       progress=JobProgress(job.report_progress, self.durations),
                       attempt_tag=f"job{job.job_id}-{job.attempt}",
                       still_current=job.still_current)


class JobProgress:
    """A `ProgressSink` that stores stage progress with the job (sent with its heartbeats)
    and times finished stages for the metrics."""

    def __init__(self, report: Callable[[float, float | None], None],
                 durations: StageDurations) -> None:
        self._report, self._durations = report, durations

    def report(self, stage: str, label: str, fraction: float, eta: float | None) -> None:
        self._report(fraction, eta)

    def finished(self, stage: str, label: str, seconds: float, skipped: bool) -> None:
        if not skipped:
            self._durations.observe(stage, seconds)


def task_table(deps: TaskDeps) -> dict[str, TaskFn]:
    """The tasks by name, bound to their dependencies, for `jobs.worker.Worker`."""
    tasks: dict[str, Callable[[TaskDeps, JobContext], Awaitable[None]]] = {
        "analyse_recording": analyse_recording,
        "media_session": media_session,
        "speech_session": speech_session,
        "publish_event": publish_event,
    }
    return {name: _bind(fn, deps) for name, fn in tasks.items()}


def _bind(fn: Callable[[TaskDeps, JobContext], Awaitable[None]], deps: TaskDeps) -> TaskFn:
    async def run(job: JobContext) -> None:
        await fn(deps, job)

    return run


def whisper_for(settings: Settings) -> WhisperTranscriber:
    """The Whisper transcriber the settings describe (models load on first use)."""
    return WhisperTranscriber(WhisperConfig(
        transcribe_model=resolve_model(settings.whisper_model, settings.model_cache_dir),
        translate_model=resolve_model(settings.effective_translate_model, settings.model_cache_dir),
        device=settings.whisper_device, compute_type=settings.whisper_compute_type,
        cpu_threads=Lanes.for_threads(settings.cpu_threads).speech_threads,
        beam_size=settings.whisper_beam_size,
        temperatures=FALLBACK_TEMPERATURES if settings.whisper_temperature_fallback else (0.0,),
        previous_text_as_prompt=settings.whisper_previous_text))


# -- entry points ----------------------------------------------------------------------


async def ingest_recording(ctx: WorkContext, queue: JobQueue,
                           request: ProcessRequest) -> tuple[Recording, int]:
    """Refuse bad media, import the programme, ingest the file, queue its analysis."""
    recording, _ = await admit(ctx, request)
    return recording, await enqueue_recording(queue, recording.id)


# -- the tasks -------------------------------------------------------------------------


async def analyse_recording(deps: TaskDeps, job: JobContext) -> None:
    ctx = deps.context(job)
    recording, event = await deps.db.run(lambda store: _recording_and_event(store, job))
    recording = await local_original(ctx, recording)
    info = await _probe(recording)
    await deps.db.run(lambda store: store.set_probe(recording.id, info.duration, asdict(info)))
    cuts = await analyse(ctx, event, recording, info)
    await ctx.ensure_current()
    for cut in cuts:
        for spec in session_jobs(recording.id, cut.guid):
            await deps.queue.enqueue(spec)


async def media_session(deps: TaskDeps, job: JobContext) -> None:
    ctx = deps.context(job)
    recording, cut, probed = await deps.db.run(lambda store: _session_and_probe(store, job))
    source, info = await _media_input(ctx, recording, probed)
    await transcode_session(ctx, recording, info, cut, source=source)
    await _publish_when_ready(deps, ctx, recording, cut)


async def speech_session(deps: TaskDeps, job: JobContext) -> None:
    ctx = deps.context(job)
    recording, cut, event = await deps.db.run(lambda store: _session_and_event(store, job))
    wav = await _audio(ctx, recording)
    await transcribe_session(ctx, event, recording, wav, cut)
    await _publish_when_ready(deps, ctx, recording, cut)


async def publish_event(deps: TaskDeps, job: JobContext) -> None:
    slug = job.args.get("event")
    if not isinstance(slug, str):
        raise PermanentError(f"job {job.job_id}: no event slug in its arguments")
    await publish(deps.work_context(job), await deps.db.run(partial(_event, slug=slug)))


# -- helpers ---------------------------------------------------------------------------


async def _publish_when_ready(deps: TaskDeps, ctx: Context, recording: Recording,
                              cut: Cut) -> None:
    """Each session job marks its stage done before looking at the other, so whichever
    finishes second sees both done and queues the publication."""
    stages = await ctx.db.run(lambda store: [store.stage(recording.id, cut.guid, name)
                                             for name in ("media", "speech")])
    if all(state is not None and state.status is StageStatus.DONE for state in stages):
        await ctx.ensure_current()
        await deps.queue.enqueue(publish_job(recording.event_slug))


async def _audio(ctx: Context, recording: Recording) -> Path:
    """The recording's 16 kHz audio as its analysis left it (fetched when that ran on
    another machine: the original is not downloaded for it), else decoded again."""
    wav = recording_dir(ctx, recording) / AUDIO
    state = await ctx.db.run(lambda store: store.stage(recording.id, "", "audio"))
    if state is not None and state.status is StageStatus.DONE and await ctx.files.fetch(wav):
        return wav
    recording = await local_original(ctx, recording)
    return await extract_audio(ctx, recording, await _probe(recording))


#: How much longer than the job may last a presigned URL stays valid (ffmpeg makes a new
#: range request at each seek and reconnection, until the end).
URL_MARGIN_SECONDS = 600.0


async def _media_input(ctx: Context, recording: Recording,
                       probed: dict[str, Any] | None) -> tuple[MediaInput, MediaInfo]:
    """Where a session's media job reads the original, and what the original is: the
    probe its analysis stored, and the original as `FileExchange.readable_original` gives
    it (on a machine without it, the object store's address, read by range requests:
    only the span is transferred, not the whole recording). Without a usable stored probe
    (a recording analysed before it was kept), the original is fetched and probed."""
    info = stored_media_info(probed)
    if info is None:
        recording = await local_original(ctx, recording)
        return recording.original, await _probe(recording)
    source = await ctx.files.readable_original(
        recording.original, ctx.settings.originals_dir / recording.original.name,
        recording.sha256, expires=ctx.settings.job_timeout + URL_MARGIN_SECONDS)
    return source, info


async def _probe(recording: Recording) -> MediaInfo:
    try:
        return await probe(recording.original)
    except MediaError as exc:
        raise PermanentError(str(exc)) from exc


def _int_arg(job: JobContext, name: str) -> int:
    value = job.args.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PermanentError(f"job {job.job_id} ({job.task}): argument {name!r} is missing "
                             "or not a number")
    return value


# The store's reads below run on the store's side (``db.run``): plain functions of a `Store`.


def _recording(store: Store, job: JobContext) -> Recording:
    recording_id = _int_arg(job, "recording")
    recording = store.recording(recording_id)
    if recording is None:
        raise PermanentError(f"recording {recording_id} does not exist (any more)")
    return recording


def _event(store: Store, slug: str) -> Event:
    event = store.load_event(slug)
    if event is None:
        raise PermanentError(f"event {slug!r} does not exist (any more)")
    return event


def _recording_and_event(store: Store, job: JobContext) -> tuple[Recording, Event]:
    recording = _recording(store, job)
    return recording, _event(store, recording.event_slug)


def _session_and_event(store: Store, job: JobContext) -> tuple[Recording, Cut, Event]:
    recording, cut = _session(store, job)
    return recording, cut, _event(store, recording.event_slug)


def _session_and_probe(store: Store, job: JobContext
                       ) -> tuple[Recording, Cut, dict[str, Any] | None]:
    recording, cut = _session(store, job)
    return recording, cut, store.probe(recording.id)


def _session(store: Store, job: JobContext) -> tuple[Recording, Cut]:
    recording = _recording(store, job)
    guid = job.args.get("guid")
    for cut in store.load_cuts(recording.id):
        if cut.guid == guid:
            return recording, cut
    raise PermanentError(f"session {guid!r} is no longer in the cut plan of recording "
                         f"{recording.id}")
