"""Development-only helpers (not mounted when ENVIRONMENT=production)."""

from __future__ import annotations

from fastapi import APIRouter, status

from dtq.api.auth import TenantDep
from dtq.api.deps import EngineDep
from dtq.api.errors import ERROR_RESPONSES
from dtq.models import GeneratedJobs, GenerateJobs, JobCreate

router = APIRouter(prefix="/dev", tags=["dev"], responses=ERROR_RESPONSES)

BATCH = 1000


@router.post("/generate-jobs", status_code=status.HTTP_201_CREATED)
async def generate_jobs(body: GenerateJobs, engine: EngineDep, tenant: TenantDep) -> GeneratedJobs:
    """Enqueue `count` synthetic jobs for the caller's tenant in batches of 1,000 (load tests,
    demos). Not counted against the submission rate limit: it is off in production."""
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
        ids = await engine.producer.enqueue_many(jobs, tenant.name)
        first = first or ids[0]
        last = ids[-1]
        batches += 1
    return GeneratedJobs(count=body.count, batches=batches, first_id=first, last_id=last)
