"""What every test shares.

Password hashing: production hashes new passwords with scrypt N=2^17 (about 128 MiB and
a second of CPU on a busy 2-core machine); the many accounts the tests create use a
cheap cost instead, as test suites do for password hashers. The tests of the cost itself
and of re-hashing on login put the production parameters back
(`tests/unit/test_passwords.py`, `tests/unit/test_accounts.py`); programs the tests
start as subprocesses hash at the production cost.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from replay.domain import passwords

CHEAP = passwords.ScryptParams(n=1 << 10)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "DEFAULT_PARAMS", CHEAP)
        yield
