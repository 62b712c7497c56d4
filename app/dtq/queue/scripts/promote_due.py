"""The face of promote_due.lua: move due scheduled jobs back to their queues' streams or lanes."""

from __future__ import annotations

from collections.abc import Sequence

from redis.typing import EncodableT

from dtq.queue.scripts.library import Call, Library


def promote_due(lib: Library, *, job_ids: Sequence[str]) -> Call[int]:
    """Promote those of `job_ids` that are due by the Redis clock; returns how many were."""
    k = lib.keys
    keys = [k.delayed, k.stats, k.events, *(k.job(j) for j in job_ids)]
    args: list[EncodableT] = [
        lib.settings.EVENTS_MAXLEN,
        len(job_ids),
        k.base,
        k.stream_name,
        *job_ids,
    ]
    return Call(lib.script("promote_due"), keys, args, int)
