"""The operator's views over every shard (see dtq.queue.shards): stats, queues, history and
workers, each read from every shard at once and added up. With one shard they are that
shard's views, unchanged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from dtq.errors import ConfirmationRequiredError, QueueNotFoundError
from dtq.models import (
    DEFAULT_QUEUE,
    History,
    HistoryPoint,
    QueueInfo,
    QueueRetention,
    QueueStats,
    RetentionPolicy,
    TenantUsage,
    WorkerInfo,
    WorkerList,
)
from dtq.queue.engine import Engine
from dtq.queue.shards import Shards
from dtq.queue.spread import total_usage

K = TypeVar("K")


def _sum_counts(maps: Sequence[Mapping[K, int]]) -> dict[K, int]:
    out: dict[K, int] = {}
    for m in maps:
        for key, value in m.items():
            out[key] = out.get(key, 0) + value
    return out


async def all_stats(shards: Shards) -> QueueStats:
    """GET /stats over every shard: counts and totals added up, live workers counted once (a
    worker process reads every shard), the busy tenants of each shard."""
    parts = await shards.each(lambda e: e.stats.queue_stats())
    busy = await busy_tenants(shards)
    if len(parts) == 1:
        parts[0].tenants = busy
        return parts[0]
    summed = {
        field: sum(getattr(p, field) for p in parts)
        for field in (
            "stream_length",
            "pending_entries",
            "consumer_group_lag",
            "scheduled",
            "dlq_depth",
            "jobs_created_total",
            "jobs_completed_total",
            "jobs_failed_total",
            "jobs_retried_total",
            "jobs_dead_total",
        )
    }
    return QueueStats(
        jobs_by_status=_sum_counts([p.jobs_by_status for p in parts]),
        stream_length_by_priority=_sum_counts([p.stream_length_by_priority for p in parts]),
        live_workers=max(p.live_workers for p in parts),
        tenants=busy,
        **summed,
    )


async def busy_tenants(shards: Shards) -> list[TenantUsage]:
    """Every stored tenant with jobs queued in lanes or running, by name (each counted on its
    own shard, a spread one on every shard)."""
    tenants = await shards.control.tenants.list_tenants()
    found: dict[str, list[TenantUsage]] = {}
    for index, engine in enumerate(shards.engines):
        mine = [t for t in tenants if t.shard == index or index < shards.spread_over(t)]
        for u in await engine.tenants.usages(mine) if mine else []:
            found.setdefault(u.name, []).append(u)
    added = [total_usage(each) for _, each in sorted(found.items())]
    return [u for u in added if u.queued or u.running]


def merge_queues(per_shard: Sequence[Sequence[QueueInfo]]) -> list[QueueInfo]:
    """Each queue's gauges added up over the shards, by name."""
    by_name: dict[str, QueueInfo] = {}
    for infos in per_shard:
        for q in infos:
            seen = by_name.get(q.name)
            if seen is None:
                by_name[q.name] = q.model_copy(deep=True)
                continue
            oldest = [t for t in (seen.oldest_pending_at, q.oldest_pending_at) if t is not None]
            by_name[q.name] = QueueInfo(
                name=q.name,
                paused=seen.paused or q.paused,
                pending=seen.pending + q.pending,
                pending_by_priority=_sum_counts([seen.pending_by_priority, q.pending_by_priority]),
                running=seen.running + q.running,
                workers=max(seen.workers, q.workers),
                task_types=sorted({*seen.task_types, *q.task_types}),
                oldest_pending_at=min(oldest) if oldest else None,
            )
    return [by_name[name] for name in sorted(by_name)]


def merge_history(parts: Sequence[History]) -> History:
    """The shards' histories point by point, newest aligned: rates and gauges added up; the
    oldest pending age and the latency percentiles are the highest shard's (an upper bound,
    not a percentile of the whole)."""
    if len(parts) == 1:
        return parts[0]
    length = max(len(p.data) for p in parts)
    points: list[HistoryPoint] = []
    for i in range(length):  # a shard with a shorter history adds nothing to its older points
        row = [p.data[at] for p in parts if (at := len(p.data) - length + i) >= 0]
        fields: dict[str, Any] = {"at": max(r.at for r in row)}
        for f in ("enqueued", "started", "succeeded", "failed", "retried", "dead", "canceled",
                  "running", "lag"):  # fmt: skip
            fields[f] = sum(getattr(r, f) for r in row)
        fields["pending_by_priority"] = _sum_counts([r.pending_by_priority for r in row])
        for f in ("oldest_pending_age_ms", "wait_p50_ms", "wait_p99_ms", "run_p50_ms",
                  "run_p99_ms"):  # fmt: skip
            values = [v for r in row if (v := getattr(r, f)) is not None]
            fields[f] = max(values) if values else None
        points.append(HistoryPoint(**fields))
    return History(window_s=parts[0].window_s, step_s=parts[0].step_s, data=points)


