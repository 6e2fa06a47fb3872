"""The work the services ask of the queue: task names, queues, locks and attempts.

Services (and the live) queue work through these specs and the queue port
(`jobs.queue.JobQueue`); `jobs.tasks` implements the tasks they name.
"""

from __future__ import annotations

from typing import Final

from replay.jobs.queue import JobQueue, JobSpec

MEDIA, SPEECH, PUBLISH = "media", "speech", "publish"
QUEUES: Final = (MEDIA, SPEECH, PUBLISH)
MAX_ATTEMPTS: Final = 5
#: The session tasks, with the queue each runs on.
SESSION_TASKS: Final = (("media_session", MEDIA), ("speech_session", SPEECH))


def analysis_job(recording_id: int) -> JobSpec:
    """A recording's analysis (the rest follows from it); one waiting at a time."""
    return JobSpec("analyse_recording", {"recording": recording_id}, queue=MEDIA,
                   lock=f"analyse:{recording_id}", max_attempts=MAX_ATTEMPTS)


async def enqueue_recording(queue: JobQueue, recording_id: int) -> int:
    """Queue the analysis of an admitted recording; returns the job's id. A recording
    already waiting for analysis is not queued twice."""
    return await queue.enqueue(analysis_job(recording_id))


def session_jobs(recording_id: int, guid: str) -> list[JobSpec]:
    """A session's media and speech jobs; their locks keep each stage single."""
    return [JobSpec(task, {"recording": recording_id, "guid": guid}, queue=queue,
                    lock=f"{queue}:{recording_id}:{guid}", max_attempts=MAX_ATTEMPTS)
            for task, queue in SESSION_TASKS]


async def enqueue_session(queue: JobQueue, recording_id: int, guid: str) -> list[int]:
    """The session's media and speech jobs, queued; their ids."""
    return [await queue.enqueue(spec) for spec in session_jobs(recording_id, guid)]


def publish_job(event_slug: str) -> JobSpec:
    """The event's publication: every object-store write of the event (sessions out,
    withdrawn ones deleted, the index) happens in it, one at a time per event."""
    return JobSpec("publish_event", {"event": event_slug}, queue=PUBLISH,
                   lock=f"publish:{event_slug}", max_attempts=MAX_ATTEMPTS)
