"""Retry delays: exponential backoff with full jitter."""

from __future__ import annotations

import random


def backoff_cap_ms(failures: int, initial_ms: int, max_ms: int) -> int:
    """The upper bound of the delay after the `failures`-th failure: min(max, initial·2^(n-1))."""
    exponent = min(max(failures - 1, 0), 62)
    return min(max_ms, initial_ms * (1 << exponent))


def backoff_ms(
    failures: int, initial_ms: int, max_ms: int, rng: random.Random | None = None
) -> int:
    """A delay drawn uniformly from [0, cap] (full jitter), so retrying workers spread out."""
    cap = backoff_cap_ms(failures, initial_ms, max_ms)
    return (rng or random).randint(0, cap)
