"""The face of schedule_delete.lua: remove a schedule and its next fire time."""

from __future__ import annotations

from dtq.queue.scripts.codes import checked
from dtq.queue.scripts.library import Call, Library
from dtq.queue.tenant_ids import tenant_of


def schedule_delete(lib: Library, *, schedule_id: str, name: str) -> Call[None]:
    """Delete the schedule stored as `schedule_id` and give its budget back to its tenant;
    ScheduleNotFoundError (naming `name`)."""
    k = lib.keys

    def decode(reply: object) -> None:
        checked(reply, f"schedule {name!r}")

    return Call(
        lib.script("schedule_delete"),
        [k.schedules, k.schedules_due, k.schedule_budgets, k.schedule_rates],
        [schedule_id, tenant_of(schedule_id)],
        decode,
    )
