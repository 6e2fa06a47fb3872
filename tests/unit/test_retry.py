"""Retry backoff: exponential, capped, jittered, and None once the attempts are used."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.domain.retry import RetryPolicy, next_delay

POLICY = RetryPolicy(max_attempts=6, base_delay=10.0, max_delay=60.0, jitter=0.5)


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (1, 0.0, 10.0),
        (2, 0.0, 20.0),
        (3, 0.0, 40.0),
        (4, 0.0, 60.0),  # capped
        (5, 0.0, 60.0),
        (6, 0.0, None),  # the sixth attempt was the last
        (7, 0.5, None),
        (1, 1.0, 15.0),  # jitter stretches by up to 50 %
        (3, 0.5, 50.0),
        (5, 1.0, 90.0),
    ],
)
def test_next_delay_table(attempt: int, rand: float, expected: float | None) -> None:
    assert next_delay(POLICY, attempt, rand) == expected


def test_a_single_attempt_is_never_retried() -> None:
    assert next_delay(RetryPolicy(max_attempts=1), 1, 0.3) is None


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10**6, base_delay=1.0, max_delay=300.0, jitter=0.0)
    assert next_delay(policy, 10**5, 0.0) == 300.0


@pytest.mark.parametrize(
    ("attempt", "rand"), [(0, 0.5), (-1, 0.5), (1, -0.1), (1, 1.5)])
def test_bad_inputs_are_refused(attempt: int, rand: float) -> None:
    with pytest.raises(ValueError, match=r"attempts|rand"):
        next_delay(POLICY, attempt, rand)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"base_delay": 10.0, "max_delay": 5.0},
     {"jitter": -0.1}])
def test_bad_policies_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        RetryPolicy(**kwargs)


policies = st.builds(
    lambda n, base, extra, jitter: RetryPolicy(n, base, base + extra, jitter),
    st.integers(1, 30), st.floats(0, 1e3), st.floats(0, 1e4), st.floats(0, 2))


@given(policies, st.floats(0, 1), st.integers(1, 60))
def test_backoff_properties(policy: RetryPolicy, rand: float, attempt: int) -> None:
    delay = next_delay(policy, attempt, rand)
    assert (delay is None) == (attempt >= policy.max_attempts)
    if delay is None:
        return
    assert 0 <= delay <= policy.max_delay * (1 + policy.jitter)
    following = next_delay(policy, attempt + 1, rand)
    if following is not None:
        assert following >= delay  # non-decreasing, flat once capped
