"""The dead-letter queue: list, retry, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from dtq.api.auth import TenantDep, TenantEngineDep, admit
from dtq.api.deps import JobIdPath
from dtq.api.errors import ERROR_RESPONSES
from dtq.models import (
    TASK_TYPE_PATTERN,
    DeadLetterList,
    DeadLetterRetried,
    DeadLetterRetry,
    DeadReason,
    Job,
)

router = APIRouter(prefix="/dlq", tags=["dlq"], responses=ERROR_RESPONSES)

NOT_DEAD: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such job."},
    409: {"description": "The job is not dead."},
}


@router.get("")
async def list_dead(
    engine: TenantEngineDep,
    tenant: TenantDep,
    task_type: Annotated[str | None, Query(pattern=TASK_TYPE_PATTERN)] = None,
    reason: DeadReason | None = None,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}-[0-9]{1,19}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeadLetterList:
    """Dead jobs, newest first, optionally of one task type and one reason."""
    return await engine.dlq.list(cursor, limit, tenant.name, task_type=task_type, reason=reason)


@router.post("/retry")
async def retry_matching(
    body: DeadLetterRetry, engine: TenantEngineDep, tenant: TenantDep, response: Response
) -> DeadLetterRetried:
    """Retry every dead job matching a filter (task type, reason, time range); `dry_run`
    reports what would be retried without changing anything. Each job sent back takes one
    submission from the tenant's rate limit (429, or 422 past its burst: lower `limit`)."""

    async def take(count: int) -> None:
        await admit(engine, tenant, response, count)

    return await engine.dlq.retry_matching(body, tenant.name, take)


@router.post("/{job_id}/retry", responses=NOT_DEAD)
async def retry_dead(
    job_id: JobIdPath, engine: TenantEngineDep, tenant: TenantDep, response: Response
) -> Job:
    """Run a dead job again with fresh retries (one submission from the tenant's rate
    limit)."""
    await admit(engine, tenant, response, 1)
    await engine.dlq.retry(job_id, tenant=tenant.name)
    return await engine.jobs.get(job_id, tenant.name)


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_DEAD)
async def delete_dead(job_id: JobIdPath, engine: TenantEngineDep, tenant: TenantDep) -> Response:
    """Delete a dead job and its dead-letter entry."""
    await engine.dlq.purge(job_id, tenant.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
