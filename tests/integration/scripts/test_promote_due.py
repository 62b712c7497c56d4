import asyncio

from app.models import JobCreate
from app.queue import Consumer, Engine, Failure


async def _schedule(engine: Engine, consumer: Consumer, n: int, delay_ms: int) -> list[str]:
    ids = await engine.producer.enqueue_many([JobCreate(task_type="noop", max_retries=5)] * n)
    deliveries = await consumer.start(await consumer.read(n, 100))
    await consumer.settle([], [Failure(d, "x", delay_ms) for d in deliveries])
    await consumer.trim_acknowledged()  # the stream then holds promoted entries only
    return ids


async def test_only_due_jobs_are_promoted(engine: Engine, consumer: Consumer) -> None:
    due = await _schedule(engine, consumer, 3, 0)
    later = await _schedule(engine, consumer, 2, 60_000)
    promoted, next_due_ms = await consumer.promote_due()
    assert promoted == 3
    assert next_due_ms is not None and 50_000 < next_due_ms <= 60_000
    entries = await engine.redis.xrange(engine.keys.stream)
    assert sorted(f["id"] for _, f in entries) == sorted(due)
    for job_id in later:
        assert (await engine.inspector.get_job(job_id)).status == "scheduled"


async def test_concurrent_promoters_never_duplicate(engine: Engine, consumer: Consumer) -> None:
    ids = await _schedule(engine, consumer, 400, 0)

    async def promote_until_empty(promoter: Consumer) -> int:
        total = 0
        while await engine.redis.zcard(engine.keys.delayed):
            promoted, _ = await promoter.promote_due(limit=50)
            total += promoted
        return total

    # Both promoters read the same candidates at the same time; the script lets one win each.
    counts = await asyncio.gather(
        *(promote_until_empty(engine.consumer(f"p{i}")) for i in range(2))
    )
    assert sum(counts) == 400
    entries = await engine.redis.xrange(engine.keys.stream)
    assert sorted(f["id"] for _, f in entries) == sorted(ids)
    assert await engine.redis.zcard(engine.keys.delayed) == 0
