"""A bench run's own keys: every script writes under a fresh KEY_PREFIX, and on a server the user
named (REDIS_URL) it removes them when it ends, so that a run leaves nothing behind."""

from __future__ import annotations

from collections import defaultdict

from redis.asyncio import Redis

from dtq.config import Settings
from dtq.queue import Shards
from dtq.redis_client import create_redis

BATCH = 5_000


def _tag(key: str) -> str:
    """A key's hash tag (the part in braces that picks its cluster slot), '' without one."""
    opened = key.find("{")
    closed = key.find("}", opened + 1)
    return key[opened + 1 : closed] if 0 <= opened < closed else ""


async def _remove_on(redis: Redis, prefix: str) -> int:
    """Unlink every key named `<prefix>:...` on one server, a hash tag at a time (so that no
    UNLINK spans two cluster slots); how many."""
    by_tag: dict[str, list[str]] = defaultdict(list)
    async for key in redis.scan_iter(match=f"{prefix}:*", count=BATCH):
        by_tag[_tag(key)].append(key)
    removed = 0
    for keys in by_tag.values():
        for i in range(0, len(keys), BATCH):
            removed += await redis.unlink(*keys[i : i + BATCH])
    return removed


async def remove_run_keys(settings: Settings) -> int:
    """Remove every key under settings.KEY_PREFIX from each server holding the run's shards
    (SHARDS of them; on a cluster, their masters); how many."""
    shards = Shards(settings, lambda tag: create_redis(settings, shard=tag))
    try:
        seen: dict[str, Redis] = {}
        for engine in shards.engines:
            run_id = str((await engine.redis.info("server"))["run_id"])
            seen.setdefault(run_id, engine.redis)
        return sum([await _remove_on(redis, settings.KEY_PREFIX) for redis in seen.values()])
    finally:
        await shards.aclose()
