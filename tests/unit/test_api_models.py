"""The API's shapes as pydantic models: the OpenAPI document's schemas are theirs (the
whole document is validated in test_api.py), and a body is validated by the same model
that documents it."""

from __future__ import annotations

import pytest

from replay.web.api_models import (
    MAX_TERM_CHARS,
    MAX_TERMS,
    MODELS,
    Glossary,
    component_schemas,
    parse_body,
)
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
    assert parse_body(Glossary, {"terms": ["  I4CE ", "Anne Hidalgo"]}, "x").terms == [
        "I4CE", "Anne Hidalgo"]


@pytest.mark.parametrize("body", [
    {}, {"terms": "I4CE"}, {"terms": [1]}, {"terms": ["   "]},
    {"terms": ["x" * (MAX_TERM_CHARS + 1)]}, {"terms": ["x"] * (MAX_TERMS + 1)},
])
def test_a_bad_glossary_is_a_french_400(body: object) -> None:
    with pytest.raises(APIError) as refused:
        parse_body(Glossary, body, "« terms » invalide")
    assert refused.value.status == 400
    assert "« terms » invalide" in str(refused.value.text)
