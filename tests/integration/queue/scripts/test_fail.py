import orjson

from dtq.queue import Consumer, Engine, Failure
from dtq.queue.clock import redis_now_ms
from tests.conftest import stream_entries


async def test_failure_schedules_a_retry_on_the_redis_clock(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer, max_retries=2)
    before = await redis_now_ms(engine.redis)
    settled = await consumer.settle([], [Failure(d, "boom", 5000)])
    after = await redis_now_ms(engine.redis)
    assert settled.retried == 1
    h = await engine.redis.hgetall(engine.keys.job(d.job_id))
    assert h["status"] == "scheduled" and h["failures"] == "1"
    assert [e["error"] for e in orjson.loads(h["errors"])] == ["boom"]
    assert (await engine.jobs.get(d.job_id)).last_error == "boom"
    due = await engine.redis.zscore(engine.keys.delayed, d.job_id)
    assert before + 5000 <= due <= after + 5000 and int(h["due_at"]) == due
    assert await stream_entries(engine) == 0


async def test_exhausted_retries_dead_letter_the_job(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer, max_retries=0)
    settled = await consumer.settle([], [Failure(d, "boom", 10)])
    assert settled.dead == 1
    job = await engine.jobs.get(d.job_id)
    assert job.status == "dead" and job.dead_reason == "retries_exhausted"
    (entry,) = (await engine.dlq.list()).data
    assert (entry.id, entry.attempt, entry.failures, entry.last_error) == (d.job_id, 1, 1, "boom")
    assert await engine.redis.ttl(engine.keys.job(d.job_id)) == -1  # kept while in the DLQ


async def test_stale_failure_is_refused(engine: Engine, consumer: Consumer, deliver) -> None:
    (d,) = await deliver(consumer)
    settled = await engine.consumer("zombie").settle([], [Failure(d, "late", 10)])
    assert settled.stale == 1
    assert (await engine.jobs.get(d.job_id)).status == "running"


async def test_only_the_last_ten_errors_are_kept(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer, max_retries=50)
    for i in range(12):
        await consumer.settle([], [Failure(d, f"error {i}", 0)])
        await engine.redis.zrem(engine.keys.delayed, d.job_id)
        await engine.redis.hset(
            engine.keys.job(d.job_id), mapping={"status": "running", "entry": d.entry_id}
        )
    job = await engine.jobs.get(d.job_id)
    assert [e.error for e in job.errors] == [f"error {i}" for i in range(2, 12)]
