"""The API's shapes as pydantic models: the OpenAPI document's schemas are theirs (the
whole document is validated in test_api.py), and a body is validated by the same model
that documents it."""

from __future__ import annotations

import json

import pytest

from replay.web.api_bodies import (
    BODIES,
    MAX_TERM_CHARS,
    MAX_TERMS,
    Body,
    CaptionsChange,
    ChaptersChange,
    CutMove,
    EventDescription,
    GlossaryChange,
    HeldCorrection,
    PodcastChange,
    Replacement,
    Revert,
    StatusChange,
    parse_body,
)
from replay.web.api_models import MODELS, component_schemas
from replay.web.errors import APIError
from replay.web.openapi import openapi_document


def test_the_document_schemas_are_generated_from_the_models() -> None:
    schemas = openapi_document()["components"]["schemas"]
    assert schemas == component_schemas()
    assert {model.__name__ for model in MODELS} <= set(schemas)
    event = schemas["Event"]
    assert event["required"] == ["slug", "title"]
    assert "title" in event["properties"]  # a member named title survives the clean-up
    assert event["properties"]["start"] == {"type": "string", "format": "date"}
    assert schemas["Stage"]["properties"]["eta"] == {"anyOf": [{"type": "number"},
                                                               {"type": "null"}]}


def test_the_glossary_schema_documents_the_limits_it_enforces() -> None:
    terms = component_schemas()["Glossary"]["properties"]["terms"]
    assert (terms["maxItems"], terms["items"]["maxLength"]) == (MAX_TERMS, MAX_TERM_CHARS)
    assert parse_body(GlossaryChange, {"terms": ["  I4CE ", "Anne Hidalgo"]}).terms == [
        "I4CE", "Anne Hidalgo"]


FIND_AND_REPLACE = "«\u00a0find\u00a0» et «\u00a0replace\u00a0» sont requis"


@pytest.mark.parametrize("body", [
    {}, {"terms": "I4CE"}, {"terms": [1]}, {"terms": ["   "]},
    {"terms": ["x" * (MAX_TERM_CHARS + 1)]}, {"terms": ["x"] * (MAX_TERMS + 1)},
])
def test_a_bad_glossary_is_a_french_400(body: object) -> None:
    with pytest.raises(APIError) as refused:
        parse_body(GlossaryChange, body)
    assert refused.value.status == 400
    assert "«\u00a0terms\u00a0» invalide" in str(refused.value.text)
    assert json.loads(str(refused.value.text))["field"] == "terms"


def request_body_schemas(media_type: str) -> dict[tuple[str, str], str]:
    """(method, path): the name of the schema its `media_type` request body refers to."""
    found = {}
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            content = operation.get("requestBody", {}).get("content", {})
            if media_type in content:
                ref = content[media_type]["schema"]["$ref"]
                found[method, path] = ref.removeprefix("#/components/schemas/")
    return found


def test_every_json_request_body_is_a_body_model() -> None:
    used = set(request_body_schemas("application/json").values())
    assert used == {body.__name__ for body in BODIES}
    schemas = component_schemas()
    assert schemas["CutMove"]["properties"]["start"]["anyOf"][0] == {
        "type": "number", "minimum": 0, "maximum": 360000}


NBSP = "\u00a0"
REFUSED = [
    (CutMove, {"confirm": "oui"}, "confirm", f"«{NBSP}confirm{NBSP}» doit valoir true ou false."),
    (CutMove, {"start": 10 ** 400}, "start", "nombre de secondes"),
    (CutMove, {"end": -1}, "end", "nombre de secondes"),
    (CaptionsChange, {"cues": [{"start": 0, "end": 1}]}, "cues", "«\u00a0cues\u00a0» invalide"),
    (CaptionsChange, {"cues": [], "reviewed_until": float("nan")}, "reviewed_until",
     "reviewed_until"),
    (Replacement, {"replace": "b"}, "find", FIND_AND_REPLACE),
    (Replacement, {"find": "  ", "replace": "b"}, "find", FIND_AND_REPLACE),
    (Replacement, {"find": "a", "replace": "b", "scope": "tout"}, "scope",
     "«\u00a0scope\u00a0» invalide"),
    (Revert, {"version": True}, "version", "«\u00a0version\u00a0» manquante"),
    (StatusChange, {"status": "fini"}, "status", "«\u00a0status\u00a0» invalide"),
    (EventDescription, {"publication_rule": "jamais"}, "publication_rule",
     "«\u00a0publication_rule\u00a0» invalide"),
    (PodcastChange, {"explicit": "non"}, "explicit",
     f"«{NBSP}explicit{NBSP}» invalide{NBSP}: true ou false est attendu."),
    (PodcastChange, {"author": "x" * 201}, "author",
     f"«{NBSP}author{NBSP}» invalide{NBSP}: au plus 200 caractères."),
    (PodcastChange, {"category": "Podcasts"}, "category",
     f"«{NBSP}category{NBSP}» invalide{NBSP}: l’une de ces valeurs{NBSP}: Arts, Business,"),
    (ChaptersChange, {"chapters": [{"start": "10", "title": "x"}]}, "chapters",
     f"«{NBSP}chapters[0].start{NBSP}» invalide{NBSP}: un nombre est attendu."),
    (ChaptersChange, {"chapters": [{"start": 1}]}, "chapters",
     f"«{NBSP}chapters[0].title{NBSP}» manquant{NBSP}: ce champ est obligatoire."),
    (HeldCorrection, {"room": 3}, "room",
     f"«{NBSP}room{NBSP}» invalide{NBSP}: un texte est attendu."),
]


@pytest.mark.parametrize(("model", "body", "field", "words"), REFUSED,
                         ids=[f"{m.__name__} {b}"[:60] for m, b, _, _ in REFUSED])
def test_a_refused_body_is_a_french_400_naming_the_member(
        model: type[Body], body: object, field: str, words: str) -> None:
    with pytest.raises(APIError) as refused:
        parse_body(model, body)
    assert refused.value.status == 400
    answer = json.loads(str(refused.value.text))
    assert answer["field"] == field
    assert words in answer["error"]


@pytest.mark.parametrize("body", [[], "x", None, 3])
def test_a_body_that_is_not_an_object_is_refused_as_such(body: object) -> None:
    with pytest.raises(APIError) as refused:
        parse_body(CutMove, body)
    assert json.loads(str(refused.value.text)) == {
        "error": f"Corps de requête invalide{NBSP}: envoyez un objet JSON."}


def test_bodies_take_json_types_only() -> None:
    assert parse_body(CutMove, {"start": 5, "confirm": True}).start == 5.0
    assert parse_body(StatusChange, {"status": "valide"}).status == "valide"
    assert parse_body(CaptionsChange, {"cues": [{"start": 0, "end": 10 ** 400,
                                                "text": "x"}]}).cues[0].end == float("inf")
    assert parse_body(Replacement, {"find": "a", "replace": "", "extra": 1}).scope == "session"
