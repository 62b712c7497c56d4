"""The queue engine: knows Redis, knows nothing of HTTP.

This module's __all__ is the engine's border: the API and the worker import these names and no
others (tests/unit/test_layout.py fails otherwise).
"""

from dtq.queue import shard_views
from dtq.queue.backoff import backoff_ms
from dtq.queue.consumer import Consumer, Settled
from dtq.queue.delivery import Delivery, Entry, Failure
from dtq.queue.engine import Engine
from dtq.queue.events import Position, TenantEvent, split_entry
from dtq.queue.housekeeping import HousekeepingReport
from dtq.queue.keys import Keys
from dtq.queue.resilience import is_redis_failure, raise_if_cancelling, repeat
from dtq.queue.scripts.admit import Admission, NotAdmitted
from dtq.queue.scripts.library import NotReplicatedError
from dtq.queue.shards import ShardCountError, Shards
from dtq.queue.spread import TenantShards
from dtq.queue.tenant_ids import public_id

__all__ = [
    "Admission",
    "Consumer",
    "Delivery",
    "Engine",
    "Entry",
    "Failure",
    "HousekeepingReport",
    "Keys",
    "NotAdmitted",
    "NotReplicatedError",
    "Position",
    "Settled",
    "ShardCountError",
    "Shards",
    "TenantEvent",
    "TenantShards",
    "backoff_ms",
    "shard_views",
    "public_id",
    "is_redis_failure",
    "raise_if_cancelling",
    "repeat",
    "split_entry",
]
