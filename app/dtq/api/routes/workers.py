"""Workers (GET /workers): live and recently dead, their queues, concurrency and load."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from dtq.api.auth import require_operator
from dtq.api.deps import ShardsDep
from dtq.api.errors import ERROR_RESPONSES
from dtq.models import WorkerList
from dtq.queue import shard_views

router = APIRouter(prefix="/workers", tags=["workers"], responses=ERROR_RESPONSES)


@router.get(
    "",
    dependencies=[Depends(require_operator)],
    responses={403: {"description": "A tenant key: workers serve every tenant (admin key)."}},
)
async def list_workers(shards: ShardsDep) -> WorkerList:
    """Workers heard from in the last hour, live ones first: host, pid, queues, task types,
    concurrency, jobs running at the last heartbeat, and when that was."""
    return shard_views.merge_workers(await shards.each(lambda e: e.workers.all()))
