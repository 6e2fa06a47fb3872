"""Cue tags cannot smuggle quotes into attributes; caps on cues; timestamps are ASCII."""

from __future__ import annotations

import pytest

from replay.domain.errors import SubtitleError
from replay.domain.srt import parse_srt
from replay.domain.transcript import Cue
from replay.domain.webvtt import forbidden_tag, parse_webvtt, render_webvtt, sanitise_line
from tests.french import raises_in_french

HOSTILE_TAGS = [
    '<v Jean" onmouseover="alert(1)>',
    "<v Jean' onmouseover='alert(1)>",
    "<lang fr`x>",
    "<v a=b>",
    "<v Tom &amp; Jerry>",
    '<c.x"y>',
    "<c.a'b>",
    "<b.x=1>",
]


@pytest.mark.parametrize("tag", HOSTILE_TAGS)
def test_tags_with_quotes_are_not_kept(tag: str) -> None:
    line = f"{tag}Bonjour</v>"
    assert forbidden_tag(line) == tag
    assert tag not in sanitise_line(line)
    with raises_in_french(SubtitleError, "balise non autorisée"):
        parse_webvtt(f"WEBVTT\n\n00:00.000 --> 00:01.000\n{line}\n", strict_markup=True)
    rendered = render_webvtt([Cue(0.0, 1.0, (line,))])
    assert tag not in rendered  # written as escaped text
    assert parse_webvtt(rendered) == [Cue(0.0, 1.0, (line,))]


@pytest.mark.parametrize("tag", ["<v Jeanne d’Arc>", "<v.loud Marie-Claire>", "<lang en-GB>",
                                 "<c.jaune.gras>"])
def test_ordinary_tags_are_still_kept(tag: str) -> None:
    assert forbidden_tag(f"{tag}Bonjour") is None


@pytest.mark.parametrize("stamp", ["٠٠:٠١.٠٠٠", "00:0١.000", "１２:00.000"])
def test_only_ascii_digits_make_a_timestamp(stamp: str) -> None:
    with raises_in_french(SubtitleError, "horodatage invalide"):
        parse_webvtt(f"WEBVTT\n\n{stamp} --> 00:02.000\nx\n")
    with raises_in_french(SubtitleError, "horodatage invalide"):
        parse_srt(f"1\n{stamp.replace('.', ',')} --> 00:00:02,000\nx\n")


@pytest.mark.parametrize("hours", ["100", "9" * 5000, "0" * 5000 + "100"])
def test_hours_past_99_are_refused_whatever_their_length(hours: str) -> None:
    with raises_in_french(SubtitleError, "démesuré"):
        parse_webvtt(f"WEBVTT\n\n{hours}:00:00.000 --> {hours}:00:01.000\nx\n")
    with raises_in_french(SubtitleError, "démesuré"):
        parse_srt(f"1\n{hours}:00:00,000 --> {hours}:00:01,000\nx\n")


def test_leading_zeros_are_fine() -> None:
    assert parse_webvtt("WEBVTT\n\n0001:00:00.000 --> 0001:00:01.000\nx\n")[0].start == 3600
