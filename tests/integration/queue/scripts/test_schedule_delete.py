"""schedule_delete.lua: a schedule and its fire time go together; an unknown one is an error."""

import pytest

from dtq.errors import ScheduleNotFoundError
from dtq.queue import Engine
from dtq.queue.scripts.schedule_delete import schedule_delete
from dtq.queue.scripts.schedule_put import schedule_put


async def test_delete_then_not_found(engine: Engine) -> None:
    k = engine.keys
    await schedule_put(engine.lib, schedule_id="acme/s", definition="{}", next_fire_ms=5)
    await schedule_delete(engine.lib, schedule_id="acme/s", name="s")
    assert await engine.redis.hlen(k.schedules) == 0
    assert await engine.redis.zcard(k.schedules_due) == 0
    with pytest.raises(ScheduleNotFoundError, match="schedule 's' not found"):
        await schedule_delete(engine.lib, schedule_id="acme/s", name="s")
