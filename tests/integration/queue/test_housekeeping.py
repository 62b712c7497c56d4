"""Housekeeping: expired jobs leave the index; idle consumers owning nothing leave the group."""

from __future__ import annotations

import asyncio

from dtq.models import JobCreate, TenantCreate
from dtq.queue import Engine, job_index
from dtq.queue.tenant_ids import stored_id


async def test_prunes_expired_jobs_and_idle_empty_consumers(make_settings, redis) -> None:
    settings = make_settings(VISIBILITY_TIMEOUT_MS=100)
    engine = Engine(redis, settings)
    await engine.setup()
    k = engine.keys
    ids = await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 3)
    await redis.delete(k.job(ids[0]))  # as if its RESULT_TTL_S ran out
    busy = engine.consumer("busy")
    started = await busy.start(await busy.read(2, 100))  # ids[0] is gone: skipped
    assert len(started) == 1  # busy owns one pending entry
    await redis.xgroup_createconsumer(k.stream, "workers", "gone")  # owns nothing
    await asyncio.sleep(1.1)  # both idle for more than 10 visibility timeouts
    upkeep = await engine.housekeep()
    assert upkeep is not None
    assert (upkeep.index_pruned, upkeep.consumers_removed) == (1, 1)
    assert set(await job_index.job_ids(redis, k.index)) == set(ids[1:])
    names = {c["name"] for c in await redis.xinfo_consumers(k.stream, "workers")}
    assert names == {"busy"}  # never removed while it owns entries: DELCONSUMER would drop them
    # A second run inside the interval is skipped: one worker does the upkeep at a time.
    assert await engine.housekeep() is None


async def test_prunes_expired_jobs_from_each_tenants_index(make_settings, redis) -> None:
    settings = make_settings(AUTH_DISABLED=False)
    engine = Engine(redis, settings)
    await engine.setup()
    k = engine.keys
    await engine.tenants.create(TenantCreate(name="acme"))
    made = await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 2, "acme")
    ids = [stored_id("acme", job_id) for job_id in made]
    await redis.delete(k.job(ids[0]))
    upkeep = await engine.housekeep()
    assert upkeep is not None and upkeep.index_pruned == 1  # acme's: its jobs are in no other
    assert await job_index.job_ids(redis, k.tenant_index("acme")) == [ids[1]]
    assert await job_index.count(redis, k.index) == 0
