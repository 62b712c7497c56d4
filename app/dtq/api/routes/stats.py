"""Queue-wide statistics as JSON (GET /stats); /metrics is left for the Prometheus exposition."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from dtq.api.auth import require_operator
from dtq.api.deps import ShardsDep
from dtq.api.errors import ERROR_RESPONSES
from dtq.models import History, QueueStats
from dtq.queue import shard_views

router = APIRouter(prefix="/stats", tags=["stats"], responses=ERROR_RESPONSES)


@router.get(
    "",
    dependencies=[Depends(require_operator)],
    responses={403: {"description": "A tenant key: queue-wide stats need the admin key."}},
)
async def get_stats(shards: ShardsDep) -> QueueStats:
    """Counts by status, stream length, pending entries, group lag, DLQ depth, totals, workers,
    and the tenants with jobs queued or running."""
    return await shard_views.all_stats(shards)


@router.get(
    "/history",
    dependencies=[Depends(require_operator)],
    responses={403: {"description": "A tenant key: queue-wide stats need the admin key."}},
)
async def get_history(
    shards: ShardsDep,
    window: Annotated[int, Query(ge=10, le=86_400, description="Seconds back from now.")] = 900,
    step: Annotated[int, Query(ge=5, le=3600, description="Seconds per point.")] = 5,
) -> History:
    """Rates (enqueued, started, succeeded, failed, retried, dead, canceled per second), pending
    jobs per priority, lag, oldest pending age and wait/run latency percentiles, one point per
    `step`: 5 s samples are kept for an hour, 1 min samples for a day (so a step under a minute
    needs a window of an hour or less)."""
    parts = await shards.each(lambda e: e.history.window(window, step))
    return shard_views.merge_history(parts)
