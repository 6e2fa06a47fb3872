"""Segments split into sentences by their timed words."""

from __future__ import annotations

from replay.domain.sentences import split_sentences
from replay.domain.transcript import Segment, Word


def words(*timed: tuple[float, str]) -> tuple[Word, ...]:
    return tuple(Word(start, round(start + 0.4, 3), text, 0.9) for start, text in timed)


def test_a_long_segment_becomes_one_line_per_sentence() -> None:
    said = words((0.5, " Bonjour"), (1.0, " à"), (1.4, " tous."), (2.0, " Comment"),
                 (2.5, " allez-vous ?"), (3.5, " Merci"), (4.0, " «\u00a0Camille\u00a0»."),
                 (5.0, " Bien"))
    segment = Segment(0.0, 6.0, "Bonjour à tous. Comment allez-vous ? Merci « Camille ». Bien",
                      said)

    parts = split_sentences([segment])

    assert [p.text for p in parts] == ["Bonjour à tous.", "Comment allez-vous ?",
                                       "Merci «\u00a0Camille\u00a0».", "Bien"]
    assert [(p.start, p.end) for p in parts] == [(0.5, 1.8), (2.0, 2.9), (3.5, 4.4), (5.0, 5.4)]
    assert [w for p in parts for w in p.words] == list(said)


def test_segments_without_words_or_a_single_sentence_are_kept() -> None:
    bare = Segment(0.0, 3.0, "Hello. Goodbye.")
    one = Segment(3.0, 4.0, "Fin.", words((3.0, " Fin.")))

    assert split_sentences([bare, one]) == [bare, Segment(3.0, 3.4, "Fin.", one.words)]
