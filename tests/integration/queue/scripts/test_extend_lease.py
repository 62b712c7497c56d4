import asyncio

from dtq.queue import Consumer, Engine, Failure


async def _idle_ms(engine: Engine, entry_id: str) -> int:
    (row,) = await engine.redis.xpending_range(engine.keys.stream, "workers", entry_id, entry_id, 1)
    return row["time_since_delivered"]


async def test_owner_resets_idle_time(engine: Engine, consumer: Consumer, deliver) -> None:
    (d,) = await deliver(consumer)
    await asyncio.sleep(0.2)
    assert await _idle_ms(engine, d.entry_id) >= 150
    assert await consumer.extend_leases([d]) == [True]
    assert await _idle_ms(engine, d.entry_id) < 100


async def test_lost_job_is_not_taken_back(engine: Engine, consumer: Consumer, deliver) -> None:
    (d,) = await deliver(consumer)
    thief = engine.consumer("c2")
    await engine.redis.xclaim(engine.keys.stream, "workers", "c2", 0, [d.entry_id])
    (taken,) = await thief.start([d.entry])
    assert await consumer.extend_leases([d]) == [False]
    (row,) = await engine.redis.xpending_range(
        engine.keys.stream, "workers", d.entry_id, d.entry_id, 1
    )
    assert row["consumer"] == "c2"
    assert await thief.extend_leases([taken]) == [True]


async def test_a_job_this_attempt_settled_meanwhile_is_not_reported_lost(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    done, retried = await deliver(consumer, n=2, max_retries=1)
    await consumer.settle([(done, b"null")], [Failure(retried, "boom", 60_000)])
    # A renewal racing the job's own completion on this worker: nothing was lost.
    assert await consumer.extend_leases([done, retried]) == [True, True]
