"""The publication rule: one function decides whether a session goes out, and why not."""

from __future__ import annotations

import pytest

from replay.domain.captions import CaptionStatus
from replay.domain.publication import (
    PublicationRule,
    Release,
    SessionFacts,
    Track,
    automatic_languages,
    decide,
    text_goes_out,
)
from replay.locale import describe

AUTO, CUT, CAPTIONS = (PublicationRule.AUTOMATIQUE, PublicationRule.DECOUPAGE,
                       PublicationRule.SOUS_TITRES)
DRAFTS = (Track("fr"), Track("en"))
FR_ONLY = (Track("fr", CaptionStatus.VALIDE, True), Track("en"))
BOTH = (Track("fr", CaptionStatus.VALIDE, True), Track("en", CaptionStatus.PUBLIE, True))


def facts(processed: bool = True, confirmed: bool = False,
          release: Release = Release.UNDECIDED,
          tracks: tuple[Track, ...] = DRAFTS) -> SessionFacts:
    return SessionFacts(processed, confirmed, release, tracks)


@pytest.mark.parametrize(("rule", "given", "publish", "reason"), [
    (AUTO, facts(), True, ""),
    (AUTO, facts(processed=False), False, "pas encore prêts"),
    (CUT, facts(), False, "Règle «\u00a0après validation du découpage\u00a0»\u00a0: validez "
                          "le découpage de l’enregistrement."),
    (CUT, facts(confirmed=True), True, ""),
    (CAPTIONS, facts(), False, "validez le découpage"),
    (CAPTIONS, facts(confirmed=True), False, "sous-titres français et anglais à valider"),
    (CAPTIONS, facts(confirmed=True, tracks=FR_ONLY), False, "sous-titres anglais à valider"),
    (CAPTIONS, facts(confirmed=True, tracks=BOTH), True, ""),
    # an organiser's decision overrides the rule; what is out stays out
    (CAPTIONS, facts(release=Release.REQUESTED), True, ""),
    (CUT, facts(release=Release.RELEASED), True, ""),
    # a withdrawn session stays down whatever the rule
    (AUTO, facts(release=Release.WITHDRAWN), False, "Retirée par un organisateur"),
    (CAPTIONS, facts(release=Release.REQUESTED, processed=False), False, "pas encore prêts"),
])
def test_decide(rule: PublicationRule, given: SessionFacts, publish: bool,
                reason: str) -> None:
    decision = decide(rule, given)
    said = describe(decision.reason) if decision.reason else ""
    assert decision.publish is publish
    assert reason in said
    assert bool(said) is not publish
    assert decision.held_by_rule is said.startswith("Règle")


def test_a_released_session_keeps_its_validated_text_while_a_correction_is_in_review() -> None:
    in_review = Track("fr", CaptionStatus.RELECTURE, reviewed=True)
    assert not text_goes_out(CAPTIONS, in_review)
    assert text_goes_out(CUT, in_review)
    assert text_goes_out(CAPTIONS, Track("fr", CaptionStatus.VALIDE, True))


def test_each_track_keeps_its_automatic_label_until_a_person_reviewed_it() -> None:
    assert automatic_languages(DRAFTS) == {"fr", "en"}
    assert automatic_languages(FR_ONLY) == {"en"}
    assert automatic_languages(BOTH) == set()
