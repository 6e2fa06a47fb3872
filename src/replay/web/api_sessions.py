"""The API's cut plans and sessions: show and move a plan's boundaries, confirm it; the
status of every session's stages; retry, publish, unpublish.

A stage's status joins what the store recorded (``stages``: done, failed, its error) with
the queue's job for it (queued, running with progress and ETA, failed with its error).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from replay.domain.model import Event
from replay.domain.publication import RULE_LABELS, PublicationRule, Release
from replay.jobs.queue import Job, JobStatus
from replay.locale import N_, _, describe
from replay.services import plans, publication
from replay.services.admission import event_for
from replay.services.publication import Candidate, candidates, publication_rule
from replay.services.removal import remove_recording
from replay.services.work import SESSION_TASKS
from replay.services.workdirs import SPEECH_MAP, recording_work_dir
from replay.settings import Settings
from replay.store.captions import Captions
from replay.store.db import Recording, StageState, Store
from replay.web import api_boundaries
from replay.web.api_bodies import CutMove
from replay.web.api_common import (
    answered,
    check_event_access,
    load_event,
    load_planned,
    load_recording,
    not_in_plan,
    read_body,
)
from replay.web.api_models import Plan, SessionList
from replay.web.api_routes import (
    EDITOR,
    GUID,
    OBJECT,
    ORGANISER,
    RECORDING,
    SLUG,
    ApiRoute,
    add_api_routes,
)
from replay.web.errors import api_error, json_response
from replay.web.keys import DB, OBJECTS, QUEUE, SETTINGS

RETRYABLE: Final = (JobStatus.FAILED, JobStatus.CANCELLED)


def add_routes(router: web.UrlDispatcher) -> None:
    """This module's routes and the boundaries' (`ROUTES`)."""
    add_api_routes(router, ROUTES)


# -- cut plan ----------------------------------------------------------------------------


def speech_map_path(settings: Settings, recording: Recording) -> Path:
    """Where `pipeline.speech_map` keeps the recording's speech intervals."""
    return recording_work_dir(settings, recording) / SPEECH_MAP


async def plan_json(request: web.Request, recording: Recording) -> dict[str, Any]:
    path = speech_map_path(request.config_dict[SETTINGS], recording)
    speech = json.loads(await asyncio.to_thread(path.read_text)) if path.is_file() else []
    confirmed, cuts = await request.config_dict[DB].run(lambda store: (
        plans.plan_confirmed(store, recording.id), store.load_cuts(recording.id)))
    return {"recording": recording.id, "duration": recording.duration,
            "confirmed": confirmed, "cuts": [asdict(cut) for cut in cuts], "speech": speech}


async def show_plan(request: web.Request) -> web.Response:
    return json_response(await plan_json(request, await load_recording(request)))


async def move_cut(request: web.Request) -> web.Response:
    """Move one session's boundaries; only that session's media and speech jobs re-run."""
    recording, guid = await load_recording(request), request.match_info["guid"]
    move = await read_body(request, CutMove)
    with answered():
        jobs = await plans.move_cut(request.config_dict[DB], request.config_dict[QUEUE],
                                    recording, guid, start=move.start, end=move.end,
                                    confirmed=move.confirm)
    return json_response({**await plan_json(request, recording), "jobs": jobs})


async def confirm_plan(request: web.Request) -> web.Response:
    recording = await load_recording(request)
    with answered():
        await plans.confirm_plan(request.config_dict[DB], request.config_dict[QUEUE],
                                 recording)
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


