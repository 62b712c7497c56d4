"""The dead-letter queue: list, retry, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from dtq.api.auth import TenantDep, TenantShardsDep, admit
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
from dtq.queue import Engine

router = APIRouter(prefix="/dlq", tags=["dlq"], responses=ERROR_RESPONSES)

NOT_DEAD: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such job."},
    409: {"description": "The job is not dead."},
}


@router.get("")
async def list_dead(
    where: TenantShardsDep,
    tenant: TenantDep,
    task_type: Annotated[str | None, Query(pattern=TASK_TYPE_PATTERN)] = None,
    reason: DeadReason | None = None,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,19}-[0-9]{1,19}(\.[0-9]{1,2})?$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeadLetterList:
    """Dead jobs, newest first, optionally of one task type and one reason."""
    return await where.list_dead(cursor, limit, task_type=task_type, reason=reason)


@router.post("/retry")
async def retry_matching(
    body: DeadLetterRetry, where: TenantShardsDep, tenant: TenantDep, response: Response
) -> DeadLetterRetried:
    """Retry every dead job matching a filter (task type, reason, time range); `dry_run`
    reports what would be retried without changing anything. Each job sent back takes one
    submission from the tenant's rate limit (429, or 422 past its burst: lower `limit`)."""

    async def take(count: int) -> None:
        await admit(where.home, tenant, response, count)

    return await where.retry_dead_matching(body, take)


@router.post("/{job_id}/retry", responses=NOT_DEAD)
async def retry_dead(
    job_id: JobIdPath, where: TenantShardsDep, tenant: TenantDep, response: Response
) -> Job:
    """Run a dead job again with fresh retries (one submission from the tenant's rate
    limit)."""
    await admit(where.home, tenant, response, 1)

    async def retry(engine: Engine) -> Job:
        await engine.dlq.retry(job_id, tenant=tenant.name)
        return await engine.jobs.get(job_id, tenant.name)

    return await where.on_job(job_id, retry)


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_DEAD)
async def delete_dead(job_id: JobIdPath, where: TenantShardsDep, tenant: TenantDep) -> Response:
    """Delete a dead job and its dead-letter entry."""
    await where.on_job(job_id, lambda e: e.dlq.purge(job_id, tenant.name))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
