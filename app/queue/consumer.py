"""The worker's side of the queue: read, reclaim, start, settle, extend leases, promote due jobs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.typing import EncodableT

from app.config import Settings
from app.models import Priority
from app.queue.keys import Keys
from app.queue.scripts import POISON, RATE_LIMITED, STALE_OWNER, Scripts

logger = logging.getLogger(__name__)

MAX_PROGRESS_MESSAGE = 500

# (stream level: 0 critical .. 3 low, stream entry id, job id)
Entry = tuple[int, str, str]

# Which level a read takes first, by read number modulo 10; the other reads take critical first.
# Under a sustained load on every level, each lower level thus gets at least 1 read in 10.
FAIR_SHARE_ORDERS = {3: "2134", 6: "3124", 9: "4123"}
PRIORITY_FIRST = "1234"


@dataclass(slots=True)
class Delivery:
    """A job this consumer has started: everything needed to run it and to fence its outcome."""

    job_id: str
    entry_id: str
    attempt: int
    failures: int
    max_retries: int
    task_type: str
    payload: str
    timeout_s: float | None = None
    level: int = 2
    depends_on: tuple[str, ...] = ()

    @property
    def entry(self) -> tuple[int, str]:
        """Where the job's stream entry is: (level, entry id). Entry ids repeat across levels."""
        return (self.level, self.entry_id)


@dataclass(slots=True)
class Failure:
    """A failed attempt to record: the error text, the delay before the retry and why."""

    delivery: Delivery
    error: str
    delay_ms: int
    reason: str = "error"  # or "timeout"


@dataclass(slots=True)
class Settled:
    """What became of a batch of outcomes."""

    completed: int = 0
    retried: int = 0
    dead: int = 0
    stale: int = 0
    parents: list[str] = field(default_factory=list)  # finished jobs whose dependents wait


async def ensure_group(redis: Redis, keys: Keys, group: str) -> None:
    """Create each job stream and its consumer group if missing (from the start of the stream)."""
    for stream in keys.streams:
        try:
            await redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


def _entries(level: int, messages: Any) -> list[Entry]:
    """Entries of XREADGROUP/XAUTOCLAIM messages from one level (None fields: deleted)."""
    return [(level, entry_id, fields.get("id", "")) for entry_id, fields in messages if fields]


