"""An event's podcast options: what is accepted, and the French message for the rest."""

from __future__ import annotations

from typing import Any

import pytest

from replay.domain.podcast import PodcastError, PodcastOptions, parse_podcast
from replay.locale import describe


def test_defaults_and_partial_updates() -> None:
    assert parse_podcast({}) == PodcastOptions("", "Government", False, "")
    current = PodcastOptions("Ville de Lyon", "News", True, "https://lyon.example/a.jpg")
    assert parse_podcast({"category": "Science"}, current) == PodcastOptions(
        "Ville de Lyon", "Science", True, "https://lyon.example/a.jpg")
    assert parse_podcast({"author": "  Ville   de\tLyon ", "image": ""}) == PodcastOptions(
        "Ville de Lyon", "Government", False, "")


@pytest.mark.parametrize(("body", "field"), [
    ({"category": "Podcasts"}, "category"),
    ({"category": "government"}, "category"),
    ({"explicit": "false"}, "explicit"),
    ({"explicit": 0}, "explicit"),
    ({"author": None}, "author"),
    ({"author": "x" * 201}, "author"),
    ({"image": "http://lyon.example/a.jpg"}, "image"),
    ({"image": "cover.jpg"}, "image"),
    ({"image": "https:///a.jpg"}, "image"),
    ({"image": "https://lyon.example/a b.jpg"}, "image"),
    ({"image": 3}, "image"),
])
def test_bad_values_are_refused_in_french(body: dict[str, Any], field: str) -> None:
    with pytest.raises(PodcastError) as error:
        parse_podcast(body)
    assert describe(error.value).startswith(f"«\u00a0{field}\u00a0» invalide\u00a0: ")


def test_options_round_trip_as_json() -> None:
    options = PodcastOptions("Métropole «\u00a0Grand Lyon\u00a0»", "Society & Culture", True,
                             "https://lyon.example/c.png")
    assert parse_podcast(options.as_json()) == options
