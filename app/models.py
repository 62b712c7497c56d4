"""Wire format shared by the API, the worker and the SDK: pydantic models and enums."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self
from zoneinfo import available_timezones

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StringConstraints,
    model_validator,
)

# Generated ids are 32 lowercase hex characters; a caller may choose its own within this pattern.
JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
TASK_TYPE_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"

MAX_DELAY_MS = 366 * 24 * 3600 * 1000
MAX_TIMEOUT_S = 7 * 24 * 3600
MAX_PARENTS = 100


def _json_number(value: Any) -> Any:
    """Refuse what lax validation would turn into a number: booleans and strings."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


def _iso_text(value: Any) -> Any:
    """Refuse what lax validation would turn into a datetime: numbers (epoch seconds)."""
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date-time string")
    return value


# Request fields take exactly the JSON types the OpenAPI schema names.
JsonNumber = BeforeValidator(_json_number)
IsoText = BeforeValidator(_iso_text)

IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,255}$")]

JobId = Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)]


def _cron_field(number: str) -> str:
    one = rf"(?:\*|{number}(?:-{number})?)(?:/[1-9][0-9]?)?"
    return rf"{one}(?:,{one})*"


_SECOND = r"[0-5]?[0-9]"
# Numeric cron: minute hour day-of-month month day-of-week, then optionally seconds (croniter's
# order); each field a list of *, N or N-M, each with an optional /step. Exactly the language the
# OpenAPI schema states, so a schema-valid cron is never refused.
CRON_PATTERN = (
    "^"
    + " ".join(
        _cron_field(n)
        for n in (
            _SECOND,
            r"(?:[01]?[0-9]|2[0-3])",
            r"(?:0?[1-9]|[12][0-9]|3[01])",
            r"(?:0?[1-9]|1[0-2])",
            r"[0-7]",
        )
    )
    + rf"(?: {_cron_field(_SECOND)})?$"
)
TIMEZONES = sorted(available_timezones())
_TIMEZONE_SET = frozenset(TIMEZONES)

# Tenant names go into key names and schedule ids: lowercase, no separators.
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
DEFAULT_TENANT = "default"
TenantName = Annotated[str, StringConstraints(pattern=TENANT_PATTERN)]
TaskType = Annotated[str, StringConstraints(pattern=TASK_TYPE_PATTERN)]


class JobStatus(StrEnum):
    WAITING = "waiting"
    PENDING = "pending"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELED)


class Priority(StrEnum):
    """How soon a job starts relative to others: each level has its own stream."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def level(self) -> int:
        """0 for critical up to 3 for low: the index of the level's stream."""
        return PRIORITY_ORDER.index(self)


PRIORITY_ORDER = (Priority.CRITICAL, Priority.HIGH, Priority.NORMAL, Priority.LOW)


class DeadReason(StrEnum):
    RETRIES_EXHAUSTED = "retries_exhausted"
    TIMEOUT = "timeout"
    POISON = "poison"


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

    @model_validator(mode="after")
    def _one_due_time(self) -> Self:
        if {"delay_ms", "run_at"} <= self.model_fields_set:  # even as null: the schema says so
            raise ValueError("give delay_ms or run_at, not both")
        if len(set(self.depends_on)) != len(self.depends_on):
            raise ValueError("depends_on lists a parent twice")
        if self.id is not None and self.id in self.depends_on:
            raise ValueError("a job cannot depend on itself")
        return self


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


class JobEvent(BaseModel):
    """One transition of a job."""

    status: str
    at: datetime
    worker: str | None = None
    attempt: int | None = None
    reason: str | None = None


class Job(BaseModel):
    """A job's whole state."""

    id: str
    tenant: str = DEFAULT_TENANT
    task_type: str
    payload: dict[str, Any]
    status: JobStatus
    priority: Priority = Priority.NORMAL
    depends_on: list[str] = Field(default_factory=list, description="Parent job ids.")
    attempt: int = Field(description="Times the job has been started, restarts included.")
    failures: int = Field(description="Failed attempts; retries stop after max_retries.")
    max_retries: int
    timeout_s: float | None = None
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


class DeadLetter(BaseModel):
    """An entry of the dead-letter queue."""

    job_id: str
    task_type: str
    reason: DeadReason
    attempts: int
    last_error: str | None
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


class QueueMetrics(BaseModel):
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


