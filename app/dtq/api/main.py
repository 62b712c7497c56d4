"""create_app(settings): the FastAPI application and its lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from redis.exceptions import RedisError

from dtq.api.access_log import TALLY, quiet_reads
from dtq.api.docs import install_docs
from dtq.api.errors import FullRefusals, install_error_handlers
from dtq.api.feed import Hub
from dtq.api.limits import RequestLimits
from dtq.api.metrics import ApiMetrics, RequestMetrics
from dtq.api.routes import (
    admin,
    dev,
    dlq,
    feed,
    health,
    index,
    jobs,
    metrics,
    queues,
    schedules,
    stats,
    tenant,
    workers,
)
from dtq.api.routes.feed import with_feed_schemas
from dtq.api.submit_path import PATH as FAST_PATH
from dtq.api.submit_path import FastPathApp, FastSubmit
from dtq.config import Settings, production_problems
from dtq.errors import SettingsError
from dtq.queue import Shards, repeat
from dtq.redis_client import create_redis
from dtq.tracing import setup_tracing

logger = logging.getLogger(__name__)


def _operation_id(route: APIRoute) -> str:
    """Stable OpenAPI operation ids, "{tag}-{name}", for generated clients."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def _route(router: APIRouter, method: str, path: str) -> APIRoute:
    """A router's route for a method and path."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ()):
            return route
    raise LookupError(f"no route {method} {path}")


def create_app(settings: Settings) -> FastAPI:
    """The control plane for the given settings (REDIS_URL must be set).

    Raises SettingsError for settings unfit for production (AUTH_DISABLED, default secrets).
    """
    problems = production_problems(settings)
    if problems:
        raise SettingsError("refusing to serve production: " + "; ".join(problems))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        quiet_reads()  # after uvicorn has set up its loggers
        shards = Shards(settings, lambda tag: create_redis(settings, shard=tag))
        app.state.shards = shards
        app.state.engine = shards.control  # tenants, keys, schedules, workers
        app.state.hubs = [Hub(e, settings.FEED_BUFFER_BYTES) for e in shards.engines]
        try:
            await shards.setup()
        except RedisError as exc:
            logger.warning("redis not ready at startup; /health/ready will say so error=%s", exc)

        async def sample() -> float:
            await shards.each(lambda e: e.history.record())
            return settings.HISTORY_SAMPLE_S

        sampler = asyncio.create_task(repeat("stats history sample", sample, carry_on=True))
        try:
            yield
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            for hub in app.state.hubs:
                await hub.close()
            await shards.aclose()
            TALLY.flush()  # the last window's submissions

    app = FastPathApp(
        title="DTQ",
        summary="A distributed job orchestrator on Redis Streams.",
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs else None,
    )
    if settings.api_docs:
        install_docs(app)
    with_feed_schemas(app)
    app.state.settings = settings
    routes = [index, jobs, dlq, schedules, tenant, health, stats, queues, admin, feed, workers]
    for module in [*routes, metrics, *([dev] if settings.dev_routes else [])]:
        app.include_router(module.router)
    # Callers are authenticated and bodies checked before a route parses them (CORS wraps it,
    # so browsers see those answers too).
    app.add_middleware(RequestLimits, settings=settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.FRONTEND_ORIGIN],
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
    )
    tracing = setup_tracing(settings, "dtq-api")
    if tracing:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="health/live,health/ready,metrics")
    app.state.metrics = ApiMetrics()
    app.state.full_refusals = FullRefusals()
    if not tracing:  # plain single submissions skip the framework (with tracing, they need spans)
        route = _route(jobs.router, "POST", FAST_PATH)
        app.fast_submit = FastSubmit(app.framework, settings, route, app.state.metrics)
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)  # outermost: every answer
    install_error_handlers(app)
    return app
