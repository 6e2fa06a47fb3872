"""The caption review API. `setup_captions(app)` adds the routes of one session's
captions (`api_caption_sessions`) and the event-wide ones here: find and replace across
a session or the whole event (a preview of every change, then applied with the versions
the preview showed), the event's caption options, its glossary, and its podcast options
(the audio feed's iTunes tags).

Roles: editors (and organisers) replace and edit the glossary (editors meet the names
while correcting); the options (captions policy, whether editors may publish) are the
organisers'. The glossary is offered for replace by the editor page and given to
Whisper, before the programme's names, as hotwords for later transcriptions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Final

from aiohttp import web

from replay.domain.captions import CaptionStatus, Change, find_replace
from replay.domain.cutplan import Cut
from replay.domain.model import Event
from replay.domain.podcast import PodcastError, PodcastOptions, parse_podcast
from replay.domain.publication import RULE_LABELS, PublicationRule
from replay.locale import N_, _, describe
from replay.services import publication
from replay.services.captions import (
    default_options,
    read_source,
    sync_from_file,
    vtt_path,
)
from replay.store.captions import Captions, CaptionVersion, EventOptions, VersionConflict
from replay.store.db import Recording, Store
from replay.web import api_caption_sessions
from replay.web.api_bodies import GlossaryChange, OptionsChange, PodcastChange, Replacement
from replay.web.api_caption_sessions import (
    Target,
    author,
    change_json,
    event_options,
    on_captions,
    validated,
)
from replay.web.api_common import answered, load_event, read_body
from replay.web.api_models import CaptionOptions, Glossary, Podcast
from replay.web.api_routes import (
    EDITOR,
    OBJECT,
    ORGANISER,
    SLUG,
    ApiRoute,
    add_api_routes,
)
from replay.web.errors import api_error, json_response
from replay.web.keys import DB, QUEUE, SETTINGS
from replay.web.work_files import session_folder


def setup_captions(app: web.Application) -> None:
    """Add the caption routes (needs `setup_auth` and `setup_api` on the same app)."""
    add_api_routes(app.router, ROUTES)


# -- find and replace --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposal:
    where: Target
    title: str
    version: int
    cues: list[Any]
    changes: list[Change]

    @property
    def session(self) -> str:
        return f"{self.where.recording.id}/{self.where.guid}"


@dataclass(frozen=True, slots=True)
class Search:
    find: str
    replace: str
    lang: str
    whole_word: bool
    case_sensitive: bool


def _search(body: Replacement) -> Search:
    return Search(body.find, body.replace, body.lang, body.whole_word, body.case_sensitive)


async def _scope(request: web.Request, event: Event,
                 body: Replacement) -> list[tuple[Recording, Cut]]:
    pairs = await request.config_dict[DB].run(lambda store: [
        (r, c) for r in store.recordings_of(event.slug) for c in store.load_cuts(r.id)])
    if body.scope == "event":
        return pairs
    chosen = [(r, c) for r, c in pairs if r.id == body.recording_id and c.guid == body.guid]
    if not chosen:
        raise api_error(404, _("Session not found in this event: give “recording_id” and "
                               "“guid”."))
    return chosen


async def _proposal(request: web.Request, recording: Recording, cut: Cut,
                    search: Search) -> Proposal | None:
    """What replacing would change in this session (an empty proposal when nothing)."""
    where = Target(recording, cut.guid, search.lang)
    await session_folder(request, recording, cut.guid, "speech")
    path = vtt_path(request.config_dict[SETTINGS], recording, cut.guid, search.lang)
    source = await asyncio.to_thread(read_source, path)
    current = await on_captions(request, partial(_synced_current, where=where, source=source))
    if current is None:
        return None  # not transcribed yet
    cues, changes = find_replace(current.cues, search.find, search.replace,
                                 whole_word=search.whole_word,
                                 case_sensitive=search.case_sensitive)
    return Proposal(where, cut.title, current.version, cues, changes)


def _synced_current(captions: Captions, *, where: Target,
                    source: str | None) -> CaptionVersion | None:
    if sync_from_file(captions, where.key, source) is None:
        return None
    return captions.current(where.key)


def proposal_json(proposal: Proposal) -> dict[str, Any]:
    return {"session": proposal.session, "recording": proposal.where.recording.id,
            "guid": proposal.where.guid, "title": proposal.title,
            "version": proposal.version,
            "changes": [change_json(c) for c in proposal.changes]}


async def replace_text(request: web.Request) -> web.Response:
    """Preview every change (``apply`` false), or apply them with ``versions``, the
    ``{"<recording>/<guid>": version}`` the preview showed: all or nothing."""
    event = await load_event(request, request.match_info["slug"])
    body = await read_body(request, Replacement)
    search, apply = _search(body), body.apply
    scanned = []
    for recording, cut in await _scope(request, event, body):
        found = await _proposal(request, recording, cut, search)
        if found is not None:
            scanned.append(found)
    proposals = [p for p in scanned if p.changes]
    if apply:
        _checked_versions(scanned, body.versions)
        proposals = await _apply(request, proposals, search)
    return json_response({"find": search.find, "replace": search.replace,
                          "lang": search.lang, "applied": apply,
                          "sessions": [proposal_json(p) for p in proposals],
                          "total": sum(len(p.changes) for p in proposals)})


def _checked_versions(scanned: list[Proposal], versions: dict[str, int] | None) -> None:
    """Every session the preview showed, and every one with changes now, must still be at
    the version the preview showed."""
    if versions is None:
        raise api_error(428, _("“versions” missing: send the preview's versions back, so as "
                               "not to overwrite a correction made since."))
    stale = [p for p in scanned if (p.changes or p.session in versions)
             and versions.get(p.session) != p.version]
    if stale:
        raise api_error(409, _("Conflict: these sessions changed since the preview ({titles})."
                               " Make the preview again.").format(
                                   titles=", ".join(p.title for p in stale)))


async def _apply(request: web.Request, proposals: list[Proposal],
                 search: Search) -> list[Proposal]:
    cues = [validated(p.cues, _("Replacement refused in “{title}”").format(title=p.title))
            for p in proposals]
    note = _("replace “{find}” with “{replace}”").format(find=search.find,
                                                        replace=search.replace)[:200]
    who = author(request)

    def save_all(store: Store) -> list[CaptionVersion]:
        captions = Captions(store.db)
        with store.transaction():
            return [captions.save(p.where.key, new, who, expected=p.version,
                                  status=CaptionStatus.RELECTURE, note=note)
                    for p, new in zip(proposals, cues, strict=True)]

    try:
        saved = await request.config_dict[DB].run(save_all)
    except VersionConflict:
        raise api_error(409, _("Conflict: a session changed during the replacement. Make the "
                               "preview again.")) from None
    return [replace(p, version=s.version) for p, s in zip(proposals, saved, strict=True)]


# -- options and glossary ------------------------------------------------------------------


async def options_json(request: web.Request, slug: str) -> dict[str, Any]:
    options = await event_options(request, slug)
    return {"publication_rule": str(options.publication_rule),
            "publication_rule_label": _(RULE_LABELS[options.publication_rule]),
            "captions_policy": options.captions_policy,
            "editors_may_publish": options.editors_may_publish}


async def show_options(request: web.Request) -> web.Response:
    slug = (await load_event(request, request.match_info["slug"])).slug
    return json_response(await options_json(request, slug))


def _rule(body: OptionsChange, options: EventOptions) -> PublicationRule:
    """The rule asked for: ``publication_rule``, or the older ``captions_policy`` (drafts
    allowed or not, the cut-plan half unchanged)."""
    if body.publication_rule is not None:
        return body.publication_rule
    policy = body.captions_policy or options.captions_policy
    if policy == "valides":
        return PublicationRule.SOUS_TITRES
    if options.publication_rule is PublicationRule.SOUS_TITRES:
        return PublicationRule.DECOUPAGE
    return options.publication_rule


async def save_options(request: web.Request) -> web.Response:
    """Change the event's publication rule and whether editors may publish; sessions the
    new rule lets out are published at once."""
    slug = (await load_event(request, request.match_info["slug"])).slug
    body = await read_body(request, OptionsChange)
    options = await event_options(request, slug)
    may_publish = body.editors_may_publish
    with answered():
        await publication.change_rule(
            request.config_dict[DB], request.config_dict[QUEUE], request.config_dict[SETTINGS],
            slug, rule=_rule(body, options),
            editors_may_publish=options.editors_may_publish if may_publish is None
            else may_publish)
    return json_response(await options_json(request, slug))


def glossary_terms(glossary: GlossaryChange) -> tuple[str, ...]:
    """Distinct terms (validated by `GlossaryChange`: a list of short strings), spaces
    collapsed."""
    seen: dict[str, str] = {}
    for term in glossary.terms:
        text = " ".join(term.split())
        seen.setdefault(text.casefold(), text)
    return tuple(seen.values())


async def show_glossary(request: web.Request) -> web.Response:
    slug = (await load_event(request, request.match_info["slug"])).slug
    return json_response({"terms": list((await event_options(request, slug)).glossary)})


async def save_glossary(request: web.Request) -> web.Response:
    slug = (await load_event(request, request.match_info["slug"])).slug
    terms = glossary_terms(await read_body(request, GlossaryChange))
    defaults = default_options(request.config_dict[SETTINGS])
    await on_captions(request, lambda captions: captions.save_options(
        slug, replace(captions.options(slug, defaults), glossary=terms)))
    return json_response({"terms": list(terms)})


async def show_podcast(request: web.Request) -> web.Response:
    slug = (await load_event(request, request.match_info["slug"])).slug
    return json_response((await event_options(request, slug)).podcast.as_json())


async def save_podcast(request: web.Request) -> web.Response:
    """Change the podcast feed's author, category, explicit flag and cover; the feed
    changes at the event's next publication."""
    slug = (await load_event(request, request.match_info["slug"])).slug
    body = (await read_body(request, PodcastChange)).model_dump(exclude_unset=True)
    defaults = default_options(request.config_dict[SETTINGS])
    try:
        podcast = await on_captions(request, partial(_save_podcast, slug=slug, body=body,
                                                     defaults=defaults))
    except PodcastError as error:
        raise api_error(400, describe(error)) from None
    return json_response(podcast.as_json())