class GenerateJobs(BaseModel):
    """A request for synthetic jobs (development only)."""

    model_config = ConfigDict(extra="forbid")

    count: Annotated[int, Field(ge=1, le=1_000_000), JsonNumber]
    task_type: TaskType = "noop"
    partition_key_prefix: Annotated[str, StringConstraints(max_length=128)] = "synthetic"
    payload_template: dict[str, JsonValue] = Field(default_factory=dict)


class GeneratedJobs(BaseModel):
    count: int
    batches: int
    first_id: str | None
    last_id: str | None


class Health(BaseModel):
    status: str
    redis: str | None = None
    scripts_loaded: bool | None = None
    warnings: list[str] = Field(default_factory=list)


class Misfire(StrEnum):
    """What a schedule does about ticks missed while no worker ran."""

    SKIP = "skip"
    CATCH_UP = "catch_up"


class ScheduleCreate(BaseModel):
    """A recurring job: `cron` is 5 fields, or 6 with seconds last (croniter syntax)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
    cron: Annotated[str, StringConstraints(max_length=200, pattern=CRON_PATTERN)] = Field(
        description="Numeric fields: minute hour day-of-month month day-of-week [second]; "
        "each a list of *, N or N-M with an optional /step. A cron naming no real date "
        "(February 30th) is kept with no next_run_at: it never fires."
    )
    task_type: TaskType
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    timezone: Annotated[str, Field(max_length=64, json_schema_extra={"enum": TIMEZONES})] = "UTC"
    misfire: Misfire = Misfire.SKIP
    max_retries: Annotated[int, Field(ge=0, le=1000), JsonNumber] | None = None
    priority: Priority = Priority.NORMAL

    @model_validator(mode="after")
    def _valid_cron_and_zone(self) -> Self:

        from croniter import croniter

        if not croniter.is_valid(self.cron):
            raise ValueError(f"cron {self.cron!r} is not a valid cron expression")
        if self.timezone not in _TIMEZONE_SET:
            raise ValueError(f"unknown timezone {self.timezone!r} (an IANA name, e.g. UTC)")
        return self


class Schedule(ScheduleCreate):
    """A schedule and when it fires next."""

    next_run_at: datetime | None = None


class ScheduleList(BaseModel):
    data: list[Schedule]
    count: int


class TenantLimits(BaseModel):
    """A tenant's own limits; unset ones follow the settings (RATE_LIMIT_*, TENANT_*)."""

    model_config = ConfigDict(extra="forbid")

    rate_per_s: Annotated[float, Field(gt=0, le=1_000_000), JsonNumber] | None = Field(
        default=None, description="Submissions per second (token refill rate)."
    )
    burst: Annotated[int, Field(ge=1, le=10_000_000), JsonNumber] | None = Field(
        default=None, description="Submissions allowed at once (bucket size)."
    )
    max_concurrency: Annotated[int, Field(ge=1, le=1_000_000), JsonNumber] | None = Field(
        default=None, description="Jobs running at once across all workers."
    )
    weight: Annotated[int, Field(ge=1, le=1000), JsonNumber] | None = Field(
        default=None, description="Share of the workers against other busy tenants (default 1)."
    )


class TenantCreate(TenantLimits):
    """A new tenant."""

    name: TenantName = Field(description="1-32 of a-z, 0-9, _ and -, starting alphanumeric.")


class Tenant(TenantCreate):
    """A tenant and its limits."""

    created_at: datetime


class TenantUsage(BaseModel):
    """A tenant's effective execution limits and its live load (keys on: jobs go through lanes)."""

    tenant: str
    rate_per_s: float
    burst: int
    max_concurrency: int | None = Field(description="Its cap across all workers; null: none.")
    weight: int
    queued: int = Field(
        description="Jobs waiting in its lanes to be dispatched (a canceled one counts until the "
        "dispatcher reaches it)."
    )
    running: int = Field(description="Jobs dispatched to the workers and not settled yet.")


class TenantList(BaseModel):
    data: list[Tenant]
    count: int


class ApiKeyInfo(BaseModel):
    """An API key as stored: never the key itself, only its id and hash."""

    key_id: str = Field(description="The public part of the key (its second field).")
    tenant: str
    created_at: datetime


class ApiKeyCreated(ApiKeyInfo):
    """A new API key. `key` is shown this once; DTQ keeps only its SHA-256."""

    key: str


class ApiKeyList(BaseModel):
    data: list[ApiKeyInfo]
    count: int


class Problem(BaseModel):
    """Every error answer: `detail` says what is wrong (for a request that fails validation, the
    list of invalid fields), `code` names the error for programs."""

    detail: str | list[dict[str, Any]]
    code: str | None = None
