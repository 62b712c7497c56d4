"""Named queues: list them with their gauges, pause and resume them, purge their pending jobs,
set their retention.

Queues are shared by every tenant, so these routes need the admin key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from dtq.api.auth import require_operator
from dtq.api.deps import EngineDep, ShardsDep
from dtq.api.errors import ERROR_RESPONSES
from dtq.models import (
    QUEUE_PATTERN,
    QueueInfo,
    QueueList,
    QueuePurged,
    QueueRetention,
    RetentionPolicy,
)
from dtq.queue import shard_views

router = APIRouter(
    prefix="/queues",
    tags=["queues"],
    responses={
        **ERROR_RESPONSES,
        403: {"description": "A tenant key: queues are shared, so they need the admin key."},
    },
    dependencies=[Depends(require_operator)],
)

QueuePath = Annotated[
    str, Path(pattern=QUEUE_PATTERN, description="A queue name: 1-64 letters, digits, _ . or -.")
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such queue (no job was ever put in it, no worker listens to it)."}
}


@router.get("")
async def list_queues(shards: ShardsDep) -> QueueList:
    """Every queue in use, with its jobs waiting and taken, pause state and live workers."""
    queues = await shard_views.all_queues(shards)
    return QueueList(data=queues, count=len(queues))


@router.get("/{name}", responses=NOT_FOUND)
async def get_queue(name: QueuePath, shards: ShardsDep) -> QueueInfo:
    """One queue's state and gauges."""
    return await shard_views.queue_info(shards, name)


@router.post("/{name}/pause", responses=NOT_FOUND)
async def pause_queue(name: QueuePath, shards: ShardsDep) -> QueueInfo:
    """Pause the queue: its jobs stay (and new ones are accepted), but no worker starts one
    until it is resumed. Jobs already running finish."""
    return await shard_views.pause_queue(shards, name)


@router.post("/{name}/resume", responses=NOT_FOUND)
async def resume_queue(name: QueuePath, shards: ShardsDep) -> QueueInfo:
    """Resume a paused queue (a no-op for a running one)."""
    return await shard_views.resume_queue(shards, name)


@router.post(
    "/{name}/purge",
    responses={
        **NOT_FOUND,
        409: {"description": "`confirm=true` is missing; the message says how many would go."},
    },
)
async def purge_queue(
    name: QueuePath,
    shards: ShardsDep,
    confirm: Annotated[bool, Query(description="Must be true: purging cannot be undone.")] = False,
) -> QueuePurged:
    """Cancel every job of the queue that waits for a worker (reason `purged`); jobs running
    finish, scheduled and waiting jobs stay. Without `confirm=true`, says how many would go."""
    purged = await shard_views.purge_queue(shards, name, confirm=confirm)
    return QueuePurged(name=name, purged=purged)


@router.get("/{name}/retention")
async def get_retention(name: QueuePath, engine: EngineDep) -> QueueRetention:
    """How many succeeded and canceled jobs the queue keeps and how long: its own policy and
    the one in force (its own values, else the settings')."""
    return await engine.retention.get(name)


@router.put("/{name}/retention")
async def put_retention(
    name: QueuePath, body: RetentionPolicy, shards: ShardsDep
) -> QueueRetention:
    """Replace the queue's own retention policy (null fields follow the settings; a count of -1
    keeps any number). It applies to jobs finishing from now on; a queue may be given one
    before its first job."""
    return await shard_views.put_retention(shards, name, body)
