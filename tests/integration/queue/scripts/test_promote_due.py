import asyncio

from dtq.models import JobCreate
from dtq.queue import Consumer, Engine, Failure


async def _schedule(engine: Engine, consumer: Consumer, n: int, delay_ms: int) -> list[str]:
    ids = await engine.producer.enqueue_many([JobCreate(task_type="noop", max_retries=5)] * n)
    deliveries = await consumer.start(await consumer.read(n, 100))
    await consumer.settle([], [Failure(d, "x", delay_ms) for d in deliveries])
    await engine.trim()  # the stream then holds promoted entries only
    return ids


async def test_only_due_jobs_are_promoted(engine: Engine, consumer: Consumer) -> None:
    due = await _schedule(engine, consumer, 3, 0)
    later = await _schedule(engine, consumer, 2, 60_000)
    promoted, next_due_ms = await engine.promote_due()
    assert promoted == 3
    assert next_due_ms is not None and 50_000 < next_due_ms <= 60_000
    entries = await engine.redis.xrange(engine.keys.stream)
    assert sorted(f["id"] for _, f in entries) == sorted(due)
    for job_id in later:
        assert (await engine.jobs.get(job_id)).status == "scheduled"


async def test_concurrent_promoters_never_duplicate(engine: Engine, consumer: Consumer) -> None:
    ids = await _schedule(engine, consumer, 400, 0)

    async def promote_until_empty(promoter: Engine) -> int:
        total = 0
        while await engine.redis.zcard(engine.keys.delayed):
            promoted, _ = await promoter.promote_due(limit=50)
            total += promoted
        return total

    # Both promoters read the same candidates at the same time; the script lets one win each.
    counts = await asyncio.gather(
        *(promote_until_empty(Engine(engine.redis, engine.settings)) for _ in range(2))
    )
    assert sum(counts) == 400
    entries = await engine.redis.xrange(engine.keys.stream)
    assert sorted(f["id"] for _, f in entries) == sorted(ids)
    assert await engine.redis.zcard(engine.keys.delayed) == 0
