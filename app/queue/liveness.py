"""Worker heartbeats: who is alive, on the Redis clock."""

from __future__ import annotations

from redis.asyncio import Redis

from app.queue.keys import Keys
from app.queue.scripts import Scripts


async def heartbeat(
    redis: Redis, keys: Keys, scripts: Scripts, name: str, ttl_s: int, info: dict[str, str | int]
) -> int:
    """Mark the worker alive and refresh its info hash; returns the Redis time in ms."""
    fields: list[str | int] = []
    for field, value in info.items():
        fields += (field, value)
    result: int = await scripts["heartbeat"](
        [keys.workers, keys.worker(name)], [name, ttl_s, *fields]
    )
    return result


async def forget(redis: Redis, keys: Keys, name: str) -> None:
    """Remove a stopping worker from the live set."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrem(keys.workers, name)
        pipe.delete(keys.worker(name))
        await pipe.execute()
