"""Reading one queue for a consumer: its consumer groups, new entries in priority order (with
tenants' lanes dispatched first), and entries reclaimed from dead consumers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ResponseError

from dtq.models import DEFAULT_QUEUE
from dtq.queue.delivery import Entry, SharedEntry
from dtq.queue.keys import QueueKeys
from dtq.queue.scripts.ensure_groups import ensure_groups
from dtq.queue.scripts.library import Library
from dtq.queue.scripts.read import read

# Which level a read takes first, by read number modulo 10; the other reads take critical first.
# Under a sustained load on every level, each lower level thus gets at least 1 read in 10.
FAIR_SHARE_ORDERS = {3: "2134", 6: "3124", 9: "4123"}
PRIORITY_FIRST = "1234"
# How long a consumer leaves a paused queue before looking again.
PAUSE_CHECK_S = 1.0


async def ensure_group(lib: Library, queues: Sequence[str] = (DEFAULT_QUEUE,)) -> None:
    """Create each job stream of `queues` and its consumer group if missing (from the start of
    the stream, so jobs submitted before any worker listened are read too), in one script that
    runs even when Redis is full."""
    streams = [stream for name in queues for stream in lib.keys.queue(name).streams]
    await ensure_groups(lib, streams=streams)


def entries_of(queue: str, level: int, messages: Any) -> list[Entry]:
    """Entries of XREADGROUP/XAUTOCLAIM messages from one stream (None fields: deleted), one
    per job: a shared entry (a tenant's run, `ids`) gives one for each of its jobs."""
    out: list[Entry] = []
    for entry_id, fields in messages:
        if not fields:
            continue
        run = fields.get("ids")
        if run is None:
            out.append(Entry(level, entry_id, fields.get("id", ""), queue))
        else:
            out += [SharedEntry(level, entry_id, job_id, queue) for job_id in run.split(",")]
    return out


class QueueReader:
    """A consumer's reads of one queue, and what it remembers between them."""

    def __init__(self, lib: Library, consumer: str, keys: QueueKeys, weight: int = 1) -> None:
        self.keys = keys
        self.weight = weight
        self.paused_until = 0.0  # monotonic: left alone until then (paused, or unserved work)
        self._lib = lib
        self._redis = lib.redis
        self._group = lib.settings.CONSUMER_GROUP
        self._consumer = consumer
        self._reads = 0
        self._only_level: int | None = None
        self._reclaim_cursors = ["0-0"] * len(keys.streams)

    async def read(self, count: int) -> list[Entry]:
        """Up to `count` new entries of one queue, higher priority levels first.

        One read in ten takes a lower level first (FAIR_SHARE_ORDERS) so that no level starves.
        Tenants' lanes are dispatched first, fairly and within their concurrency caps (read.lua).

        Fast path: while no lane holds jobs and a priority-first read finds work on one level
        only and fills its count, the next reads up to the next fair-share read take that level
        with a plain XREADGROUP instead of read.lua (half the Redis CPU per entry). A higher
        level's new work thus waits at most until the next fair-share read, at most 3 reads away.
        """
        self._reads += 1
        order = FAIR_SHARE_ORDERS.get(self._reads % 10)
        q = self.keys
        if order is None and self._only_level is not None:
            level = self._only_level
            reply: Any = await self._redis.xreadgroup(
                self._group, self._consumer, {q.streams[level]: ">"}, count=count
            )
            entries = entries_of(q.name, level, reply[0][1]) if reply else []
            if len(entries) == count:
                return entries
            self._only_level = None
            if entries:
                return entries
        got = await read(
            self._lib, queue=q, consumer=self._consumer, count=count, order=order or PRIORITY_FIRST
        )
        if got.paused:
            self.paused_until = time.monotonic() + PAUSE_CHECK_S
            self._only_level = None
            return []
        entries = got.entries
        if order is None:
            one_level = not got.lanes_busy and len(got.levels) == 1 and len(entries) == count
            self._only_level = got.levels[0] if one_level else None
        elif self._only_level is not None and any(lv < self._only_level for lv in got.levels):
            self._only_level = None
        return entries

    async def reclaim(self, count: int) -> tuple[list[Entry], list[Entry]]:
        """Up to `count` entries idle past the visibility timeout (XAUTOCLAIM), level by level,
        and the entries XAUTOCLAIM reported deleted."""
        claimed: list[Entry] = []
        deleted: list[Entry] = []
        for level, stream in enumerate(self.keys.streams):
            if len(claimed) >= count:
                break
            reply: Any = await self._redis.xautoclaim(
                stream,
                self._group,
                self._consumer,
                min_idle_time=self._lib.settings.VISIBILITY_TIMEOUT_MS,
                start_id=self._reclaim_cursors[level],
                count=count - len(claimed),
            )
            next_id, messages, gone = reply
            self._reclaim_cursors[level] = next_id
            claimed += entries_of(self.keys.name, level, messages)
            deleted += [Entry(level, entry_id, "", self.keys.name) for entry_id in gone]
        return claimed, deleted


def group_row(groups: Any, group: str) -> dict[str, Any]:
    """The consumer group's XINFO GROUPS row ({} when the stream or group is missing)."""
    if isinstance(groups, ResponseError):
        return {}
    return next((g for g in groups if g["name"] == group), {})