def _cut_row(store: Store, event: Event, item: Candidate, jobs: list[Job],
             analysis: dict[str, Any]) -> dict[str, Any]:
    recording, cut = item.recording, item.cut
    session = next((s for s in event.sessions if s.guid == cut.guid), None)
    stages = {"analyse": analysis}
    for task, name in SESSION_TASKS:
        stages[name] = stage_json(store.stage(recording.id, cut.guid, name),
                                  latest_job(jobs, task, recording=recording.id, guid=cut.guid))
    stages["publish"] = stage_json(store.stage(recording.id, cut.guid, "publish"), None)
    reason = describe(item.decision.reason) if item.decision.reason else ""
    return {"guid": cut.guid, "title": cut.title, "room": recording.room,
            "start": None if session is None else session.start.isoformat(),
            "in_programme": session is not None,
            "recording": recording.id, "cut": {"start": cut.start, "end": cut.end},
            "stages": stages, "published": item.facts.release is Release.RELEASED,
            "publication": {"publish": item.decision.publish, "reason": reason,
                            "held_by_rule": item.decision.held_by_rule},
            "captions": {t.lang: {"status": str(t.status), "reviewed": t.reviewed}
                         for t in item.facts.tracks}}


def session_rows(store: Store, event: Event, jobs: list[Job],
                 rule: PublicationRule) -> list[dict[str, Any]]:
    rows, covered = [], set()
    analyses = {r.id: _analysis(store, r, jobs) for r in store.recordings_of(event.slug)}
    for item in candidates(store, Captions(store.db), event, rule):
        covered.add(item.cut.guid)
        rows.append(_cut_row(store, event, item, jobs, analyses[item.recording.id]))
    for session in event.sessions:
        if session.guid not in covered:
            rows.append({"guid": session.guid, "title": session.title, "room": session.room,
                         "start": session.start.isoformat(), "in_programme": True,
                         "recording": None, "cut": None, "stages": {}, "published": False,
                         "publication": None, "captions": {}})
    return rows


async def list_sessions(request: web.Request) -> web.Response:
    """Every session of the event: programme slots, and what each recording made of them."""
    slug = request.match_info["slug"]
    check_event_access(request, slug)
    jobs = await request.config_dict[QUEUE].list()
    with answered():  # every read on the store's thread, none on the event loop
        body = await request.config_dict[DB].run(
            partial(_sessions_json, slug=slug, jobs=jobs, settings=request.config_dict[SETTINGS]))
    return json_response(body)


def _sessions_json(store: Store, *, slug: str, jobs: list[Job],
                   settings: Settings) -> dict[str, Any]:
    event = event_for(store, slug)
    rule = publication_rule(Captions(store.db), settings, event.slug)
    recordings = [{"id": r.id, "room": r.room, "source_name": r.source_name,
                   "analyse": _analysis(store, r, jobs)} for r in store.recordings_of(event.slug)]
    return {
        "event": event.slug, "recordings": recordings,
        "rule": {"value": str(rule), "label": _(RULE_LABELS[rule])},
        "sessions": session_rows(store, event, jobs, rule),
        "publish": stage_json(None, latest_job(jobs, "publish_event", event=event.slug)),
    }


# -- retry, publish, unpublish -----------------------------------------------------------


async def _session_cut(request: web.Request) -> tuple[Recording, str]:
    (recording, cuts), guid = await load_planned(request), request.match_info["guid"]
    if guid not in {cut.guid for cut in cuts}:
        raise api_error(404, not_in_plan(guid, recording))
    return recording, guid


async def retry_session(request: web.Request) -> web.Response:
    """Re-queue what failed for this session: its analysis, its media or speech job."""
    recording, guid = await load_recording(request), request.match_info["guid"]
    queue = request.config_dict[QUEUE]
    jobs = await queue.list()
    candidates = [latest_job(jobs, "analyse_recording", recording=recording.id)] + [
        latest_job(jobs, task, recording=recording.id, guid=guid) for task, _queue in SESSION_TASKS]
    failed = [job for job in candidates if job is not None and job.status in RETRYABLE]
    if not failed:
        raise api_error(409, _("Nothing to restart: no stage of this session failed."))
    retried = [job.id for job in failed if await queue.retry(job.id)]
    return json_response({"retried": retried}, status=202)


async def publish_session(request: web.Request) -> web.Response:
    """An organiser's decision to publish this session now, whatever the event's rule
    (taken down before or not): queue the event's publication."""
    recording, guid = await _session_cut(request)
    with answered():
        job = await publication.request_publish(request.config_dict[DB],
                                                request.config_dict[QUEUE], recording, guid)
    warnings = publication.publication_warnings(request.config_dict[SETTINGS])
    return json_response({"job": job, "warnings": warnings}, status=202)


