"""The API's JSON request bodies as pydantic (v2) models, one per body: handlers validate
with them (`parse_body`), and the document's request bodies are their schemas.

A body holds JSON's own types only (no ``"1"`` for 1, no ``"true"`` for true); unknown
members are ignored. A refused body is a 400 naming the member (``field``) in French:
the body's own sentence for it (`Body.refusals`), or the generic one (`refusal`). What
the domain checks beyond the types (a chapter within its session, a podcast cover in
https) stays the domain's, with its messages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails

from replay.domain.captions import CaptionStatus
from replay.domain.chapters import MAX_CHAPTERS, MAX_TITLE_CHARS
from replay.domain.errors import Listed, ReplayError
from replay.domain.podcast import CATEGORIES, MAX_AUTHOR_CHARS
from replay.domain.publication import RULE_LABELS, PublicationRule
from replay.locale import N_, _, describe
from replay.web.errors import APIError

Model = TypeVar("Model", bound="Body")


@dataclass(frozen=True, slots=True)
class Said:
    """A refusal defined with its class: an English message (marked `N_`) and its values."""

    msgid: str
    values: Mapping[str, object]

    def __str__(self) -> str:
        return _(self.msgid).format(**{name: describe(value) if isinstance(value, ReplayError)
                                       else value for name, value in self.values.items()})


def said(msgid: str, **values: object) -> Said:
    return Said(msgid, values)

#: Said when the body is not a JSON object at all.
NOT_AN_OBJECT: Final = N_("Invalid request body: send a JSON object.")
#: Seconds in a request body: a recording or a session is never longer than this.
MAX_SECONDS: Final = 100 * 3600.0


class Body(BaseModel):
    """A request's JSON body (no description in the document: class docstrings are
    English, so the bodies' descriptions are comments). `refusals`: what to say when a
    member is refused, where the generic sentence would say less (a message tests and
    clients rely on): an English message and its values, translated when said."""

    model_config = ConfigDict(strict=True, extra="ignore")
    refusals: ClassVar[Mapping[str, Said]] = {}


def parse_body(model: type[Model], body: object) -> Model:
    """`body` (decoded JSON) as `model`, or a 400 naming the refused member."""
    if not isinstance(body, dict):
        raise APIError(400, _(NOT_AN_OBJECT))
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise refusal(model, error.errors(include_url=False)[0]) from None


# -- the generic refusal ---------------------------------------------------------------

_MISSING: Final = N_("“{field}” is missing: this member is required.")
_INVALID: Final = N_("“{field}” is invalid: {reason}.")
#: What was expected, by pydantic's error type.
_EXPECTED: Final = {
    "string_type": N_("text is expected"),
    "int_type": N_("a whole number is expected"),
    "float_type": N_("a number is expected"),
    "finite_number": N_("a finite number is expected"),
    "bool_type": N_("true or false is expected"),
    "list_type": N_("a list is expected"),
    "dict_type": N_("a JSON object is expected"),
    "model_type": N_("a JSON object is expected"),
    "string_too_short": N_("it must not be empty"),
    "string_too_long": N_("at most {max_length} characters"),
    "too_long": N_("at most {max_length} items"),
    "greater_than_equal": N_("at least {ge}"),
    "less_than_equal": N_("at most {le}"),
    "literal_error": N_("one of {expected}"),
    "enum": N_("one of {expected}"),
}
_OTHER: Final = N_("this value is refused")


def refusal(model: type[Body], error: ErrorDetails) -> APIError:
    """The 400 for pydantic's first `error` on `model`: the member named (``field``)."""
    where = error["loc"]
    field = str(where[0]) if where else ""
    own = model.refusals.get(field)
    message = str(own) if own else _generic(error)
    return APIError(400, message, field=field)


