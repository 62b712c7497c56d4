"""create_redis reads a Sentinel URL's sentinels, master name, credentials and db, and refuses
one without a master name; plain URLs get the slot-following connection."""

from __future__ import annotations

import pytest

from dtq.config import Settings
from dtq.redis_client import SentinelMaster, create_redis
from dtq.redis_topology import SlotConnection


def settings(url: str) -> Settings:
    return Settings(_env_file=None, REDIS_URL=url)  # type: ignore[call-arg]


def test_a_sentinel_url_names_its_sentinels_master_and_credentials() -> None:
    url = "redis+sentinel://app:s%40cret@10.0.0.1:26380,10.0.0.2/orders/2?sentinel_password=x"
    client = create_redis(settings(url))
    assert isinstance(client, SentinelMaster)
    pool = client.connection_pool
    assert pool.service_name == "orders"  # type: ignore[attr-defined]
    kwargs = pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("app", "s@cret", 2)
    sentinels = client.dtq_sentinel.sentinels
    addresses = [(s.connection_pool.connection_kwargs["host"],
                  s.connection_pool.connection_kwargs["port"]) for s in sentinels]  # fmt: skip
    assert addresses == [("10.0.0.1", 26380), ("10.0.0.2", 26379)]
    assert sentinels[0].connection_pool.connection_kwargs["password"] == "x"


@pytest.mark.parametrize("url", ["redis+sentinel://10.0.0.1:26379/", "redis+sentinel:///orders"])
def test_a_sentinel_url_without_hosts_or_master_name_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="master name"):
        create_redis(settings(url))


def test_a_plain_url_follows_the_node_that_serves_dtqs_slot() -> None:
    client = create_redis(settings("redis://127.0.0.1:6390/0"))
    assert issubclass(client.connection_pool.connection_class, SlotConnection)
    unix = create_redis(settings("unix:///tmp/redis.sock"))
    assert not issubclass(unix.connection_pool.connection_class, SlotConnection)
