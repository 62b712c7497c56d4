import asyncio

import pytest

from dtq.errors import JobRemovedError
from dtq.models import JobCreate, RetentionPolicy
from dtq.queue import Engine
from dtq.queue.scripts.retire import retire


async def test_retire_lets_canceled_jobs_go_at_their_age_and_keeps_the_younger(
    engine: Engine,
) -> None:
    await engine.retention.put("default", RetentionPolicy(canceled_s=1))
    old = [await engine.producer.enqueue(JobCreate(task_type="noop")) for _ in range(3)]
    for job in old:
        await engine.jobs.cancel(job.id)
    queue = engine.keys.queue()
    assert await retire(engine.lib, queue=queue) == 0  # not a second old yet
    await asyncio.sleep(1.1)
    young = await engine.producer.enqueue(JobCreate(task_type="noop"))
    await engine.jobs.cancel(young.id)  # its cancel lets the old ones go as well ...
    assert await engine.redis.llen(queue.finished("canceled")) == 1
    await asyncio.sleep(1.1)
    assert await retire(engine.lib, queue=queue) == 1  # ... and retire the last, later
    for job in [*old, young]:
        with pytest.raises(JobRemovedError):
            await engine.jobs.get(job.id)
    assert await retire(engine.lib, queue=queue) == 0
