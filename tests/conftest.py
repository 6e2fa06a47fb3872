"""Shared by every test folder: the small generated room recording, made once per run."""

from __future__ import annotations

import pytest

from replay.sample import SampleSession, SampleTruth, build_sample

#: A small room recording shared by the pipeline tests and the organiser journey: two
#: sessions of French speech (espeak-ng) starting late, 2.5 minutes in all.
SMALL_SESSIONS = (
    SampleSession("Premier atelier", 30, 60, late_by=10, paragraphs=2),
    SampleSession("Second atelier", 90, 60, late_by=15, paragraphs=2),
)


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleTruth:
    return build_sample(tmp_path_factory.mktemp("small"), sessions=SMALL_SESSIONS,
                        duration=150, size=(320, 180), fps=10)
