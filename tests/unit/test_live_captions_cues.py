"""Live cues, WebVTT segments, subtitle playlists, draft captions: tables and properties."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.domain.cues import FRENCH_ARCOM, cue_warnings
from replay.domain.livecues import (
    NBSP,
    DraftSpan,
    LiveCues,
    PlaylistEntry,
    draft_cues,
    media_playlist,
    parse_media_playlist,
    segment_webvtt,
    spoken_text,
    target_duration_for,
    timestamp_map,
)
from replay.domain.transcript import Cue, Word
from replay.domain.webvtt import parse_webvtt


def words(text: str, start: float = 0.0, per_word: float = 0.4) -> list[Word]:
    return [Word(round(start + i * per_word, 3), round(start + (i + 0.85) * per_word, 3),
                 " " + token) for i, token in enumerate(text.split())]


def shown(cues: list[Cue]) -> list[str]:
    return [token for cue in cues for line in cue.lines
            for token in line.replace(NBSP, " ").split()]


SENTENCE = ("Bonjour à toutes et à tous, et bienvenue à cette table ronde de la Mission "
            "Villes. Neuf collectivités françaises ont été sélectionnées pour atteindre la "
            "neutralité climatique.")


# --- freezing ------------------------------------------------------------------------------


def test_the_open_cue_waits_for_more_words() -> None:
    cues = LiveCues(FRENCH_ARCOM)
    cues.add(words("Bonjour à toutes"))
    cues.settle(1.3)
    assert cues.frozen == []
    assert [w.text for w in cues.pending] == [" Bonjour", " à", " toutes"]


def test_a_cue_freezes_when_a_later_word_starts_another() -> None:
    cues = LiveCues(FRENCH_ARCOM)
    cues.add(words(SENTENCE))
    cues.settle(words(SENTENCE)[-1].end)
    assert cues.frozen, "a sentence longer than one cue closes the first cue"
    assert cues.pending, "the last cue stays open"
    assert shown(cues.frozen) + [w.text.strip() for w in cues.pending] == SENTENCE.split()


def test_a_silence_closes_the_last_cue_without_overlapping_what_comes_next() -> None:
    cues = LiveCues(FRENCH_ARCOM)
    cues.add(words("Merci beaucoup."))
    cues.settle(0.9)
    assert cues.frozen == []
    cues.settle(0.9 + FRENCH_ARCOM.silence_split + 0.5)
    assert shown(cues.frozen) == ["Merci", "beaucoup."]
    assert cues.pending == []
    assert cues.frozen[0].end <= cues.settled - FRENCH_ARCOM.min_gap + 0.001


def test_a_due_segment_closes_the_open_cue_that_starts_before_its_end() -> None:
    cues = LiveCues(FRENCH_ARCOM)
    cues.add(words("Bonjour à toutes et à tous", start=1.0))
    cues.settle(3.5)
    cues.close_before(2.0)
    assert shown(cues.frozen) == ["Bonjour", "à", "toutes", "et", "à", "tous"]
    assert 3.34 <= cues.frozen[0].end <= 3.5 - FRENCH_ARCOM.min_gap


def test_a_cue_closed_early_ends_before_the_words_still_to_come() -> None:
    cues = LiveCues(FRENCH_ARCOM)
    cues.add(words("Bonjour à toutes et à tous, chers participants", start=1.0, per_word=0.2))
    cues.settle(2.8)
    cues.close_before(2.0)
    # Read at Arcom's speed it would last past 4 s, but a word may start at 2.8 s.
    assert cues.frozen[0].end == pytest.approx(2.8 - FRENCH_ARCOM.min_gap)


def test_close_before_leaves_cues_that_start_later() -> None:
    cues = LiveCues(FRENCH_ARCOM)
    cues.add(words("Bonjour.", start=1.0) + words("Nous commençons.", start=4.0))
    cues.settle(4.5)
    cues.close_before(3.0)
    assert shown(cues.frozen) == ["Bonjour."]
    assert [w.text for w in cues.pending] == [" Nous", " commençons."]


def test_cues_between_and_forget_before() -> None:
    cues = LiveCues(FRENCH_ARCOM)
    cues.add(words("Bonjour.", start=1.0) + words("Au revoir.", start=6.0))
    cues.settle(20.0)
    first, second = cues.frozen
    assert cues.cues_between(0.0, 2.0) == [first]
    assert cues.cues_between(2.0, 6.0) == ([first] if first.end > 2.0 else [])
    assert cues.cues_between(6.0, 8.0) == [second]
    cues.forget_before(first.end + 0.01)
    assert cues.frozen == [second]


def test_words_with_several_pieces_are_split_and_late_words_move_after_frozen_cues() -> None:
    cues = LiveCues(FRENCH_ARCOM)
    cues.add([Word(0.0, 1.0, " deux mille"), Word(1.0, 1.2, " trente.")])
    cues.settle(5.0)
    assert shown(cues.frozen) == ["deux", "mille", "trente."]
    late = Word(cues.frozen[-1].end - 0.5, cues.frozen[-1].end, " encore")
    cues.add([late])
    assert cues.pending[0].start >= cues.frozen[-1].end + FRENCH_ARCOM.min_gap - 0.001


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 14), min_size=1, max_size=80),
    gaps=st.lists(st.sampled_from([0.0, 0.02, 0.2, 0.8, 2.0]), min_size=1, max_size=80),
    batches=st.lists(st.integers(1, 6), min_size=1, max_size=40),
    segment=st.sampled_from([1.0, 2.0, 4.0]),
)
def test_live_cues_keep_every_word_once_in_order_within_the_reading_rules(
    lengths: list[int], gaps: list[float], batches: list[int], segment: float
) -> None:
    script, at = [], 0.3
    for index, length in enumerate(lengths):
        duration = 0.06 * length + 0.1
        ending = "." if index % 9 == 8 else ""
        script.append(Word(round(at, 3), round(at + duration, 3),
                           " " + "m" * length + str(index) + ending))
        at += duration + gaps[index % len(gaps)]
    cues, given_out, published_until = LiveCues(FRENCH_ARCOM), 0, 0.0
    batch = 0
    while given_out < len(script):
        chunk = script[given_out : given_out + batches[batch % len(batches)]]
        batch += 1
        given_out += len(chunk)
        cues.add(chunk)
        cues.settle(chunk[-1].end)
        while published_until + segment <= cues.settled:  # segments fall due in order
            published_until += segment
            cues.close_before(published_until)
    cues.settle(float("inf"))
    frozen = cues.frozen
    assert cues.pending == []
    assert shown(frozen) == [w.text.strip() for w in script]
    for cue, following in pairwise(frozen):
        assert following.start >= cue.end - 0.0005, (cue, following)
    for cue in frozen:
        codes = cue_warnings(cue, FRENCH_ARCOM)
        assert not {"too_many_lines", "too_long", "empty"} & set(codes), (cue, codes)
        assert cue.end > cue.start


# --- WebVTT segments and playlists ----------------------------------------------------------


def test_a_segment_maps_the_take_clock_onto_the_video_clock() -> None:
    cue = Cue(12.5, 14.0, ("Bonjour à toutes",))
    text = segment_webvtt([cue], mpegts_origin=126_000)
    assert text.splitlines()[:2] == ["WEBVTT",
                                     "X-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000"]
    assert parse_webvtt(text) == [cue]


def test_an_empty_segment_is_still_valid_webvtt() -> None:
    text = segment_webvtt([], mpegts_origin=0)
    assert parse_webvtt(text) == []
    assert "X-TIMESTAMP-MAP=MPEGTS:0," in text


def test_the_timestamp_map_wraps_like_mpegts() -> None:
    assert timestamp_map(2**33 + 5) == "X-TIMESTAMP-MAP=MPEGTS:5,LOCAL:00:00:00.000"


def test_the_live_window_playlist() -> None:
    entries = [PlaylistEntry("7.vtt", 2.0, False), PlaylistEntry("8.vtt", 2.002, True)]
    text = media_playlist(entries, first_sequence=7, target_duration=2,
                          discontinuity_sequence=3)
    assert text == ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                    "#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n"
                    "#EXTINF:2.000,\n7.vtt\n#EXT-X-DISCONTINUITY\n#EXTINF:2.002,\n8.vtt\n")
    assert parse_media_playlist(text) == (7, entries)


def test_the_day_playlist_is_an_event_playlist_that_ends() -> None:
    entries = [PlaylistEntry("0.vtt", 2.0, False)]
    text = media_playlist(entries, first_sequence=0, target_duration=2, event=True,
                          ended=True)
    assert "#EXT-X-PLAYLIST-TYPE:EVENT\n" in text
    assert text.endswith("#EXT-X-ENDLIST\n")
    assert "DISCONTINUITY-SEQUENCE" not in text


@pytest.mark.parametrize(
    ("durations", "at_least", "expected"),
    [([2.0, 2.0], 2, 2), ([2.0, 2.49], 2, 2), ([2.5], 2, 3), ([], 6, 6), ([4.2], 2, 4)],
)
def test_target_duration(durations: list[float], at_least: int, expected: int) -> None:
    assert target_duration_for(durations, at_least) == expected


# --- draft captions of a span, running text ------------------------------------------------


def test_draft_cues_keep_the_spans_words_timed_from_its_start() -> None:
    spoken = words("Avant.", start=5.0) + words(SENTENCE, start=10.0) + words("Après.", 60.0)
    cues = draft_cues(spoken, DraftSpan(8.0, 50.0))
    assert shown(cues) == SENTENCE.split()
    assert cues[0].start == pytest.approx(2.0)
    assert all(0 <= cue.start < cue.end <= 42.0 for cue in cues)
    assert all(not {"too_many_lines", "line_too_long"} & set(cue_warnings(cue, FRENCH_ARCOM))
               for cue in cues)


def test_draft_cues_end_with_the_span() -> None:
    cues = draft_cues(words("Un mot tardif.", start=9.0), DraftSpan(0.0, 10.0))
    assert cues[-1].end <= 10.0


@pytest.mark.parametrize(("start", "end"), [(0.0, 50.5219375), (3.0004, 12.0009), (8.0, 10.0)])
def test_draft_cues_never_end_past_the_span_whose_end_is_not_a_whole_millisecond(
        start: float, end: float) -> None:
    cues = draft_cues(words("Un mot tardif.", start=end - 1.0), DraftSpan(start, end))
    assert cues
    assert cues[-1].end <= end - start


def test_a_span_without_words_has_no_draft() -> None:
    assert draft_cues(words("Bonjour."), DraftSpan(30.0, 60.0)) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([" Ils", " m", "'ont", " dit"], "Ils m'ont dit"),
        ([" a", "-t", "-il", " dit", " ?"], f"a-t-il dit{NBSP}?"),
        ([" Pourquoi?", " Parce", " que"], f"Pourquoi{NBSP}? Parce que"),
        ([" le", " «", " climat", " »"], f"le «{NBSP}climat{NBSP}»"),
        ([" deux", " points", " :", " voilà"], f"deux points{NBSP}: voilà"),
        ([], ""),
    ],
)
def test_spoken_text_joins_whispers_words_with_french_typography(raw: list[str],
                                                                 expected: str) -> None:
    assert spoken_text([Word(0, 1, text) for text in raw]) == expected
