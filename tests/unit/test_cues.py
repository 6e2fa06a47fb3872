"""Cue formatting and reading-speed rules: tables and properties."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.domain.cues import (
    ENGLISH_NETFLIX,
    FRENCH_ARCOM,
    NBSP,
    ReadingRules,
    break_lines,
    cue_warnings,
    format_cues,
    rules_for,
)
from replay.domain.transcript import Cue, Segment, Word

TINY = ReadingRules(
    max_line_chars=12,
    max_lines=2,
    min_duration=1.0,
    max_duration=3.0,
    chars_per_second=12.0,
)
ALL_RULES = [FRENCH_ARCOM, ENGLISH_NETFLIX, TINY]
WEAK_LINE_ENDS = {"à", "a", "le", "la", "les", "un", "une", "de", "des", "du", "the", "an"}


def spoken(text: str, start: float, per_word: float = 0.4) -> Segment:
    """A segment as Whisper gives it: words with leading spaces, stray spaces in text."""
    words = []
    at = start
    for word in text.split():
        words.append(Word(round(at, 3), round(at + per_word * 0.85, 3), " " + word))
        at += per_word
    return Segment(words[0].start, words[-1].end, f"  {text} ", tuple(words))


def plain(text: str) -> list[str]:
    return text.replace(NBSP, " ").split()


def cue_words(cues: list[Cue]) -> list[str]:
    return [word for cue in cues for line in cue.lines for word in line.split()]


# --- reading speed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "seconds", "chars"),
    [
        (FRENCH_ARCOM, 1.0, 12),
        (FRENCH_ARCOM, 2.0, 20),
        (FRENCH_ARCOM, 3.0, 36),
        (FRENCH_ARCOM, 4.0, 60),
        (FRENCH_ARCOM, 0.0, 0),
        (FRENCH_ARCOM, 0.5, 6),
        (FRENCH_ARCOM, 1.5, 16),
        (FRENCH_ARCOM, 2.5, 28),
        (FRENCH_ARCOM, 3.5, 48),
        (FRENCH_ARCOM, 5.0, 75),
        (FRENCH_ARCOM, 7.0, 105),
        (ENGLISH_NETFLIX, 1.0, 17),
        (ENGLISH_NETFLIX, 2.0, 34),
        (ENGLISH_NETFLIX, 5 / 6, 14),
        (ENGLISH_NETFLIX, 7.0, 119),
        (ENGLISH_NETFLIX, -1.0, 0),
    ],
)
def test_max_chars(rules: ReadingRules, seconds: float, chars: int) -> None:
    assert rules.max_chars(seconds) == chars


@pytest.mark.parametrize("rules", ALL_RULES)
def test_reading_time_is_the_inverse_of_max_chars(rules: ReadingRules) -> None:
    for chars in range(1, 130):
        seconds = rules.reading_time(chars)
        assert rules.max_chars(seconds) >= chars
        assert rules.max_chars(seconds - 0.01) < chars


@pytest.mark.parametrize(
    ("rules", "text", "minimum"),
    [
        (FRENCH_ARCOM, "Merci.", 0.8),
        (FRENCH_ARCOM, f"Bonjour{NBSP}!", 0.8),
        (FRENCH_ARCOM, "Merci beaucoup.", 1.0),
        (ENGLISH_NETFLIX, "Thanks.", 5 / 6),
    ],
)
def test_min_duration_for(rules: ReadingRules, text: str, minimum: float) -> None:
    assert rules.min_duration_for(text) == pytest.approx(minimum)


@pytest.mark.parametrize(
    ("language", "rules"),
    [
        ("fr", FRENCH_ARCOM),
        ("fr-FR", FRENCH_ARCOM),
        (" FR_ca ", FRENCH_ARCOM),
        ("en", ENGLISH_NETFLIX),
        ("en-GB", ENGLISH_NETFLIX),
        ("de", ENGLISH_NETFLIX),
    ],
)
def test_rules_for(language: str, rules: ReadingRules) -> None:
    assert rules_for(language) is rules


# --- line breaking ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rules", "lines"),
    [
        ("Bonjour à tous.", FRENCH_ARCOM, ("Bonjour à tous.",)),
        (
            "Bonjour à toutes et à tous, et bienvenue à cette table ronde.",
            FRENCH_ARCOM,
            ("Bonjour à toutes et à tous,", "et bienvenue à cette table ronde."),
        ),
        (
            "La Mission Villes accompagne cent douze villes européennes",
            FRENCH_ARCOM,
            ("La Mission Villes accompagne", "cent douze villes européennes"),
        ),
        (
            "   Good  morning everyone and welcome\n to this roundtable on cities ",
            ENGLISH_NETFLIX,
            ("Good morning everyone and welcome", "to this roundtable on cities"),
        ),
        ("supercalifragilistic ok", TINY, ("supercalifragilistic", "ok")),
        ("ok supercalifragilistic", TINY, ("ok", "supercalifragilistic")),
        ("", FRENCH_ARCOM, ()),
    ],
)
def test_break_lines(text: str, rules: ReadingRules, lines: tuple[str, ...]) -> None:
    assert break_lines(text, rules) == lines


@pytest.mark.parametrize(
    "text",
    [
        "Nous sommes venus ici pour parler à la Mission Villes de demain",
        "Elle a une idée claire de ce que la ville doit devenir en 2030",
        "Il faut aller à Paris puis à Lyon et enfin à Marseille pour voir",
        "We talked with a lot of people about the city of tomorrow today",
    ],
)
def test_line_one_never_ends_with_a_weak_word(text: str) -> None:
    lines = break_lines(text, FRENCH_ARCOM)
    assert len(lines) == 2
    assert lines[0].split()[-1].lower() not in WEAK_LINE_ENDS
    assert all(len(line) <= FRENCH_ARCOM.max_line_chars for line in lines)


@pytest.mark.parametrize(
    "text",
    [
        "Il a dit : « Bonjour à tous » et puis il est parti vers la gare du Nord !",
        "Pourquoi les villes ? Parce qu'elles émettent plus de 70 % des gaz ; voilà.",
        "« NetZeroCities » et « la Mission Villes » : deux noms pour un même but !",
    ],
)
def test_french_typography_is_never_split(text: str) -> None:
    lines = break_lines(text, FRENCH_ARCOM)
    assert len(lines) == 2
    for line in lines:
        assert not re.match(r"[:;?!»%]", line)
        assert not line.endswith("«")
    joined = " ".join(lines)
    assert not re.search(r" [:;?!»%]", joined)
    assert "« " not in joined
    assert plain(joined) == text.split()


def test_french_punctuation_gets_a_non_breaking_space_english_none() -> None:
    assert break_lines("Pourquoi ? « Oui » !", FRENCH_ARCOM) == (
        f"Pourquoi{NBSP}? «{NBSP}Oui{NBSP}»{NBSP}!",
    )
    assert break_lines("Why ? ( yes ) !", ENGLISH_NETFLIX) == ("Why? (yes)!",)


# --- formatting ---------------------------------------------------------------------

FRENCH_TALK = [
    spoken(
        "Bonjour à toutes et à tous, et bienvenue dans cette table ronde consacrée à "
        "NetZeroCities.",
        0.0,
    ),
    spoken(
        "NetZeroCities accompagne la Mission Villes, qui vise cent villes climatiquement "
        "neutres d'ici 2030.",
        7.0,
    ),
    spoken(
        "Pourquoi les villes ? Parce qu'elles produisent plus de 70 % des émissions de gaz "
        "à effet de serre.",
        14.5,
    ),
    spoken("Merci.", 23.0),
]


def test_format_french_talk() -> None:
    cues = format_cues(FRENCH_TALK, FRENCH_ARCOM)
    assert [cue.lines for cue in cues] == [
        ("Bonjour à toutes et à tous,",),
        ("et bienvenue dans cette table", "ronde consacrée à NetZeroCities."),
        ("NetZeroCities accompagne", "la Mission Villes,"),
        ("qui vise cent villes", "climatiquement neutres d'ici 2030."),
        (f"Pourquoi les villes{NBSP}?",),
        (f"Parce qu'elles produisent plus de 70{NBSP}%", "des émissions de gaz à effet de serre."),
        ("Merci.",),
    ]
    assert plain(" ".join(cue.text for cue in cues)) == plain(
        " ".join(segment.text for segment in FRENCH_TALK)
    )
    for cue, following in zip(cues, [*cues[1:], None], strict=True):
        # Speech this fast cannot always be read at Arcom's pace; nothing else is wrong.
        assert set(cue_warnings(cue, FRENCH_ARCOM, following)) <= {"reading_speed"}
    # The lone word is held 0.8 s although spoken in 0.34 s.
    assert cues[-1].start == 23.0
    assert cues[-1].end == pytest.approx(23.8)


def test_fast_speech_is_held_into_the_silence_until_it_can_be_read() -> None:
    sentence = "La Mission Villes vise cent villes neutres d'ici 2030."
    cues = format_cues([spoken(sentence, 10.0, 0.2), spoken("Merci.", 20.0)], FRENCH_ARCOM)
    assert cues[0].lines == ("La Mission Villes vise cent", "villes neutres d'ici 2030.")
    assert cues[0].end == pytest.approx(10.0 + FRENCH_ARCOM.reading_time(len(sentence)), abs=1e-3)
    assert FRENCH_ARCOM.max_chars(cues[0].duration) >= len(sentence)


def test_format_english() -> None:
    segments = [
        spoken("Good morning everyone, and welcome to this roundtable on NetZeroCities.", 0, 0.3),
        spoken("The Cities Mission supports one hundred cities. Thank you.", 5.0, 0.3),
    ]
    cues = format_cues(segments, ENGLISH_NETFLIX)
    assert [cue.lines for cue in cues] == [
        ("Good morning everyone, and welcome", "to this roundtable on NetZeroCities."),
        ("The Cities Mission supports", "one hundred cities. Thank you."),
    ]
    assert all(cue_warnings(cue, ENGLISH_NETFLIX) == [] for cue in cues)


def test_segments_without_words_spread_their_text() -> None:
    segments = [
        Segment(1.0, 4.0, "  Merci   beaucoup\n à  vous ! "),
        Segment(10.0, 12.0, "Bonne journée."),
        Segment(13.0, 13.0, "   "),
    ]
    cues = format_cues(segments, FRENCH_ARCOM)
    assert cues == [
        Cue(1.0, 4.0, (f"Merci beaucoup à vous{NBSP}!",)),
        Cue(10.0, 12.0, ("Bonne journée.",)),
    ]


def test_long_segment_without_words_is_cut_within_its_span() -> None:
    text = " ".join(["la ville neutre en carbone"] * 12)
    cues = format_cues([Segment(0.0, 30.0, text)], FRENCH_ARCOM)
    assert len(cues) > 3
    assert cue_words(cues) == text.split()
    assert cues[0].start == 0.0
    assert cues[-1].end <= 30.0
    assert all(cue.duration <= FRENCH_ARCOM.max_duration for cue in cues)


def test_long_silence_starts_a_new_cue() -> None:
    words = (Word(0.0, 0.3, " Oui"), Word(2.0, 2.3, " non"))
    cues = format_cues([Segment(0.0, 2.3, "Oui non", words)], FRENCH_ARCOM)
    assert [cue.lines for cue in cues] == [("Oui",), ("non",)]
    assert cues[0].end == pytest.approx(0.8)


def test_extension_stops_before_the_next_cue() -> None:
    one_word = ReadingRules(
        max_line_chars=4, max_lines=1, min_duration=1.0, max_duration=3.0, chars_per_second=12
    )
    words = (Word(0.0, 0.3, " Oui."), Word(0.5, 0.7, " Non."))
    cues = format_cues([Segment(0.0, 0.7, "Oui. Non.", words)], one_word)
    assert [cue.lines for cue in cues] == [("Oui.",), ("Non.",)]
    assert cues[0].end == pytest.approx(0.42)
    assert cues[1].end == pytest.approx(1.5)


def test_overlapping_whisper_words_never_make_overlapping_cues() -> None:
    words = tuple(
        Word(0.1 * i, 0.1 * i + 2.5, f" mot{i}.") for i in range(30)
    )  # every word overlaps the next ones, some start together
    words += (Word(2.9, 2.9, " fin"), Word(2.9, 2.9, " fin"))
    cues = format_cues([Segment(0.0, 6.0, "", words)], FRENCH_ARCOM)
    assert cue_words(cues) == [word.text.strip() for word in words]
    for cue, following in pairwise(cues):
        assert cue.start < cue.end <= following.start


def test_empty_input() -> None:
    assert format_cues([], FRENCH_ARCOM) == []
    assert format_cues([Segment(0, 1, " ", (Word(0, 1, " "),))], FRENCH_ARCOM) == []


# --- warnings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cue", "following", "codes"),
    [
        (Cue(0.0, 2.0, ("Bonjour à tous.",)), None, []),
        (Cue(0.0, 2.0, ("Bonjour à tous.",)), Cue(2.08, 3.0, ("Oui.",)), []),
        (Cue(0.0, 2.0, ("Bonjour à tous.",)), Cue(2.0, 3.0, ("Oui.",)), ["too_close"]),
        (Cue(0.0, 2.0, ("Bonjour à tous.",)), Cue(1.5, 3.0, ("Oui.",)), ["overlap"]),
        (Cue(0.0, 1.0, ("Bonjour à toutes et à tous.",)), None, ["reading_speed"]),
        (Cue(0.0, 0.5, ("Oui.",)), None, ["too_short"]),
        (Cue(0.0, 0.8, ("Oui.",)), None, []),
        (Cue(0.0, 0.9, ("Merci bien",)), None, ["too_short"]),
        (Cue(0.0, 7.5, ("Bonjour à tous.",)), None, ["too_long"]),
        (Cue(0.0, 6.0, ("a" * 41,)), None, ["line_too_long"]),
        (Cue(0.0, 6.0, ("un", "deux", "trois")), None, ["too_many_lines"]),
        (Cue(0.0, 6.0, ("un", " ")), None, ["empty_line"]),
        (Cue(0.0, 6.0, ()), None, ["empty"]),
        (Cue(0.0, 2.0, ("<i>Bonjour</i> à tous.",)), None, []),
    ],
)
def test_cue_warnings(cue: Cue, following: Cue | None, codes: list[str]) -> None:
    assert cue_warnings(cue, FRENCH_ARCOM, following) == codes


# --- properties ---------------------------------------------------------------------

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéèàçœ", min_size=1, max_size=15)
# (word, milliseconds of silence before it, milliseconds spoken)
TIMED_WORD = st.tuples(
    WORD,
    st.one_of(st.integers(0, 300), st.integers(0, 3000)),
    st.integers(1, 1500),
)


@st.composite
def segments(draw: st.DrawFn) -> list[Segment]:
    timed = draw(st.lists(TIMED_WORD, min_size=1, max_size=120))
    words: list[Word] = []
    at = draw(st.integers(0, 5000))
    for text, silence, spoken_ms in timed:
        start = at + silence
        words.append(Word(start / 1000, (start + spoken_ms) / 1000, " " + text))
        at = start + spoken_ms
    cuts = (
        sorted(draw(st.sets(st.integers(1, len(words) - 1), max_size=10))) if len(words) > 1 else []
    )
    bounds = [0, *cuts, len(words)]
    result = []
    for first, stop in pairwise(bounds):
        chunk = tuple(words[first:stop])
        text = "".join(word.text for word in chunk)
        result.append(Segment(chunk[0].start, chunk[-1].end, text, chunk))
    return result


@pytest.mark.parametrize("rules", ALL_RULES)
@settings(max_examples=150, deadline=None)
@given(talk=segments())
def test_format_cues_properties(rules: ReadingRules, talk: list[Segment]) -> None:
    cues = format_cues(talk, rules)
    assert cue_words(cues) == [word.text.strip() for seg in talk for word in seg.words]
    gap = rules.min_gap
    for index, cue in enumerate(cues):
        following = cues[index + 1] if index + 1 < len(cues) else None
        assert cue.lines
        assert all(line.strip() for line in cue.lines)
        assert 1 <= len(cue.lines) <= rules.max_lines
        for line in cue.lines:
            assert len(line) <= rules.max_line_chars or " " not in line
        assert 0 < cue.duration <= rules.max_duration + 1e-9
        if following is not None:
            assert cue.start < following.start
            assert cue.end <= following.start + 1e-9
        room = following is None or cue.end < following.start - gap - 1e-6
        if room and cue.duration < rules.max_duration - 1e-6:
            text = " ".join(cue.lines)
            assert len(text) <= rules.max_chars(cue.duration)
            assert cue.duration >= rules.min_duration_for(text) - 1e-9


# --- Whisper's word pieces: elisions, hyphens, numbers, French punctuation ---------


def whisper_segment(pieces: list[str], per_piece: float = 0.2) -> Segment:
    """A segment of Whisper words as faster-whisper splits them: a new word starts with
    a space, a piece without one (« 'ont », « -il ») continues the word before it."""
    words = tuple(Word(round(i * per_piece, 3), round((i + 0.8) * per_piece, 3), piece)
                  for i, piece in enumerate(pieces))
    return Segment(words[0].start, words[-1].end, "".join(pieces).strip(), words)


def joined(cues: list[Cue]) -> str:
    return " ".join(line for cue in cues for line in cue.lines)


@pytest.mark.parametrize(
    ("pieces", "french", "english"),
    [
        ([" Ils", " m", "'ont", " dit", " oui."], "Ils m'ont dit oui.", "Ils m'ont dit oui."),
        ([" Où", " va", "-t", "-il", " ?"], f"Où va-t-il{NBSP}?", "Où va-t-il?"),
        ([" C", "'est", " peut", "-être", " vrai!"], f"C'est peut-être vrai{NBSP}!",
         "C'est peut-être vrai!"),
        ([" Il", " dit", " «Bonjour»", " :", " 1", " 000", " personnes."],
         f"Il dit «{NBSP}Bonjour{NBSP}»{NBSP}: 1{NBSP}000 personnes.",
         "Il dit «Bonjour»: 1 000 personnes."),
        ([" À", " 10:30", " ;", " 70%", " des", " villes?!"],
         f"À 10:30{NBSP}; 70{NBSP}% des villes{NBSP}?!", "À 10:30; 70% des villes?!"),
    ],
)
def test_whisper_pieces_are_rejoined_as_written(pieces: list[str], french: str,
                                                english: str) -> None:
    segment = whisper_segment(pieces)
    assert joined(format_cues([segment], FRENCH_ARCOM)) == french
    assert joined(format_cues([segment], ENGLISH_NETFLIX)) == english


LETTERS = "abcdefghijklmnopqrstuvwxyzéèàçœ"
STEM = st.text(alphabet=LETTERS, min_size=1, max_size=9)


@st.composite
def french_unit(draw: st.DrawFn) -> tuple[list[str], str]:
    """One written unit: Whisper's pieces for it, and how French writes it."""
    kind = draw(st.sampled_from(["word", "elision", "inversion", "compound", "number",
                                 "percent", "mark", "quote"]))
    a, b = draw(STEM), draw(STEM)
    if kind == "elision":
        return [" " + a[:1], "'" + b], a[:1] + "'" + b
    if kind == "inversion":
        return [" " + a, "-t", "-" + b], f"{a}-t-{b}"
    if kind == "compound":
        return [" " + a, "-" + b], f"{a}-{b}"
    if kind == "number":
        value = draw(st.integers(1000, 999_999))
        head, tail = divmod(value, 1000)
        return [f" {head}", f" {tail:03d}"], f"{head}{NBSP}{tail:03d}"
    if kind == "percent":
        value = draw(st.integers(0, 100))
        attached = draw(st.booleans())
        return ([f" {value}%"] if attached else [f" {value}", " %"]), f"{value}{NBSP}%"
    if kind == "mark":
        mark = draw(st.sampled_from(";:!?"))
        attached = draw(st.booleans())
        return ([f" {a}{mark}"] if attached else [" " + a, " " + mark]), f"{a}{NBSP}{mark}"
    if kind == "quote":
        shape = draw(st.sampled_from(["spaced", "attached", "half"]))
        pieces = {"spaced": [" «", " " + a, " »"], "attached": [f" «{a}»"],
                  "half": [f" «{a}", "»"]}[shape]
        return pieces, f"«{NBSP}{a}{NBSP}»"
    return [" " + a], a


@st.composite
def french_talk(draw: st.DrawFn) -> tuple[list[str], str]:
    units = draw(st.lists(french_unit(), min_size=1, max_size=40))
    pieces: list[str] = []
    written: list[str] = []
    for unit_pieces, text in units:
        if written and written[-1][-1].isdigit() and unit_pieces[0][1:2].isdigit():
            pieces.append(" et")  # two numbers in a row would read as one
            written.append("et")
        pieces += unit_pieces
        written.append(text)
    return pieces, " ".join(written)


@settings(max_examples=200, deadline=None)
@given(talk=french_talk())
def test_french_cues_keep_words_whole_and_space_punctuation(talk: tuple[list[str],
                                                                        str]) -> None:
    pieces, written = talk
    cues = format_cues([whisper_segment(pieces)], FRENCH_ARCOM)
    assert joined(cues) == written
    for cue in cues:
        for line in cue.lines:
            assert not re.match(r"[-'’;:!?»%]", line), line  # a word or a number split
            assert not line.endswith("«"), line
            assert not re.search(r"\s['’-]|['’-]\s", line), line
            assert not re.search(r"[^\u00a0;:!?][;!?»%]", line), line
            assert not re.search(r"«[^\u00a0]", line), line


@settings(max_examples=100, deadline=None)
@given(talk=french_talk())
def test_english_cues_join_the_same_pieces_without_french_spaces(
        talk: tuple[list[str], str]) -> None:
    pieces, _ = talk
    cues = format_cues([whisper_segment(pieces)], ENGLISH_NETFLIX)
    text = joined(cues)
    assert NBSP not in text
    assert not re.search(r"\s['’-]", text)
    assert text.replace(" ", "") == "".join(pieces).replace(" ", "")
