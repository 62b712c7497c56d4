"""trim.lua: acknowledged entries go; pending and undelivered ones never do (invariant 6)."""

from dtq.models import JobCreate, Priority
from dtq.queue import Consumer, Engine


async def test_trims_only_below_the_oldest_pending_entry(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    first, second, third = await deliver(consumer, n=3)
    await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 2)  # not delivered
    await consumer.settle([(first, b"1"), (third, b"3")], [])  # second stays pending
    assert await engine.trim() == 1  # only `first` is below `second`
    entries = [entry for entry, _ in await engine.redis.xrange(engine.keys.stream)]
    assert entries[0] == second.entry_id and len(entries) == 4
    await consumer.settle([(second, b"2")], [])
    assert await engine.trim() == 2  # second and third
    # The two undelivered entries stay until a worker has taken and finished them.
    assert await engine.redis.xlen(engine.keys.stream) == 2
    later = await consumer.start(await consumer.read(5, 0))
    assert await engine.trim() == 0
    await consumer.settle([(d, b"null") for d in later], [])
    assert await engine.trim() == 2
    assert await engine.redis.xlen(engine.keys.stream) == 0


async def test_each_level_is_trimmed_on_its_own(engine: Engine, consumer: Consumer) -> None:
    await engine.producer.enqueue_many(
        [JobCreate(task_type="noop", priority=p) for p in (Priority.HIGH, Priority.LOW)]
    )
    high, low = await consumer.start(await consumer.read(2, 0))
    await consumer.settle([(high, b"1")], [])
    assert await engine.trim() == 1
    assert await engine.redis.xlen(engine.keys.stream_for(Priority.HIGH)) == 0
    assert await engine.redis.xlen(engine.keys.stream_for(Priority.LOW)) == 1
    assert await engine.redis.xpending(engine.keys.stream_for(Priority.LOW), "workers") == {
        "pending": 1,
        "min": low.entry_id,
        "max": low.entry_id,
        "consumers": [{"name": "c1", "pending": 1}],
    }
