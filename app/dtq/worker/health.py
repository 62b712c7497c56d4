"""`python -m dtq.worker.health`: a container's healthcheck for its worker. Exit status 0 when a
worker on this host (its hostname) heartbeated within three heartbeat intervals, 1 when none did
or Redis cannot be reached."""

from __future__ import annotations

import asyncio
import socket
import sys

from redis.exceptions import RedisError

from dtq.config import Settings, load_service_settings
from dtq.errors import SettingsError
from dtq.queue import Engine
from dtq.redis_client import create_redis


async def live_here(settings: Settings, host: str) -> bool:
    """Whether a live worker reports `host` as its host."""
    redis = create_redis(settings)
    try:
        workers = await Engine(redis, settings).workers.all()
    finally:
        await redis.aclose()
    return any(w.alive and w.host == host for w in workers.data)


def main() -> int:
    """0 healthy, 1 not (with the reason on stderr), 2 bad settings."""
    try:
        settings = load_service_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host = socket.gethostname()
    try:
        ok = asyncio.run(live_here(settings, host))
    except (RedisError, OSError) as exc:
        print(f"unhealthy: redis: {type(exc).__name__}", file=sys.stderr)
        return 1
    if not ok:
        print(f"unhealthy: no live worker on {host}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
