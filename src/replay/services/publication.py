"""Whether a session goes out, and people's requests to publish or withdraw.

The one decision is `domain.publication.decide` over the `SessionFacts` read here
(`session_facts`): the dashboard, the caption workflow and the publish task all ask
`candidates` or `session_decision`, never their own predicates. Requests only write the
decision in the store and queue the event's publication (`services.work.publish_job`,
lock ``publish:<event>``): every object-store write (a session out, a withdrawn one
deleted, the index) happens in that job, one at a time per event, so a dropped client
can no longer stop a withdrawal halfway.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from typing import Final

from replay.domain.cutplan import Cut
from replay.domain.model import Event, Session
from replay.domain.podcast import relative_links_warning
from replay.domain.publication import (
    Decision,
    PublicationRule,
    Release,
    SessionFacts,
    decide,
)
from replay.domain.stages import PlanReview, StageStatus
from replay.jobs.queue import JobQueue
from replay.locale import _
from replay.services.captions import default_options, tracks_of
from replay.services.errors import Conflict, NotFound
from replay.services.work import publish_job
from replay.settings import Settings
from replay.store.captions import Captions, EventOptions
from replay.store.db import Recording, Store
from replay.store.ports import PlanRepository, StoreRunner

#: The store's stages of a session's work (its media and speech jobs).
SESSION_STAGES: Final = ("media", "speech")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A session of the event's cut plans, with what `publication.decide` made of it."""

    recording: Recording
    cut: Cut
    session: Session
    facts: SessionFacts
    decision: Decision


@dataclass(frozen=True, slots=True)
class Withdrawal:
    slugs: tuple[str, ...]  # the sessions' public names, taken down by the job
    job: int  # the event's publication job that takes them down


def publication_warnings(settings: Settings) -> list[str]:
    """What organisers are told where they publish (the CLI, the dashboard, the API):
    without the site's public address, the podcast feed links relatively."""
    return [] if settings.public_url else [_(relative_links_warning())]


def publication_rule(captions: Captions, settings: Settings, event_slug: str) -> PublicationRule:
    return captions.options(event_slug, default_options(settings)).publication_rule


def processed(stages: PlanRepository, recording_id: int, guid: str) -> bool:
    """Its video and its captions are made (both session stages done)."""
    states = [stages.stage(recording_id, guid, name) for name in SESSION_STAGES]
    return all(state is not None and state.status is StageStatus.DONE for state in states)


def session_facts(store: Store, captions: Captions, recording: Recording,
                  guid: str) -> SessionFacts:
    """What the publication rule looks at, from the store."""
    return SessionFacts(
        processed=processed(store, recording.id, guid),
        plan_confirmed=store.plan_review(recording.id) is PlanReview.CONFIRMED,
        release=release_of(store, recording.id, guid), tracks=tracks_of(captions, recording, guid))


def release_of(stages: PlanRepository, recording_id: int, guid: str) -> Release:
    """Where the session's publication stands (undecided when nothing says)."""
    published = stages.stage(recording_id, guid, "publish")
    try:
        return Release(published.status) if published is not None else Release.UNDECIDED
    except ValueError:
        return Release.UNDECIDED


def session_decision(store: Store, captions: Captions, rule: PublicationRule,
                     recording: Recording, guid: str) -> Decision:
    """Whether this session goes out now under `rule`, and if not, why."""
    return decide(rule, session_facts(store, captions, recording, guid))


def candidates(store: Store, captions: Captions, event: Event,
               rule: PublicationRule) -> list[Candidate]:
    found = []
    for recording in store.recordings_of(event.slug):
        for cut in store.load_cuts(recording.id):
            facts = session_facts(store, captions, recording, cut.guid)
            found.append(Candidate(recording, cut, session_for(event, cut, recording), facts,
                                   decide(rule, facts)))
    return found


def session_for(event: Event, cut: Cut, recording: Recording) -> Session:
    """The programme's session of a cut; one made from the cut when the programme lost it."""
    for session in event.sessions:
        if session.guid == cut.guid:
            return session
    return Session(
        guid=cut.guid, title=cut.title, room=recording.room,
        start=recording.started_at + timedelta(seconds=cut.start),
        duration=timedelta(seconds=cut.duration), slug=cut.guid)


