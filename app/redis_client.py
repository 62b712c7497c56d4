"""The Redis connection pool factory (asyncio redis-py with hiredis)."""

from __future__ import annotations

from redis.asyncio import Redis

from app.config import Settings

SOCKET_TIMEOUT_S = 15.0


def create_redis(settings: Settings, url: str | None = None) -> Redis:
    """An asyncio client for REDIS_URL (redis://, rediss:// with TLS, user:password@ for ACLs).

    :param url: overrides REDIS_URL, e.g. for an embedded server.
    """
    target = url or settings.REDIS_URL
    if not target:
        raise ValueError("REDIS_URL is not set")
    return Redis.from_url(
        target,
        decode_responses=True,
        max_connections=settings.REDIS_MAX_CONNECTIONS,
        health_check_interval=30,
        socket_keepalive=True,
        # A dead connection errors out instead of hanging: no command (nor blocking read, which
        # waits at most 1 s) takes this long on a live server.
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=5,
    )
