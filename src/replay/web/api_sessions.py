"""The API's cut plans and sessions: show and move a plan's boundaries, confirm it; the
status of every session's stages; retry, publish, unpublish.

A stage's status joins what the store recorded (``stages``: done, failed, its error) with
the queue's job for it (queued, running with progress and ETA, failed with its error).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

import numpy as np
from aiohttp import web

from replay.domain.cutplan import Cut, move_boundary
from replay.domain.errors import PlanError, ReplayError
from replay.domain.model import Event
from replay.jobs.context import Context, Lanes
from replay.jobs.pipeline import unpublish
from replay.jobs.queue import Job, JobQueue, JobStatus
from replay.jobs.tasks import MEDIA, SPEECH, publish_job, session_jobs
from replay.jobs.workdirs import SPEECH_MAP, recording_work_dir
from replay.settings import Settings
from replay.speech.transcriber import Transcription
from replay.store.db import Recording, StageState, Store
from replay.web.api_common import json_body, load_event, load_recording
from replay.web.auth import Role, require
from replay.web.errors import NBSP, api_error, json_response
from replay.web.keys import OBJECTS, QUEUE, SETTINGS, STORE

#: The stage row (guid "") that records the organiser's review of a recording's plan.
PLAN_REVIEW: Final = "plan_review"
CONFIRMED, EDITED = "confirmed", "edited"
SESSION_TASKS: Final = (("media_session", MEDIA), ("speech_session", SPEECH))
RETRYABLE: Final = (JobStatus.FAILED, JobStatus.CANCELLED)

_organiser: Final = require(Role.ORGANISER)
_reader: Final = require(Role.EDITOR)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/recordings/{id}/plan", show_plan)
    router.add_post("/api/recordings/{id}/plan/confirm", confirm_plan)
    router.add_patch("/api/recordings/{id}/plan/{guid}", move_cut)
    router.add_get("/api/events/{slug}/sessions", list_sessions)
    router.add_post("/api/sessions/{id}/{guid}/retry", retry_session)
    router.add_post("/api/sessions/{id}/{guid}/publish", publish_session)
    router.add_post("/api/sessions/{id}/{guid}/unpublish", unpublish_session)


# -- cut plan ----------------------------------------------------------------------------


def speech_map_path(settings: Settings, recording: Recording) -> Path:
    """Where `pipeline.speech_map` keeps the recording's speech intervals."""
    return recording_work_dir(settings, recording) / SPEECH_MAP


async def plan_json(request: web.Request, recording: Recording) -> dict[str, Any]:
    store = request.config_dict[STORE]
    review = store.stage(recording.id, "", PLAN_REVIEW)
    path = speech_map_path(request.config_dict[SETTINGS], recording)
    speech = json.loads(await asyncio.to_thread(path.read_text)) if path.is_file() else []
    return {"recording": recording.id, "duration": recording.duration,
            "confirmed": review is not None and review.status == CONFIRMED,
            "cuts": [asdict(cut) for cut in store.load_cuts(recording.id)],
            "speech": speech}


def _cuts(store: Store, recording: Recording) -> list[Cut]:
    cuts = store.load_cuts(recording.id)
    if not cuts or recording.duration is None:
        raise api_error(409, f"Le plan de découpe n’existe pas encore{NBSP}: attendez la fin "
                             "de l’analyse de l’enregistrement.")
    return cuts


@_organiser
async def show_plan(request: web.Request) -> web.Response:
    return json_response(await plan_json(request, load_recording(request)))


