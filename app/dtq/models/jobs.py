"""Jobs on the wire: submission, state, results, timelines and pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StringConstraints,
    model_validator,
)

from dtq.models.common import (
    DEFAULT_QUEUE,
    DEFAULT_TENANT,
    MAX_DELAY_MS,
    MAX_KEEP_S,
    MAX_PARENTS,
    MAX_TIMEOUT_S,
    DeadReason,
    IdempotencyKey,
    IsoText,
    JobId,
    JobStatus,
    JsonNumber,
    Priority,
    QueueName,
    TaskType,
)


class JobCreate(BaseModel):
    """A job to submit."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"not": {"required": ["delay_ms", "run_at"]}}
    )

    id: JobId | None = Field(
        default=None,
        description="Choose the job's id (letters, digits, _ and -); 409 if it exists already. "
        "Generated when left out.",
    )
    task_type: TaskType
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    queue: QueueName | None = Field(
        default=None,
        description="The queue to put the job in. Left out: the queue its task type was "
        "registered on by a worker, else `default`.",
    )
    priority: Priority = Field(
        default=Priority.NORMAL,
        description="Higher levels start first; lower levels still get a share (see README).",
    )
    depends_on: Annotated[list[JobId], Field(max_length=MAX_PARENTS)] = Field(
        default_factory=list,
        description="Parent job ids: the job waits until every parent has succeeded, and is "
        "canceled (dependency_failed) if one ends dead or canceled.",
    )
    partition_key: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    max_retries: Annotated[int, Field(ge=0, le=1000), JsonNumber] | None = None
    trace_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    delay_ms: Annotated[int, Field(ge=0, le=MAX_DELAY_MS), JsonNumber] | None = Field(
        default=None, description="Run no earlier than this many ms after submission."
    )
    run_at: Annotated[AwareDatetime, IsoText] | None = Field(
        default=None, description="Run no earlier than this time (ISO 8601 with a zone)."
    )
    timeout_s: Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S), JsonNumber] | None = Field(
        default=None, description="Stop an attempt running longer (overrides the task's)."
    )
    idempotency_key: IdempotencyKey | None = Field(
        default=None,
        description="Submitting again with the same key and body returns the original job.",
    )
    keep_for_s: Annotated[int, Field(ge=0, le=MAX_KEEP_S), JsonNumber] | None = Field(
        default=None,
        description="Once succeeded, keep the job (and its result) this long instead of its "
        "queue's retention age; 0 removes it as it succeeds. A job others wait on is kept "
        "until they are released, then by this.",
    )
    keep_result: StrictBool = Field(
        default=True, description="false: the same as keep_for_s 0 (no one will read the result)."
    )

    @model_validator(mode="after")
    def _one_due_time(self) -> Self:
        if {"delay_ms", "run_at"} <= self.model_fields_set:  # even as null: the schema says so
            raise ValueError("give delay_ms or run_at, not both")
        if len(set(self.depends_on)) != len(self.depends_on):
            raise ValueError("depends_on lists a parent twice")
        if self.id is not None and self.id in self.depends_on:
            raise ValueError("a job cannot depend on itself")
        if not self.keep_result and self.keep_for_s:
            raise ValueError("keep_result false removes the job as it succeeds: no keep_for_s")
        return self

    @property
    def keep_s(self) -> int | None:
        """How long to keep the job once succeeded, when it says (None: its queue's policy)."""
        return 0 if not self.keep_result else self.keep_for_s


class JobBatchCreate(BaseModel):
    """Up to 1,000 jobs submitted in one request."""

    model_config = ConfigDict(extra="forbid")

    jobs: Annotated[list[JobCreate], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _distinct_keys_and_ids(self) -> Self:
        keys = [j.idempotency_key for j in self.jobs if j.idempotency_key]
        if len(keys) != len(set(keys)):
            raise ValueError("idempotency_key values must differ within a batch")
        ids = [j.id for j in self.jobs if j.id]
        if len(ids) != len(set(ids)):
            raise ValueError("job ids must differ within a batch")
        return self


class JobError(BaseModel):
    """One failed attempt."""

    attempt: int
    error: str
    at: datetime
    traceback: str | None = Field(
        default=None, description="The handler's frames (capped at 4,000 characters)."
    )


class JobEvent(BaseModel):
    """One transition of a job."""

    status: str
    at: datetime
    worker: str | None = None
    attempt: int | None = None
    reason: str | None = None
    error: str | None = Field(default=None, description="A failed attempt's error.")
    traceback: str | None = Field(default=None, description="A failed attempt's traceback.")


class Job(BaseModel):
    """A job's whole state."""

    id: str
    tenant: str = DEFAULT_TENANT
    task_type: str
    payload: dict[str, Any]
    queue: str = DEFAULT_QUEUE
    status: JobStatus
    priority: Priority = Priority.NORMAL
    depends_on: list[str] = Field(default_factory=list, description="Parent job ids.")
    attempt: int = Field(description="Times the job has been started, restarts included.")
    failures: int = Field(description="Failed attempts; retries stop after max_retries.")
    max_retries: int
    timeout_s: float | None = None
    keep_for_s: int | None = Field(
        default=None, description="Its own retention once succeeded (None: its queue's)."
    )
    partition_key: str | None = None
    trace_id: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    due_at: datetime | None = Field(default=None, description="When a scheduled job runs.")
    worker: str | None = None
    last_error: str | None = None
    errors: list[JobError] = Field(default_factory=list, description="The last 10 errors.")
    result: JsonValue = None
    dead_reason: DeadReason | None = None
    cancel_reason: str | None = Field(
        default=None, description="`requested`, or `dependency_failed` when a parent failed."
    )
    progress: float | None = Field(default=None, description="Last reported percent (0-100).")
    progress_message: str | None = None
    blocked_reason: str | None = Field(
        default=None, description="Why a job that is not running is not running."
    )


class JobCreated(Job):
    """A job just submitted, with anything the submitter should know about it."""

    warnings: list[str] = Field(
        default_factory=list,
        description="E.g. that no worker has ever served the job's task type (accepted: "
        "workers may come later).",
    )


class JobResult(BaseModel):
    """The outcome of a finished job."""

    id: str
    status: JobStatus
    result: JsonValue = None
    last_error: str | None = None
    dead_reason: DeadReason | None = None
    finished_at: datetime | None = None


class JobTimeline(BaseModel):
    """Every transition of a job, oldest first."""

    id: str
    data: list[JobEvent]
    count: int


class JobList(BaseModel):
    """A page of jobs, newest first."""

    data: list[Job]
    count: int
    next_cursor: str | None = None


class JobIds(BaseModel):
    """The ids of jobs created by a batch submission, in order."""

    ids: list[str]
    count: int
    warnings: list[str] = Field(
        default_factory=list, description="E.g. task types no worker has ever served."
    )
