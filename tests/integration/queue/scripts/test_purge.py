"""purge.lua: a dead job and its dead-letter entry go for good; nothing else can be purged."""

import pytest

from dtq.errors import InvalidTransitionError, JobNotFoundError
from dtq.models import JobCreate
from dtq.queue import Consumer, Engine, Failure


async def test_purge_deletes_job_and_dead_letter(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer, max_retries=0)
    await consumer.settle([], [Failure(d, "boom", 0)])
    await engine.dlq.purge(d.job_id)
    assert not await engine.redis.exists(engine.keys.job(d.job_id))
    assert await engine.redis.xlen(engine.keys.dlq) == 0
    assert (await engine.redis.hgetall(engine.keys.stats))["jobs:dead"] == "0"


async def test_purge_refuses_a_live_job_and_an_unknown_one(engine: Engine) -> None:
    job = await engine.producer.enqueue(JobCreate(task_type="noop"))
    with pytest.raises(InvalidTransitionError, match="is pending"):
        await engine.dlq.purge(job.id)
    assert (await engine.jobs.get(job.id)).status == "pending"
    with pytest.raises(JobNotFoundError, match="job nope not found"):
        await engine.dlq.purge("nope")
