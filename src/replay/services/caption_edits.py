"""Editors' work on a session's captions: save a correction (typed, imported from a file,
or an earlier version brought back) and move a track along the workflow, publishing it
where the event lets it out.

The faces parse and check the request's shape (cues validated in a worker process, the
role checked); the rules are here: a saved correction goes back to review, a version
conflict is reported with the current version, a status change follows the workflow's
transitions, and « publié » asks the event's publication (`services.publication`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

from replay.captions_io.files import to_webvtt
from replay.domain.captions import (
    CaptionError,
    CaptionStatus,
    check_transition,
    status_after_save,
)
from replay.domain.publication import VALIDATED, PublicationRule, Track, text_goes_out
from replay.domain.transcript import Cue
from replay.jobs.queue import JobQueue
from replay.locale import N_, _, describe
from replay.services.captions import (
    default_options,
    digest,
    read_source,
    sync_from_file,
    vtt_path,
    write_current_file,
)
from replay.services.errors import Conflict, NotFound
from replay.services.publication import session_decision
from replay.services.work import publish_job
from replay.settings import Settings
from replay.store.captions import Author, Captions, CaptionState, CaptionVersion, EventOptions, Key
from replay.store.db import Recording, Store
from replay.store.ports import StoreRunner

ALREADY: Final = {
    CaptionStatus.RELECTURE: N_("Already in review: each change saved sends the subtitles to "
                                "review."),
    CaptionStatus.VALIDE: N_("These subtitles are already validated."),
}


#: Refuses (raises) when the person asking may not publish under these options.
PublisherCheck = Callable[[EventOptions], None]


@dataclass(frozen=True, slots=True)
class CaptionTrack:
    """One language's captions of one session of one recording."""

    recording: Recording
    guid: str
    lang: str

    @property
    def key(self) -> Key:
        return self.recording.id, self.guid, self.lang


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: CaptionStatus
    job: int | None  # the publication queued, if one was
    unchanged: bool
    message: str  # French, for the editor ("" when there is nothing to say)
    publish: bool | None = None  # for « publié »: whether the session goes out now
    reason: str = ""  # for « publié »: what holds it back


async def read_draft(settings: Settings, track: CaptionTrack) -> str | None:
    """The speech stage's file of the track (None before the transcription wrote it)."""
    return await asyncio.to_thread(read_source, vtt_path(settings, track.recording,
                                                         track.guid, track.lang))


def synced(captions: Captions, track: CaptionTrack, source: str | None) -> CaptionState:
    """The track's state, after importing `source` when it is a new draft; `Conflict`
    while there is no draft yet."""
    state = sync_from_file(captions, track.key, source)
    if state is None:
        raise Conflict(_("No subtitles for this session yet: wait until its transcription is "
                         "over."))
    return state


async def load(settings: Settings, db: StoreRunner,
               track: CaptionTrack) -> tuple[CaptionState, str | None]:
    """The track's state, after importing the speech stage's file when it is new, and that
    file's text."""
    source = await read_draft(settings, track)
    return await db.run(lambda store: synced(Captions(store.db), track, source)), source


async def save(settings: Settings, db: StoreRunner, track: CaptionTrack, cues: Sequence[Cue],
               author: Author, *, expected: int, note: str,
               reviewed_until: float | None = None) -> None:
    """Save a correction as a new version, which goes back to review. A version other than
    `expected` being current raises the store's `VersionConflict`. The store's work runs
    where `db` runs it (off the event loop for the web)."""
    source = await read_draft(settings, track)
    await db.run(partial(_save, track=track, source=source, cues=list(cues), author=author,
                         expected=expected, note=note, reviewed_until=reviewed_until))


def _save(store: Store, *, track: CaptionTrack, source: str | None, cues: list[Cue],
          author: Author, expected: int, note: str, reviewed_until: float | None) -> None:
    captions = Captions(store.db)
    state = synced(captions, track, source)
    captions.save(track.key, cues, author, expected=expected,
                  status=status_after_save(state.status), note=note,
                  reviewed_until=reviewed_until)


def version(captions: Captions, track: CaptionTrack, number: int | None,
            shown: str) -> CaptionVersion:
    found = None if number is None else captions.version(track.key, number)
    if found is None:
        raise NotFound(_("Version “{shown}” not found: see the history.").format(shown=shown))
    return found