def _generic(error: ErrorDetails) -> str:
    path = _path(error["loc"])
    if error["type"] == "missing":
        return _(_MISSING).format(field=path)
    context = {key: _readable(value) for key, value in error.get("ctx", {}).items()}
    reason = _(_EXPECTED[error["type"]]) if error["type"] in _EXPECTED else _(_OTHER)
    return _(_INVALID).format(field=path, reason=reason.format(**context))


def _path(where: tuple[int | str, ...]) -> str:
    """``cues[2].start`` for pydantic's ``("cues", 2, "start")``."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


def _readable(value: object) -> str:
    """A constraint as people read it: ``'a' or 'b'`` (pydantic's) as « a, b »."""
    text = str(value)
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    return text.replace("'", "").replace(" or ", ", ")


# -- members ---------------------------------------------------------------------------


def _float_or_infinite(value: object) -> object:
    """An integer too large for a float is infinite (then refused by the checks that
    follow), not a type error: ``1`` followed by 400 zeros is still a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


#: Any JSON number (the cue checks refuse what is out of range, with the cue's number).
Number = Annotated[float, BeforeValidator(_float_or_infinite)]
#: Seconds in a recording or a session: finite, from 0 to `MAX_SECONDS`.
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False),
                    BeforeValidator(_float_or_infinite)]

#: An event's glossary: at most this many names, each of 1 to this many characters.
MAX_TERMS: Final = 300
MAX_TERM_CHARS: Final = 100
Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                        max_length=MAX_TERM_CHARS)]


def optional(description: str | None = None, **schema: Any) -> Any:
    """A member that may be absent, but is never null when present."""
    return Field(default=None, description=description, json_schema_extra=schema or None)


# -- events and uploads ----------------------------------------------------------------


# A programme given by its address (the JSON form of a programme import).
class ProgrammeSource(Body):
    url: str | None = optional(N_("The programme's http(s) address"), format="uri")
    refusals = {"url": said(N_("“url” invalid: give the programme's address."))}


# A new event described in JSON: its fields (checked by `event_from_form`, which
# names the wrong one), and an optional programme address.
class EventDescription(ProgrammeSource):
    title: str = optional()
    start: str = optional(format="date")
    end: str = optional(format="date")
    timezone: str = optional()
    rooms: str | list[str] = optional(N_("One room per line (or a list)"))
    publication_rule: PublicationRule | None = Field(default=None, strict=False)
    url: str | None = optional(N_("The programme's http(s) address (optional)"), format="uri")
    refusals = {**ProgrammeSource.refusals, "publication_rule": said(
        N_("“publication_rule” invalid: one of {rules}."),
        rules=", ".join(rule.value for rule in PublicationRule))}


# A held upload's room or start, corrected (empty: unchanged).
class HeldCorrection(Body):
    room: str | None = None
    started_at: str | None = optional(N_("Start by the wall clock, with its time zone"),
                                      format="date-time")


# -- cut plans -------------------------------------------------------------------------


def _flag_refusal(*names: str) -> dict[str, Said]:
    return {name: said(N_("“{name}” must be true or false."), name=name) for name in names}


def _seconds_refusal(name: str) -> Said:
    return said(N_("“{name}” must be a number of seconds from the start of the recording."),
                name=name)


# A session's boundaries moved (either or both).
class CutMove(Body):
    start: Seconds | None = None
    end: Seconds | None = None
    confirm: bool = Field(default=False, description=N_(
        "Confirms an unusual move (a session shorter than 30 s, a boundary moved by more than "
        "10 min): without it, 409 with the list “confirm”"))
    refusals = {"start": _seconds_refusal("start"), "end": _seconds_refusal("end"),
                **_flag_refusal("confirm")}


# -- captions --------------------------------------------------------------------------


class CueText(Body):
    start: Number
    end: Number
    text: str


# A new version of a language's captions.
class CaptionsChange(Body):
    cues: list[CueText]
    reviewed_until: Seconds | None = None
    note: str = ""
    refusals = {
        "cues": said(N_("“cues” invalid: a list of {shape}."),
                     shape='{"start": seconds, "end": seconds, "text": text}'),
        "reviewed_until": said(N_("“reviewed_until” invalid: seconds from the start of the "
                                  "session.")),
    }


class Revert(Body):
    version: int
    refusals = {"version": said(N_("“version” missing: the number of the version to "
                                   "restore."))}


class StatusChange(Body):
    status: CaptionStatus = Field(strict=False)  # the enum from its JSON value
    refusals = {"status": said(N_("“status” invalid: one of {statuses}."),
                               statuses=", ".join(s.value for s in CaptionStatus))}


_FIND_AND_REPLACE: Final = N_("“find” and “replace” are required: the text to search for and "
                              "its replacement.")


# Find and replace in a session's captions or the whole event's.
class Replacement(Body):
    find: Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
    replace: str
    scope: Literal["session", "event"] = "session"
    recording_id: int | None = None
    guid: str | None = None
    lang: Literal["fr", "en"] = "fr"
    apply: bool = False
    whole_word: bool = True
    case_sensitive: bool = False
    versions: dict[str, int] | None = optional(
        N_("The preview's versions, by “recording/guid”"))
    refusals = {
        "find": said(_FIND_AND_REPLACE),
        "replace": said(_FIND_AND_REPLACE),
        "scope": said(N_("“scope” invalid: session or event.")),
        "lang": said(N_("“lang” invalid: fr or en.")),
        **_flag_refusal("apply", "whole_word", "case_sensitive"),
    }


# -- event options ---------------------------------------------------------------------


# The event's publication rule (or its older name, ``captions_policy``) and whether
# editors may publish; what is absent is unchanged.
class OptionsChange(Body):
    publication_rule: PublicationRule | None = Field(default=None, strict=False)
    captions_policy: Literal["brouillons", "valides"] | None = optional(
        N_("Former name: valides = apres_sous_titres"))
    editors_may_publish: bool | None = None
    refusals = {
        "publication_rule": said(
            N_("“publication_rule” invalid: one of {rules}."),
            rules=Listed(ReplayError(N_("{value} ({label})"), value=rule.value,
                                     label=ReplayError(RULE_LABELS[rule]))
                         for rule in PublicationRule)),
        "captions_policy": said(N_("“captions_policy” invalid: brouillons (the replays go out "
                                   "with the automatic drafts, flagged) or valides (they wait "
                                   "for validated captions).")),
        **_flag_refusal("editors_may_publish"),
    }


def _terms_refusal() -> Said:
    return said(N_("“terms” invalid: a list of {maximum} names at most, each of 1 to {chars} "
                   "characters."), maximum=MAX_TERMS, chars=MAX_TERM_CHARS)


class GlossaryChange(Body):
    terms: list[Term] = Field(max_length=MAX_TERMS)
    refusals = {"terms": _terms_refusal()}


# The podcast's settings; what is absent is unchanged (`parse_podcast` checks the
# rest: the cover's address).
class PodcastChange(Body):
    author: Annotated[str, StringConstraints(max_length=MAX_AUTHOR_CHARS)] = optional()
    category: Literal[CATEGORIES] = optional()  # type: ignore[valid-type]
    explicit: bool = optional()
    image: str = optional(N_("https://… (empty: the poster)"))


class ChapterText(Body):
    start: Number = Field(ge=0)
    title: Annotated[str, StringConstraints(max_length=MAX_TITLE_CHARS)]


# A session's chapters (`parse_chapters` checks them against the session).
class ChaptersChange(Body):
    chapters: list[ChapterText] = Field(max_length=MAX_CHAPTERS)


BODIES: tuple[type[Body], ...] = (
    ProgrammeSource, EventDescription, HeldCorrection, CutMove, CaptionsChange, Revert,
    StatusChange, Replacement, OptionsChange, GlossaryChange, PodcastChange, ChaptersChange)
