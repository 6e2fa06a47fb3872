"""WebVTT rendering and strict parsing, SRT rendering."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.domain.errors import SubtitleError
from replay.domain.transcript import Cue
from replay.domain.webvtt import (
    display_lines,
    format_timestamp,
    parse_webvtt,
    render_srt,
    render_webvtt,
)
from replay.locale import describe
from tests.french import raises_in_french

NBSP = "\u00a0"
ALLOWED_TAG = re.compile(
    r"</(?:i|b|u|c|v|lang)>|<(?:i|b|u|c)(?:\.[^\s.<>]+)*>"
    r"|<(?:v|lang)(?:\.[^\s.<>]+)*[ \t][^<>\n]*>"
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "00:00:00.000"),
        (1.5, "00:00:01.500"),
        (59.999, "00:00:59.999"),
        (61.0, "00:01:01.000"),
        (3661.25, "01:01:01.250"),
        (1.0004, "00:00:01.000"),
        (1.0006, "00:00:01.001"),
        (359999.999, "99:59:59.999"),
        (360000.0, "100:00:00.000"),
    ],
)
def test_format_timestamp(seconds: float, text: str) -> None:
    assert format_timestamp(seconds) == text


def test_format_timestamp_refuses_negative_times() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_timestamp(-0.1)


def test_render_webvtt() -> None:
    cues = [
        Cue(1.0, 3.5, ("Bonjour à tous,", "et bienvenue.")),
        Cue(3.58, 4.4, (f"Pourquoi{NBSP}?",)),
    ]
    assert render_webvtt(cues) == (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:03.500\nBonjour à tous,\net bienvenue.\n\n"
        f"00:00:03.580 --> 00:00:04.400\nPourquoi{NBSP}?\n\n"
    )
    assert render_webvtt([]) == "WEBVTT\n\n"


def test_render_escapes_text_and_keeps_allowed_tags() -> None:
    cue = Cue(
        0.0, 1.0, ("<i>a</i> & b --> <script>x</script>", "<v Roger>Oui</v> <c.jaune>non</c>")
    )
    assert render_webvtt([cue]).splitlines()[3:5] == [
        "<i>a</i> &amp; b --&gt; &lt;script&gt;x&lt;/script&gt;",
        "<v Roger>Oui</v> <c.jaune>non</c>",
    ]


def test_render_never_writes_a_blank_line_inside_a_cue() -> None:
    cues = [
        Cue(0.0, 1.0, ("un", "", "deux\n\ntrois\r\n", "  ")),
        Cue(1.0, 2.0, ("", " \n ")),
        Cue(2.0, 3.0, ("<i></i>",)),
        Cue(3.0, 4.0, ("quatre",)),
    ]
    assert render_webvtt(cues) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.000\nun\ndeux\ntrois\n\n"
        "00:00:03.000 --> 00:00:04.000\nquatre\n\n"
    )


@pytest.mark.parametrize(
    ("cues", "message"),
    [
        ([Cue(1.0, 1.0, ("a",))], "repère 1"),
        ([Cue(2.0, 1.0, ("a",))], "repère 1"),
        ([Cue(2.0, 3.0, ("a",)), Cue(1.0, 3.0, ("b",))], "repère 2"),
        ([Cue(360000.0, 360001.0, ("a",))], "repère 1"),
    ],
)
def test_render_refuses_what_parse_would_refuse(cues: list[Cue], message: str) -> None:
    with raises_in_french(SubtitleError, message):
        render_webvtt(cues)


def test_render_srt() -> None:
    cues = [
        Cue(1.0, 3.5, ("<i>Bonjour</i> à <v Roger>tous</v> & -->",)),
        Cue(3661.0, 3662.0, ("deux", "", "lignes")),
    ]
    assert render_srt(cues) == (
        "1\n00:00:01,000 --> 00:00:03,500\n<i>Bonjour</i> à tous & ->\n\n"
        "2\n01:01:01,000 --> 01:01:02,000\ndeux\nlignes\n\n"
    )


FULL_FILE = (
    "\ufeffWEBVTT - Table ronde\r\n"
    "Kind: captions\r\n"
    "Language: fr\r\n"
    "\r\n"
    "STYLE\r\n"
    "::cue { color: yellow }\r\n"
    "\r\n"
    "REGION\r\n"
    "id:bas\r\n"
    "\r\n"
    "NOTE relu par l'équipe\r\n"
    "sur deux lignes\r\n"
    "\r\n"
    "intro\r\n"
    "00:01.000 --> 00:03.500 align:start line:0\r\n"
    "<i>Bonjour</i> &amp; bienvenue &lt;3\r\n"
    "<script>alert(1)</script> <b.fort>NetZeroCities</b>\r\n"
    "\r\n"
    "\r\n"
    "01:00:03.600 --> 01:00:05.000\r\n"
    "<v Anne>la Mission Villes</v>&nbsp;!<00:00:04.000> <ruby>x</ruby>\r\n"
)


def test_parse_webvtt() -> None:
    assert parse_webvtt(FULL_FILE) == [
        Cue(1.0, 3.5, ("<i>Bonjour</i> & bienvenue <3", "alert(1) <b.fort>NetZeroCities</b>")),
        Cue(3603.6, 3605.0, (f"<v Anne>la Mission Villes</v>{NBSP}! x",)),
    ]


def test_parse_header_only() -> None:
    assert parse_webvtt("WEBVTT") == []
    assert parse_webvtt("WEBVTT\n\n\n") == []


CUE = "00:00:01.000 --> 00:00:02.000"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", 1, "WEBVTT"),
        ("WEBVT\n\n" + CUE + "\nx\n", 1, "WEBVTT"),
        ("WEBVTTX\n", 1, "WEBVTT"),
        ("\nWEBVTT\n\n" + CUE + "\nx\n", 1, "WEBVTT"),
        (CUE + "\nx\n", 1, "WEBVTT"),
        ("WEBVTT\n" + CUE + "\nx\n", 2, "ligne vide"),
        ("WEBVTT\n\n00:00:01,000 --> 00:00:02.000\nx\n", 3, "horodatage invalide"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02\nx\n", 3, "horodatage invalide"),
        ("WEBVTT\n\n00:61:01.000 --> 01:00:02.000\nx\n", 3, "horodatage invalide"),
        ("WEBVTT\n\n1:00:01.000 --> 1:00:02.000\nx\n", 3, "horodatage invalide"),
        ("WEBVTT\n\n00:00:01.000 -> 00:00:02.000\nx\n", 3, "ligne de temps"),
        ("WEBVTT\n\nid\n00:00:01.000 00:00:02.000\nx\n", 4, "ligne de temps"),
        ("WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nx\n", 3, "après son début"),
        ("WEBVTT\n\n00:00:02.000 --> 00:00:02.000\nx\n", 3, "après son début"),
        ("WEBVTT\n\n100:00:00.000 --> 100:00:01.000\nx\n", 3, "démesuré"),
        ("WEBVTT\n\n99999999:00:00.000 --> 99999999:00:01.000\nx\n", 3, "démesuré"),
        ("WEBVTT\n\nun --> deux\n" + CUE + "\nx\n", 3, "identifiant"),
        ("WEBVTT\n\n" + CUE + "\na\n00:00:03.000 --> 00:00:04.000\nb\n", 5, "ligne vide"),
        ("WEBVTT\n\n" + CUE + "\na\n2\n00:00:03.000 --> 00:00:04.000\nb\n", 6, "ligne vide"),
        ("WEBVTT\n\n" + CUE + "\n00:00:03.000 --> 00:00:04.000\nb\n", 4, "ligne vide"),
        ("WEBVTT\n\n" + CUE + "\n\n00:00:03.000 --> 00:00:04.000\nb\n", 3, "sans texte"),
        ("WEBVTT\n\nid\n" + CUE + "\n", 4, "sans texte"),
        ("WEBVTT\n\n" + CUE + "\n<script></script>\n<i></i>\n", 3, "sans texte"),
        ("WEBVTT\n\nseulement du texte\n", 3, "ligne de temps"),
        ("WEBVTT\n\nNOTE\nx --> y\n", 4, "ligne vide"),
        ("WEBVTT\n\n00:00:05.000 --> 00:00:06.000\na\n\n" + CUE + "\nb\n", 6, "précédent"),
    ],
)
def test_parse_refuses_malformed_files(text: str, line: int, reason: str) -> None:
    with pytest.raises(SubtitleError) as caught:
        parse_webvtt(text)
    message = describe(caught.value)
    assert message.startswith(f"ligne {line}{NBSP}: ")
    assert reason in message
    # French typography: non-breaking spaces before : ; ? ! and inside « ».
    assert not re.search(r"[^\u00a0][:;?!](\s|$)", message.replace("-->", ""))
    assert not re.search(r"«[^\u00a0]|[^\u00a0]»", message)


# --- round trip ---------------------------------------------------------------------

HOSTILE = st.sampled_from(
    [
        "-->",
        "<script>alert(1)</script>",
        "&",
        "&amp;",
        "&lt;i&gt;",
        "<i>",
        "</i>",
        "<v Roger>",
        "<c.a.b>",
        "<lang fr>",
        "<b",
        "<<i>>",
        "<v <b>",
        "NOTE",
        "WEBVTT",
        "00:00:01.000 --> 00:00:02.000",
        NBSP,
        "«\u00a0é\u00a0»",
        "🎉",
        "\u2028",
        "\t",
        " ",
    ]
)
FREE_TEXT = st.text(st.characters(exclude_characters="\r\n\0"), max_size=20)
LINE = st.lists(st.one_of(HOSTILE, FREE_TEXT), min_size=1, max_size=6).map("".join)


def visible(line: str) -> bool:
    return bool(ALLOWED_TAG.sub("", line).strip())


@st.composite
def clean_cues(draw: st.DrawFn) -> list[Cue]:
    """Cues as the editor stores them: lines without line breaks, some text."""
    count = draw(st.integers(0, 8))
    cues = []
    at = draw(st.integers(0, 10_000))
    for _ in range(count):
        at += draw(st.integers(0, 5_000))
        length = draw(st.integers(1, 10_000))
        lines = draw(st.lists(LINE.filter(lambda line: bool(line.strip())), min_size=1, max_size=3))
        if not any(visible(line) for line in lines):
            lines.append("texte")
        cues.append(Cue(at / 1000, (at + length) / 1000, tuple(lines)))
    return cues


@settings(max_examples=300, deadline=None)
@given(cues=clean_cues())
def test_render_then_parse_is_identity(cues: list[Cue]) -> None:
    assert parse_webvtt(render_webvtt(cues)) == cues


@st.composite
def hostile_cues(draw: st.DrawFn) -> list[Cue]:
    """Anything: blank lines, line breaks and NUL inside lines, cues with no text."""
    any_text = st.text(max_size=30)
    lines = st.lists(st.one_of(HOSTILE, any_text, st.just(""), st.just("\n\n")), max_size=4)
    cues = []
    at = 0
    for text in draw(st.lists(lines, max_size=6)):
        at += draw(st.integers(0, 3_000))
        cues.append(Cue(at / 1000, (at + draw(st.integers(1, 3_000))) / 1000, tuple(text)))
    return cues


@settings(max_examples=300, deadline=None)
@given(cues=hostile_cues())
def test_hostile_text_renders_to_a_valid_file(cues: list[Cue]) -> None:
    rendered = render_webvtt(cues)
    expected = [
        Cue(cue.start, cue.end, tuple(display_lines(cue)))
        for cue in cues
        if any(visible(line) for line in display_lines(cue))
    ]
    assert parse_webvtt(rendered) == expected
    blocks = rendered.split("\n\n")
    assert blocks[0] == "WEBVTT"
    assert blocks[-1] == ""
    for block in blocks[1:-1]:
        timing, *text = block.split("\n")
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}", timing)
        assert text
        assert all(line.strip() and "-->" not in line for line in text)
