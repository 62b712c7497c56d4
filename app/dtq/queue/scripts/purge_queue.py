"""The face of purge_queue.lua: cancel a queue's jobs that wait for a worker, a chunk a call."""

from __future__ import annotations

from typing import Any

from redis.typing import EncodableT

from dtq.queue.keys import QueueKeys
from dtq.queue.retention import retention_defaults, retention_keys
from dtq.queue.scripts.library import Call, Library


def _decode(reply: list[Any]) -> tuple[int, int]:
    return int(reply[0]), int(reply[1])


def purge_queue(lib: Library, *, queue: QueueKeys, limit: int) -> Call[tuple[int, int]]:
    """Cancel up to `limit` of `queue`'s waiting jobs; returns (purged, looked at): call again
    while looked at is above 0."""
    k, s = lib.keys, lib.settings
    keys = [*queue.streams, queue.lanes, queue.held, k.stats, k.events, k.dependency_outbox]
    keys += retention_keys(k, queue, "canceled")
    args: list[EncodableT] = [
        s.CONSUMER_GROUP,
        limit,
        k.job_prefix,
        queue.name,
        s.EVENTS_MAXLEN,
        *retention_defaults(s),
        s.REMOVED_IDS_KEPT,
    ]
    return Call(lib.script("purge_queue"), keys, args, _decode)
