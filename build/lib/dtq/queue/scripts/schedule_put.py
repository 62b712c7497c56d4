"""The face of schedule_put.lua: create or replace a schedule and set its next fire time."""

from __future__ import annotations

from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.library import Call, Library


def schedule_put(
    lib: Library, *, schedule_id: str, definition: str, next_fire_ms: int | None
) -> Call[bool]:
    """Store the schedule (JSON definition); True when it is new. None: it never fires."""
    k = lib.keys
    return Call(
        lib.script("schedule_put"),
        [k.schedules, k.schedules_due],
        [schedule_id, definition, "" if next_fire_ms is None else next_fire_ms],
        lambda reply: reply == Code.CREATED,
    )
