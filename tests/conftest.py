"""What every test folder shares: the small generated room recording, made once per run,
and cheap password hashing.

Password hashing: production hashes new passwords with scrypt N=2^17 (about 128 MiB and
a second of CPU on a busy 2-core machine); the many accounts the tests create use a
cheap cost instead, as test suites do for password hashers. The tests of the cost itself
and of re-hashing on login put the production parameters back
(`tests/unit/test_passwords.py`, `tests/unit/test_accounts.py`); programs the tests
start as subprocesses hash at the production cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from replay.domain import passwords
from replay.sample import SampleSession, SampleTruth, build_sample
from tests.store_engines import ENGINES, database_url

CHEAP = passwords.ScryptParams(n=1 << 10)

#: A small room recording shared by the pipeline tests and the organiser journey: two
#: sessions of French speech (espeak-ng) starting late, 2.5 minutes in all.
SMALL_SESSIONS = (
    SampleSession("Premier atelier", 30, 60, late_by=10, paragraphs=2),
    SampleSession("Second atelier", 90, 60, late_by=15, paragraphs=2),
)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "DEFAULT_PARAMS", CHEAP)
        yield


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleTruth:
    return build_sample(tmp_path_factory.mktemp("small"), sessions=SMALL_SESSIONS,
                        duration=150, size=(320, 180), fps=10)


@pytest.fixture(params=ENGINES)
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The ``database_url`` of an empty state store, once per engine (SQLite, PostgreSQL):
    the tests that take it are the store port's acceptance suite."""
    with database_url(request.param, tmp_path) as url:
        yield url
