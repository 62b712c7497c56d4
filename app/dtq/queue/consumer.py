"""The worker's side of the queue: read, reclaim, start, settle, extend leases, report progress."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from redis.exceptions import ResponseError

from dtq.models import Priority
from dtq.queue.delivery import Delivery, Entry, Failure
from dtq.queue.keys import Keys
from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.complete import complete
from dtq.queue.scripts.extend_lease import extend_lease
from dtq.queue.scripts.fail import fail
from dtq.queue.scripts.library import Batch, Library
from dtq.queue.scripts.progress import progress
from dtq.queue.scripts.read import read
from dtq.queue.scripts.requeue import requeue
from dtq.queue.scripts.start import start

logger = logging.getLogger(__name__)

# Which level a read takes first, by read number modulo 10; the other reads take critical first.
# Under a sustained load on every level, each lower level thus gets at least 1 read in 10.
FAIR_SHARE_ORDERS = {3: "2134", 6: "3124", 9: "4123"}
PRIORITY_FIRST = "1234"


@dataclass(slots=True)
class Settled:
    """What became of a batch of outcomes."""

    completed: int = 0
    retried: int = 0
    dead: int = 0
    stale: int = 0
    parents: list[str] = field(default_factory=list)  # finished jobs whose dependents wait


async def ensure_group(lib: Library) -> None:
    """Create each job stream and its consumer group if missing (from the start of the stream)."""
    for stream in lib.keys.streams:
        try:
            await lib.redis.xgroup_create(
                stream, lib.settings.CONSUMER_GROUP, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


def _entries(level: int, messages: Any) -> list[Entry]:
    """Entries of XREADGROUP/XAUTOCLAIM messages from one level (None fields: deleted)."""
    return [(level, entry_id, fields.get("id", "")) for entry_id, fields in messages if fields]


class Consumer:
    """One uniquely named consumer of the group. Each method is one or two round trips."""

    def __init__(self, lib: Library, name: str) -> None:
        self.name = name
        self._lib = lib
        self._redis = lib.redis
        self._keys: Keys = lib.keys
        self._group = lib.settings.CONSUMER_GROUP
        self._rate_limits = lib.settings.rate_limits
        self._reclaim_cursors = ["0-0"] * len(self._keys.streams)
        self._level_of = {stream: level for level, stream in enumerate(self._keys.streams)}
        self._reads = 0
        self._only_level: int | None = None

    async def read(self, count: int, block_ms: int) -> list[Entry]:
        """Up to `count` new entries for this consumer, higher priority levels first.

        One read in ten takes a lower level first (FAIR_SHARE_ORDERS) so that no level starves.
        When no level has an entry, waits up to block_ms on all of them (XREADGROUP BLOCK).

        Tenants' lanes are dispatched first, fairly and within their concurrency caps (read.lua).

        Fast path: while no lane holds jobs and a priority-first read finds work on one level
        only and fills its count, the next reads up to the next fair-share read take that level
        with a plain XREADGROUP instead of read.lua (half the Redis CPU per entry). A higher
        level's new work thus waits at most until the next fair-share read, at most 3 reads away.
        """
        self._reads += 1
        order = FAIR_SHARE_ORDERS.get(self._reads % 10)
        k = self._keys
        if order is None and self._only_level is not None:
            level = self._only_level
            reply: Any = await self._redis.xreadgroup(
                self._group, self.name, {k.streams[level]: ">"}, count=count
            )
            entries = _entries(level, reply[0][1]) if reply else []
            if len(entries) == count:
                return entries
            self._only_level = None
            if entries:
                return entries
        got = await read(self._lib, consumer=self.name, count=count, order=order or PRIORITY_FIRST)
        entries = got.entries
        if order is None:
            one_level = not got.lanes_busy and len(got.levels) == 1 and len(entries) == count
            self._only_level = got.levels[0] if one_level else None
        elif self._only_level is not None and any(lv < self._only_level for lv in got.levels):
            self._only_level = None
        if entries or block_ms <= 0:
            return entries
        reply = await self._redis.xreadgroup(
            self._group, self.name, dict.fromkeys(k.streams, ">"), count=1, block=block_ms
        )
        for stream, messages in reply or []:
            entries += _entries(self._level_of[stream], messages)
        return entries

    async def reclaim(self, count: int) -> tuple[list[Entry], list[tuple[int, str]]]:
        """Take over entries idle past the visibility timeout (XAUTOCLAIM), levels in order.

        Returns the claimed entries and the (level, entry id) pairs XAUTOCLAIM reported deleted:
        entries that were pending but no longer exist in the stream (see `recover_deleted`).
        """
        claimed: list[Entry] = []
        deleted: list[tuple[int, str]] = []
        for level, stream in enumerate(self._keys.streams):
            if len(claimed) >= count:
                break
            reply: Any = await self._redis.xautoclaim(
                stream,
                self._group,
                self.name,
                min_idle_time=self._lib.settings.VISIBILITY_TIMEOUT_MS,
                start_id=self._reclaim_cursors[level],
                count=count - len(claimed),
            )
            next_id, messages, gone = reply
            self._reclaim_cursors[level] = next_id
            claimed += _entries(level, messages)
            deleted += [(level, entry_id) for entry_id in gone]
        return claimed, deleted

    async def start(self, entries: Sequence[Entry]) -> list[Delivery]:
        """Mark delivered entries running under this consumer; returns the jobs to run."""
        if not entries:
            return []
        started = await start(
            self._lib, consumer=self.name, entries=entries, rate_limits=self._rate_limits
        )
        if started.rate_limited and logger.isEnabledFor(logging.DEBUG):
            logger.debug("jobs rate limited job_ids=%s", ",".join(started.rate_limited))
        for job_id in started.poisoned:
            logger.warning("job dead-lettered as poison job_id=%s", job_id)
        return started.deliveries

    async def settle(
        self, completed: Sequence[tuple[Delivery, bytes]], failed: Sequence[Failure]
    ) -> Settled:
        """Record successes and failures in one round trip, fenced by (consumer, attempt)."""
        batch = Batch(self._redis)
        succeeded = (
            batch.add(complete(self._lib, consumer=self.name, completed=completed))
            if completed
            else None
        )
        failures = (
            batch.add(fail(self._lib, consumer=self.name, failures=failed)) if failed else None
        )
        await batch.run()
        out = Settled()
        if succeeded is not None:
            for (d, _), outcome in zip(completed, succeeded.value, strict=True):
                if outcome.code == Code.STALE:
                    out.stale += 1
                    continue
                out.completed += 1
                if outcome.release_dependents:
                    out.parents.append(d.job_id)
        if failures is not None:
            for f, done in zip(failed, failures.value, strict=True):
                if done.outcome.code == Code.RETRYING:
                    out.retried += 1
                elif done.outcome.code == Code.DEAD:
                    out.dead += 1
                    if done.outcome.release_dependents:
                        out.parents.append(f.delivery.job_id)
                else:
                    out.stale += 1
        return out

    async def report_progress(self, d: Delivery, percent: float, message: str) -> bool:
        """Record a running job's progress; False if this consumer no longer owns the job."""
        return await progress(
            self._lib, consumer=self.name, delivery=d, percent=percent, message=message
        )

    async def extend_leases(self, deliveries: Sequence[Delivery]) -> list[bool]:
        """Reset the idle time of entries this consumer still owns; False where it lost one."""
        if not deliveries:
            return []
        return await extend_lease(self._lib, consumer=self.name, deliveries=deliveries)

    async def recover_deleted(
        self, deleted: Sequence[tuple[int, str]], scan_limit: int = 100_000
    ) -> int:
        """Give new entries to live jobs whose unacknowledged entry was deleted from its stream.

        `deleted` holds (level, entry id) pairs. The entry no longer names its job, so the newest
        `scan_limit` jobs of the index are searched for the ones that point at a deleted entry.
        """
        wanted = set(deleted)
        k = self._keys
        requeued = 0
        for first in range(0, scan_limit, 1000):
            ids = cast(list[str], await self._redis.zrange(k.index, first, first + 999, desc=True))
            if not ids:
                break
            async with self._redis.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hmget(k.job(job_id), ["entry", "priority"])
                rows = await pipe.execute()
            for job_id, (entry, priority) in zip(ids, rows, strict=True):
                where = (Priority(priority or Priority.NORMAL).level, entry)
                if where in wanted:
                    if await requeue(self._lib, job_id=job_id, entry_id=entry, level=where[0]):
                        requeued += 1
                    wanted.discard(where)
            if not wanted:
                break
        return requeued
