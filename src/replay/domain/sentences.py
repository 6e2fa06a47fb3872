"""Whisper segments split into sentences, by their timed words. Pure logic.

Whisper decodes up to 30 s at a time and may return one segment for all of it; a
transcript reads better, and an editor finds their place faster, one sentence a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from replay.domain.transcript import Segment, Word

SENTENCE_END = (".", "!", "?", "…")
_CLOSERS = "»\"'”) \u00a0"


def _ends_sentence(word: Word) -> bool:
    return word.text.rstrip(_CLOSERS).endswith(SENTENCE_END)


def _sentence(words: Sequence[Word]) -> Segment:
    text = "".join(word.text for word in words).strip()
    return Segment(words[0].start, words[-1].end, text, tuple(words))


def _split(segment: Segment) -> Iterable[Segment]:
    if not segment.words:
        yield segment
        return
    current: list[Word] = []
    for word in segment.words:
        current.append(word)
        if _ends_sentence(word):
            yield _sentence(current)
            current = []
    if current:
        yield _sentence(current)


def split_sentences(segments: Iterable[Segment]) -> list[Segment]:
    """Every segment with timed words cut after each word that ends a sentence; segments
    without words are kept as they are."""
    return [part for segment in segments for part in _split(segment)]