def request_publication(store: PlanRepository, recording: Recording, guid: str) -> None:
    """An organiser's decision to publish the session: the rule no longer holds it."""
    state = store.stage(recording.id, guid, "publish")
    if state is None or state.status not in (Release.RELEASED, Release.REQUESTED):
        # an already requested one is not written again (an fsync for nothing)
        store.set_stage(recording.id, guid, "publish", input_key="",
                        status=Release.REQUESTED)


def mark_withdrawn(store: PlanRepository, found: list[tuple[Recording, Cut]]) -> None:
    """An organiser's decision to take these sessions down (the next publication does)."""
    with store.transaction():
        for recording, cut in found:
            store.set_stage(recording.id, cut.guid, "publish", input_key="",
                            status=Release.WITHDRAWN, progress=1.0)


def find_sessions(store: Store, event: Event, guid_or_slug: str) -> list[tuple[Recording, Cut]]:
    """The event's recorded sessions named `guid_or_slug` (by guid or public name)."""
    everything = [(recording, cut) for recording in store.recordings_of(event.slug)
                  for cut in store.load_cuts(recording.id)]
    found = [(recording, cut) for recording, cut in everything
             if guid_or_slug in {cut.guid, session_for(event, cut, recording).slug}]
    if not found:
        known = sorted({session_for(event, cut, recording).slug for recording, cut in everything})
        raise NotFound(_("The event “{slug}” has no recorded session “{name}”: give a guid or "
                         "one of these names: {known}.").format(
                             slug=event.slug, name=guid_or_slug,
                             known=", ".join(known) or _("(none)")))
    return found


async def change_rule(db: StoreRunner, queue: JobQueue, settings: Settings, event_slug: str, *,
                      rule: PublicationRule | None = None,
                      editors_may_publish: bool | None = None) -> EventOptions:
    """Change the event's publication rule and whether editors may publish (None: kept as
    is). A new rule queues the event's publication: the sessions it lets out go out."""
    def save(store: Store) -> tuple[EventOptions, EventOptions]:
        captions = Captions(store.db)
        before = captions.options(event_slug, default_options(settings))
        after = replace(before,
                        publication_rule=before.publication_rule if rule is None else rule,
                        editors_may_publish=(before.editors_may_publish
                                             if editors_may_publish is None
                                             else editors_may_publish))
        captions.save_options(event_slug, after)
        return before, after

    before, after = await db.run(save)
    if after.publication_rule is not before.publication_rule:
        await queue.enqueue(publish_job(event_slug))
    return after


async def request_publish(db: StoreRunner, queue: JobQueue, recording: Recording,
                          guid: str) -> int:
    """An organiser publishes a processed session now, whatever the event's rule (taken
    down before or not); returns the publication job."""
    await db.run(partial(_request_publish, recording=recording, guid=guid))
    return await queue.enqueue(publish_job(recording.event_slug))


def _request_publish(store: Store, *, recording: Recording, guid: str) -> None:
    if not processed(store, recording.id, guid):
        raise Conflict(_("The session is not ready: wait until its processing (video and "
                         "subtitles) is over, then publish it."))
    request_publication(store, recording, guid)


async def request_unpublish(db: StoreRunner, queue: JobQueue, event: Event,
                            guid_or_slug: str) -> Withdrawal:
    """Mark the session withdrawn and queue the event's publication, which publishes the
    index without it and then deletes its objects."""
    slugs = await db.run(partial(_withdraw, event=event, guid_or_slug=guid_or_slug))
    return Withdrawal(slugs, await queue.enqueue(publish_job(event.slug)))


def _withdraw(store: Store, *, event: Event, guid_or_slug: str) -> tuple[str, ...]:
    found = find_sessions(store, event, guid_or_slug)
    mark_withdrawn(store, found)
    return tuple(sorted({session_for(event, cut, recording).slug
                         for recording, cut in found}))
