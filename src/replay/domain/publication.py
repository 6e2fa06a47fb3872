"""Whether a session goes public, and if not, what holds it back. Pure logic, no I/O.

Each event has a publication rule, chosen by its organisers:

- « automatique »: a session goes out as soon as its video and captions are made;
- « après validation du découpage » (the default for new events): once an organiser has
  validated the cut plan of its recording;
- « après validation des sous-titres »: once the cut plan is validated and a person has
  validated the captions of every language.

An organiser's explicit decision overrides the rule: « Publier » on the dashboard,
`replay process` without ``--review``, `replay publish`. A session already out stays out
(a correction in review does not take it down); one an organiser withdrew stays down
until an organiser publishes it again. `decide` is the one place that says so: the
pipeline's publish step and the dashboard both ask it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from replay.domain.captions import CaptionStatus
from replay.domain.errors import N_, Listed, ReplayError


class PublicationRule(StrEnum):
    AUTOMATIQUE = "automatique"
    DECOUPAGE = "apres_decoupage"
    SOUS_TITRES = "apres_sous_titres"


DEFAULT_RULE = PublicationRule.DECOUPAGE

#: Each rule as people read it (English messages, translated where they are shown).
RULE_LABELS = {
    PublicationRule.AUTOMATIQUE: N_("automatic"),
    PublicationRule.DECOUPAGE: N_("after the cut plan is validated"),
    PublicationRule.SOUS_TITRES: N_("after the subtitles are validated"),
}

#: Each language's name inside a sentence (English messages).
LANGUAGE_NAMES = {"fr": N_("french"), "en": N_("english")}


class Release(StrEnum):
    """What people last decided about a session (the store's ``publish`` stage)."""

    UNDECIDED = ""
    REQUESTED = "requested"  # an organiser asked for it: the rule does not hold it back
    RELEASED = "done"  # it is out
    WITHDRAWN = "unpublished"  # an organiser took it down


#: Caption statuses a person reached by validating the track.
VALIDATED = frozenset({CaptionStatus.VALIDE, CaptionStatus.PUBLIE})


@dataclass(frozen=True, slots=True)
class Track:
    """One language's captions of a session."""

    lang: str
    status: CaptionStatus = CaptionStatus.BROUILLON
    reviewed: bool = False  # a person has validated this track (at some version)

    @property
    def validated(self) -> bool:
        return self.status in VALIDATED


@dataclass(frozen=True, slots=True)
class SessionFacts:
    processed: bool  # its video and its captions are made
    plan_confirmed: bool  # an organiser validated its recording's cut plan
    release: Release
    tracks: tuple[Track, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    publish: bool
    #: What holds the session back (None if nothing), shown with `replay.locale.describe`.
    reason: ReplayError | None
    held_by_rule: bool = False  # the event's rule holds it (an organiser may override)


def parse_rule(value: object) -> PublicationRule | None:
    try:
        return PublicationRule(str(value))
    except ValueError:
        return None


def decide(rule: PublicationRule, facts: SessionFacts) -> Decision:
    """Whether the session goes out now, and if not, why (see the module's doc)."""
    if not facts.processed:
        return Decision(False, ReplayError(
            N_("Processing: the video and the subtitles are not ready yet.")))
    if facts.release is Release.WITHDRAWN:
        return Decision(False, ReplayError(
            N_("Withdrawn by an organiser: “Publish” puts it back online.")))
    if facts.release in (Release.REQUESTED, Release.RELEASED):
        return Decision(True, None)
    reason = rule_holds(rule, facts)
    return Decision(reason is None, reason, held_by_rule=reason is not None)


def rule_holds(rule: PublicationRule, facts: SessionFacts) -> ReplayError | None:
    """The reason the event's rule holds the session back, or None."""
    if rule is PublicationRule.AUTOMATIQUE:
        return None
    label = ReplayError(RULE_LABELS[rule])
    if not facts.plan_confirmed:
        return ReplayError(N_("Rule “{rule}”: validate the recording's cut plan."), rule=label)
    missing = unvalidated(facts.tracks)
    if rule is PublicationRule.SOUS_TITRES and missing:
        names = [ReplayError(LANGUAGE_NAMES[lang]) if lang in LANGUAGE_NAMES else lang
                 for lang in missing]
        return ReplayError(N_("Rule “{rule}”: {languages} subtitles to validate."), rule=label,
                           languages=_and(names))
    return None


def _and(items: Sequence[object]) -> object:
    """`items` said as a list: « a, b and c »."""
    if len(items) < 2:
        return Listed(items)
    return ReplayError(N_("{items} and {last}"), items=Listed(items[:-1]), last=items[-1])


def unvalidated(tracks: Sequence[Track]) -> list[str]:
    return [track.lang for track in tracks if not track.validated]


def text_goes_out(rule: PublicationRule, track: Track) -> bool:
    """Whether the track's current version may be published as it is: any version where
    the rule publishes unreviewed captions, only a validated one where it waits for them
    (a released session keeps its validated text while a correction is in review)."""
    return rule is not PublicationRule.SOUS_TITRES or track.validated


def automatic_languages(tracks: Sequence[Track]) -> frozenset[str]:
    """The tracks labelled « générés automatiquement »: those no person has validated."""
    return frozenset(track.lang for track in tracks if not track.reviewed)
