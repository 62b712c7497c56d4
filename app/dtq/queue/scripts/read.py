"""The face of read.lua: dispatch tenants' lanes fairly, then hand out new entries by level."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dtq.queue.delivery import Entry, SharedEntry
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


def _entries(queue: str, level: int, entry_ids: str, job_ids: str) -> list[Entry]:
    """One level's entries, one per job: a shared entry (`<id>*<k>`) names the next k jobs."""
    jobs = job_ids.split(",")
    if "*" not in entry_ids:
        return [
            Entry(level - 1, entry_id, job_id, queue)
            for entry_id, job_id in zip(entry_ids.split(","), jobs, strict=True)
        ]
    out: list[Entry] = []
    at = 0
    for token in entry_ids.split(","):
        entry_id, _, k = token.partition("*")
        if not k:
            out.append(Entry(level - 1, entry_id, jobs[at], queue))
            at += 1
            continue
        out += [SharedEntry(level - 1, entry_id, j, queue) for j in jobs[at : at + int(k)]]
        at += int(k)
    return out


def _decoder(queue: str) -> Callable[[list[Any]], Read]:
    def decode(reply: list[Any]) -> Read:
        lanes, paused, *levels = reply
        entries = [entry for level in levels for entry in _entries(queue, *level)]
        return Read(entries, [level - 1 for level, _, _ in levels], bool(lanes), bool(paused))

    return decode


def read(lib: Library, *, queue: QueueKeys, consumer: str, count: int, order: str) -> Call[Read]:
    """Up to `count` new entries of `queue` for `consumer`, levels taken in `order` (e.g.
    "1234": critical first). Never blocks."""
    k, s = lib.keys, lib.settings
    return Call(
        lib.script("read"),
        [*queue.streams, queue.lanes, k.tenants, queue.paused, k.shared_entries_on],
        [
            s.CONSUMER_GROUP,
            consumer,
            count,
            order,
            s.TENANT_MAX_CONCURRENCY,
        ],
        _decoder(queue.name),
    )
