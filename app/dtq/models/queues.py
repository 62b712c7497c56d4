"""Named queues on the wire: their state and gauges, and what purging one did."""

from __future__ import annotations

from pydantic import BaseModel, Field

from dtq.models.common import Priority


class QueueInfo(BaseModel):
    """One named queue: whether it is paused, its jobs waiting and taken, who serves it."""

    name: str
    paused: bool = Field(description="No worker starts the queue's jobs while it is paused.")
    pending: int = Field(
        description="Jobs waiting for a worker: on the queue's streams, in its tenants' lanes, "
        "or held while it is paused (scheduled, waiting and retrying jobs are not counted)."
    )
    pending_by_priority: dict[Priority, int]
    running: int = Field(description="Jobs taken by a worker that have not settled.")
    workers: int = Field(description="Live workers listening to the queue.")
    task_types: list[str] = Field(description="Task types live workers serve on the queue.")
    oldest_pending_at: int | None = Field(
        default=None,
        description="When the oldest job on the queue's streams not yet delivered to a worker "
        "was added (ms since the epoch; null: none). Lanes and held jobs are not looked at.",
    )


class QueueList(BaseModel):
    """Every queue in use (`default` always is)."""

    data: list[QueueInfo]
    count: int


class QueuePurged(BaseModel):
    """What purging a queue's pending jobs did."""

    name: str
    purged: int = Field(description="Pending jobs canceled (reason `purged`).")
