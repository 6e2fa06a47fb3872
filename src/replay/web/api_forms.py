"""The API's multipart forms as pydantic (v2) models, one per form, as the JSON bodies are
(`replay.web.api_bodies`): `multipart.receive` reads the parts (the file streamed aside,
its bytes never validated here), then the handler validates the text fields, and that the
file came, with the form's model (`parse_form`). A refused field is the same French 400
naming it as a refused JSON member (`api_bodies.parse_body`): the form's own sentence
(`Body.refusals`) or the generic one. The document's multipart schemas are the models'
(``components.schemas``, `replay.web.api_models.component_schemas`), a file part
documented as ``{"type": "string", "format": "binary"}``; as the bodies', the forms'
descriptions are English messages marked `N_`, translated when the document is built.

A blank text field is an absent one (a browser sends every field of its form). What the
services check beyond the form (the room among the programme's, the start within it,
the programme's contents) stays theirs, with their messages and statuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Final, TypeVar

from pydantic import AfterValidator, Field, WithJsonSchema

from replay.domain.publication import PublicationRule
from replay.locale import N_
from replay.services.admission import EXAMPLE
from replay.web.api_bodies import Body, EventDescription, Said, parse_body, said
from replay.web.api_routes import JSONObj, ref
from replay.web.multipart import Received

Form = TypeVar("Form", bound="FormBody")

#: How a programme's address is sent, as the refusals show it.
URL_JSON: Final = '{"url": ...}'
PROGRAMME_MISSING: Final = N_("Programme missing: send the file in the field “programme”, or "
                              "its address in JSON {json}.")
FILE_SCHEMA: Final = {"type": "string", "format": "binary"}


def _required(description: str | None = None) -> Any:
    return Field(description=description)


def _optional(description: str | None = None) -> Any:
    """A field that may be absent."""
    return Field(default=None, description=description)


def _date_time(value: str | None) -> str | None:
    """An ISO 8601 date and time (its time zone is the admission's to ask for, with the
    start's other checks)."""
    if value is not None:
        datetime.fromisoformat(value.strip())  # ValueError: refused
    return value


def _sha256(value: str | None) -> str | None:
    if value is None:
        return None
    digest = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError("not a SHA-256 digest")
    return digest


#: A file part: present or not (its display name stands for it in the validated fields),
#: documented as binary.
FilePart = Annotated[str, WithJsonSchema(FILE_SCHEMA)]
OptionalFilePart = Annotated[str | None, WithJsonSchema(FILE_SCHEMA)]
#: A text field that may be absent (never null in a form: documented as text).
Text = Annotated[str | None, WithJsonSchema({"type": "string"})]
Day = Annotated[str | None, WithJsonSchema({"type": "string", "format": "date"})]
DateTime = Annotated[str | None, AfterValidator(_date_time),
                     WithJsonSchema({"type": "string", "format": "date-time"})]
Sha256 = Annotated[str | None, AfterValidator(_sha256),
                   WithJsonSchema({"type": "string", "pattern": "^[0-9a-f]{64}$"})]
Rule = Annotated[PublicationRule | None, Field(strict=False),
                 WithJsonSchema({"type": "string", "enum": [str(r) for r in PublicationRule]})]


class FormBody(Body):
    """A multipart form: its text fields, and its file part, named `file_field`, by the
    file's name (no class docstring below: it would describe the form, in English)."""

    file_field: ClassVar[str]


def parse_form(model: type[Form], received: Received) -> Form:
    """`received`'s text fields (the blank ones left out) and its file, if one came, as
    `model`; or the French 400 naming the refused field."""
    fields: dict[str, object] = {name: value for name, value in received.fields.items()
                                 if value.strip() and name != model.file_field}
    if received.path is not None or received.data is not None:
        fields[model.file_field] = received.filename
    return parse_body(model, fields)


def form_body(form: type[FormBody], json: type[Body] | None = None) -> JSONObj:
    """The document's request body of a route that takes `form` (or `json` instead)."""
    content: JSONObj = {"multipart/form-data": {"schema": ref(form.__name__)}}
    if json is not None:
        content["application/json"] = {"schema": ref(json.__name__)}
    return {"required": True, "content": content}


# A programme's file (the multipart form of a programme import).
class ProgrammeFile(FormBody):
    file_field = "programme"
    programme: FilePart = _required(N_("schedule.json, schedule.xml or iCal"))
    refusals: ClassVar[Mapping[str, Said]] = {"programme": said(PROGRAMME_MISSING, json=URL_JSON)}


# A new event described by a form's fields (checked by `event_from_form`, which names the
# wrong one), and an optional programme file.
class EventForm(FormBody):
    file_field = "programme"
    title: Text = _optional()
    start: Day = _optional()
    end: Day = _optional()
    timezone: Text = _optional()
    rooms: Text = _optional(N_("One room per line"))
    publication_rule: Rule = _optional()
    programme: OptionalFilePart = _optional(N_("schedule.json, schedule.xml or iCal "
                                               "(optional)"))
    refusals: ClassVar[Mapping[str, Said]] = {
        "publication_rule": EventDescription.refusals["publication_rule"]}


# A small recording, its room and its start.
class UploadForm(FormBody):
    file_field = "file"
    file: FilePart = _required()
    room: str
    started_at: DateTime = _optional(N_("Start by the wall clock, with its time zone; otherwise "
                                    "the file's creation_time"))
    sha256: Sha256 = _optional()
    refusals: ClassVar[Mapping[str, Said]] = {
        "file": said(N_("File missing: send the recording in the field “file”.")),
        "started_at": said(N_("“started_at” invalid: an ISO 8601 date and time with its time "
                              "zone, for example {example}."), example=EXAMPLE),
        "sha256": said(N_("“sha256” invalid: the file's SHA-256 digest, 64 hexadecimal "
                          "characters.")),
    }


# A subtitle file to import (.vtt or .srt).
class CaptionFile(FormBody):
    file_field = "file"
    file: FilePart = _required()
    refusals: ClassVar[Mapping[str, Said]] = {
        "file": said(N_("File missing: send it in the field “file”."))}


FORMS: tuple[type[FormBody], ...] = (ProgrammeFile, EventForm, UploadForm, CaptionFile)
