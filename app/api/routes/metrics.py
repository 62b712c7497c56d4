"""Queue metrics as JSON."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.auth import require_operator
from app.api.deps import EngineDep
from app.api.errors import ERROR_RESPONSES
from app.models import QueueMetrics

router = APIRouter(prefix="/metrics", tags=["metrics"], responses=ERROR_RESPONSES)


@router.get(
    "",
    dependencies=[Depends(require_operator)],
    responses={403: {"description": "A tenant key: queue-wide metrics need the admin key."}},
)
async def get_metrics(engine: EngineDep) -> QueueMetrics:
    """Counts by status, stream length, pending entries, group lag, DLQ depth, totals, workers,
    and the tenants with jobs queued or running."""
    metrics = await engine.inspector.metrics()
    metrics.tenants = await engine.tenants.busy()
    return metrics
