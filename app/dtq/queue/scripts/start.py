"""The face of start.lua: mark delivered entries running under a consumer (a new attempt)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.typing import EncodableT

from dtq.queue.delivery import Delivery, Entry
from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.library import Call, Library


@dataclass(frozen=True, slots=True)
class Started:
    """One entry's outcome: STARTED (with its delivery), SKIPPED, RATE_LIMITED or POISONED."""

    code: Code
    delivery: Delivery | None = None


def _decode(entries: Sequence[Entry]) -> Callable[[list[Any]], list[Started]]:
    def decode(replies: list[Any]) -> list[Started]:
        out = []
        for (level, entry_id, job_id), reply in zip(entries, replies, strict=True):
            if reply[0] != Code.STARTED:
                out.append(Started(Code(reply[0])))
                continue
            attempt, failures, max_retries, task_type, payload, timeout_s, parents = reply[1:]
            delivery = Delivery(
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
            out.append(Started(Code.STARTED, delivery))
        return out

    return decode


def start(
    lib: Library, *, consumer: str, entries: Sequence[Entry], rate_limits: dict[str, int]
) -> Call[list[Started]]:
    """Start the jobs of `entries` under `consumer`; `rate_limits` maps task types to the
    milliseconds between two starts (Settings.rate_limits)."""
    k, s = lib.keys, lib.settings
    keys = [*k.streams, k.dlq, k.stats, k.events, k.dependency_outbox]
    keys += [k.job(job_id) for _, _, job_id in entries]
    keys += [k.delayed, k.lanes, *(k.rate_slot(task_type) for task_type in rate_limits)]
    args: list[EncodableT] = [
        s.CONSUMER_GROUP,
        consumer,
        s.MAX_DELIVERIES,
        s.EVENTS_MAXLEN,
        len(entries),
    ]
    for level, entry_id, job_id in entries:
        args += (level + 1, entry_id, job_id)
    args.append(len(rate_limits))
    for task_type, interval_ms in rate_limits.items():
        args += (task_type, interval_ms)
    return Call(lib.script("start"), keys, args, _decode(entries))
