"""The face of resume_queue.lua: resume a paused queue, putting back the jobs it held."""

from __future__ import annotations

from dtq.queue.keys import QueueKeys
from dtq.queue.scripts.library import Call, Library


def resume_queue(lib: Library, *, queue: QueueKeys) -> Call[int]:
    """Clear `queue`'s pause flag and requeue its held jobs; returns how many went back."""
    keys = [queue.paused, queue.held, *queue.streams, queue.lanes]
    return Call(lib.script("resume_queue"), keys, [lib.keys.job_prefix], int)