def _bound(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise api_error(400, f"« {name} » doit être un nombre de secondes depuis le début de "
                             "l’enregistrement.")
    return float(value)


@_organiser
async def move_cut(request: web.Request) -> web.Response:
    """Move one session's boundaries; only that session's media and speech jobs re-run."""
    recording, guid = load_recording(request), request.match_info["guid"]
    body = await json_body(request)
    start, end = _bound(body, "start"), _bound(body, "end")
    store = request.config_dict[STORE]
    cuts = _cuts(store, recording)
    if guid not in {cut.guid for cut in cuts}:
        raise api_error(404, f"La session « {guid} » n’est pas dans le plan de cet "
                             "enregistrement.")
    assert recording.duration is not None  # checked by _cuts
    try:
        moved = move_boundary(cuts, guid, start=start, end=end, duration=recording.duration)
    except PlanError as exc:
        raise api_error(422, f"Limite refusée ({exc}){NBSP}: choisissez un début et une fin "
                             "dans l’enregistrement, sans chevaucher les sessions "
                             "voisines.") from None
    store.save_cuts(recording.id, moved)
    store.set_stage(recording.id, "", PLAN_REVIEW, input_key="", status=EDITED)
    jobs = await enqueue_session(request.config_dict[QUEUE], recording, guid)
    return json_response({**await plan_json(request, recording), "jobs": jobs})


async def enqueue_session(queue: JobQueue, recording: Recording, guid: str) -> list[int]:
    """The session's media and speech jobs, with the locks `jobs.tasks` gives them."""
    return [await queue.enqueue(spec) for spec in session_jobs(recording.id, guid)]


@_organiser
async def confirm_plan(request: web.Request) -> web.Response:
    recording = load_recording(request)
    store = request.config_dict[STORE]
    _cuts(store, recording)
    store.set_stage(recording.id, "", PLAN_REVIEW, input_key="", status=CONFIRMED,
                    progress=1.0)
    return json_response(await plan_json(request, recording))


# -- session status ----------------------------------------------------------------------


def latest_job(jobs: list[Job], task: str, **args: object) -> Job | None:
    found = [job for job in jobs if job.task == task
             and all(job.args.get(key) == value for key, value in args.items())]
    return max(found, key=lambda job: job.id, default=None)


def stage_json(state: StageState | None, job: Job | None) -> dict[str, Any]:
    """The store's record of a stage, overridden by what its job is doing now."""
    status = state.status if state else "pending"
    progress = state.progress if state else 0.0
    error, eta = (state.error if state else None), None
    if job is not None and job.status is JobStatus.TODO:
        status, error = "queued", job.error or error
    elif job is not None and job.status is JobStatus.DOING:
        status, progress, eta = "running", job.progress or progress, job.eta
    elif job is not None and job.status in RETRYABLE:
        status, error = str(job.status), job.error or error
    return {"status": status, "progress": progress, "eta": eta, "error": error,
            "job": None if job is None else job.id}


def _analysis(store: Store, recording: Recording, jobs: list[Job]) -> dict[str, Any]:
    states = [store.stage(recording.id, "", name) for name in ("audio", "speech_map")]
    failed = [s for s in states if s is not None and s.status == "failed"]
    state = failed[0] if failed else (states[1] or states[0])
    return stage_json(state, latest_job(jobs, "analyse_recording", recording=recording.id))


def _cut_row(store: Store, event: Event, recording: Recording, cut: Cut, jobs: list[Job],
             analysis: dict[str, Any]) -> dict[str, Any]:
    session = next((s for s in event.sessions if s.guid == cut.guid), None)
    stages = {"analyse": analysis}
    for task, name in SESSION_TASKS:
        stages[name] = stage_json(store.stage(recording.id, cut.guid, name),
                                  latest_job(jobs, task, recording=recording.id, guid=cut.guid))
    published = store.stage(recording.id, cut.guid, "publish")
    stages["publish"] = stage_json(published, None)
    return {"guid": cut.guid, "title": cut.title, "room": recording.room,
            "start": None if session is None else session.start.isoformat(),
            "recording": recording.id, "cut": {"start": cut.start, "end": cut.end},
            "stages": stages, "published": published is not None and published.status == "done"}


def session_rows(store: Store, event: Event, jobs: list[Job]) -> list[dict[str, Any]]:
    rows, covered = [], set()
    for recording in store.recordings_of(event.slug):
        analysis = _analysis(store, recording, jobs)
        for cut in store.load_cuts(recording.id):
            covered.add(cut.guid)
            rows.append(_cut_row(store, event, recording, cut, jobs, analysis))
    for session in event.sessions:
        if session.guid not in covered:
            rows.append({"guid": session.guid, "title": session.title, "room": session.room,
                         "start": session.start.isoformat(), "recording": None, "cut": None,
                         "stages": {}, "published": False})
    return rows


@_reader
async def list_sessions(request: web.Request) -> web.Response:
    """Every session of the event: programme slots, and what each recording made of them."""
    event = load_event(request, request.match_info["slug"])
    jobs = await request.config_dict[QUEUE].list()
    store = request.config_dict[STORE]
    recordings = [{"id": r.id, "room": r.room, "source_name": r.source_name,
                   "analyse": _analysis(store, r, jobs)} for r in store.recordings_of(event.slug)]
    return json_response({
        "event": event.slug, "recordings": recordings,
        "sessions": session_rows(store, event, jobs),
        "publish": stage_json(None, latest_job(jobs, "publish_event", event=event.slug)),
    })


# -- retry, publish, unpublish -----------------------------------------------------------


def _session_cut(request: web.Request) -> tuple[Recording, str]:
    recording, guid = load_recording(request), request.match_info["guid"]
    if guid not in {cut.guid for cut in request.config_dict[STORE].load_cuts(recording.id)}:
        raise api_error(404, f"La session « {guid} » n’est pas dans le plan de "
                             f"l’enregistrement {recording.id}.")
    return recording, guid


@_organiser
async def retry_session(request: web.Request) -> web.Response:
    """Re-queue what failed for this session: its analysis, its media or speech job."""
    recording, guid = load_recording(request), request.match_info["guid"]
    queue = request.config_dict[QUEUE]
    jobs = await queue.list()
    candidates = [latest_job(jobs, "analyse_recording", recording=recording.id)] + [
        latest_job(jobs, task, recording=recording.id, guid=guid) for task, _ in SESSION_TASKS]
    failed = [job for job in candidates if job is not None and job.status in RETRYABLE]
    if not failed:
        raise api_error(409, f"Rien à relancer{NBSP}: aucune étape de cette session n’a "
                             "échoué.")
    retried = [job.id for job in failed if await queue.retry(job.id)]
    return json_response({"retried": retried}, status=202)


@_organiser
async def publish_session(request: web.Request) -> web.Response:
    """Queue the event's publication with this session (taken down before or not)."""
    recording, guid = _session_cut(request)
    store = request.config_dict[STORE]
    states = [store.stage(recording.id, guid, name) for _, name in SESSION_TASKS]
    if not all(state is not None and state.status == "done" for state in states):
        raise api_error(409, f"La session n’est pas prête{NBSP}: attendez la fin de son "
                             "traitement (vidéo et sous-titres), puis publiez-la.")
    store.set_stage(recording.id, guid, "publish", input_key="", status="requested")
    job = await request.config_dict[QUEUE].enqueue(publish_job(recording.event_slug))
    return json_response({"job": job}, status=202)


class _NoTranscriber:
    """Unpublishing never transcribes; the context still needs a transcriber."""

    def transcribe_and_translate(self, audio: np.ndarray, *, language: str,
                                 hotwords: str | None = None,
                                 on_progress: Any = None) -> Transcription:
        raise RuntimeError("unpublishing does not transcribe")


@_organiser
async def unpublish_session(request: web.Request) -> web.Response:
    """Take the session down now: the index without it, then its objects deleted."""
    recording, guid = _session_cut(request)
    app = request.config_dict
    event = load_event(request, recording.event_slug)
    ctx = Context(settings=app[SETTINGS], store=app[STORE], objects=app[OBJECTS],
                  transcriber=_NoTranscriber(), lanes=Lanes.for_threads(1))
    try:
        slugs = await unpublish(ctx, event, guid)
    except ReplayError as exc:
        raise api_error(409, f"Retrait impossible{NBSP}: {exc}") from None
    return json_response({"unpublished": slugs})
