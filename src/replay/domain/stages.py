"""The states a recording's stages and its cut plan's review go through."""

from __future__ import annotations

from enum import StrEnum


class StageStatus(StrEnum):
    """A work stage of a recording or a session (audio, speech map, plan, media, speech).
    The ``publish`` stage holds a `publication.Release` instead."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PlanReview(StrEnum):
    """What an organiser did with a recording's cut plan (nothing yet: no review)."""

    EDITED = "edited"  # a boundary moved: the plan waits for a confirmation
    CONFIRMED = "confirmed"  # validated as it is
