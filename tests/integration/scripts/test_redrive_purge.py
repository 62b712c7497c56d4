import pytest

from app.errors import InvalidTransitionError
from app.queue import Consumer, Engine, Failure


async def test_redrive_gives_fresh_retries_and_keeps_counting_attempts(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer, max_retries=0)
    await consumer.settle([], [Failure(d, "boom", 0)])
    await engine.producer.redrive(d.job_id)
    job = await engine.inspector.get_job(d.job_id)
    assert (job.status, job.failures, job.attempt, job.dead_reason) == ("pending", 0, 1, None)
    assert (await engine.inspector.list_dead()).count == 0
    (again,) = await consumer.start(await consumer.read(1, 100))
    assert again.attempt == 2
    with pytest.raises(InvalidTransitionError):
        await engine.producer.redrive(d.job_id)


async def test_purge_deletes_job_and_dead_letter(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer, max_retries=0)
    await consumer.settle([], [Failure(d, "boom", 0)])
    await engine.producer.purge(d.job_id)
    assert not await engine.redis.exists(engine.keys.job(d.job_id))
    assert await engine.redis.xlen(engine.keys.dlq) == 0
    assert (await engine.redis.hgetall(engine.keys.stats))["jobs:dead"] == "0"
