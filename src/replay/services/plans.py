"""A recording's cut plan, as organisers review it: move one session's boundaries (only
that session is made again), or confirm the plan (the publication rule may then let its
sessions out)."""

from __future__ import annotations

from functools import partial
from typing import Final

from replay.domain.boundaries import implausible
from replay.domain.cutplan import Cut, move_boundary
from replay.domain.errors import PlanError
from replay.domain.stages import PlanReview
from replay.jobs.queue import JobQueue
from replay.locale import _, describe
from replay.services.errors import Conflict, NotFound, Refused
from replay.services.work import enqueue_session, publish_job
from replay.store.db import Recording
from replay.store.ports import PlanRepository, StoreRunner

NBSP: Final = "\u00a0"


def plan_of(plans: PlanRepository, recording: Recording) -> list[Cut]:
    """The recording's cut plan; `Conflict` while its analysis has not made one."""
    cuts = plans.load_cuts(recording.id)
    if not cuts or recording.duration is None:
        raise Conflict(_("The cut plan does not exist yet: wait until the recording's "
                         "analysis is over."))
    return cuts


def plan_confirmed(plans: PlanRepository, recording_id: int) -> bool:
    return plans.plan_review(recording_id) is PlanReview.CONFIRMED


async def move_cut(db: StoreRunner, queue: JobQueue, recording: Recording, guid: str, *,
                   start: float | None, end: float | None, confirmed: bool) -> list[int]:
    """Move one session's boundaries and queue its media and speech jobs again (their
    ids). An unusual move is a `Conflict` whose details hold the doubts to confirm."""
    await db.run(partial(move_boundaries, recording=recording, guid=guid, start=start,
                         end=end, confirmed=confirmed))
    return await enqueue_session(queue, recording.id, guid)


def move_boundaries(plans: PlanRepository, *, recording: Recording, guid: str,
                    start: float | None, end: float | None, confirmed: bool) -> None:
    """The store's part of `move_cut`: check the move, save the plan, mark it edited."""
    cuts = plan_of(plans, recording)
    if guid not in {cut.guid for cut in cuts}:
        raise NotFound(_("The session “{guid}” is not in this recording's cut plan.").format(
            guid=guid))
    assert recording.duration is not None  # checked by plan_of
    try:
        moved = move_boundary(cuts, guid, start=start, end=end, duration=recording.duration)
    except PlanError as exc:
        raise Refused(_("Boundary refused ({reason}): choose a start and an end within the "
                        "recording, without overlapping the neighbouring sessions.").format(
                            reason=describe(exc))) from None
    doubts = [describe(doubt) for doubt in implausible(next(c for c in cuts if c.guid == guid),
                                                       next(c for c in moved if c.guid == guid))]
    if doubts and not confirmed:
        raise Conflict(_("Unusual move: {doubts}. Confirm it if it is really wanted.").format(
            doubts=f"{NBSP}; ".join(doubts)), details={"confirm": doubts})
    with plans.transaction():
        plans.save_cuts(recording.id, moved)
        plans.set_plan_review(recording.id, PlanReview.EDITED)


async def confirm_plan(db: StoreRunner, queue: JobQueue, recording: Recording) -> int:
    """The organiser validates the plan; the event's publication is queued (its rule may
    have waited for this)."""
    await db.run(partial(_confirm, recording=recording))
    return await queue.enqueue(publish_job(recording.event_slug))


def _confirm(plans: PlanRepository, *, recording: Recording) -> None:
    plan_of(plans, recording)
    plans.set_plan_review(recording.id, PlanReview.CONFIRMED)
