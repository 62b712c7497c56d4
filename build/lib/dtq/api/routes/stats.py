"""Queue-wide statistics as JSON (GET /stats); /metrics is left for the Prometheus exposition."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from dtq.api.auth import require_operator
from dtq.api.deps import EngineDep
from dtq.api.errors import ERROR_RESPONSES
from dtq.models import QueueStats

router = APIRouter(prefix="/stats", tags=["stats"], responses=ERROR_RESPONSES)


@router.get(
    "",
    dependencies=[Depends(require_operator)],
    responses={403: {"description": "A tenant key: queue-wide stats need the admin key."}},
)
async def get_stats(engine: EngineDep) -> QueueStats:
    """Counts by status, stream length, pending entries, group lag, DLQ depth, totals, workers,
    and the tenants with jobs queued or running."""
    stats = await engine.stats.queue_stats()
    stats.tenants = await engine.tenants.busy()
    return stats
