"""Shard tags spread over the Cluster slot space, and what SHARDS changes in the settings."""

from __future__ import annotations

import pytest
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from dtq.config import Settings
from dtq.queue.shards import shard_tags


@pytest.mark.parametrize("count", [1, 2, 3, 8, 16, 64])
def test_each_tag_falls_in_its_own_equal_range_of_slots(count: int) -> None:
    tags = shard_tags("0", count)
    assert tags[0] == "0"  # one shard keeps the names DTQ always had
    assert len(set(tags)) == count
    width = REDIS_CLUSTER_HASH_SLOTS / count
    ranges = {int(key_slot(f"{{{t}}}".encode()) // width) for t in tags}
    assert ranges == set(range(count))


def test_tags_are_the_same_every_time() -> None:
    assert shard_tags("7", 8) == shard_tags("7", 8)
    assert shard_tags("7", 8)[0] == "7"


def test_rate_limits_are_shared_by_the_shards() -> None:
    one = Settings(_env_file=None, RATE_LIMITS="mail=10/s")  # type: ignore[call-arg]
    four = Settings(_env_file=None, RATE_LIMITS="mail=10/s", SHARDS=4)  # type: ignore[call-arg]
    assert one.rate_limits == {"mail": 100}
    assert four.rate_limits == {"mail": 400}  # 2.5/s on each of 4 shards: 10/s in all