def merge_workers(parts: Sequence[WorkerList]) -> WorkerList:
    """Workers by name: a worker process heartbeats on every shard; its newest beat counts, and
    its running jobs are added up over the shards."""
    by_name: dict[str, WorkerInfo] = {}
    for part in parts:
        for w in part.data:
            seen = by_name.get(w.name)
            if seen is None:
                by_name[w.name] = w.model_copy(deep=True)
                continue
            newest = w if w.last_heartbeat > seen.last_heartbeat else seen
            merged = newest.model_copy(deep=True)
            merged.alive = seen.alive or w.alive
            if seen.running is not None or w.running is not None:
                merged.running = (seen.running or 0) + (w.running or 0)
            by_name[w.name] = merged
    out = sorted(by_name.values(), key=lambda w: (not w.alive, -w.last_heartbeat))
    return WorkerList(data=out, count=len(out))


# --- queues: one name over every shard -------------------------------------------------------


async def _everywhere(shards: Shards, name: str) -> None:
    """QueueNotFoundError unless some shard knows the queue; then make every shard know it (a
    pause or a policy must hold where its jobs will land too)."""
    if len(shards) == 1 or name == DEFAULT_QUEUE:
        return
    known = await shards.each(lambda e: e.queues.names())
    if not any(name in names for names in known):
        every = sorted({n for names in known for n in names})
        raise QueueNotFoundError(f"queue {name!r} not found (known: {every})")
    await shards.each(lambda e: e.queues.register([name], {}))


async def all_queues(shards: Shards) -> list[QueueInfo]:
    """Every queue in use on any shard, its gauges added up."""
    return merge_queues(await shards.each(lambda e: e.queues.all()))


async def queue_info(shards: Shards, name: str) -> QueueInfo:
    """One queue's state and gauges over every shard that knows it (QueueNotFoundError when
    none does)."""
    if len(shards) == 1:
        return await shards.control.queues.info(name)

    async def known(engine: Engine) -> QueueInfo | QueueNotFoundError:
        try:
            return await engine.queues.info(name)
        except QueueNotFoundError as exc:
            return exc

    found = await shards.each(known)
    infos = [i for i in found if isinstance(i, QueueInfo)]
    if not infos:
        raise next(e for e in found if isinstance(e, QueueNotFoundError))
    return merge_queues([infos])[0]


async def pause_queue(shards: Shards, name: str) -> QueueInfo:
    """Pause a queue on every shard."""
    await _everywhere(shards, name)
    return merge_queues([[i] for i in await shards.each(lambda e: e.queues.pause(name))])[0]


async def resume_queue(shards: Shards, name: str) -> QueueInfo:
    """Resume a queue on every shard."""
    await _everywhere(shards, name)
    return merge_queues([[i] for i in await shards.each(lambda e: e.queues.resume(name))])[0]


async def purge_queue(shards: Shards, name: str, *, confirm: bool) -> int:
    """Cancel the queue's waiting jobs on every shard (see Queues.purge); how many."""
    if len(shards) == 1:
        return await shards.control.queues.purge(name, confirm=confirm)
    info = await queue_info(shards, name)
    await _everywhere(shards, name)
    if not confirm:
        raise ConfirmationRequiredError(
            f"purging queue {name!r} cancels its {info.pending} pending jobs; to go ahead, "
            "repeat with confirm=true (dtq admin purge: --yes)"
        )
    return sum(await shards.each(lambda e: e.queues.purge(name, confirm=True)))


async def put_retention(shards: Shards, name: str, policy: RetentionPolicy) -> QueueRetention:
    """Replace a queue's own retention policy on every shard."""
    return (await shards.each(lambda e: e.retention.put(name, policy)))[0]
