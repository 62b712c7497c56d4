"""Named queues on the wire: their state and gauges, what purging one did, its retention."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from dtq.models.common import MAX_KEEP_S, JsonNumber, Priority


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


class RetentionPolicy(BaseModel):
    """How many finished jobs a queue keeps and for how long, by kind. Unset (null) fields
    follow the settings (KEEP_SUCCEEDED, KEEP_CANCELED, RESULT_TTL_S); a count of -1 keeps any
    number. Dead jobs are not in it: they stay until retried or deleted."""

    model_config = ConfigDict(extra="forbid")

    succeeded_count: Annotated[int, Field(ge=-1, le=100_000_000), JsonNumber] | None = None
    succeeded_s: Annotated[int, Field(ge=0, le=MAX_KEEP_S), JsonNumber] | None = None
    canceled_count: Annotated[int, Field(ge=-1, le=100_000_000), JsonNumber] | None = None
    canceled_s: Annotated[int, Field(ge=0, le=MAX_KEEP_S), JsonNumber] | None = None


class QueueRetention(BaseModel):
    """A queue's retention: its own policy and what is in force (own values, else defaults)."""

    name: str
    own: RetentionPolicy
    effective: RetentionPolicy
