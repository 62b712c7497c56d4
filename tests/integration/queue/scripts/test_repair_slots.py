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
    await r.sadd(running, "acme/held", "acme/done", "acme/ghost")
    assert await repair_slots(engine.lib, queue=engine.keys.queue()) == 2
    assert await r.smembers(running) == {"acme/held"}
    assert await repair_slots(engine.lib, queue=engine.keys.queue()) == 0
