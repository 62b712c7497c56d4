"""schedule_advance.lua: the next fire time moves by compare-and-set, so a tick fires once."""

from dtq.queue import Engine
from dtq.queue.scripts.schedule_advance import schedule_advance
from dtq.queue.scripts.schedule_put import schedule_put


async def test_only_the_first_firer_advances(engine: Engine) -> None:
    lib, k = engine.lib, engine.keys
    await schedule_put(lib, schedule_id="s", definition="{}", next_fire_ms=1000)
    assert await schedule_advance(lib, schedule_id="s", fired_ms=1000, next_ms=2000) is True
    # A second firer that read the same tick finds it moved on.
    assert await schedule_advance(lib, schedule_id="s", fired_ms=1000, next_ms=2000) is False
    assert await engine.redis.zscore(k.schedules_due, "s") == 2000


async def test_a_deleted_schedule_is_not_brought_back(engine: Engine) -> None:
    lib, k = engine.lib, engine.keys
    await schedule_put(lib, schedule_id="s", definition="{}", next_fire_ms=1000)
    await engine.redis.hdel(k.schedules, "s")  # deleted between read and advance
    assert await schedule_advance(lib, schedule_id="s", fired_ms=1000, next_ms=2000) is False
