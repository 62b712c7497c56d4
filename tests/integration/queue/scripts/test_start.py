from dtq.models import JobCreate
from dtq.queue import Consumer, Engine
from tests.conftest import stream_entries


async def test_start_marks_running_and_counts_attempts(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer)
    h = await engine.redis.hgetall(engine.keys.job(d.job_id))
    assert (h["status"], h["worker"], h["attempt"]) == ("running", "c1", "1")
    assert "deliveries" not in h  # implicit while it equals attempt
    # A redelivery of the same entry (reclaim after a crash) is a new attempt.
    (again,) = await consumer.start([d.entry])
    assert again.attempt == 2
    stats = await engine.redis.hgetall(engine.keys.stats)
    assert stats["jobs:running"] == "1" and stats["jobs:pending"] == "0"


async def test_canceled_job_is_skipped_acked_and_deleted(
    engine: Engine, consumer: Consumer
) -> None:
    job = await engine.producer.enqueue(JobCreate(task_type="noop"))
    entries = await consumer.read(10, 100)
    await engine.jobs.cancel(job.id)
    assert await consumer.start(entries) == []
    assert await stream_entries(engine) == 0
    assert (await engine.redis.xpending(engine.keys.stream, "workers"))["pending"] == 0


async def test_entry_of_a_job_that_moved_on_is_skipped(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer)
    await engine.redis.hset(engine.keys.job(d.job_id), "entry", "1-1")
    assert await consumer.start([d.entry]) == []
    assert await engine.redis.hget(engine.keys.job(d.job_id), "attempt") == "1"


async def test_crash_looping_job_becomes_poison(make_settings, redis) -> None:
    engine = Engine(redis, make_settings(MAX_DELIVERIES=2))
    await engine.setup()
    consumer = engine.consumer("c1")
    job = await engine.producer.enqueue(JobCreate(task_type="noop"))
    entries = await consumer.read(1, 100)
    assert len(await consumer.start(entries)) == 1
    assert len(await consumer.start(entries)) == 1
    assert await consumer.start(entries) == []  # third delivery > MAX_DELIVERIES
    h = await redis.hgetall(engine.keys.job(job.id))
    assert h["status"] == "dead" and h["dead_reason"] == "poison"
    (dead,) = (await engine.dlq.list()).data
    assert (dead.id, dead.reason, dead.attempt, dead.failures) == (job.id, "poison", 2, 0)
    assert await stream_entries(engine) == 0
