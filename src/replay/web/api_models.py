"""The API's response shapes as pydantic (v2) models; with the request bodies
(`replay.web.api_bodies`), the schemas of ``/api/openapi.json`` (`components.schemas`)
are generated from them (`component_schemas`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.json_schema import models_json_schema

from replay.domain.chapters import MAX_TITLE_CHARS
from replay.domain.podcast import CATEGORIES, MAX_AUTHOR_CHARS
from replay.locale import N_, _
from replay.web.api_bodies import BODIES, MAX_TERMS, Term
from replay.web.api_forms import FORMS

REF_TEMPLATE = "#/components/schemas/{model}"


def optional(description: str | None = None) -> Any:
    """A member that may be absent, but is never null when present."""
    return Field(default=None, description=description)


class Shape(BaseModel):
    """A JSON object of the API: unknown members are allowed (and ignored) as the
    document's schemas always allowed them."""

    model_config = ConfigDict(extra="allow")


class Error(Shape):
    error: str


class Event(Shape):
    slug: str
    title: str
    start: date = optional()
    end: date = optional()
    timezone: str = optional()
    rooms: list[str] = optional()
    session_count: int = optional()


class EventDetail(Event):
    sessions: list[dict[str, Any]] = optional()


class EventList(Shape):
    events: list[Event] = optional()


class ImportSummary(Shape):
    added: list[str]
    changed: list[str]
    removed: list[str]
    applied: bool = optional()


class Recording(Shape):
    id: int
    event: str
    room: str
    sha256: str
    source_name: str = optional()
    started_at: datetime = optional()
    duration: float | None = None


class RecordingList(Shape):
    recordings: list[Recording] = optional()


class Uploaded(Shape):
    recording: Recording = optional()
    job: int = optional()


class Cut(Shape):
    guid: str = optional()
    title: str = optional()
    scheduled_start: float = optional()
    scheduled_end: float = optional()
    start: float = optional()
    end: float = optional()
    start_snapped: bool = optional()
    end_snapped: bool = optional()


class Plan(Shape):
    recording: int = optional()
    duration: float | None = None
    confirmed: bool = optional()
    cuts: list[Cut] = optional()
    speech: list[list[float]] = optional()
    jobs: list[int] = optional()


class Stage(Shape):
    status: str = Field(description="pending, queued, running, done, failed, cancelled, "
                                    "unpublished, requested")
    progress: float
    eta: float | None = None
    error: str | None = None
    job: int | None = None


class Cue(Shape):
    start: float
    end: float
    text: str


class Captions(Shape):
    version: int = optional()
    status: str = optional()
    author: str = optional()
    cues: list[Cue] = optional()
    warnings: list[list[str]] = optional()
    low_confidence: list[dict[str, Any]] = optional()
    claimed_by: dict[str, Any] | None = None
    reviewed_until: float | None = None
    machine_pending: bool = optional()


class CaptionOptions(Shape):
    publication_rule: Literal["automatique", "apres_decoupage", "apres_sous_titres"] = optional()
    publication_rule_label: str = optional()
    captions_policy: Literal["brouillons", "valides"] = optional(
        description=N_("Former name: valides = apres_sous_titres"))
    editors_may_publish: bool = optional()


class Glossary(Shape):
    terms: list[Term] = Field(max_length=MAX_TERMS)


class Publication(Shape):
    publish: bool = optional()
    reason: str = optional()
    held_by_rule: bool = optional()


class SessionRow(Shape):
    guid: str = optional()
    title: str = optional()
    room: str = optional()
    recording: int | None = None
    published: bool = optional()
    in_programme: bool = optional()
    publication: Publication | None = None
    captions: dict[str, Any] = optional()
    stages: dict[str, Stage] = optional()


class SessionList(Shape):
    event: str = optional()
    recordings: list[dict[str, Any]] = optional()
    publish: Stage = optional()
    sessions: list[SessionRow] = optional()


class Chapter(Shape):
    start: float = Field(ge=0)
    title: str = Field(max_length=MAX_TITLE_CHARS)


class Chapters(Shape):
    chapters: list[Chapter]


class Podcast(Shape):
    author: Annotated[str, StringConstraints(max_length=MAX_AUTHOR_CHARS)] = optional()
    category: Literal[CATEGORIES] = optional()  # type: ignore[valid-type]
    explicit: bool = optional()
    image: str = optional(description=N_("https://… (empty: the poster)"))


MODELS: tuple[type[BaseModel], ...] = (
    Error, Event, EventDetail, EventList, ImportSummary, Recording, RecordingList, Uploaded,
    Cut, Plan, Stage, Cue, Captions, CaptionOptions, Glossary, Publication, SessionRow,
    SessionList, Chapter, Chapters, Podcast)


def component_schemas() -> dict[str, Any]:
    """The JSON schemas of `MODELS` and of the request bodies (`BODIES`, and the multipart
    `FORMS`), and what they refer to, for ``components.schemas``; the members' generated
    titles are left out."""
    _schemas, document = models_json_schema(
        [*((model, "serialization") for model in MODELS),
         *((body, "validation") for body in (*BODIES, *FORMS))], ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = document.get("$defs", {})
    return {name: _untitled(schema) for name, schema in schemas.items()}


def _untitled(schema: Any) -> Any:
    """`schema` without the ``title`` keywords pydantic adds (a member named ``title`` is
    kept: only a keyword whose value is a string goes), nor the ``default: null`` of members
    that may be absent; its descriptions (English messages, marked ``N_`` where they are
    defined) in French."""
    if isinstance(schema, list):
        return [_untitled(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if (key == "title" and isinstance(value, str)) or (key == "default" and value is None):
            continue
        if key == "description" and isinstance(value, str):
            out[key] = _(value)
        elif key in {"properties", "$defs"} and isinstance(value, dict):
            out[key] = {name: _untitled(member) for name, member in value.items()}
        else:
            out[key] = _untitled(value)
    return out
