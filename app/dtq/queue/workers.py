"""Who is alive: worker heartbeats on the Redis clock, and the one definition of a live worker."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import orjson

from dtq.models import DEFAULT_QUEUE, WorkerInfo, WorkerList
from dtq.queue.clock import ms_of
from dtq.queue.jobhash import Serving
from dtq.queue.scripts.heartbeat import heartbeat
from dtq.queue.scripts.library import Library

# A worker is live while it heartbeated within this many heartbeat intervals.
LIVE_INTERVALS = 3
# A worker silent this long is dropped from the set of workers by housekeeping.
FORGET_AFTER_MS = 3_600_000


class Workers:
    """Heartbeats in, live workers and the task types they serve out."""

    def __init__(self, lib: Library) -> None:
        self._lib = lib
        self._redis = lib.redis
        self._keys = lib.keys

    @property
    def ttl_s(self) -> int:
        """How long a heartbeat keeps a worker live (and its info hash alive)."""
        return max(int(self._lib.settings.HEARTBEAT_INTERVAL_S * LIVE_INTERVALS), 1)

    async def heartbeat(self, name: str, info: Mapping[str, str | int]) -> int:
        """Mark the worker alive and refresh its info hash; returns the Redis time in ms."""
        return await heartbeat(self._lib, worker=name, ttl_s=self.ttl_s, info=info)

    async def forget(self, name: str) -> None:
        """Remove a stopping worker from the live set."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self._keys.workers, name)
            pipe.zrem(self._keys.shared_readers, name)
            pipe.delete(self._keys.worker(name))
            await pipe.execute()

    @property
    def live_for_ms(self) -> float:
        """How long after its last heartbeat a worker counts as live."""
        return self._lib.settings.HEARTBEAT_INTERVAL_S * LIVE_INTERVALS * 1000

    def alive(self, workers: list[tuple[str, float]], now_ms: int) -> list[str]:
        """Names among (name, last heartbeat ms) rows that are live at `now_ms` (Redis clock)."""
        horizon = now_ms - self.live_for_ms
        return [name for name, seen in workers if seen >= horizon]

    async def live(self) -> list[str]:
        """Names of the live workers."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.zrange(self._keys.workers, 0, -1, withscores=True)
            now, workers = await pipe.execute()
        return self.alive(workers, ms_of(now))

    async def running_by_tenant(self) -> dict[str, int]:
        """Jobs the live workers run, per tenant, as of their last heartbeats."""
        names = await self.live()
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hget(self._keys.worker(name), "tenants")
            reports = await pipe.execute()
        total: Counter[str] = Counter()
        for report in reports:
            total.update(orjson.loads(report) if report else {})
        return dict(total)

    async def all(self) -> WorkerList:
        """Every worker heard from within FORGET_AFTER_MS, live ones first, newest beat first."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.zrange(self._keys.workers, 0, -1, withscores=True)
            now, rows = await pipe.execute()
        async with self._redis.pipeline(transaction=False) as pipe:
            for name, _ in rows:
                pipe.hgetall(self._keys.worker(name))
            infos = await pipe.execute()
        live = set(self.alive(rows, ms_of(now)))
        out = [
            WorkerInfo(
                name=name,
                alive=name in live,
                last_heartbeat=int(seen),
                host=info.get("host"),
                pid=int(info["pid"]) if info.get("pid") else None,
                concurrency=int(info["concurrency"]) if info.get("concurrency") else None,
                running=int(info["inflight"]) if info.get("inflight") else None,
                queues=[q for q in info.get("queues", "").split(",") if q],
                task_types=[t for t in info.get("tasks", "").split(",") if t],
            )
            for (name, seen), info in zip(rows, infos, strict=True)
        ]
        out.sort(key=lambda w: (not w.alive, -w.last_heartbeat))
        return WorkerList(data=out, count=len(out))

    async def serving(self) -> Serving:
        """The (queue, task type) pairs live workers serve, and the queues paused."""
        names = await self.live()
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(self._keys.worker(name), ["tasks", "queues"])
            pipe.smembers(self._keys.queues)
            *rows, known = await pipe.execute()
            queues = sorted({DEFAULT_QUEUE, *known})
            for queue in queues:
                pipe.exists(self._keys.queue(queue).paused)
            flags = await pipe.execute()
        pairs: set[tuple[str, str]] = set()
        listeners: dict[str, int] = {}
        for tasks, served_queues in rows:
            for q in str(served_queues or DEFAULT_QUEUE).split(","):
                listeners[q] = listeners.get(q, 0) + 1
                pairs.update((q, t) for t in str(tasks or "").split(",") if t)
        paused = {q for q, flag in zip(queues, flags, strict=True) if flag}
        return Serving(frozenset(pairs), frozenset(paused), listeners)

    async def forget_silent(self, now_ms: int) -> int:
        """Drop workers silent for FORGET_AFTER_MS from the set; how many were dropped."""
        dropped: int = await self._redis.zremrangebyscore(
            self._keys.workers, "-inf", now_ms - FORGET_AFTER_MS
        )
        return dropped
