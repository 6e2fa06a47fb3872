"""Retry backoff for jobs: exponential, capped, with jitter. Pure: the caller gives the
random draw, so the same inputs always give the same delay.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Beyond this many doublings the delay is at its cap anyway; it keeps 2.0**n finite.
_MAX_DOUBLINGS = 1000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failing job is retried.

    ``max_attempts`` counts every run, the first one included; ``jitter`` is the largest
    extra fraction added to a delay (0.1: up to 10 % longer), so that jobs failing together
    do not all come back at the same instant.
    """

    max_attempts: int = 5
    base_delay: float = 10.0
    max_delay: float = 600.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if not 0 <= self.base_delay <= self.max_delay:
            raise ValueError(
                f"need 0 <= base_delay <= max_delay, got {self.base_delay} and {self.max_delay}")
        if self.jitter < 0:
            raise ValueError(f"jitter must not be negative, not {self.jitter}")


def next_delay(policy: RetryPolicy, attempt: int, rand: float) -> float | None:
    """Seconds to wait before the run after ``attempt`` (1-based) failed, or None when
    that was the last attempt the policy allows.

    The delay doubles from ``base_delay`` each attempt up to ``max_delay``, then is
    stretched by ``jitter * rand``, ``rand`` being a uniform draw in [0, 1].
    """
    if attempt < 1:
        raise ValueError(f"attempts count from 1, not {attempt}")
    if not 0.0 <= rand <= 1.0:
        raise ValueError(f"rand must lie in [0, 1], not {rand}")
    if attempt >= policy.max_attempts:
        return None
    doublings = min(attempt - 1, _MAX_DOUBLINGS)
    delay = min(policy.max_delay, policy.base_delay * 2.0**doublings)
    return delay * (1.0 + policy.jitter * rand)
