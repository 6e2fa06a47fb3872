"""The domain's errors: an English message and its values, shown in French at the faces,
and the same after crossing to a worker process."""

from __future__ import annotations

import pickle

import pytest

from replay.domain.captions import CaptionError
from replay.domain.errors import N_, SubtitleError
from replay.domain.transcript import Cue
from replay.domain.webvtt import MAX_CUES, check_cue_limits
from replay.locale import describe

NBSP = "\u00a0"


def _at_line_three() -> SubtitleError:
    return SubtitleError(N_("line {line}: {reason}"), line=3, reason=SubtitleError(
        N_("invalid timestamp “{text}”, expected {expected}"), text="1:2",
        expected="HH:MM:SS.mmm"))


def test_the_message_is_english_in_the_code_and_french_for_people() -> None:
    error = _at_line_three()
    assert str(error) == "line 3: invalid timestamp “1:2”, expected HH:MM:SS.mmm"
    assert describe(error) == (f"ligne 3{NBSP}: horodatage invalide «{NBSP}1:2{NBSP}», "
                               "attendu HH:MM:SS.mmm")


def test_a_message_already_french_passes_unchanged() -> None:
    assert describe(SubtitleError("Fichier {illisible}")) == "Fichier {illisible}"


def test_an_error_keeps_its_values_through_pickle() -> None:
    error = pickle.loads(pickle.dumps(_at_line_three()))
    assert isinstance(error, SubtitleError)
    assert error.values["line"] == 3
    assert describe(error).startswith(f"ligne 3{NBSP}: horodatage invalide")
    cue = pickle.loads(pickle.dumps(CaptionError("repère vide", cue=4)))
    assert (cue.cue, describe(cue)) == (4, "repère vide")


def test_numbers_stay_numbers_in_the_domain_and_are_written_in_french_at_the_face() -> None:
    with pytest.raises(SubtitleError) as refused:
        check_cue_limits(Cue(0.0, 1.0, ("x",)), MAX_CUES + 1, 40_002)
    reason = refused.value.values["reason"]
    assert isinstance(reason, SubtitleError)
    assert (refused.value.values["line"], reason.values["maximum"]) == (40_002, MAX_CUES)
    assert str(refused.value) == "line 40002: over 20000 cues, split the file"
    assert describe(refused.value) == (
        f"ligne 40\u202f002{NBSP}: plus de 20\u202f000{NBSP}repères, découpez le fichier")
    assert describe(SubtitleError(N_("cue {index}: the end must come after the start"),
                                  index=7)).startswith(f"repère 7{NBSP}:")
