"""The face of requeue.lua: a new stream entry for a job whose entry was deleted unacked."""

from __future__ import annotations

from dtq.queue.keys import QueueKeys
from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.library import Call, Library


def requeue(
    lib: Library, *, queue: QueueKeys, job_id: str, entry_id: str, level: int
) -> Call[bool]:
    """Requeue the job if it still points at `entry_id` on `queue`'s stream of `level` (0
    critical .. 3 low)."""
    k = lib.keys
    return Call(
        lib.script("requeue"),
        [k.job(job_id), *queue.streams, k.stats, k.events],
        [job_id, entry_id, lib.settings.EVENTS_MAXLEN, level + 1],
        lambda reply: reply == Code.DONE,
    )
