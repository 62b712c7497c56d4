"""The face of schedule_advance.lua: move a schedule on from the tick just fired (CAS)."""

from __future__ import annotations

from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.library import Call, Library


def schedule_advance(lib: Library, *, schedule_id: str, fired_ms: int, next_ms: int) -> Call[bool]:
    """Set the next fire time unless another firer moved it first; True when this call did."""
    k = lib.keys
    return Call(
        lib.script("schedule_advance"),
        [k.schedules, k.schedules_due],
        [schedule_id, fired_ms, next_ms],
        lambda reply: reply == Code.DONE,
    )
