"""Named queues: which exist, the task types workers register on them, pause and resume,
purging, and each queue's gauges."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from dtq.errors import ConfirmationRequiredError, QueueNotFoundError
from dtq.models import DEFAULT_QUEUE, PRIORITY_ORDER, QueueInfo
from dtq.queue.dlq import entry_key
from dtq.queue.jobhash import Serving
from dtq.queue.keys import QueueKeys
from dtq.queue.reader import group_row
from dtq.queue.scripts.library import Library
from dtq.queue.scripts.purge_queue import purge_queue
from dtq.queue.scripts.register import register
from dtq.queue.scripts.resume_queue import resume_queue
from dtq.queue.workers import Workers

# Jobs one purge_queue call looks at (a chunk keeps each script call short).
PURGE_CHUNK = 1000


class Queues:
    """The named queues of one shard."""

    def __init__(self, lib: Library, workers: Workers) -> None:
        self._lib = lib
        self._redis = lib.redis
        self._keys = lib.keys
        self._workers = workers

    async def names(self) -> list[str]:
        """Every queue in use: `default`, and each one a job or a worker has named."""
        known = cast(set[str], await self._redis.smembers(self._keys.queues))
        return sorted({DEFAULT_QUEUE, *known})

    async def register(self, queues: Sequence[str], tasks: Mapping[str, str]) -> None:
        """Record the queues a worker listens to and its task types' own queues (task type ->
        queue), which submissions that name no queue go to."""
        named = sorted(q for q in {*queues, *tasks.values()} if q != DEFAULT_QUEUE)
        await register(self._lib, queues=named, tasks=tasks)

    async def task_queues(self) -> dict[str, str]:
        """Every task type a worker has served, with the queue it was registered on."""
        return cast(dict[str, str], await self._redis.hgetall(self._keys.tasks))

    async def _existing(self, name: str) -> QueueKeys:
        if name != DEFAULT_QUEUE and not await self._redis.sismember(self._keys.queues, name):
            raise QueueNotFoundError(f"queue {name!r} not found (known: {await self.names()})")
        return self._keys.queue(name)

    async def pause(self, name: str) -> QueueInfo:
        """Pause a queue: its jobs stay, and no worker starts one until it is resumed."""
        q = await self._existing(name)
        await self._redis.set(q.paused, 1)
        return await self.info(name)

    async def resume(self, name: str) -> QueueInfo:
        """Resume a paused queue: workers start its jobs again, those held first."""
        q = await self._existing(name)
        await resume_queue(self._lib, queue=q)
        return await self.info(name)

    async def purge(self, name: str, *, confirm: bool) -> int:
        """Cancel every job of the queue that waits for a worker (reason `purged`); how many.

        Raises ConfirmationRequiredError, saying how many jobs wait, unless `confirm`.
        """
        q = await self._existing(name)
        if not confirm:
            waiting = (await self.info(name)).pending
            raise ConfirmationRequiredError(
                f"purging queue {name!r} cancels its {waiting} pending jobs; to go ahead, "
                "repeat with confirm=true (dtq admin purge: --yes)"
            )
        purged = 0
        while True:
            done, looked = await purge_queue(self._lib, queue=q, limit=PURGE_CHUNK)
            purged += done
            if looked == 0:
                return purged

    async def info(self, name: str) -> QueueInfo:
        """One queue's state and gauges."""
        q = await self._existing(name)
        serving = await self._workers.serving()
        return (await self._gauges([q], serving))[0]

    async def all(self) -> list[QueueInfo]:
        """Every queue's state and gauges."""
        names = await self.names()
        serving = await self._workers.serving()
        return await self._gauges([self._keys.queue(n) for n in names], serving)

    async def _gauges(self, queues: Sequence[QueueKeys], serving: Serving) -> list[QueueInfo]:
        group = self._lib.settings.CONSUMER_GROUP
        async with self._redis.pipeline(transaction=False) as pipe:
            for q in queues:
                for stream in q.streams:
                    pipe.xinfo_groups(stream)
                pipe.exists(q.paused)
                pipe.llen(q.held)
                pipe.get(q.bell)
                pipe.hget(self._keys.stats, q.running_field)
                pipe.zrange(q.lanes, 0, -1)
            replies = await pipe.execute(raise_on_error=False)
        width = len(PRIORITY_ORDER) + 5
        rows = [replies[i : i + width] for i in range(0, len(replies), width)]
        lane_lengths = await self._lane_lengths(
            [(q, tenants) for q, (*_, tenants) in zip(queues, rows, strict=True)]
        )
        group_rows = [[group_row(g, group) for g in row[: len(PRIORITY_ORDER)]] for row in rows]
        oldest = await self._oldest_undelivered(queues, group_rows)
        out = []
        for q, row, groups, lanes, first in zip(
            queues, rows, group_rows, lane_lengths, oldest, strict=True
        ):
            paused, held, bell, running = row[len(PRIORITY_ORDER) : len(PRIORITY_ORDER) + 4]
            bell_id, _, bell_stream = (bell if isinstance(bell, str) else "").partition(" ")
            by_priority = {}
            for level, (p, g, stream) in enumerate(
                zip(PRIORITY_ORDER, groups, q.streams, strict=True)
            ):
                lag = int(g.get("lag") or 0)
                delivered = g.get("last-delivered-id") or "0-0"
                if stream == bell_stream and entry_key(bell_id) > entry_key(delivered):
                    lag = max(lag - 1, 0)  # the bell waiting unread is no job
                by_priority[p] = lag + lanes[level]
            out.append(
                QueueInfo(
                    name=q.name,
                    paused=bool(paused),
                    pending=sum(by_priority.values()) + int(held),
                    pending_by_priority=by_priority,
                    # jobs started (a shared entry names a run of them), or entries read and
                    # not started yet, whichever is more
                    running=max(
                        int(running) if isinstance(running, str) else 0,
                        sum(int(g.get("pending") or 0) for g in groups),
                    ),
                    workers=serving.listeners.get(q.name, 0),
                    task_types=sorted(t for queue, t in serving.pairs if queue == q.name),
                    oldest_pending_at=first,
                )
            )
        return out

    async def _oldest_undelivered(
        self, queues: Sequence[QueueKeys], groups: list[list[dict[str, Any]]]
    ) -> list[int | None]:
        """Per queue, when its oldest entry not yet delivered to a worker was added (ms)."""
        asked = [
            (i, stream, g["last-delivered-id"])
            for i, (q, rows) in enumerate(zip(queues, groups, strict=True))
            for stream, g in zip(q.streams, rows, strict=True)
            if int(g.get("lag") or 0) > 0 and g.get("last-delivered-id")
        ]
        out: list[int | None] = [None] * len(queues)
        if not asked:
            return out
        async with self._redis.pipeline(transaction=False) as pipe:
            for _, stream, last in asked:
                pipe.xrange(stream, min=f"({last}", count=1)
            replies = await pipe.execute()
        for (i, _, _), reply in zip(asked, replies, strict=True):
            if reply:
                at = int(str(reply[0][0]).partition("-")[0])
                out[i] = at if out[i] is None else min(at, out[i] or at)
        return out

    async def _lane_lengths(self, queues: Sequence[tuple[QueueKeys, list[str]]]) -> list[list[int]]:
        """Per queue, the jobs waiting in its tenants' lanes, per level."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for q, tenants in queues:
                for tenant in tenants:
                    for level in range(len(PRIORITY_ORDER)):
                        pipe.llen(q.lane(tenant, level))
            lengths = iter(await pipe.execute())
        out = []
        for _, tenants in queues:
            per_level = [0] * len(PRIORITY_ORDER)
            for _tenant in tenants:
                for level in range(len(PRIORITY_ORDER)):
                    per_level[level] += next(lengths)
            out.append(per_level)
        return out
