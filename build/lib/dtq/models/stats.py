"""Queue-wide statistics on the wire."""

from __future__ import annotations

from pydantic import BaseModel, Field

from dtq.models.common import JobStatus, Priority
from dtq.models.tenants import TenantUsage


class QueueStats(BaseModel):
    """Counters and gauges of one queue."""

    jobs_by_status: dict[JobStatus, int]
    stream_length: int = Field(
        description="Entries in the job streams: waiting, running, and acknowledged ones not "
        "yet trimmed (workers trim every second)."
    )
    stream_length_by_priority: dict[Priority, int] = Field(
        description="Entries in each priority level's stream (delivered or not)."
    )
    pending_entries: int = Field(description="Entries delivered to a worker and not yet acked.")
    consumer_group_lag: int = Field(description="Entries not yet delivered to any worker.")
    scheduled: int
    dlq_depth: int
    jobs_created_total: int
    jobs_completed_total: int
    jobs_failed_total: int
    jobs_retried_total: int
    jobs_dead_total: int
    live_workers: int
    tenants: list[TenantUsage] = Field(
        default_factory=list, description="Tenants with jobs queued in lanes or running, by name."
    )
