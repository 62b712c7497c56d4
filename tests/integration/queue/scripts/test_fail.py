import orjson

from dtq.queue import Consumer, Engine, Failure
from dtq.queue.clock import redis_now_ms
from dtq.queue.events import Position
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


async def test_a_batch_of_failures_is_one_event_entry_per_outcome(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    """A burst of failures writes one events entry per (status, attempt, reason), not one a
    job, so it does not push the rest of the feed out of the capped stream; the feed still
    reads one event per job."""
    retried = await deliver(consumer, n=5, max_retries=2)
    doomed = await deliver(consumer, n=4, max_retries=0)
    last = await engine.events.last_entry_id()
    failures = [Failure(d, "boom", 1000) for d in retried + doomed]
    failures += [Failure(doomed[0], "late", 0)]  # already dead by then: stale, no event
    await consumer.settle([], failures[:3] + [Failure(retried[3], "slow", 1000, "timeout")])
    await consumer.settle([], failures[4:])
    rows = await engine.redis.xrange(engine.keys.events, f"({last}", "+")
    got = [(f["status"], f["attempt"], f["reason"], f["job_ids"].split(",")) for _, f in rows]
    ids = [d.job_id for d in retried + doomed]
    assert got == [
        ("scheduled", "1", "error", ids[0:3]),
        ("scheduled", "1", "timeout", [ids[3]]),
        ("scheduled", "1", "error", [ids[4]]),
        ("dead", "1", "retries_exhausted", ids[5:9]),
    ]
    events, _ = await engine.events.since(Position.parse(last), 100)
    feed = [orjson.loads(e.json) for e in events]
    assert [(e["job_id"], e["status"]) for e in feed] == [
        *[(i, "scheduled") for i in ids[:5]],
        *[(i, "dead") for i in ids[5:]],
    ]
    assert all(e["worker"] == "c1" and e["attempt"] == 1 for e in feed)
