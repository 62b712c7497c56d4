import random

import pytest

from dtq.queue.backoff import backoff_cap_ms, backoff_ms


@pytest.mark.parametrize(
    ("failures", "cap"), [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (60, 1000)]
)
def test_cap_doubles_up_to_the_maximum(failures: int, cap: int) -> None:
    assert backoff_cap_ms(failures, 100, 1000) == cap


def test_full_jitter_stays_within_zero_and_cap() -> None:
    rng = random.Random(7)
    delays = [backoff_ms(3, 100, 10_000, rng) for _ in range(2000)]
    assert min(delays) >= 0
    assert max(delays) <= 400
    # Full jitter spreads over the whole range rather than clustering at the cap.
    assert min(delays) < 40 and max(delays) > 360


def test_huge_failure_counts_do_not_overflow() -> None:
    assert backoff_cap_ms(10_000, 1, 60_000) == 60_000
