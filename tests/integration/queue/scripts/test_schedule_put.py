"""schedule_put.lua: create or replace a schedule with its next fire time."""

from dtq.queue import Engine
from dtq.queue.scripts.schedule_put import schedule_put


async def test_create_then_replace_then_never_fire(engine: Engine) -> None:
    k = engine.keys
    assert await schedule_put(engine.lib, schedule_id="s", definition="{}", next_fire_ms=5) is True
    assert await engine.redis.zscore(k.schedules_due, "s") == 5
    assert await schedule_put(engine.lib, schedule_id="s", definition="{}", next_fire_ms=9) is False
    assert await engine.redis.zscore(k.schedules_due, "s") == 9
    # A cron that names no real date keeps its definition and loses its fire time.
    assert (
        await schedule_put(engine.lib, schedule_id="s", definition="{}", next_fire_ms=None) is False
    )
    assert await engine.redis.zscore(k.schedules_due, "s") is None
    assert await engine.redis.hget(k.schedules, "s") == "{}"
