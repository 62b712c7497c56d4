"""The worker's side of the queue: read, reclaim, start, settle, extend leases, report progress."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from dtq.models import DEFAULT_QUEUE, Priority
from dtq.queue import job_index
from dtq.queue.delivery import Delivery, Entry, Failure
from dtq.queue.keys import QueueKeys
from dtq.queue.reader import PAUSE_CHECK_S, QueueReader, entries_of, group_row
from dtq.queue.scripts.codes import Code, Outcome
from dtq.queue.scripts.complete import complete
from dtq.queue.scripts.extend_lease import extend_lease
from dtq.queue.scripts.fail import Failed, fail
from dtq.queue.scripts.library import Batch, Library, Pending
from dtq.queue.scripts.progress import progress
from dtq.queue.scripts.requeue import requeue
from dtq.queue.scripts.start import start
from dtq.queue.shared_entries import SharedEntries
from dtq.queue.tenant_ids import public_id

logger = logging.getLogger(__name__)

# How long a consumer leaves a queue whose entries it read were all of task types it does not
# serve (so that capable consumers take them).
UNSERVED_PAUSE_S = 0.2

T = TypeVar("T")


def _by_queue(items: Sequence[T], queue_of: Callable[[T], str]) -> dict[str, list[T]]:
    """Items grouped by queue, in order."""
    groups: dict[str, list[T]] = {}
    for item in items:
        groups.setdefault(queue_of(item), []).append(item)
    return groups


@dataclass(slots=True)
class Settled:
    """What became of a batch of outcomes."""

    completed: int = 0
    retried: int = 0
    dead: int = 0
    stale: int = 0
    parents: list[str] = field(default_factory=list)  # finished jobs whose dependents wait


class Consumer:
    """One uniquely named consumer of the queues it listens to. Each method is one or two round
    trips.

    `queues` are read in order (the first first, the next with what count is left), or, with
    `weights`, in an order drawn at random by weight on each read. `serves` names the task
    types it runs: a job of another type is handed back for a capable consumer (empty: all).
    """

    def __init__(
        self,
        lib: Library,
        name: str,
        queues: Sequence[str] = (DEFAULT_QUEUE,),
        *,
        weights: Sequence[int] | None = None,
        serves: Collection[str] = (),
    ) -> None:
        if not queues or len(set(queues)) != len(queues):
            raise ValueError("a consumer listens to one or more distinct queues")
        if weights is not None and (len(weights) != len(queues) or min(weights) < 1):
            raise ValueError("give one positive weight per queue")
        self.name = name
        self.queues = list(queues)
        self._lib = lib
        self._redis = lib.redis
        self._group = lib.settings.CONSUMER_GROUP
        self._rate_limits = lib.settings.rate_limits
        self._serves = sorted(serves)
        self._weighted = weights is not None
        self._readers = {
            q: QueueReader(lib, name, lib.keys.queue(q), w)
            for q, w in zip(queues, weights or [1] * len(queues), strict=True)
        }
        self._stream_of = {
            stream: (q, level)
            for q, r in self._readers.items()
            for level, stream in enumerate(r.keys.streams)
        }
        self._shared = SharedEntries()
        self._dropped: list[Entry] = []  # shared entries to ack, whose last job here was dropped

    def _order(self) -> list[QueueReader]:
        readers = list(self._readers.values())
        if not self._weighted or len(readers) == 1:
            return readers
        first = random.choices(readers, weights=[r.weight for r in readers])[0]
        rest = sorted((r for r in readers if r is not first), key=lambda r: -r.weight)
        return [first, *rest]

    async def read(self, count: int, block_ms: int) -> list[Entry]:
        """Up to `count` new entries for this consumer, from its queues in their order.

        When no queue has an entry, waits up to block_ms on all of them (XREADGROUP BLOCK).
        A paused queue is skipped (and looked at again every PAUSE_CHECK_S).
        """
        entries: list[Entry] = []
        now = time.monotonic()
        for reader in self._order():
            if reader.paused_until > now:
                continue
            entries += await reader.read(count - len(entries))
            if len(entries) >= count:
                return entries
        if entries or block_ms <= 0:
            return entries
        open_streams = [
            stream
            for r in self._readers.values()
            if r.paused_until <= now
            for stream in r.keys.streams
        ]
        if not open_streams:  # until the first queue left alone is due for another look
            soonest = min(r.paused_until for r in self._readers.values()) - now
            await asyncio.sleep(min(block_ms / 1000, max(soonest, 0.001)))
            return entries
        reply: Any = await self._redis.xreadgroup(
            self._group, self.name, dict.fromkeys(open_streams, ">"), count=1, block=block_ms
        )
        for stream, messages in reply or []:
            queue, level = self._stream_of[stream]
            entries += entries_of(queue, level, messages)
        return entries

    async def wait(self, block_ms: int) -> None:
        """Wait up to block_ms until one of its open queues' streams has an entry not yet
        delivered to the group (XREAD from the group's last-delivered id), claiming nothing:
        a worker whose slots are shared with other shards waits here holding none."""
        now = time.monotonic()
        streams = [
            s for r in self._readers.values() if r.paused_until <= now for s in r.keys.streams
        ]
        if not streams:
            await asyncio.sleep(block_ms / 1000)
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream in streams:
                pipe.xinfo_groups(stream)
            replies = await pipe.execute(raise_on_error=False)
        since: dict[Any, Any] = {
            stream: group_row(groups, self._group).get("last-delivered-id") or "0-0"
            for stream, groups in zip(streams, replies, strict=True)
        }
        await self._redis.xread(since, count=1, block=block_ms)

    async def reclaim(self, count: int) -> tuple[list[Entry], list[Entry]]:
        """Take over entries idle past the visibility timeout (XAUTOCLAIM), queue by queue and
        level by level.

        Returns the claimed entries and those XAUTOCLAIM reported deleted (no job id): entries
        that were pending but no longer exist in the stream (see `recover_deleted`).
        """
        claimed: list[Entry] = []
        deleted: list[Entry] = []
        for reader in self._readers.values():
            if len(claimed) >= count:
                break
            more, gone = await reader.reclaim(count - len(claimed))
            claimed += more
            deleted += gone
        return claimed, deleted

    async def start(self, entries: Sequence[Entry]) -> list[Delivery]:
        """Mark delivered entries running under this consumer; returns the jobs to run.

        A queue whose entries were all handed back (task types this consumer does not serve) is
        left alone for UNSERVED_PAUSE_S, so that capable consumers take them meanwhile.
        """
        if not entries:
            return []
        batch = Batch(self._redis)
        calls = [
            (
                queue,
                batch.add(
                    start(
                        self._lib,
                        queue=self._keys_of(queue),
                        consumer=self.name,
                        entries=group,
                        rate_limits=self._rate_limits,
                        serves=self._serves,
                    )
                ),
            )
            for queue, group in self._grouped(entries, lambda e: e.queue).items()
        ]
        await batch.run()
        deliveries: list[Delivery] = [d for _, pending in calls for d in pending.value.deliveries]
        idle = self._shared.started(entries, deliveries)
        if idle:
            await self._ack(idle)
        for queue, pending in calls:
            started = pending.value
            if started.rate_limited and logger.isEnabledFor(logging.DEBUG):
                logger.debug("jobs rate limited job_ids=%s", ",".join(started.rate_limited))
            for job_id in started.poisoned:
                logger.warning("job dead-lettered as poison job_id=%s", public_id(job_id))
            if started.handed_back:
                logger.debug(
                    "handed back jobs of task types this worker does not serve queue=%s count=%d",
                    queue,
                    len(started.handed_back),
                )
                if not started.deliveries and queue in self._readers:
                    self._readers[queue].paused_until = time.monotonic() + UNSERVED_PAUSE_S
            if started.held and queue in self._readers:
                self._readers[queue].paused_until = time.monotonic() + PAUSE_CHECK_S
        return deliveries

    async def settle(
        self, completed: Sequence[tuple[Delivery, bytes]], failed: Sequence[Failure]
    ) -> Settled:
        """Record successes and failures in one round trip, fenced by (consumer, attempt); a
        shared entry is acked with the last of its jobs that ran here."""
        self._shared.settling([d for d, _ in completed] + [f.delivery for f in failed])
        batch = Batch(self._redis)
        successes: list[tuple[list[tuple[Delivery, bytes]], Pending[list[Outcome]]]] = []
        for queue, good in self._grouped(completed, lambda c: c[0].queue).items():
            ok = complete(self._lib, queue=self._keys_of(queue), consumer=self.name, completed=good)
            successes.append((good, batch.add(ok)))
        failures: list[tuple[list[Failure], Pending[list[Failed]]]] = []
        for queue, bad in self._grouped(failed, lambda f: f.delivery.queue).items():
            ko = fail(self._lib, queue=self._keys_of(queue), consumer=self.name, failures=bad)
            failures.append((bad, batch.add(ko)))
        await batch.run()
        await self.ack_dropped()
        out = Settled()
        for good, pending in successes:
            for (d, _), outcome in zip(good, pending.value, strict=True):
                if outcome.code == Code.STALE:
                    out.stale += 1
                    continue
                out.completed += 1
                if outcome.release_dependents:
                    out.parents.append(d.job_id)
        for bad, failing in failures:
            for f, done in zip(bad, failing.value, strict=True):
                if done.outcome.code == Code.RETRYING:
                    out.retried += 1
                elif done.outcome.code == Code.DEAD:
                    out.dead += 1
                    if done.outcome.release_dependents:
                        out.parents.append(f.delivery.job_id)
                else:
                    out.stale += 1
        return out

    def dropped(self, d: Delivery) -> None:
        """`d` stopped here without an outcome (canceled while it ran): its shared entry is
        acked by the next ack_dropped() if none of its other jobs runs here."""
        if self._shared.dropped(d):
            self._dropped.append(d.entry)

    async def ack_dropped(self) -> None:
        """Acknowledge the shared entries whose last job here was dropped."""
        if self._dropped:
            entries, self._dropped = self._dropped, []
            await self._ack(entries)

    async def _ack(self, entries: Sequence[Entry]) -> None:
        """XACK entries, one call per stream, in one round trip."""
        by_stream: dict[str, list[str]] = {}
        for e in entries:
            by_stream.setdefault(self._keys_of(e.queue).streams[e.level], []).append(e.entry_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream, ids in by_stream.items():
                pipe.xack(stream, self._group, *ids)
            await pipe.execute()

    def _grouped(self, items: Sequence[T], queue_of: Callable[[T], str]) -> dict[str, list[T]]:
        """Items by queue; a consumer of one queue holds only that queue's (no look needed)."""
        if not items:
            return {}
        if len(self.queues) == 1:
            return {self.queues[0]: list(items)}
        return _by_queue(items, queue_of)

    def _keys_of(self, queue: str) -> QueueKeys:
        reader = self._readers.get(queue)
        return reader.keys if reader is not None else self._lib.keys.queue(queue)

    async def report_progress(self, d: Delivery, percent: float, message: str) -> bool:
        """Record a running job's progress; False if this consumer no longer owns the job."""
        return await progress(
            self._lib, consumer=self.name, delivery=d, percent=percent, message=message
        )

    async def extend_leases(self, deliveries: Sequence[Delivery]) -> list[bool]:
        """Reset the idle time of entries this consumer still owns; False where it lost one."""
        if not deliveries:
            return []
        by_queue = self._grouped(deliveries, lambda d: d.queue)
        if len(by_queue) == 1:
            ((queue, group),) = by_queue.items()
            return await extend_lease(
                self._lib, queue=self._keys_of(queue), consumer=self.name, deliveries=group
            )
        batch = Batch(self._redis)
        calls = {
            queue: batch.add(
                extend_lease(
                    self._lib, queue=self._keys_of(queue), consumer=self.name, deliveries=group
                )
            )
            for queue, group in by_queue.items()
        }
        await batch.run()
        kept = {
            id(d): ok
            for queue, group in by_queue.items()
            for d, ok in zip(group, calls[queue].value, strict=True)
        }
        return [kept[id(d)] for d in deliveries]

    async def recover_deleted(self, deleted: Sequence[Entry], scan_limit: int = 100_000) -> int:
        """Give new entries to live jobs whose unacknowledged entry was deleted from its stream.

        The entry no longer names its job, so the newest jobs of each tenant's index are
        searched for the ones that point at a deleted entry: `scan_limit` in all, shared
        evenly (at least 1,000 an index).
        """
        wanted = {(e.queue, e.level, e.entry_id) for e in deleted}
        k = self._lib.keys
        tenants = cast(list[str], await self._redis.hkeys(k.tenants))
        indexes = k.indexes(tenants)
        each = max(scan_limit // len(indexes), 1000)
        requeued = 0
        for index in indexes:
            requeued += await self._requeue_deleted(index, wanted, each)
            if not wanted:
                break
        return requeued

    async def _requeue_deleted(
        self, index: str, wanted: set[tuple[str, int, str]], scan_limit: int
    ) -> int:
        """recover_deleted over one index: requeue its jobs found in `wanted` (and take them
        out of it)."""
        k = self._lib.keys
        requeued = 0
        top: str | float = "+inf"
        for _ in range(0, scan_limit, 1000):
            page = await job_index.newest(self._redis, index, top, "-inf", 1000)
            if not page:
                break
            top = f"({page[-1].score}"
            ids = [entry.job_id for entry in page]
            async with self._redis.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hmget(k.job(job_id), ["entry", "priority", "queue"])
                rows = await pipe.execute()
            for job_id, (entry, priority, queue) in zip(ids, rows, strict=True):
                level = Priority(priority or Priority.NORMAL).level
                where = (queue or DEFAULT_QUEUE, level, entry)
                if where in wanted:
                    keys = self._keys_of(where[0])
                    if await requeue(
                        self._lib, queue=keys, job_id=job_id, entry_id=entry, level=level
                    ):
                        requeued += 1
                    wanted.discard(where)
            if not wanted:
                break
        return requeued
