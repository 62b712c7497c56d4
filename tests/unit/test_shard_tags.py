"""Shard tags spread evenly over the Cluster slot space whatever their number, a larger number
keeps the tags of a smaller one, and RATE_LIMITS are shared by the shards."""

from __future__ import annotations

import pytest
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from dtq.config import Settings
from dtq.queue.shards import shard_tags


def _slots(tags: tuple[str, ...]) -> list[int]:
    return sorted(key_slot(f"{{{t}}}".encode()) for t in tags)


@pytest.mark.parametrize("count", [2, 4, 8, 16, 64])
def test_the_tags_spread_evenly_round_the_slots(count: int) -> None:
    tags = shard_tags("0", count)
    assert tags[0] == "0"  # one shard keeps the names DTQ always had
    assert len(set(tags)) == count
    slots = _slots(tags)
    gaps = [
        b - a for a, b in zip(slots, [*slots[1:], slots[0] + REDIS_CLUSTER_HASH_SLOTS], strict=True)
    ]
    even = REDIS_CLUSTER_HASH_SLOTS / count
    assert all(0.85 * even <= gap <= 1.15 * even for gap in gaps), gaps  # (64: 228-281)


def test_eight_shards_spread_over_three_masters_splitting_the_slots() -> None:
    thirds = [0, 0, 0]
    for slot in _slots(shard_tags("0", 8)):
        thirds[slot * 3 // REDIS_CLUSTER_HASH_SLOTS] += 1
    assert sorted(thirds) == [2, 3, 3]


def test_a_larger_number_keeps_the_tags_of_a_smaller_one() -> None:
    """SHARDS can grow: shard i keeps its tag (and its tenants' jobs their keys)."""
    largest = shard_tags("0", 64)
    for count in (1, 2, 3, 5, 8, 13, 32):
        assert shard_tags("0", count) == largest[:count]


def test_tags_are_the_same_every_time() -> None:
    shard_tags.cache_clear()
    assert shard_tags("7", 8) == shard_tags.__wrapped__("7", 8)
    assert shard_tags("7", 8)[0] == "7"


def test_rate_limits_are_shared_by_the_shards() -> None:
    one = Settings(_env_file=None, RATE_LIMITS="mail=10/s")  # type: ignore[call-arg]
    four = Settings(_env_file=None, RATE_LIMITS="mail=10/s", SHARDS=4)  # type: ignore[call-arg]
    assert one.rate_limits == {"mail": 100}
    assert four.rate_limits == {"mail": 400}  # 2.5/s on each of 4 shards: 10/s in all
