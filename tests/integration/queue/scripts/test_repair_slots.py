"""repair_slots.lua: a running-set member that no live job holds frees its slot; a held slot
stays."""

from dtq.queue import Engine
from dtq.queue.scripts.repair_slots import repair_slots


async def test_frees_only_slots_no_job_holds(engine: Engine) -> None:
    k, r = engine.keys, engine.redis
    running = k.running("acme")
    await r.zadd(k.lanes, {"acme": 0})
    await r.hset(k.job("acme/held"), mapping={"status": "running", "lane_slot": running})
    await r.hset(k.job("acme/done"), mapping={"status": "succeeded", "lane_slot": running})
    # dispatched by read.lua, not started yet: its hash names no entry and no slot so far
    await r.hset(k.job("acme/sent"), mapping={"status": "pending", "lane": "acme"})
    await r.sadd(running, "acme/held", "acme/done", "acme/ghost", "acme/sent")
    assert await repair_slots(engine.lib, queue=engine.keys.queue()) == 2
    assert await r.smembers(running) == {"acme/held", "acme/sent"}
    assert await repair_slots(engine.lib, queue=engine.keys.queue()) == 0
