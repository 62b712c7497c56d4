"""The face of repair_slots.lua: free tenants' concurrency slots that no live job holds."""

from __future__ import annotations

from dtq.queue.scripts.library import Call, Library


def repair_slots(lib: Library) -> Call[int]:
    """Drop running-set members that no longer hold their slot; how many were dropped."""
    k = lib.keys
    return Call(lib.script("repair_slots"), [k.lanes], [k.job_prefix], int)