async def revert(settings: Settings, db: StoreRunner, track: CaptionTrack, number: int,
                 author: Author, *, expected: int) -> None:
    """Bring an earlier version back, as a new version (to review again)."""
    source = await read_draft(settings, track)

    def old_cues(store: Store) -> list[Cue]:
        captions = Captions(store.db)
        synced(captions, track, source)
        return list(version(captions, track, number, str(number)).cues)

    cues = await db.run(old_cues)
    note = _("back to version {number}").format(number=number)
    await db.run(partial(_save, track=track, source=source, cues=cues, author=author,
                         expected=expected, note=note,
                         reviewed_until=None))


def check_rule_lets_out(rule: PublicationRule, state: CaptionState) -> None:
    """Where the event waits for validated captions, only validated ones are published."""
    if rule is PublicationRule.SOUS_TITRES and state.status not in VALIDATED:
        raise Conflict(_("This event waits for validated subtitles: review and validate them "
                         "before publishing them."))


async def change_status(settings: Settings, db: StoreRunner, queue: JobQueue,
                        track: CaptionTrack, wanted: CaptionStatus, *, by: int | None,
                        check_publisher: PublisherCheck) -> StatusChange:
    """Move the track along the workflow (each language on its own). Asking for the status
    it already has is no error: the answer says so. « publié » goes through `publish`.
    The store's work runs where `db` runs it."""
    source = await read_draft(settings, track)
    state = await db.run(lambda store: synced(Captions(store.db), track, source))
    if wanted is state.status and wanted in ALREADY:
        return StatusChange(wanted, None, True, _(ALREADY[wanted]))
    try:
        check_transition(state.status, wanted)
    except CaptionError as exc:
        raise Conflict(_("Change refused: {reason}.").format(reason=describe(exc))) from None
    if wanted is CaptionStatus.PUBLIE:
        return await publish(settings, db, queue, track, state,
                             check_publisher=check_publisher)
    await db.run(lambda store: Captions(store.db).set_status(track.key, wanted, by=by))
    job = None
    if wanted is CaptionStatus.VALIDE:  # where the rule waits for validated captions
        job = await queue.enqueue(publish_job(track.recording.event_slug))
    return StatusChange(wanted, job, False, "")


async def publish(settings: Settings, db: StoreRunner, queue: JobQueue, track: CaptionTrack,
                  state: CaptionState, *, check_publisher: PublisherCheck) -> StatusChange:
    """Queue the event's publication; the track becomes « publié » once it is out. The
    answer says whether the session goes out, or what holds it back. `check_publisher`
    refuses a person the event's options do not let publish (the face knows its people)."""
    options = await db.run(lambda store: Captions(store.db).options(
        track.recording.event_slug, default_options(settings)))
    check_publisher(options)
    rule = options.publication_rule
    check_rule_lets_out(rule, state)
    job = await publish_captions(settings, db, queue, track, rule)
    decision = await db.run(lambda store: session_decision(
        store, Captions(store.db), rule, track.recording, track.guid))
    reason = describe(decision.reason) if decision.reason else ""
    message = (_("Publication requested: the session will be online in a moment.")
               if decision.publish else _("The session is not published yet: {reason}").format(
                   reason=reason))
    return StatusChange(state.status, job, False, message, decision.publish, reason)


async def publish_captions(settings: Settings, db: StoreRunner, queue: JobQueue,
                           track: CaptionTrack, rule: PublicationRule) -> int:
    """Write the current version as the session's file where the rule lets it out, then
    queue the event's publish (which uploads only the objects that changed)."""
    text = await db.run(partial(_text_going_out, track=track, rule=rule))
    if text is not None:
        path = vtt_path(settings, track.recording, track.guid, track.lang)
        await asyncio.to_thread(write_current_file, path, text)
        await db.run(lambda store: Captions(store.db).set_source(track.key, digest(text)))
    return await queue.enqueue(publish_job(track.recording.event_slug))


def _text_going_out(store: Store, *, track: CaptionTrack, rule: PublicationRule) -> str | None:
    """The current version as WebVTT where the rule lets this track's text out, else None."""
    captions = Captions(store.db)
    state = captions.state(track.key)
    seen = Track(track.lang) if state is None else Track(track.lang, state.status,
                                                         state.reviewed)
    if not text_goes_out(rule, seen):
        return None
    current = captions.current(track.key)
    assert current is not None  # synced() imported it
    return to_webvtt(list(current.cues))
