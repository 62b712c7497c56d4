"""The face of read.lua: dispatch tenants' lanes fairly, then hand out new entries by level."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dtq.queue.delivery import Entry
from dtq.queue.keys import QueueKeys
from dtq.queue.scripts.library import Call, Library


@dataclass(frozen=True, slots=True)
class Read:
    """Entries handed to the consumer, the levels they came from, whether lanes held jobs and
    whether the queue is paused."""

    entries: list[Entry]
    levels: list[int]  # 0 critical .. 3 low, in the order read
    lanes_busy: bool
    paused: bool = False


def _decoder(queue: str) -> Callable[[list[Any]], Read]:
    def decode(reply: list[Any]) -> Read:
        lanes, paused, *levels = reply
        entries = [
            Entry(level - 1, entry_id, job_id, queue)
            for level, entry_ids, job_ids in levels
            for entry_id, job_id in zip(entry_ids.split(","), job_ids.split(","), strict=True)
        ]
        return Read(entries, [level - 1 for level, _, _ in levels], bool(lanes), bool(paused))

    return decode


def read(lib: Library, *, queue: QueueKeys, consumer: str, count: int, order: str) -> Call[Read]:
    """Up to `count` new entries of `queue` for `consumer`, levels taken in `order` (e.g.
    "1234": critical first). Never blocks."""
    k, s = lib.keys, lib.settings
    return Call(
        lib.script("read"),
        [*queue.streams, queue.lanes, k.tenants, queue.paused],
        [
            s.CONSUMER_GROUP,
            consumer,
            count,
            order,
            s.TENANT_MAX_CONCURRENCY,
        ],
        _decoder(queue.name),
    )
