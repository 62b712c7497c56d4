"""The face of complete.lua: record successful attempts, fenced by owner and attempt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.typing import EncodableT

from dtq.queue.delivery import Delivery
from dtq.queue.keys import QueueKeys
from dtq.queue.retention import retention_defaults, retention_keys
from dtq.queue.scripts.codes import Outcome
from dtq.queue.scripts.library import Call, Library


def _decode(replies: list[Any]) -> list[Outcome]:
    return [Outcome.of(code) for code in replies]


def complete(
    lib: Library,
    *,
    queue: QueueKeys,
    consumer: str,
    completed: Sequence[tuple[Delivery, bytes]],
) -> Call[list[Outcome]]:
    """Record each (delivery of `queue`, result JSON) as succeeded, kept by the queue's
    retention; per job SUCCEEDED or STALE."""
    k, s = lib.keys, lib.settings
    keys = [*queue.streams, k.stats, k.events, k.dependency_outbox, queue.lanes]
    keys += retention_keys(k, queue, "succeeded")
    keys += [k.job(d.job_id) for d, _ in completed]
    args: list[EncodableT] = [
        s.CONSUMER_GROUP,
        consumer,
        queue.name,
        s.EVENTS_MAXLEN,
        len(completed),
        *retention_defaults(s),
        k.job_prefix,
        s.REMOVED_IDS_KEPT,
    ]
    for d, result in completed:
        args += (d.job_id, d.level_arg, d.entry_id, d.attempt, result)
    return Call(lib.script("complete"), keys, args, _decode)
