"""Jobs: submit (single and batch), read, list, cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from dtq.api.auth import (
    DEV_TENANT,
    TenantDep,
    TenantShardsDep,
    admit,
    rate_limit_headers,
    refusal,
)
from dtq.api.deps import JobIdPath
from dtq.api.errors import ERROR_RESPONSES
from dtq.errors import IdempotencyConflictError
from dtq.models import (
    QUEUE_PATTERN,
    TASK_TYPE_PATTERN,
    IdempotencyKey,
    IsoText,
    Job,
    JobBatchCreate,
    JobCreate,
    JobCreated,
    JobIds,
    JobList,
    JobResult,
    JobStatus,
    JobTimeline,
    Priority,
    Tenant,
)
from dtq.queue import Engine, NotAdmitted, TenantShards
from dtq.tracing import current_traceparent

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such job (or it has expired)."}
}
RATE_LIMITED: dict[str, Any] = {
    "description": "Over the tenant's submission rate limit (see Retry-After)."
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "model": JobCreated,
            "description": "Replay: the job first submitted with this key.",
        },
        409: {"description": "A job with the chosen `id` exists already."},
        413: {"description": "Payload too large."},
        422: {
            "description": "Invalid job, an unknown parent in `depends_on`, or the idempotency "
            "key was used with another body."
        },
        429: RATE_LIMITED,
    },
)
async def create_job(
    body: JobCreate,
    where: TenantShardsDep,
    tenant: TenantDep,
    response: Response,
    idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
) -> JobCreated:
    """Submit one job. It is stored before the answer is sent.

    `queue` names the queue (left out: the queue a worker registered the task type on, else
    `default`); `warnings` says when no worker has ever served the task type. `priority` picks
    its level (critical, high, normal, low); `depends_on` makes it wait
    (status `waiting`) until every parent has succeeded, and cancels it if one fails. With an
    `Idempotency-Key` header (or `idempotency_key` in the body), submitting the same body again
    returns the original job with 200 instead of creating another.
    """
    created, code, headers = await submit_job(where, tenant, body, idempotency_key)
    response.status_code = code
    response.headers.update(headers)
    return created


async def submit_job(
    where: TenantShards,
    tenant: Tenant,
    body: JobCreate,
    idempotency_key: str | None,
) -> tuple[JobCreated, int, dict[str, str]]:
    """create_job's work, also done by the fast path (dtq.api.submit_path): admit and store;
    the job, the answer's status (201, or 200 for a replay) and its rate-limit headers."""
    if idempotency_key:
        if body.idempotency_key and body.idempotency_key != idempotency_key:
            raise IdempotencyConflictError("the Idempotency-Key header and body disagree")
        body = body.model_copy(update={"idempotency_key": idempotency_key})
    if not body.trace_id and (traceparent := current_traceparent()):
        body = body.model_copy(update={"trace_id": traceparent})  # its attempts join this trace
    engine, job_id = await where.place(body)
    bucket = None if tenant is DEV_TENANT else where.home.tenants.bucket(tenant, 1)
    taken = None
    if bucket is not None and engine is not where.home:  # spread: the bucket is elsewhere
        taken = await where.home.tenants.admit(tenant, 1)
        if not taken.admitted:
            raise refusal(tenant, 1, taken)
        bucket = None
    try:  # admitted and stored in one round trip, on the bucket's shard
        job, created, _, admission = await engine.producer.enqueue_once(
            body, tenant.name, bucket, job_id
        )
    except NotAdmitted as exc:
        raise refusal(tenant, 1, exc.admission) from None
    admission = admission or taken
    headers = rate_limit_headers(admission) if admission is not None else {}
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return job, code, headers


