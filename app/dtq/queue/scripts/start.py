"""The face of start.lua: mark delivered entries running under a consumer (a new attempt)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.typing import EncodableT

from dtq.queue.delivery import Delivery, Entry
from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.library import Call, Library


@dataclass(slots=True)
class Started:
    """What became of the entries: the jobs STARTED (to run), and the stored ids of those
    RATE_LIMITED (scheduled for their reserved slot) and POISONED; the rest were SKIPPED."""

    deliveries: list[Delivery] = field(default_factory=list)
    rate_limited: list[str] = field(default_factory=list)
    poisoned: list[str] = field(default_factory=list)


def _decode(entries: Sequence[Entry]) -> Callable[[list[Any]], Started]:
    def decode(replies: list[Any]) -> Started:
        out = Started()
        for (level, entry_id, job_id), reply in zip(entries, replies, strict=True):
            code = reply[0]
            if code == Code.STARTED:
                attempt, failures, max_retries, task_type, payload, timeout_s, parents = reply[1:]
                out.deliveries.append(
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
            elif code == Code.RATE_LIMITED:
                out.rate_limited.append(job_id)
            elif code == Code.POISONED:
                out.poisoned.append(job_id)
        return out

    return decode


def start(
    lib: Library, *, consumer: str, entries: Sequence[Entry], rate_limits: dict[str, int]
) -> Call[Started]:
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
