"""Workers on the wire (GET /workers): who heartbeats, what they serve, how busy they are."""

from __future__ import annotations

from pydantic import BaseModel, Field


class WorkerInfo(BaseModel):
    """One worker seen within the last hour."""

    name: str
    alive: bool = Field(description="Heartbeated within three heartbeat intervals.")
    last_heartbeat: int = Field(description="Redis time of its last heartbeat, ms since epoch.")
    host: str | None = None
    pid: int | None = None
    concurrency: int | None = None
    running: int | None = Field(default=None, description="Jobs it was running at its last beat.")
    queues: list[str] = Field(default_factory=list)
    task_types: list[str] = Field(default_factory=list)


class WorkerList(BaseModel):
    """Workers, live ones first."""

    data: list[WorkerInfo]
    count: int
