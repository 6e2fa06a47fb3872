"""The API's multipart forms as pydantic models (`replay.web.api_forms`): the document's
multipart schemas are the models', and a form's text fields are validated by the model
that documents it, refused with the same French 400 as a JSON body's members (the
requests themselves: tests/unit/test_api.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from replay.locale import _
from replay.web.api_forms import (
    FORMS,
    CaptionFile,
    EventForm,
    FormBody,
    ProgrammeFile,
    UploadForm,
    parse_form,
)
from replay.web.api_models import REF_TEMPLATE
from replay.web.errors import APIError
from replay.web.multipart import Received
from replay.web.openapi import openapi_document
from tests.unit.test_api_models import request_body_schemas

NBSP = "\u00a0"
DIGEST = "0123456789abcdef" * 4
BINARY = {"type": "string", "format": "binary"}


def _multipart_bodies() -> dict[tuple[str, str], str]:
    """(method, path): the name of the schema its multipart body refers to."""
    return request_body_schemas("multipart/form-data")


def test_every_multipart_request_body_is_a_form_model() -> None:
    assert _multipart_bodies() == {
        ("post", "/api/events"): "EventForm",
        ("post", "/api/events/{slug}/programme"): "ProgrammeFile",
        ("post", "/api/events/{slug}/recordings"): "UploadForm",
        ("post", "/api/captions/{id}/{guid}/{lang}/import"): "CaptionFile",
    }
    assert set(_multipart_bodies().values()) == {form.__name__ for form in FORMS}


def _as_documented(schema: dict[str, Any]) -> dict[str, Any]:
    """A member's schema from pydantic as the document shows it: without its generated
    title nor the ``default: null`` of a field that may be absent, its description in
    French."""
    shown = {key: value for key, value in schema.items()
             if key != "title" and (key, value) != ("default", None)}
    if "description" in shown:
        shown["description"] = _(shown["description"])
    return shown


@pytest.mark.parametrize("form", FORMS, ids=[form.__name__ for form in FORMS])
def test_the_documents_multipart_schemas_are_the_models(form: type[FormBody]) -> None:
    documented = openapi_document()["components"]["schemas"][form.__name__]
    generated = form.model_json_schema(ref_template=REF_TEMPLATE)
    assert documented["properties"] == {
        name: _as_documented(member) for name, member in generated["properties"].items()}
    assert documented.get("required", []) == generated.get("required", [])
    file_part = documented["properties"][form.file_field]
    assert {key: value for key, value in file_part.items() if key != "description"} == BINARY


def test_the_upload_form_documents_what_it_checks() -> None:
    upload = openapi_document()["components"]["schemas"]["UploadForm"]
    assert upload["required"] == ["file", "room"]
    assert upload["properties"]["file"] == BINARY
    assert upload["properties"]["sha256"] == {"type": "string", "pattern": "^[0-9a-f]{64}$"}
    assert upload["properties"]["started_at"] == {
        "type": "string", "format": "date-time",
        "description": f"Début à l’horloge murale, avec fuseau{NBSP}; sinon creation_time "
                       "du fichier"}
    event = openapi_document()["components"]["schemas"]["EventForm"]
    assert "required" not in event
    assert event["properties"]["publication_rule"]["enum"] == [
        "automatique", "apres_decoupage", "apres_sous_titres"]
    assert event["properties"]["rooms"]["description"] == "Une salle par ligne"


def _received(fields: dict[str, str], *, filename: str = "") -> Received:
    return Received(fields=fields, path=Path("/tmp/upload.part") if filename else None,
                    filename=filename, sha256=DIGEST if filename else "")


def test_a_valid_upload_form_is_read_with_its_file_and_blank_fields_absent() -> None:
    form = parse_form(UploadForm, _received(
        {"room": "Plénière", "started_at": "  ", "sha256": f" {DIGEST.upper()} "},
        filename="réunion.mp4"))
    assert (form.file, form.room, form.started_at, form.sha256) == (
        "réunion.mp4", "Plénière", None, DIGEST)
    in_memory = Received(fields={}, data=b"WEBVTT\n", filename="a.vtt")
    assert parse_form(CaptionFile, in_memory).file == "a.vtt"


REFUSED = [
    (UploadForm, {"room": "A"}, "", "file",
     f"Fichier manquant{NBSP}: envoyez l’enregistrement dans le champ «{NBSP}file{NBSP}»."),
    (UploadForm, {"room": "A", "file": "a text field is not a file"}, "", "file",
     "Fichier manquant"),
    (UploadForm, {"room": "  "}, "a.mp4", "room",
     f"«{NBSP}room{NBSP}» manquant{NBSP}: ce champ est obligatoire."),
    (UploadForm, {"room": "A", "sha256": "xyz"}, "a.mp4", "sha256",
     f"«{NBSP}sha256{NBSP}» invalide{NBSP}: l’empreinte SHA-256 du fichier"),
    (UploadForm, {"room": "A", "sha256": DIGEST + "0"}, "a.mp4", "sha256",
     f"«{NBSP}sha256{NBSP}» invalide"),
    (UploadForm, {"room": "A", "started_at": "hier à 9 h"}, "a.mp4", "started_at",
     f"«{NBSP}started_at{NBSP}» invalide{NBSP}: une date et une heure ISO 8601"),
    (UploadForm, {"room": "A", "started_at": "2026-13-03T09:00:00+01:00"}, "a.mp4",
     "started_at", f"«{NBSP}started_at{NBSP}» invalide"),
    (EventForm, {"publication_rule": "jamais"}, "", "publication_rule",
     f"«{NBSP}publication_rule{NBSP}» invalide{NBSP}: l’une de automatique,"),
    (ProgrammeFile, {"url": "https://example.org/schedule.json"}, "", "programme",
     f"Programme manquant{NBSP}:"),
    (CaptionFile, {}, "", "file", "Fichier manquant"),
]


@pytest.mark.parametrize(("model", "fields", "filename", "field", "words"), REFUSED,
                         ids=[f"{m.__name__} {f}"[:60] for m, f, _n, _f, _w in REFUSED])
def test_a_refused_form_field_is_a_french_400_naming_it(
        model: type[FormBody], fields: dict[str, str], filename: str, field: str,
        words: str) -> None:
    with pytest.raises(APIError) as refused:
        parse_form(model, _received(fields, filename=filename))
    assert refused.value.status == 400
    answer = json.loads(str(refused.value.text))
    assert answer["field"] == field
    assert words in answer["error"]


def test_an_event_form_gives_its_fields_as_text() -> None:
    form = parse_form(EventForm, _received({"title": "Villes", "rooms": "A\nB",
                                            "publication_rule": "apres_decoupage",
                                            "start": "", "other": "x"}))
    assert form.model_dump(mode="json", exclude_none=True, exclude={"programme"}) == {
        "title": "Villes", "rooms": "A\nB", "publication_rule": "apres_decoupage"}
