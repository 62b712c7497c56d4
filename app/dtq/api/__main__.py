"""`dtq api` (or `python -m dtq.api`): serve the control plane with uvicorn on HOST:PORT."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from redis.exceptions import RedisError
from uvicorn.supervisors import Multiprocess

from dtq.api.http_protocol import ServerConfig
from dtq.api.main import create_app
from dtq.config import Settings, configure_logging, load_service_settings
from dtq.errors import SettingsError
from dtq.queue import Shards
from dtq.redis_client import create_redis

# uvicorn.run's exit status when the server could not start (e.g. the port is taken).
STARTUP_FAILURE = 3
# How long the API waits for Redis to check SHARDS before it starts anyway.
SHARD_CHECK_S = 3.0


def app_from_environment() -> FastAPI:
    """The application for settings read from the environment (uvicorn's factory when
    API_WORKERS > 1: each worker process builds its own)."""
    settings = load_service_settings()
    configure_logging(settings.LOG_LEVEL, settings, service="dtq-api")
    return create_app(settings)


async def _check_shards(settings: Settings) -> None:
    """ShardCountError (a SettingsError) when SHARDS differs from the stored count; nothing when
    Redis cannot be reached yet (the app checks again at startup; /health/ready tells)."""
    shards = Shards(settings, lambda tag: create_redis(settings, shard=tag))
    try:
        await asyncio.wait_for(shards.check_count(), SHARD_CHECK_S)
    except (RedisError, TimeoutError):
        pass
    finally:
        await shards.aclose()


def _serve(settings: Settings, app: FastAPI) -> None:
    options: dict[str, Any] = {
        "host": settings.HOST,
        "port": settings.PORT,
        "log_level": settings.LOG_LEVEL.lower(),
        "timeout_keep_alive": settings.HTTP_KEEPALIVE_S,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.FORWARDED_ALLOW_IPS,
        # on SIGTERM: stop accepting, finish what is in flight, then close what is left
        "timeout_graceful_shutdown": max(1, int(settings.SHUTDOWN_GRACE_S)),
        "max_header_bytes": settings.MAX_HEADER_BYTES,
        "request_timeout_s": settings.REQUEST_TIMEOUT_S,
    }
    if settings.json_logs:  # uvicorn's own lines go through the JSON handler too
        options["log_config"] = None
    if settings.API_WORKERS > 1:
        config = ServerConfig(
            "dtq.api.__main__:app_from_environment",
            factory=True,
            workers=settings.API_WORKERS,
            **options,
        )
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        server = uvicorn.Server(ServerConfig(app, **options))
        server.run()
        if not server.started:  # e.g. the port is taken: uvicorn.run's exit status
            raise SystemExit(STARTUP_FAILURE)


def main(argv: list[str] | None = None) -> int:
    """Serve until stopped; exit status 2 for bad settings. Takes no arguments (settings are
    environment variables)."""
    if argv:
        print(
            f"error: dtq api takes no arguments (got {' '.join(argv)}); settings are "
            "environment variables, e.g. PORT=9000 dtq api",
            file=sys.stderr,
        )
        return 2
    try:
        settings = load_service_settings()
        configure_logging(settings.LOG_LEVEL, settings, service="dtq-api")
        app = create_app(settings)  # refuses bad settings here, before any process starts
        if settings.REDIS_URL:
            asyncio.run(_check_shards(settings))
        _serve(settings, app)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