@router.post(
    "/batch",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "A job with one of the chosen ids exists already."},
        413: {"description": "A payload is too large."},
        422: {
            "description": "An invalid job, an unknown parent, a dependency cycle, or more jobs "
            "than the tenant's burst."
        },
        429: RATE_LIMITED,
    },
)
async def create_jobs(
    body: JobBatchCreate, where: TenantShardsDep, tenant: TenantDep, response: Response
) -> JobIds:
    """Submit up to 1,000 jobs, all or none; returns their ids in order. Jobs may depend on
    each other by `id`, in any order (they are stored parents first). Each job counts against
    the tenant's submission rate limit."""
    engine, new_ids = await where.place_many(body.jobs)
    await admit(where.home, tenant, response, len(body.jobs))
    jobs = body.jobs
    if traceparent := current_traceparent():
        jobs = [j if j.trace_id else j.model_copy(update={"trace_id": traceparent}) for j in jobs]
    ids, warnings = await engine.producer.submit_many(jobs, tenant.name, new_ids)
    return JobIds(ids=ids, count=len(ids), warnings=warnings)


@router.get("/{job_id}", responses=NOT_FOUND)
async def get_job(job_id: JobIdPath, where: TenantShardsDep, tenant: TenantDep) -> Job:
    """One job's whole state."""
    return await where.on_job(job_id, lambda e: e.jobs.get(job_id, tenant.name))


@router.get("/{job_id}/result", responses=NOT_FOUND)
async def get_job_result(job_id: JobIdPath, where: TenantShardsDep, tenant: TenantDep) -> JobResult:
    """The outcome of a finished job (404 until it is succeeded, dead or canceled)."""
    return await where.on_job(job_id, lambda e: e.jobs.result(job_id, tenant.name))


@router.get("/{job_id}/timeline", responses=NOT_FOUND)
async def get_job_timeline(
    job_id: JobIdPath, where: TenantShardsDep, tenant: TenantDep
) -> JobTimeline:
    """Every transition of the job: time, status, worker, attempt, reason."""
    return await where.on_job(job_id, lambda e: e.jobs.timeline(job_id, tenant.name))


@router.get("/{job_id}/events", responses=NOT_FOUND, deprecated=True)
async def get_job_events(
    job_id: JobIdPath, where: TenantShardsDep, tenant: TenantDep
) -> JobTimeline:
    """The job's timeline under its old path: use /jobs/{id}/timeline (this path goes away in
    a later release; "events" will name the live feed)."""
    return await where.on_job(job_id, lambda e: e.jobs.timeline(job_id, tenant.name))


@router.get("")
async def list_jobs(
    where: TenantShardsDep,
    tenant: TenantDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    task_type: Annotated[str | None, Query(pattern=TASK_TYPE_PATTERN)] = None,
    queue: Annotated[str | None, Query(pattern=QUEUE_PATTERN)] = None,
    priority: Priority | None = None,
    idempotency_key: Annotated[IdempotencyKey | None, Query()] = None,
    created_after: Annotated[
        datetime | None, IsoText, Query(description="Created at or after (ISO 8601).")
    ] = None,
    created_before: Annotated[
        datetime | None, IsoText, Query(description="Created before (ISO 8601).")
    ] = None,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,20}(\.[0-9]{1,2})?$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobList:
    """Jobs, newest first, filtered by status, task type, queue, priority and creation time. Pass
    `next_cursor` back as `cursor` for the next page. `idempotency_key` finds the one job
    submitted with that key (the other filters are then ignored)."""
    if idempotency_key:
        return await where.find_by_idempotency_key(idempotency_key)
    return await where.list_jobs(
        status_,
        task_type,
        cursor,
        limit,
        queue=queue,
        priority=priority,
        created=(_ms(created_after), _ms(created_before)),
    )


def _ms(at: datetime | None) -> int | None:
    """Milliseconds since the epoch (a time without a zone is UTC)."""
    if at is None:
        return None
    return int((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000)


@router.post("/{job_id}/cancel", responses={**NOT_FOUND, 409: {"description": "Not cancelable."}})
async def cancel_job(job_id: JobIdPath, where: TenantShardsDep, tenant: TenantDep) -> Job:
    """Cancel a waiting, pending, scheduled or running job; a finished one answers 409."""

    async def cancel(engine: Engine) -> Job:
        return await engine.jobs.cancel(job_id, tenant.name)

    return await where.on_job(job_id, cancel)
