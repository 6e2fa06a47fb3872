"""webvtt-py behind the strict validator (`replay.captions_io.files`): what it writes is
what the validator reads back, hostile text included; what it reads has been validated
first, and a file it reads differently from the validator is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from replay.captions_io.files import DISAGREEMENT, read_subtitles, to_srt, to_webvtt
from replay.domain.captions import validate_cues
from replay.domain.errors import SubtitleError
from replay.domain.srt import parse_srt
from replay.domain.subtitle_files import Refusal
from replay.domain.transcript import Cue
from replay.domain.webvtt import display_lines, parse_webvtt, render_webvtt
from replay.locale import _, describe
from tests.french import raises_in_french
from tests.unit.test_webvtt import clean_cues, hostile_cues, visible
from tests.unit.test_webvtt_hardening import HOSTILE_TAGS


@settings(max_examples=200, deadline=None)
@given(cues=clean_cues())
def test_webvtt_written_by_webvtt_py_reads_back_the_same(cues: list[Cue]) -> None:
    written = to_webvtt(cues)
    assert parse_webvtt(written) == cues
    assert written == render_webvtt(cues)


@settings(max_examples=200, deadline=None)
@given(cues=hostile_cues())
def test_hostile_text_is_escaped_before_webvtt_py_writes_it(cues: list[Cue]) -> None:
    expected = [Cue(cue.start, cue.end, tuple(display_lines(cue))) for cue in cues
                if any(visible(line) for line in display_lines(cue))]
    assert parse_webvtt(to_webvtt(cues)) == expected


@pytest.mark.parametrize("tag", HOSTILE_TAGS)
def test_hostile_tags_are_written_as_text(tag: str) -> None:
    line = f"{tag}Bonjour</v>"
    written = to_webvtt([Cue(0.0, 1.0, (line,))])
    assert tag not in written
    assert parse_webvtt(written) == [Cue(0.0, 1.0, (line,))]


def test_webvtt_py_refuses_nothing_the_validator_would_refuse() -> None:
    with raises_in_french(SubtitleError, "commence avant le précédent"):
        to_webvtt([Cue(2.0, 3.0, ("deux",)), Cue(1.0, 2.0, ("un",))])
    with raises_in_french(SubtitleError, "après le début"):
        to_srt([Cue(2.0, 2.0, ("vide",))])


def test_srt_converted_by_webvtt_py_reads_back() -> None:
    cues = validate_cues([Cue(1.0, 2.5, ("<i>Bonjour</i> & bienvenue",)),
                          Cue(3.0, 4.0, ("un", "deux")),
                          Cue(5.0, 6.0, ("<v Roger>a --> c</v>", "<b>gras")),
                          Cue(3600.5, 3601.0, ("&lt; reste du texte",))])
    written = to_srt(cues)
    assert written.startswith("1\n00:00:01,000 --> 00:00:02,500\n<i>Bonjour</i> & bienvenue\n\n")
    assert parse_srt(written) == [
        cues[0], cues[1], Cue(5.0, 6.0, ("a -> c", "<b>gras</b>")), cues[3]]
    assert to_srt([]) == ""


@pytest.mark.parametrize(("name", "text", "cues"), [
    ("a.vtt", "WEBVTT\n\nNOTE x\n\nid\n00:01.000 --> 00:02.000 align:start\n<i>salut</i> &amp; toi"
              "\n\n00:03.000 --> 00:04.000\nre\n",
     [Cue(1.0, 2.0, ("<i>salut</i> & toi",)), Cue(3.0, 4.0, ("re",))]),
    ("b.srt", "\ufeff 1 \r\n00:00:01,000 --> 00:00:02,000\r\n<i>salut</i>\r\n\r\n"
              "2\r\n00:00:03,000 --> 00:00:04,500\r\nre\r\n",
     [Cue(1.0, 2.0, ("<i>salut</i>",)), Cue(3.0, 4.5, ("re",))]),
])
def test_valid_files_are_read(name: str, text: str, cues: list[Cue]) -> None:
    assert read_subtitles(text.encode(), name) == cues


@pytest.mark.parametrize(("name", "text", "reason", "line"), [
    ("a.vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\n<script>alert(1)</script>\n",
     "balise non autorisée", 4),
    ("b.vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\nun\n00:03.000 --> 00:04.000\ndeux\n",
     "ligne vide", 5),
    ("c.srt", "1\n00:00:01,000 --> 00:00:02,000\n<font color=red><b onclick=x>a</b>\n",
     "balise non autorisée", 3),
    ("d.vtt", "WEBVTT\n\n00:01,000 --> 00:02.000\nvirgule\n", "horodatage invalide", 3),
])
def test_the_validator_refuses_first(name: str, text: str, reason: str, line: int) -> None:
    refused = read_subtitles(text.encode(), name)
    assert isinstance(refused, Refusal)
    assert reason in describe(refused.reason)
    assert refused.line == line


def test_a_file_webvtt_py_reads_differently_is_refused() -> None:
    # The validator reads hours with any number of leading zeros; webvtt-py reads at most
    # ten digits and would drop the cue silently.
    stamp = "0" * 12 + "99:00:01.000"
    text = f"WEBVTT\n\n{stamp} --> {stamp.replace('01.000', '02.000')}\nsalut\n"
    assert parse_webvtt(text) == [Cue(356401.0, 356402.0, ("salut",))]
    refused = read_subtitles(text.encode(), "a.vtt")
    assert isinstance(refused, Refusal)
    assert describe(refused.reason) == _(DISAGREEMENT)
