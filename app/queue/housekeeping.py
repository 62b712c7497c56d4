"""Periodic upkeep any worker may run (one at a time): prune the job index, old consumers and
stale worker records, and free tenants' concurrency slots that no running job holds."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from app.config import Settings
from app.queue.keys import Keys
from app.queue.scripts import Scripts

logger = logging.getLogger(__name__)

INDEX_SCAN = 5000


@dataclass(slots=True)
class Upkeep:
    index_pruned: int = 0
    consumers_removed: int = 0
    workers_forgotten: int = 0
    slots_freed: int = 0


async def run_housekeeping(
    redis: Redis, keys: Keys, scripts: Scripts, settings: Settings
) -> Upkeep | None:
    """Run one round of upkeep unless another worker holds the lock; returns what was done."""
    lock_ms = int(settings.HOUSEKEEPING_INTERVAL_S * 1000)
    if not await redis.set(keys.housekeeping_lock, "1", nx=True, px=lock_ms):
        return None
    upkeep = Upkeep()
    upkeep.index_pruned = await _prune_index(redis, keys, keys.index)
    for tenant in cast(list[str], await redis.hkeys(keys.tenants)):
        upkeep.index_pruned += await _prune_index(redis, keys, keys.tenant_index(tenant))
    upkeep.consumers_removed = await _prune_consumers(redis, keys, settings)
    seconds, _ = await redis.time()
    upkeep.workers_forgotten = await redis.zremrangebyscore(
        keys.workers, "-inf", (seconds - 3600) * 1000
    )
    upkeep.slots_freed = await scripts["repair_slots"]([keys.lanes], [keys.job_prefix])
    logger.info(
        "housekeeping index_pruned=%d consumers_removed=%d workers_forgotten=%d slots_freed=%d",
        upkeep.index_pruned,
        upkeep.consumers_removed,
        upkeep.workers_forgotten,
        upkeep.slots_freed,
    )
    return upkeep


async def _prune_index(redis: Redis, keys: Keys, index: str) -> int:
    """Drop ids of expired jobs among an index's oldest INDEX_SCAN (expiry is oldest-first)."""
    ids = cast(list[str], await redis.zrange(index, 0, INDEX_SCAN - 1))
    if not ids:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.exists(keys.job(job_id))
        exists = await pipe.execute()
    gone = [job_id for job_id, e in zip(ids, exists, strict=True) if not e]
    if gone:
        await redis.zrem(index, *gone)
    return len(gone)


async def _prune_consumers(redis: Redis, keys: Keys, settings: Settings) -> int:
    """Remove group consumers that own no entries and were idle for 10 visibility timeouts.

    A consumer with pending entries is never removed: XGROUP DELCONSUMER would drop them.
    """
    idle_limit = 10 * settings.VISIBILITY_TIMEOUT_MS
    removed = 0
    for stream in keys.streams:
        consumers: list[dict[str, Any]] = await redis.xinfo_consumers(
            stream, settings.CONSUMER_GROUP
        )
        for c in consumers:
            if c["pending"] == 0 and c["idle"] > idle_limit:
                await redis.xgroup_delconsumer(stream, settings.CONSUMER_GROUP, c["name"])
                removed += 1
    return removed