async def unpublish_session(request: web.Request) -> web.Response:
    """Take the session down: marked withdrawn now, then the event's publication job
    publishes the index without it and deletes its objects (202 with that job)."""
    recording, guid = await _session_cut(request)
    event = await load_event(request, recording.event_slug)
    with answered():
        withdrawal = await publication.request_unpublish(
            request.config_dict[DB], request.config_dict[QUEUE], event, guid)
    return json_response({"unpublished": list(withdrawal.slugs), "job": withdrawal.job},
                         status=202)


async def delete_recording(request: web.Request) -> web.Response:
    """Remove a wrong recording: its sessions are withdrawn from the public site, its jobs
    cancelled, its cut plan and captions forgotten; nothing else changes."""
    recording = await load_recording(request)
    event = await load_event(request, recording.event_slug)
    app = request.config_dict
    removed = await remove_recording(app[SETTINGS], app[DB], app[OBJECTS], app[QUEUE],
                                     event, recording)
    return json_response({"removed": removed.recording, "sessions": list(removed.sessions),
                          "withdrawn": list(removed.withdrawn)})


# -- the routes ----------------------------------------------------------------------------

_PLAN: Final = ("200", Plan, N_("The cut plan"))
_JOB: Final = ("202", OBJECT, N_("Work queued"))
_PUBLISHING: Final = {"type": "object", "required": ["job", "warnings"], "properties": {
    "job": {"type": "integer"}, "warnings": {"type": "array", "items": {"type": "string"}}}}
_UNPUBLISHED: Final = {"type": "object", "required": ["unpublished", "job"], "properties": {
    "unpublished": {"type": "array", "items": {"type": "string"}}, "job": {"type": "integer"}}}

ROUTES: Final = (
    *api_boundaries.ROUTES,
    ApiRoute("DELETE", "/api/recordings/{id}", delete_recording,
             N_("Delete a wrong recording: its sessions are removed from the site, nothing "
                "else changes"), ORGANISER, ("200", OBJECT, N_("Deleted")), ("404",),
             params=(RECORDING,)),
    ApiRoute("GET", "/api/recordings/{id}/plan", show_plan, N_("The cut plan"), ORGANISER,
             _PLAN, ("404",), params=(RECORDING,)),
    ApiRoute("POST", "/api/recordings/{id}/plan/confirm", confirm_plan, N_("Validate the plan"),
             ORGANISER, _PLAN, ("404", "409"), params=(RECORDING,)),
    ApiRoute("PATCH", "/api/recordings/{id}/plan/{guid}", move_cut,
             N_("Move a session's boundaries (only this session is processed again)"),
             ORGANISER, _PLAN, ("400", "404", "409", "422"), body=CutMove,
             params=(RECORDING, GUID)),
    ApiRoute("GET", "/api/events/{slug}/sessions", list_sessions, N_("Each session's state"),
             EDITOR, ("200", SessionList, N_("Sessions")), ("404",), params=(SLUG,)),
    ApiRoute("POST", "/api/sessions/{id}/{guid}/retry", retry_session,
             N_("Run the failed stage again"), ORGANISER, _JOB, ("404", "409"),
             params=(RECORDING, GUID)),
    ApiRoute("POST", "/api/sessions/{id}/{guid}/publish", publish_session,
             N_("Publish the session"),
             ORGANISER, ("202", _PUBLISHING, N_("Publication requested (with what the "
                                                "organiser must know)")),
             ("404", "409"), params=(RECORDING, GUID)),
    ApiRoute("POST", "/api/sessions/{id}/{guid}/unpublish", unpublish_session,
             N_("Remove the session from the site"), ORGANISER,
             ("202", _UNPUBLISHED, N_("Removal requested: the event's publication "
                                      "does it")), ("404", "409"), params=(RECORDING, GUID)),
)
