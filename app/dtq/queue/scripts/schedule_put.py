"""The face of schedule_put.lua: create or replace a schedule within its tenant's budget."""

from __future__ import annotations

from dtq.errors import SchedulesTooFrequentError, TooManySchedulesError
from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.library import Call, Library
from dtq.queue.tenant_ids import tenant_of


def schedule_put(
    lib: Library,
    *,
    schedule_id: str,
    definition: str,
    next_fire_ms: int | None,
    per_hour: int = 0,
    most: int = -1,
    most_per_hour: int = -1,
) -> Call[bool]:
    """Store the schedule (JSON definition); True when it is new. None: it never fires.

    TooManySchedulesError when the tenant would have more than `most` schedules, and
    SchedulesTooFrequentError when its schedules would fire more than `most_per_hour` times in
    an hour (negative: no limit).
    """
    k = lib.keys
    tenant = tenant_of(schedule_id)

    def decode(reply: object) -> bool:
        if isinstance(reply, list):
            code, now = reply
            if code == Code.SCHEDULE_LIMIT:
                raise TooManySchedulesError(
                    f"tenant {tenant} has {now} schedules, its most (SCHEDULES_PER_TENANT "
                    f"{most}): delete one first"
                )
            raise SchedulesTooFrequentError(
                f"tenant {tenant}'s schedules fire up to {now} times an hour; this one would "
                f"add {per_hour} (busiest hour), over its submission rate of {most_per_hour} an "
                "hour"
            )
        return reply == Code.CREATED

    return Call(
        lib.script("schedule_put"),
        [k.schedules, k.schedules_due, k.schedule_budgets, k.schedule_rates],
        [
            schedule_id,
            definition,
            "" if next_fire_ms is None else next_fire_ms,
            tenant,
            per_hour,
            most,
            most_per_hour,
        ],
        decode,
    )
