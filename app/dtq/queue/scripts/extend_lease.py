"""The face of extend_lease.lua: keep the entries a live consumer runs from being reclaimed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.typing import EncodableT

from dtq.queue.delivery import Delivery
from dtq.queue.keys import QueueKeys
from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.library import Call, Library


def _decode(replies: list[Any]) -> list[bool]:
    return [code != Code.STALE for code in replies]


def extend_lease(
    lib: Library, *, queue: QueueKeys, consumer: str, deliveries: Sequence[Delivery]
) -> Call[list[bool]]:
    """Reset the idle time of each delivery's entry (all of `queue`); False where another owner
    holds the job (True too where this attempt settled it meanwhile: nothing was lost)."""
    k = lib.keys
    args: list[EncodableT] = [lib.settings.CONSUMER_GROUP, consumer, len(deliveries)]
    for d in deliveries:
        args += (d.level + 1, d.entry_id, d.attempt)
    keys = [*queue.streams, *(k.job(d.job_id) for d in deliveries)]
    return Call(lib.script("extend_lease"), keys, args, _decode)
