"""Stats history on the wire (GET /stats/history): rates, gauges and latencies per step."""

from __future__ import annotations

from pydantic import BaseModel, Field

from dtq.models.common import Priority


class HistoryPoint(BaseModel):
    """One step: rates (jobs per second over the step), gauges at its end, latencies of the
    jobs that started or succeeded during it."""

    at: int = Field(description="End of the step, ms since the epoch (Redis time).")
    enqueued: float
    started: float
    succeeded: float
    failed: float = Field(description="Failed attempts (retried or dead) per second.")
    retried: float
    dead: float
    canceled: float
    pending_by_priority: dict[Priority, int] = Field(
        description="Jobs waiting for a worker, over every queue."
    )
    running: int
    lag: int = Field(description="Stream entries not yet delivered to any worker.")
    oldest_pending_age_ms: int | None = Field(
        description="Age of the oldest job not yet delivered (null: none)."
    )
    wait_p50_ms: float | None = Field(description="Pending to started, median (null: none).")
    wait_p99_ms: float | None
    run_p50_ms: float | None = Field(description="Started to succeeded, median (null: none).")
    run_p99_ms: float | None


class History(BaseModel):
    """A window of history at one step."""

    window_s: int
    step_s: int
    data: list[HistoryPoint]
