"""Every operation of the HTTP API, described once: method, path, body, response model.

The sync and async clients send these descriptions; they differ only in how they send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypedDict, TypeVar, cast
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from dtq.errors import DTQError
from dtq.models import (
    DeadLetterList,
    DeadLetterRetried,
    DeadLetterRetry,
    Health,
    Job,
    JobCreate,
    JobCreated,
    JobIds,
    JobList,
    JobResult,
    JobStatus,
    JobTimeline,
    Priority,
    QueueStats,
    Schedule,
    ScheduleCreate,
    ScheduleList,
    TenantUsage,
)

T = TypeVar("T")

BATCH = 1000


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    """One HTTP request and the model its answer is read into (None: no body)."""

    method: str
    path: str
    response: type[BaseModel] | None
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)

    def decode(self, body: Any) -> T:
        """The answer's JSON as the response model."""
        if self.response is None:
            return cast(T, None)
        return cast(T, self.response.model_validate(body))


class SubmitOptions(TypedDict, total=False):
    """Options of a submission, named as in the HTTP API (see JobCreate); unset ones take the
    server's defaults."""

    id: str
    queue: str
    priority: Priority | str
    depends_on: Sequence[str]
    partition_key: str
    max_retries: int
    delay_ms: int
    run_at: datetime
    timeout_s: float
    idempotency_key: str
    trace_id: str
    keep_for_s: int
    keep_result: bool


class InvalidRequestError(DTQError, ValueError):
    """A request the SDK refused before sending it (what the server would answer 422 to)."""

    code = "invalid_request"

    def __init__(self, what: str, exc: ValidationError) -> None:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or what}: {e['msg']}" for e in exc.errors()
        )
        super().__init__(f"invalid {what}: {problems}")
        self.errors = exc.errors()


def job_create(task_type: str, payload: dict[str, Any] | None, opts: SubmitOptions) -> JobCreate:
    """The JobCreate of a submission; InvalidRequestError if it is not valid."""
    given: dict[str, Any] = {k: v for k, v in opts.items() if v is not None}
    if "depends_on" in given:
        given["depends_on"] = list(given["depends_on"])
    try:
        return JobCreate(task_type=task_type, payload=payload or {}, **given)
    except ValidationError as exc:
        raise InvalidRequestError("job", exc) from None


def _segment(value: str) -> str:
    """A path segment from an id or name (quoted, so no value can change the path)."""
    return quote(value, safe="")


def submit(job: JobCreate) -> Operation[JobCreated]:
    """POST /jobs."""
    return Operation("POST", "/jobs", JobCreated, job.model_dump(mode="json", exclude_none=True))


def submit_batches(jobs: Sequence[JobCreate]) -> list[Operation[JobIds]]:
    """POST /jobs/batch, once per 1,000 jobs."""
    return [
        Operation(
            "POST",
            "/jobs/batch",
            JobIds,
            {"jobs": [j.model_dump(mode="json", exclude_none=True) for j in jobs[i : i + BATCH]]},
        )
        for i in range(0, len(jobs), BATCH)
    ]


def get_job(job_id: str) -> Operation[Job]:
    """GET /jobs/{id}."""
    return Operation("GET", f"/jobs/{_segment(job_id)}", Job)


def result(job_id: str) -> Operation[JobResult]:
    """GET /jobs/{id}/result."""
    return Operation("GET", f"/jobs/{_segment(job_id)}/result", JobResult)


def timeline(job_id: str) -> Operation[JobTimeline]:
    """GET /jobs/{id}/timeline."""
    return Operation("GET", f"/jobs/{_segment(job_id)}/timeline", JobTimeline)


def list_jobs(
    status: JobStatus | str | None, task_type: str | None, cursor: str | None, limit: int
) -> Operation[JobList]:
    """GET /jobs."""
    given = {"status": status and str(status), "task_type": task_type, "cursor": cursor}
    params: dict[str, Any] = {k: v for k, v in given.items() if v} | {"limit": limit}
    return Operation("GET", "/jobs", JobList, params=params)


def cancel(job_id: str) -> Operation[Job]:
    """POST /jobs/{id}/cancel."""
    return Operation("POST", f"/jobs/{_segment(job_id)}/cancel", Job)


def put_schedule(schedule: ScheduleCreate) -> Operation[Schedule]:
    """POST /schedules."""
    return Operation(
        "POST", "/schedules", Schedule, schedule.model_dump(mode="json", exclude_none=True)
    )


def list_schedules() -> Operation[ScheduleList]:
    """GET /schedules."""
    return Operation("GET", "/schedules", ScheduleList)


def get_schedule(name: str) -> Operation[Schedule]:
    """GET /schedules/{name}."""
    return Operation("GET", f"/schedules/{_segment(name)}", Schedule)


def delete_schedule(name: str) -> Operation[None]:
    """DELETE /schedules/{name}."""
    return Operation("DELETE", f"/schedules/{_segment(name)}", None)


def list_dead(cursor: str | None, limit: int) -> Operation[DeadLetterList]:
    """GET /dlq."""
    params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
    return Operation("GET", "/dlq", DeadLetterList, params=params)


def retry_dead(job_id: str) -> Operation[Job]:
    """POST /dlq/{id}/retry."""
    return Operation("POST", f"/dlq/{_segment(job_id)}/retry", Job)


def retry_dead_matching(ask: DeadLetterRetry) -> Operation[DeadLetterRetried]:
    """POST /dlq/retry."""
    body = ask.model_dump(mode="json", exclude_none=True)
    return Operation("POST", "/dlq/retry", DeadLetterRetried, body)


def delete_dead(job_id: str) -> Operation[None]:
    """DELETE /dlq/{id}."""
    return Operation("DELETE", f"/dlq/{_segment(job_id)}", None)


def tenant() -> Operation[TenantUsage]:
    """GET /tenant."""
    return Operation("GET", "/tenant", TenantUsage)


def stats() -> Operation[QueueStats]:
    """GET /stats (the admin key)."""
    return Operation("GET", "/stats", QueueStats)


def health() -> Operation[Health]:
    """GET /health/ready."""
    return Operation("GET", "/health/ready", Health)
