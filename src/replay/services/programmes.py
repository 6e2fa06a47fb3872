"""Importing a programme: read it (any accepted format), create its event, or re-import
it (changes by guid, previewed or applied). One place for its refusals."""

from __future__ import annotations

from dataclasses import replace

from replay.domain.errors import ProgrammeError
from replay.domain.model import Event
from replay.domain.programme import parse_programme
from replay.domain.publication import PublicationRule
from replay.locale import _, describe
from replay.services.captions import default_options
from replay.services.errors import Conflict, Refused
from replay.settings import Settings
from replay.store.captions import Captions
from replay.store.db import ImportSummary, Store
from replay.store.ports import EventRepository


def read_programme(data: bytes, filename: str = "") -> Event:
    """The programme in `data`; `Refused` (400) with the parser's reason."""
    try:
        return parse_programme(data, filename=filename)
    except ProgrammeError as exc:
        raise Refused(_("Unreadable programme: {reason}").format(reason=describe(exc)),
                      field="programme", status=400) from None


def create_event(store: Store, settings: Settings, event: Event,
                 rule: PublicationRule) -> Event:
    """A new event with its programme and its publication rule, in one transaction;
    `Conflict` when the event exists (its programme is re-imported instead)."""
    with store.transaction():
        if store.load_event(event.slug) is not None:
            raise Conflict(_("The event “{slug}” already exists: to update its programme, use "
                             "{request}.").format(
                                 slug=event.slug,
                                 request=f"POST /api/events/{event.slug}/programme"))
        store.save_event(event)
        captions = Captions(store.db)
        options = captions.options(event.slug, default_options(settings))
        captions.save_options(event.slug, replace(options, publication_rule=rule))
    return event


def import_programme(events: EventRepository, event: Event, *, apply: bool) -> ImportSummary:
    """Re-import an event's programme: what changes by guid; saved only when `apply`."""
    return events.save_event(event) if apply else events.diff_event(event)
