"""Caption review logic: workflow table, validation, diff, find/replace, edit operations,
the strict SRT parser, and the property that any sequence of edits stays valid WebVTT."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.domain.captions import (
    CaptionError,
    CaptionStatus,
    Passage,
    can_transition,
    check_transition,
    clean_lines,
    delete_cue,
    diff_cues,
    find_replace,
    insert_cue,
    merge_with_next,
    nudge_cue,
    split_cue,
    transcript_passages,
    validate_cues,
    warnings_for,
    with_glossary,
)
from replay.domain.errors import SubtitleError
from replay.domain.srt import parse_srt
from replay.domain.transcript import Cue
from replay.domain.webvtt import parse_webvtt, render_srt, render_webvtt
from replay.locale import describe
from tests.french import raises_in_french

B, R, V, P = (CaptionStatus.BROUILLON, CaptionStatus.RELECTURE, CaptionStatus.VALIDE,
              CaptionStatus.PUBLIE)

CUES = [Cue(1.0, 3.0, ("Bonjour à tous.",)), Cue(3.5, 6.0, ("Bienvenue à NetZeroCities,",
                                                            "et à CapaCITIES.")),
        Cue(6.5, 8.0, ("Merci.",))]


@pytest.mark.parametrize(("current", "target", "allowed"), [
    (B, R, True), (B, V, True), (B, P, True), (B, B, False),
    (R, V, True), (R, P, True), (R, B, False), (R, R, False),
    (V, R, True), (V, P, True), (V, B, False), (V, V, False),
    (P, R, True), (P, V, True), (P, P, True), (P, B, False),
])
def test_transitions(current: CaptionStatus, target: CaptionStatus, allowed: bool) -> None:
    assert can_transition(current, target) is allowed
    if allowed:
        check_transition(current, target)
    else:
        with raises_in_french(CaptionError, "impossible"):
            check_transition(current, target)


@pytest.mark.parametrize(("cues", "message"), [
    ([Cue(2.0, 1.0, ("a",))], "repère 1 : la fin doit venir après le début"),
    ([Cue(1.0, 1.0004, ("a",))], "repère 1 : la fin"),
    ([Cue(1.0, 2.0, ("  ", "<script></script>"))], "repère 1 : repère sans texte"),
    ([Cue(1.0, 2.0, ("a",)), Cue(0.5, 3.0, ("b",))], "repère 2 : il commence"),
    ([Cue(-1.0, 2.0, ("a",))], "repère 1 : horodatage"),
    ([Cue(1.0, float("nan"), ("a",))], "repère 1 : horodatage"),
    ([Cue(1.0, 360_000.0, ("a",))], "repère 1 : horodatage au-delà"),
])
def test_validation_refuses_with_the_cue_and_the_reason(cues: list[Cue], message: str) -> None:
    with raises_in_french(CaptionError, message.replace(" : ", "\u00a0: ")):
        validate_cues(cues)


def test_validation_cleans_text_and_times_and_allows_three_lines() -> None:
    cues = validate_cues([Cue(1.00049, 2.0, ("<script>alert(1)</script> <i>oui</i>",
                                             "", "deux\ntrois"))])
    assert cues == [Cue(1.0, 2.0, ("alert(1) <i>oui</i>", "deux", "trois"))]
    assert "too_many_lines" in warnings_for(cues, "fr")[0]


def test_clean_lines_drops_foreign_tags_keeps_webvtt_ones() -> None:
    assert clean_lines("<b>a</b> <img src=x onerror=y>b\n\n<v Marie>c") == (
        "<b>a</b> b", "<v Marie>c")


def test_diff_is_readable() -> None:
    new = [CUES[0], Cue(3.5, 6.0, ("Bienvenue à NetZeroCities.",)), Cue(9.0, 10.0, ("Fin.",))]
    changes = diff_cues(CUES, new)
    assert [(c.kind, c.index) for c in changes] == [("changed", 2), ("changed", 3)]
    assert describe(changes[0].message()).startswith("modifié [00:00:03.500 → 00:00:06.000]")
    only_removed = diff_cues(CUES, CUES[:1])
    assert [(c.kind, c.index) for c in only_removed] == [("removed", 2), ("removed", 3)]
    assert diff_cues(CUES[:1], CUES)[0].kind == "added"
    assert "supprimé" in describe(only_removed[0].message())
    assert diff_cues(CUES, CUES) == []


@pytest.mark.parametrize(("find", "replace", "whole", "case", "changed", "text"), [
    ("capacities", "CapaCities", True, False, [2], "et à CapaCities."),
    ("à", "a", True, True, [1, 2], "Bonjour a tous."),
    ("Merci", "Merci beaucoup", True, True, [3], "Merci beaucoup."),
    ("merci", "X", True, True, [], "Merci."),
    ("Cit", "cit", False, True, [2], "Bienvenue à NetZerocities,"),
    ("Cit", "cit", True, True, [], ""),
])
def test_find_replace(find: str, replace: str, whole: bool, case: bool, changed: list[int],
                      text: str) -> None:
    new, changes = find_replace(CUES, find, replace, whole_word=whole, case_sensitive=case)
    assert [c.index for c in changes] == changed
    if changed:
        assert text in {line for cue in new for line in cue.lines}
    for change in changes:
        assert change.new == new[change.index - 1]


def test_find_replace_refuses_empty_search() -> None:
    with raises_in_french(CaptionError, "vide"):
        find_replace(CUES, " ", "x")


def test_edit_operations() -> None:
    split = split_cue(CUES, 1, 4.75, len("Bienvenue à NetZeroCities,"))
    assert split[1:3] == [Cue(3.5, 4.75, ("Bienvenue à NetZeroCities,",)),
                          Cue(4.75, 6.0, ("et à CapaCITIES.",))]
    assert merge_with_next(CUES, 0)[0] == Cue(1.0, 6.0, ("Bonjour à tous.", *CUES[1].lines))
    assert insert_cue(CUES, Cue(3.5, 4.0, ("x",)))[2] == Cue(3.5, 4.0, ("x",))
    assert delete_cue(CUES, 2) == CUES[:2]
    assert nudge_cue(CUES, 2, start=-0.2, end=0.5)[2] == Cue(6.3, 8.5, ("Merci.",))


@pytest.mark.parametrize("operation", [
    lambda: split_cue(CUES, 0, 5.0, 3), lambda: split_cue(CUES, 0, 2.0, 0),
    lambda: merge_with_next(CUES, 2), lambda: delete_cue(CUES, 5),
    lambda: nudge_cue(CUES, 1, start=-3.0), lambda: nudge_cue(CUES, 0, end=-2.5),
    lambda: insert_cue(CUES, Cue(1.0, 1.0, ("x",))),
])
def test_impossible_edits_are_refused(operation: Callable[[], list[Cue]]) -> None:
    with pytest.raises(CaptionError):
        operation()


def test_glossary_comes_first_in_hotwords() -> None:
    assert with_glossary(["I4CE", "NetZeroCities"], "Anne Hidalgo, i4ce, Paris", 40) == (
        "I4CE, NetZeroCities, Anne Hidalgo, Paris")
    assert len(with_glossary(["x" * 30], "y" * 20, 40)) == 30


# -- SRT ---------------------------------------------------------------------------------


def test_srt_round_trip() -> None:
    cues = validate_cues([Cue(1.0, 2.5, ("<i>Bonjour</i> & bienvenue",)),
                          Cue(3.0, 4.0, ("un", "deux"))])
    assert parse_srt(render_srt(cues)) == cues


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("", 1, "vide"),
    ("1\n00:00:01,000 --> 00:00:02,000\n", 2, "sans texte"),
    ("00:00:01,000 --> 00:00:02,000\nabc\n", 1, "numéro de repère manquant"),
    ("un\n00:00:01,000 --> 00:00:02,000\nabc\n", 1, "numéro de repère attendu"),
    ("1\n00:00:01.000 --> 00:00:02,000\nabc\n", 2, "horodatage invalide"),
    ("1\n00:00:01,000 -> 00:00:02,000\nabc\n", 2, "illisible"),
    ("1\n00:00:03,000 --> 00:00:02,000\nabc\n", 2, "après son début"),
    ("1\n999999:00:01,000 --> 999999:00:02,000\nabc\n", 2, "démesuré"),
    ("1\n00:00:01,000 --> 00:00:02,000\nabc\n2\n00:00:03,000 --> 00:00:04,000\nd\n", 5,
     "ligne vide"),
    ("1\n00:00:01,000 --> 00:00:02,000\n<script>alert(1)</script>\n", 3, "balise non autorisée"),
    ("1\n00:00:05,000 --> 00:00:06,000\na\n\n2\n00:00:01,000 --> 00:00:02,000\nb\n", 5,
     "avant le précédent"),
])
def test_srt_refuses_with_the_line(text: str, line: int, reason: str) -> None:
    with raises_in_french(SubtitleError, f"ligne {line}\u00a0: .*{reason}"):
        parse_srt(text)


def test_srt_drops_font_tags() -> None:
    text = '1\n00:00:01,000 --> 00:00:02,000\n<font color="red">{\\an8}rouge</font>\n'
    assert parse_srt(text) == [Cue(1.0, 2.0, ("rouge",))]


def test_strict_webvtt_refuses_foreign_tags() -> None:
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<i>a</i>\n<script>x</script>\n"
    assert parse_webvtt(text) == [Cue(1.0, 2.0, ("<i>a</i>", "x"))]
    with raises_in_french(SubtitleError, "ligne 5\u00a0: balise non autorisée"):
        parse_webvtt(text, strict_markup=True)


# -- the property ------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), min_size=1,
                max_size=30)
_LINE = st.one_of(_TEXT, st.sampled_from(["<i>oui</i>", "a --> b", "<script>x</script>",
                                          "&amp; <b>gras", "NOTE", "WEBVTT", "  ", "\n"]))


@st.composite
def _cue_lists(draw: st.DrawFn) -> list[Cue]:
    cues: list[Cue] = []
    start = 0
    for _ in range(draw(st.integers(0, 6))):
        start += draw(st.integers(0, 5000))
        length = draw(st.integers(1, 8000))
        lines = draw(st.lists(_LINE, min_size=1, max_size=3))
        cues.append(Cue(start / 1000, (start + length) / 1000, tuple(lines)))
    try:
        return validate_cues(cues)
    except CaptionError:
        return validate_cues([cue for cue in cues if clean_lines(cue.lines)])


_OPERATION = st.tuples(st.sampled_from(["split", "merge", "insert", "delete", "nudge",
                                        "replace"]),
                       st.integers(0, 8), st.floats(0, 1), st.integers(-3000, 3000), _LINE)


def _apply(cues: list[Cue], op: tuple[str, int, float, int, str]) -> list[Cue]:
    name, index, fraction, delta, text = op
    target = cues[index % len(cues)] if cues else Cue(0.0, 1.0, ("x",))
    if name == "split":
        at = target.start + fraction * target.duration
        return split_cue(cues, index % max(len(cues), 1), at, int(fraction * len(target.text)))
    if name == "merge":
        return merge_with_next(cues, index)
    if name == "insert":
        return insert_cue(cues, Cue(abs(delta) / 100, abs(delta) / 100 + 1 + fraction, (text,)))
    if name == "delete":
        return delete_cue(cues, index)
    if name == "nudge":
        return nudge_cue(cues, index % max(len(cues), 1), start=delta / 1000, end=delta / 999)
    return find_replace(cues, target.lines[0][:3] or "x", text, whole_word=False)[0]


@settings(max_examples=150, deadline=None)
@given(_cue_lists(), st.lists(_OPERATION, max_size=12))
def test_any_sequence_of_edits_renders_valid_webvtt(
        cues: list[Cue], operations: list[tuple[str, int, float, int, str]]) -> None:
    for operation in operations:
        try:
            candidate = _apply(cues, operation)
            cues = validate_cues(candidate)
        except CaptionError:
            continue  # refused: the list stays as it was
        assert cues == candidate or operation[0] == "replace"
        assert parse_webvtt(render_webvtt(cues)) == cues
    assert parse_webvtt(render_webvtt(cues)) == cues


# -- the transcript made from the captions (issue 8: corrections reach the transcript) ---


@pytest.mark.parametrize(("cues", "passages"), [
    ([], []),
    ([Cue(1.0, 2.0, ("Bonjour à toutes",)), Cue(2.1, 3.0, ("et à tous.",)),
      Cue(3.2, 5.0, ("Nous commençons", "par la Mission."))],
     [Passage(1.0, 3.0, "Bonjour à toutes et à tous."),
      Passage(3.2, 5.0, "Nous commençons par la Mission.")]),
    ([Cue(1.0, 2.0, ("Une phrase sans fin",)), Cue(6.0, 7.0, ("reprise après un silence",))],
     [Passage(1.0, 2.0, "Une phrase sans fin"), Passage(6.0, 7.0, "reprise après un silence")]),
    ([Cue(0.0, 1.0, ("<i>Vraiment\u00a0?</i>",)), Cue(1.2, 2.0, ("« Oui\u00a0»",))],
     [Passage(0.0, 1.0, "Vraiment\u00a0?"), Passage(1.2, 2.0, "« Oui\u00a0»")]),
])
def test_transcript_passages_join_cues_into_sentences(cues: list[Cue],
                                                      passages: list[Passage]) -> None:
    assert transcript_passages(cues) == passages
