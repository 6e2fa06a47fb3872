"""Chapters editors mark: what is accepted (sorted, titles tidied), the French message
for the rest, and the WebVTT chapters track."""

from __future__ import annotations

import pytest

from replay.domain.chapters import Chapter, ChapterError, chapters_webvtt, parse_chapters
from replay.domain.webvtt import parse_webvtt
from replay.locale import describe


def test_chapters_are_sorted_and_tidied() -> None:
    assert parse_chapters([{"start": 65, "title": "  Débat\n avec  la salle "},
                           {"start": 0.0, "title": "Accueil"}], 600.0) == (
        Chapter(0.0, "Accueil"), Chapter(65.0, "Débat avec la salle"))
    assert parse_chapters([], 600.0) == ()
    # French typography's no-break spaces are the editor's, and stay.
    assert parse_chapters([{"start": 1, "title": "Débat «\u00a0ouvert\u00a0»\u00a0!"}],
                          600.0) == (Chapter(1.0, "Débat «\u00a0ouvert\u00a0»\u00a0!"),)


@pytest.mark.parametrize(("value", "message"), [
    (None, "«\u00a0chapters\u00a0» invalide"),
    ({"start": 0, "title": "x"}, "«\u00a0chapters\u00a0» invalide"),
    ([{"start": 0, "title": "x"}] * 201, "«\u00a0chapters\u00a0» invalide"),
    (["Accueil"], "Chapitre 1\u00a0: un objet"),
    ([{"start": -1, "title": "x"}], "Chapitre 1\u00a0: «\u00a0start\u00a0»"),
    ([{"start": 0, "title": "a"}, {"start": 600, "title": "x"}],
     "Chapitre 2\u00a0: «\u00a0start\u00a0»"),
    ([{"start": "10", "title": "x"}], "Chapitre 1\u00a0: «\u00a0start\u00a0»"),
    ([{"start": True, "title": "x"}], "Chapitre 1\u00a0: «\u00a0start\u00a0»"),
    ([{"start": 1, "title": "  "}], "Chapitre 1\u00a0: un titre"),
    ([{"start": 1, "title": "x" * 151}], "Chapitre 1\u00a0: un titre"),
    ([{"start": 1}], "Chapitre 1\u00a0: un titre"),
    ([{"start": 10, "title": "A"}, {"start": 10.5, "title": "B"}], "moins d’une seconde"),
])
def test_bad_chapters_are_refused_in_french(value: object, message: str) -> None:
    with pytest.raises(ChapterError) as error:
        parse_chapters(value, 600.0)
    assert message in describe(error.value)


def test_the_chapters_track_runs_each_chapter_to_the_next() -> None:
    chapters = (Chapter(0.0, "Accueil"), Chapter(65.5, "Débat <b> & --> fin"))
    text = chapters_webvtt(chapters, 600.0)
    assert text.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:01:05.500\nAccueil\n\n")
    cues = parse_webvtt(text)
    assert [(c.start, c.end) for c in cues] == [(0.0, 65.5), (65.5, 600.0)]
    assert "Débat &lt;b&gt; &amp; --&gt; fin" in text
