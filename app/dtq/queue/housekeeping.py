"""Periodic upkeep any worker may run (one at a time, under a lock): prune the job indexes,
idle consumers and silent workers, free tenants' concurrency slots no running job holds, and
let finished jobs go by their queue's retention where nothing finishes any more."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.exceptions import ResponseError

from dtq.queue import job_index
from dtq.queue.clock import redis_now_ms
from dtq.queue.scripts.library import Library
from dtq.queue.scripts.repair_slots import repair_slots
from dtq.queue.scripts.retire import retire
from dtq.queue.workers import Workers

logger = logging.getLogger(__name__)

# Entries of each job index checked a round, oldest first (see job_index.prune).
INDEX_SCAN = 5000
# retire.lua calls a queue gets per round at most (each removes up to 1,000 aged jobs a kind).
RETIRE_CALLS = 100
# A consumer without pending entries, idle this many visibility timeouts, is removed.
IDLE_CONSUMER_TIMEOUTS = 10


@dataclass(slots=True)
class HousekeepingReport:
    """What one round of housekeeping did."""

    index_pruned: int = 0
    consumers_removed: int = 0
    workers_forgotten: int = 0
    slots_freed: int = 0
    jobs_retired: int = 0


async def housekeep(
    lib: Library, workers: Workers, queues: Sequence[str]
) -> HousekeepingReport | None:
    """Run one round over `queues` (every queue in use) unless another worker holds the lock;
    returns what was done."""
    k, s = lib.keys, lib.settings
    lock_ms = int(s.HOUSEKEEPING_INTERVAL_S * 1000)
    if not await lib.redis.set(k.housekeeping_lock, "1", nx=True, px=lock_ms):
        return None
    report = HousekeepingReport()
    for index in k.indexes(cast(list[str], await lib.redis.hkeys(k.tenants))):
        report.index_pruned += await job_index.prune(lib, index, INDEX_SCAN)
    report.consumers_removed = await _prune_consumers(lib, queues)
    report.workers_forgotten = await workers.forget_silent(await redis_now_ms(lib.redis))
    for queue in queues:
        report.slots_freed += await repair_slots(lib, queue=k.queue(queue))
        for _ in range(RETIRE_CALLS):
            retired = await retire(lib, queue=k.queue(queue))
            report.jobs_retired += retired
            if not retired:
                break
    logger.info(
        "housekeeping index_pruned=%d consumers_removed=%d workers_forgotten=%d slots_freed=%d "
        "jobs_retired=%d",
        report.index_pruned,
        report.consumers_removed,
        report.workers_forgotten,
        report.slots_freed,
        report.jobs_retired,
    )
    return report


async def _prune_consumers(lib: Library, queues: Sequence[str]) -> int:
    """Remove consumers that own no entries and have been idle for a long time; how many.

    A consumer is one worker across the streams of its queues (XREADGROUP creates it on each
    level it reads, on some servers even when nothing is there), so it is judged on all of
    them: removed everywhere once it owns nothing on any stream and has been idle on every one
    past the limit. A consumer with pending entries is never removed: XGROUP DELCONSUMER would
    drop them.
    """
    group = lib.settings.CONSUMER_GROUP
    idle_limit = IDLE_CONSUMER_TIMEOUTS * lib.settings.VISIBILITY_TIMEOUT_MS
    pending: dict[str, int] = {}
    idle: dict[str, int] = {}
    where: dict[str, list[str]] = {}
    streams = [stream for queue in queues for stream in lib.keys.queue(queue).streams]
    for stream in streams:
        try:
            consumers: list[dict[str, Any]] = await lib.redis.xinfo_consumers(stream, group)
        except ResponseError:  # a queue no worker has listened to yet: no stream or no group
            continue
        for c in consumers:
            name = c["name"]
            pending[name] = pending.get(name, 0) + int(c["pending"])
            idle[name] = min(idle.get(name, int(c["idle"])), int(c["idle"]))
            where.setdefault(name, []).append(stream)
    removed = [name for name in where if pending[name] == 0 and idle[name] > idle_limit]
    for name in removed:
        for stream in where[name]:
            await lib.redis.xgroup_delconsumer(stream, group, name)
    return len(removed)
