"""Queue-wide statistics: counts by status, stream and group gauges, totals, live workers."""

from __future__ import annotations

from typing import Any, cast

from redis.exceptions import ResponseError

from dtq.models import DEFAULT_QUEUE, PRIORITY_ORDER, JobStatus, QueueStats
from dtq.queue.clock import ms_of
from dtq.queue.scripts.library import Library
from dtq.queue.workers import Workers


class Stats:
    """Reads the counters the scripts keep, and the streams' own gauges, in one round trip."""

    def __init__(self, lib: Library, workers: Workers) -> None:
        self._lib = lib
        self._redis = lib.redis
        self._keys = lib.keys
        self._workers = workers

    async def queue_stats(self) -> QueueStats:
        """Counts by status, stream and group gauges (summed over every queue), totals and live
        workers."""
        k = self._keys
        known = cast(set[str], await self._redis.smembers(k.queues))
        queues = [k.queue(q) for q in sorted({DEFAULT_QUEUE, *known})]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.hgetall(k.stats)
            pipe.zcard(k.delayed)
            pipe.xlen(k.dlq)
            pipe.zrange(k.workers, 0, -1, withscores=True)
            for q in queues:
                for stream in q.streams:
                    pipe.xlen(stream)
                    pipe.xinfo_groups(stream)
            replies = await pipe.execute(raise_on_error=False)
        now, stats, scheduled, dlq_len, workers = replies[:5]
        levels = len(PRIORITY_ORDER)
        lengths = [
            sum(replies[5::2][level::levels]) for level in range(levels)
        ]  # per level, over every queue
        groups = [self._group_info(g) for g in replies[6::2]]
        return QueueStats(
            jobs_by_status={s: max(int(stats.get(f"jobs:{s}", 0)), 0) for s in JobStatus},
            stream_length=sum(lengths),
            stream_length_by_priority=dict(zip(PRIORITY_ORDER, lengths, strict=True)),
            pending_entries=sum(int(g["pending"]) for g in groups if g),
            consumer_group_lag=sum(int(g.get("lag") or 0) for g in groups if g),
            scheduled=scheduled,
            dlq_depth=dlq_len,
            jobs_created_total=int(stats.get("created_total", 0)),
            jobs_completed_total=int(stats.get("completed_total", 0)),
            jobs_failed_total=int(stats.get("failed_total", 0)),
            jobs_retried_total=int(stats.get("retried_total", 0)),
            jobs_dead_total=int(stats.get("dead_total", 0)),
            live_workers=len(self._workers.alive(workers, ms_of(now))),
        )

    def _group_info(self, groups: Any) -> dict[str, Any] | None:
        """The consumer group's XINFO GROUPS row of one stream (None if missing)."""
        if isinstance(groups, ResponseError):
            return None
        group = self._lib.settings.CONSUMER_GROUP
        return next((g for g in groups if g["name"] == group), None)
