"""The dead-letter queue on the wire: entries, pages and bulk retries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool

from dtq.models.common import DeadReason, IsoText, JsonNumber, TaskType


class DeadLetter(BaseModel):
    """An entry of the dead-letter queue."""

    id: str = Field(description="The dead job's id (as on GET /jobs/{id}).")
    task_type: str
    reason: DeadReason
    attempt: int = Field(description="The job's attempt when it died (times started).")
    failures: int = Field(description="Its failed attempts (a poison job may have none).")
    last_error: str | None
    traceback: str | None = Field(default=None, description="The last attempt's traceback.")
    failed_at: datetime


class DeadLetterList(BaseModel):
    """A page of the dead-letter queue, newest first."""

    data: list[DeadLetter]
    count: int
    next_cursor: str | None = None


class DeadLetterRetry(BaseModel):
    """Which dead jobs to send back to the queue."""

    model_config = ConfigDict(extra="forbid")

    task_type: TaskType | None = None
    reason: DeadReason | None = None
    since: Annotated[AwareDatetime, IsoText] | None = Field(
        default=None, description="Dead-lettered at or after."
    )
    until: Annotated[AwareDatetime, IsoText] | None = Field(
        default=None, description="Dead-lettered before."
    )
    dry_run: StrictBool = Field(default=False, description="Only report what would be retried.")
    reset_attempts: StrictBool = Field(
        default=True, description="Fresh retries; false gives each job one more attempt."
    )
    limit: Annotated[int, Field(ge=1, le=100_000), JsonNumber] = 10_000


class DeadLetterRetried(BaseModel):
    """What a filtered DLQ retry matched and did."""

    matched: int
    retried: int
    dry_run: bool
    job_ids: list[str] = Field(description="The matched jobs (the first 1,000).")