def _save_podcast(captions: Captions, *, slug: str, body: dict[str, Any],
                  defaults: EventOptions) -> PodcastOptions:
    """The event's podcast options as `body` changes them, saved (`PodcastError` when
    `body` is refused: nothing saved)."""
    options = captions.options(slug, defaults)
    podcast = parse_podcast(body, options.podcast)
    captions.save_options(slug, replace(options, podcast=podcast))
    return podcast


# -- the routes ----------------------------------------------------------------------------

ROUTES: Final = (
    *api_caption_sessions.ROUTES,
    ApiRoute("POST", "/api/events/{slug}/replace", replace_text,
             N_("Find and replace in a session or the whole event (preview, then apply "
                "with the preview's versions)"), EDITOR, ("200", OBJECT, N_("Changes")),
             ("400", "404", "409", "422", "428"), body=Replacement, params=(SLUG,)),
    ApiRoute("GET", "/api/events/{slug}/options", show_options,
             N_("The event's publication rule and caption options"), ORGANISER,
             ("200", CaptionOptions, N_("Options")), ("404",), params=(SLUG,)),
    ApiRoute("PUT", "/api/events/{slug}/options", save_options,
             N_("Change the caption options"), ORGANISER,
             ("200", CaptionOptions, N_("Options")), ("400", "404"), body=OptionsChange,
             params=(SLUG,)),
    ApiRoute("GET", "/api/events/{slug}/glossary", show_glossary,
             N_("The event's glossary"), EDITOR, ("200", Glossary, N_("Terms")), ("404",),
             params=(SLUG,)),
    ApiRoute("PUT", "/api/events/{slug}/glossary", save_glossary,
             N_("Replace the glossary (also given to Whisper)"), EDITOR,
             ("200", Glossary, N_("Terms")), ("400", "404"), body=GlossaryChange,
             params=(SLUG,)),
    ApiRoute("GET", "/api/events/{slug}/podcast", show_podcast,
             N_("The event's podcast settings (iTunes tags)"), ORGANISER,
             ("200", Podcast, N_("Settings")), ("404",), params=(SLUG,)),
    ApiRoute("PUT", "/api/events/{slug}/podcast", save_podcast,
             N_("Change the podcast settings"), ORGANISER, ("200", Podcast, N_("Settings")),
             ("400", "404"), body=PodcastChange, params=(SLUG,)),
)
