import pytest

from dtq.errors import InvalidTransitionError, JobNotFoundError
from dtq.models import JobCreate
from dtq.queue import Consumer, Engine, Failure
from dtq.queue.job_ids import new_job_id
from tests.conftest import stream_entries


async def test_cancel_pending_deletes_an_undelivered_entry(engine: Engine) -> None:
    job = await engine.producer.enqueue(JobCreate(task_type="noop"))
    await engine.jobs.cancel(job.id)
    assert (await engine.jobs.get(job.id)).status == "canceled"
    assert await engine.redis.xlen(engine.keys.stream) == 0
    kept = await engine.redis.lrange(engine.keys.queue().finished("canceled"), 0, -1)
    assert [entry.split(" ")[1] for entry in kept] == [job.id]  # retention's list: its age


async def test_cancel_scheduled_removes_it_from_the_delayed_set(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer)
    await consumer.settle([], [Failure(d, "x", 60_000)])
    await engine.jobs.cancel(d.job_id)
    assert await engine.redis.zcard(engine.keys.delayed) == 0
    stats = await engine.redis.hgetall(engine.keys.stats)
    assert stats["jobs:scheduled"] == "0" and stats["jobs:canceled"] == "1"


async def test_cancel_running_acks_publishes_and_fences(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer)
    async with engine.redis.pubsub() as pubsub:
        await pubsub.subscribe(engine.keys.cancel_channel)
        await engine.jobs.cancel(d.job_id)
        message = None
        while message is None:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
    assert message["data"] == d.job_id
    assert (await engine.jobs.get(d.job_id)).status == "canceled"
    assert (await engine.redis.xpending(engine.keys.stream, "workers"))["pending"] == 0
    assert await stream_entries(engine) == 0
    # The worker's late completion and a late failure are both refused: never retried.
    assert (await consumer.settle([(d, b"null")], [])).stale == 1
    assert (await consumer.settle([], [Failure(d, "x", 0)])).stale == 1
    stats = await engine.redis.hgetall(engine.keys.stats)
    assert stats["jobs:running"] == "0" and stats["jobs:canceled"] == "1"


async def test_finished_jobs_cannot_be_canceled(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer)
    await consumer.settle([(d, b"null")], [])
    with pytest.raises(InvalidTransitionError, match="succeeded"):
        await engine.jobs.cancel(d.job_id)


async def test_cancel_unknown_job(engine: Engine) -> None:
    with pytest.raises(JobNotFoundError):
        await engine.jobs.cancel(new_job_id())
