"""Queue metrics as JSON."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import EngineDep
from app.models import QueueMetrics

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get("")
async def get_metrics(engine: EngineDep) -> QueueMetrics:
    """Counts by status, stream length, pending entries, group lag, DLQ depth, totals, workers."""
    return await engine.inspector.metrics()
