"""The face of start.lua: mark delivered entries running under a consumer (a new attempt)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.typing import EncodableT

from dtq.queue.delivery import Delivery, Entry
from dtq.queue.keys import QueueKeys
from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.library import Call, Library


@dataclass(slots=True)
class Started:
    """What became of the entries: the jobs STARTED (to run), and the stored ids of those
    RATE_LIMITED (scheduled for their reserved slot), POISONED, HANDED_BACK (a task type the
    consumer does not serve) and HELD (the queue is paused); the rest were SKIPPED."""

    deliveries: list[Delivery] = field(default_factory=list)
    rate_limited: list[str] = field(default_factory=list)
    poisoned: list[str] = field(default_factory=list)
    handed_back: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


_US = "\x1f"  # start.lua's separator between a started job's fields (the payload comes last)


def _decode(entries: Sequence[Entry]) -> Callable[[list[Any]], Started]:
    def decode(replies: list[Any]) -> Started:
        out = Started()
        for entry, reply in zip(entries, replies, strict=True):
            level, entry_id, job_id, queue = entry
            if isinstance(reply, str):  # STARTED
                (
                    attempt,
                    failures,
                    max_retries,
                    task_type,
                    timeout_s,
                    parents,
                    trace,
                    wait,
                    payload,
                ) = reply.split(_US, 8)
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
                        queue,
                        trace or None,
                        int(wait) if wait != "" else None,
                        entry.shared,
                        not entry.shared,
                    )
                )
                continue
            code = reply[0]
            if code == Code.RATE_LIMITED:
                out.rate_limited.append(job_id)
            elif code == Code.POISONED:
                out.poisoned.append(job_id)
            elif code == Code.HANDED_BACK:
                out.handed_back.append(job_id)
            elif code == Code.HELD:
                out.held.append(job_id)
        return out

    return decode


def start(
    lib: Library,
    *,
    queue: QueueKeys,
    consumer: str,
    entries: Sequence[Entry],
    rate_limits: dict[str, int],
    serves: Collection[str] = (),
) -> Call[Started]:
    """Start the jobs of `entries` (all of `queue`) under `consumer`; `rate_limits` maps task
    types to the milliseconds between two starts (Settings.rate_limits); `serves` names the
    task types the consumer runs (empty: every type)."""
    k, s = lib.keys, lib.settings
    keys = [*queue.streams, k.dlq, k.stats, k.events, k.dependency_outbox]
    keys += [k.job(e.job_id) for e in entries]
    keys += [k.delayed, queue.lanes, queue.paused, queue.held]
    keys += [k.rate_slot(task_type) for task_type in rate_limits]
    args: list[EncodableT] = [
        s.CONSUMER_GROUP,
        consumer,
        s.MAX_DELIVERIES,
        s.EVENTS_MAXLEN,
        len(entries),
    ]
    for e in entries:
        args += (-(e.level + 1) if e.shared else e.level + 1, e.entry_id, e.job_id)  # < 0: kept
    args.append(len(rate_limits))
    for task_type, interval_ms in rate_limits.items():
        args += (task_type, interval_ms)
    args.append(len(serves))
    args += serves
    return Call(lib.script("start"), keys, args, _decode(entries))
