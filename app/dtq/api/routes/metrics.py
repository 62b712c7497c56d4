"""GET /metrics: Prometheus's text format (see dtq.api.metrics for what it holds)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from dtq.api.auth import AdminCredentials, require_admin
from dtq.api.deps import SettingsDep, ShardsDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, responses={401: {"description": "No admin key."}})
async def metrics(
    request: Request, shards: ShardsDep, settings: SettingsDep, credentials: AdminCredentials
) -> Response:
    """Prometheus metrics of this API process and of the queue. Needs the admin key (as a bearer
    token: Prometheus's `authorization` setting) unless METRICS_PUBLIC or AUTH_DISABLED."""
    if not (settings.METRICS_PUBLIC or settings.AUTH_DISABLED):
        await require_admin(credentials, settings, request)
    state = request.app.state
    try:
        clients = sum(hub.clients for hub in state.hubs)
        await state.metrics.refresh(shards, settings, clients)
    except RedisError:  # this process's own metrics still count: the queue's are left out
        state.metrics.queue.unavailable()
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
