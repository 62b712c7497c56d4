"""The face of repair_slots.lua: free tenants' concurrency slots that no live job holds."""

from __future__ import annotations

from dtq.queue.keys import QueueKeys
from dtq.queue.scripts.library import Call, Library


def repair_slots(lib: Library, *, queue: QueueKeys) -> Call[int]:
    """Drop running-set members of `queue` that no longer hold their slot; how many were."""
    return Call(lib.script("repair_slots"), [queue.lanes], [lib.keys.job_prefix], int)
