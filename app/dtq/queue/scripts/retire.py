"""The face of retire.lua: apply a queue's retention to the finished jobs it keeps."""

from __future__ import annotations

from dtq.queue.keys import QueueKeys
from dtq.queue.retention import retention_defaults, retention_keys
from dtq.queue.scripts.library import Call, Library


def retire(lib: Library, *, queue: QueueKeys) -> Call[int]:
    """Remove `queue`'s finished jobs past its retention's age or count (per kind at most 1,000
    for each a call); how many went."""
    k, s = lib.keys, lib.settings
    keys = [queue.finished("succeeded"), *retention_keys(k, queue, "canceled")]
    args = [queue.name, *retention_defaults(s), k.job_prefix, s.REMOVED_IDS_KEPT]
    return Call(lib.script("retire"), keys, args, int)