class Consumer:
    """One uniquely named consumer of the group. Each method is one or two round trips."""

    def __init__(
        self, redis: Redis, keys: Keys, scripts: Scripts, settings: Settings, name: str
    ) -> None:
        self.name = name
        self._redis = redis
        self._keys = keys
        self._scripts = scripts
        self._settings = settings
        self._group = settings.CONSUMER_GROUP
        self._reclaim_cursors = ["0-0"] * len(keys.streams)
        self._level_of = {stream: level for level, stream in enumerate(keys.streams)}
        self._reads = 0
        self._only_level: int | None = None
        limits = settings.rate_limits
        self._rate_keys = [keys.rate_slot(task_type) for task_type in limits]
        self._rate_args: list[EncodableT] = [len(limits)]
        for task_type, interval_ms in limits.items():
            self._rate_args += (task_type, interval_ms)

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
        lanes, *levels = await self._scripts["read"](
            [*k.streams, k.lanes, k.tenants],
            [
                self._group,
                self.name,
                count,
                order or PRIORITY_FIRST,
                k.job_prefix,
                self._settings.TENANT_MAX_CONCURRENCY,
            ],
        )
        entries = [
            (level - 1, entry_id, job_id)
            for level, entry_ids, job_ids in levels
            for entry_id, job_id in zip(entry_ids.split(","), job_ids.split(","), strict=True)
        ]
        if order is None:
            one_level = not lanes and len(levels) == 1 and len(entries) == count
            self._only_level = levels[0][0] - 1 if one_level else None
        elif self._only_level is not None and any(lv - 1 < self._only_level for lv, _, _ in levels):
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
                min_idle_time=self._settings.VISIBILITY_TIMEOUT_MS,
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
        k = self._keys
        keys = [*k.streams, k.dlq, k.stats, k.events, k.dependency_outbox]
        keys += [k.job(job_id) for _, _, job_id in entries]
        keys += [k.delayed, k.lanes, *self._rate_keys]
        args: list[EncodableT] = [
            self._group,
            self.name,
            self._settings.MAX_DELIVERIES,
            self._settings.EVENTS_MAXLEN,
            len(entries),
        ]
        for level, entry_id, job_id in entries:
            args += (level + 1, entry_id, job_id)
        args += self._rate_args
        replies = await self._scripts["start"](keys, args)
        started: list[Delivery] = []
        for (level, entry_id, job_id), reply in zip(entries, replies, strict=True):
            if reply[0] == 1:
                attempt, failures, max_retries, task_type, payload, timeout_s, parents = reply[1:]
                started.append(
                    Delivery(
                        job_id,
                        entry_id,
                        int(attempt),
                        int(failures),
                        int(max_retries),
                        task_type,
                        payload,
                        float(timeout_s) if timeout_s else None,
                        level,
                        tuple(parents.split(",")) if parents else (),
                    )
                )
            elif reply[0] == RATE_LIMITED and logger.isEnabledFor(logging.DEBUG):
                logger.debug("job rate limited job_id=%s", job_id)
            elif reply[0] == POISON:
                logger.warning("job dead-lettered as poison job_id=%s", job_id)
        return started

    async def settle(
        self, completed: Sequence[tuple[Delivery, bytes]], failed: Sequence[Failure]
    ) -> Settled:
        """Record successes and failures in one round trip, fenced by (consumer, attempt)."""
        k = self._keys
        s = self._settings
        async with self._redis.pipeline(transaction=False) as pipe:
            if completed:
                args: list[EncodableT] = [
                    self._group,
                    self.name,
                    s.RESULT_TTL_S,
                    s.EVENTS_MAXLEN,
                    len(completed),
                ]
                for d, result in completed:
                    args += (d.job_id, d.level + 1, d.entry_id, d.attempt, result)
                keys = [*k.streams, k.stats, k.events, k.dependency_outbox, k.lanes]
                keys += [k.job(d.job_id) for d, _ in completed]
                await self._scripts["complete"](keys, args, client=pipe)
            if failed:
                args = [self._group, self.name, s.EVENTS_MAXLEN, len(failed)]
                for f in failed:
                    d = f.delivery
                    args += (
                        d.job_id,
                        d.level + 1,
                        d.entry_id,
                        d.attempt,
                        f.error,
                        f.delay_ms,
                        f.reason,
                    )
                keys = [*k.streams, k.delayed, k.dlq, k.stats, k.events, k.dependency_outbox]
                keys += [k.lanes, *(k.job(f.delivery.job_id) for f in failed)]
                await self._scripts["fail"](keys, args, client=pipe)
            replies = await pipe.execute()
        out = Settled()
        if completed:
            codes = replies.pop(0)
            out.stale += sum(1 for c in codes if c == STALE_OWNER)
            out.completed = len(codes) - out.stale
            out.parents += [d.job_id for (d, _), c in zip(completed, codes, strict=True) if c == 2]
        if failed:
            for f, reply in zip(failed, replies.pop(0), strict=True):
                if reply[0] == 1:
                    out.retried += 1
                elif reply[0] in (2, 3):
                    out.dead += 1
                    if reply[0] == 3:
                        out.parents.append(f.delivery.job_id)
                else:
                    out.stale += 1
        return out

    async def report_progress(self, d: Delivery, percent: float, message: str) -> bool:
        """Record a running job's progress; False if this consumer no longer owns the job."""
        k = self._keys
        code = await self._scripts["progress"](
            [k.job(d.job_id), k.events],
            [
                d.job_id,
                self.name,
                d.attempt,
                f"{min(max(percent, 0.0), 100.0):g}",
                message[:MAX_PROGRESS_MESSAGE],
                self._settings.EVENTS_MAXLEN,
            ],
        )
        return bool(code == 1)

    async def extend_leases(self, deliveries: Sequence[Delivery]) -> list[bool]:
        """Reset the idle time of entries this consumer still owns; False where it lost one."""
        if not deliveries:
            return []
        k = self._keys
        args: list[EncodableT] = [self._group, self.name, len(deliveries)]
        for d in deliveries:
            args += (d.level + 1, d.entry_id, d.attempt)
        keys = [*k.streams, *(k.job(d.job_id) for d in deliveries)]
        return [code == 1 for code in await self._scripts["extend_lease"](keys, args)]

    async def trim_acknowledged(self) -> int:
        """Trim acknowledged entries from the job streams (never a pending or undelivered one)."""
        return int(await self._scripts["trim"](self._keys.streams, [self._group]))

    async def promote_due(self, limit: int = 500) -> tuple[int, int | None]:
        """Move due scheduled jobs to the stream.

        Returns how many were promoted and, when jobs remain scheduled, the milliseconds until
        the earliest of them is due (by the Redis clock).
        """
        k = self._keys
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.zrange(k.delayed, 0, limit - 1, withscores=True)
            (seconds, micros), candidates = cast(
                tuple[tuple[int, int], list[tuple[str, float]]], await pipe.execute()
            )
        now = seconds * 1000 + micros // 1000
        due = [job_id for job_id, score in candidates if score <= now]
        promoted = 0
        if due:
            keys = [k.delayed, *k.streams, k.stats, k.events, k.lanes, *(k.job(j) for j in due)]
            promoted = await self._scripts["promote_due"](
                keys, [self._settings.EVENTS_MAXLEN, len(due), *due]
            )
        later = [score for _, score in candidates if score > now]
        if len(due) == limit:
            return promoted, 0
        return promoted, (int(later[0] - now) if later else None)

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
        for start in range(0, scan_limit, 1000):
            ids = cast(list[str], await self._redis.zrange(k.index, start, start + 999, desc=True))
            if not ids:
                break
            async with self._redis.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hmget(k.job(job_id), ["entry", "priority"])
                rows = await pipe.execute()
            for job_id, (entry, priority) in zip(ids, rows, strict=True):
                where = (Priority(priority or Priority.NORMAL).level, entry)
                if where in wanted:
                    requeued += await self._scripts["requeue"](
                        [k.job(job_id), *k.streams, k.stats, k.events],
                        [job_id, entry, self._settings.EVENTS_MAXLEN, where[0] + 1],
                    )
                    wanted.discard(where)
            if not wanted:
                break
        return requeued
