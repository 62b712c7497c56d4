"""Development-only helpers: mounted only when ENVIRONMENT=development is set explicitly, and
then only for the admin key (or with AUTH_DISABLED)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from dtq.api.auth import require_admin_or_open
from dtq.api.deps import ShardsDep
from dtq.api.errors import ERROR_RESPONSES
from dtq.models import GeneratedJobs, GenerateJobs, JobCreate

router = APIRouter(
    prefix="/dev",
    tags=["dev"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(require_admin_or_open)],
)

BATCH = 1000


@router.post("/generate-jobs", status_code=status.HTTP_201_CREATED)
async def generate_jobs(body: GenerateJobs, shards: ShardsDep) -> GeneratedJobs:
    """Enqueue `count` synthetic jobs for `tenant` in batches of 1,000 (load tests, demos). It
    takes no tenant's rate limit, so it answers only the admin key (or any caller with
    AUTH_DISABLED)."""
    where = await shards.locate(body.tenant)
    first: str | None = None
    last: str | None = None
    batches = 0
    for start in range(0, body.count, BATCH):
        jobs = [
            JobCreate(
                task_type=body.task_type,
                payload=body.payload_template,
                partition_key=f"{body.partition_key_prefix}-{i}"
                if body.partition_key_prefix
                else None,
            )
            for i in range(start, min(start + BATCH, body.count))
        ]
        ids = []
        for group in where.groups(jobs):  # one shard each (several for a spread tenant)
            engine, new_ids = await where.place_many(group)
            ids += (await engine.producer.submit_many(group, body.tenant, new_ids)).ids
        first = first or ids[0]
        last = ids[-1]
        batches += 1
    return GeneratedJobs(count=body.count, batches=batches, first_id=first, last_id=last)
