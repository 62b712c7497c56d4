"""read.lua: levels in priority order, with the documented share for lower levels."""

import asyncio
from collections import Counter

from dtq.models import PRIORITY_ORDER, JobCreate, Priority
from dtq.queue import Engine, Failure


async def test_takes_higher_levels_first_whatever_the_submission_order(engine: Engine) -> None:
    for priority in reversed(PRIORITY_ORDER):  # low first, critical last
        await engine.producer.enqueue(JobCreate(task_type="noop", priority=priority))
    entries = await engine.consumer("c1").read(10, 0)
    assert [e.level for e in entries] == [0, 1, 2, 3]


async def test_count_is_shared_across_levels(engine: Engine) -> None:
    await engine.producer.enqueue_many(
        [JobCreate(task_type="noop", priority=Priority.CRITICAL)] * 3
        + [JobCreate(task_type="noop", priority=Priority.LOW)] * 5
    )
    entries = await engine.consumer("c1").read(5, 0)
    assert [e.level for e in entries] == [0, 0, 0, 3, 3]


async def test_each_lower_level_gets_one_read_in_ten(engine: Engine) -> None:
    await engine.producer.enqueue_many(
        [JobCreate(task_type="noop", priority=p) for p in PRIORITY_ORDER for _ in range(20)]
    )
    consumer = engine.consumer("c1")
    taken = Counter()
    for _ in range(20):
        ((level, _, _, _),) = await consumer.read(1, 0)
        taken[PRIORITY_ORDER[level]] += 1
    assert taken == {Priority.CRITICAL: 14, Priority.HIGH: 2, Priority.NORMAL: 2, Priority.LOW: 2}


async def test_an_empty_read_blocks_on_every_level(engine: Engine) -> None:
    consumer = engine.consumer("c1")
    assert await consumer.read(5, 50) == []
    job = await engine.producer.enqueue(JobCreate(task_type="noop", priority=Priority.HIGH))
    # Nothing waits on the streams between these calls, so read.lua finds it first...
    assert [(lvl, jid) for lvl, _, jid, _ in await consumer.read(5, 50)] == [(1, job.id)]
    # ...and a blocked read is woken by an entry on any level.
    task = asyncio.ensure_future(engine.consumer("c2").read(5, 2000))
    await asyncio.sleep(0.1)
    low = await engine.producer.enqueue(JobCreate(task_type="noop", priority=Priority.LOW))
    assert [(lvl, jid) for lvl, _, jid, _ in await task] == [(3, low.id)]


async def test_priority_travels_through_retry_and_dlq_retry(engine: Engine, deliver) -> None:
    consumer = engine.consumer("c1")
    (d,) = await deliver(consumer, priority=Priority.LOW, max_retries=0)
    assert d.level == 3
    await consumer.settle([], [Failure(d, "boom", 0)])
    await engine.dlq.retry(d.job_id)
    await engine.trim()
    assert await engine.redis.xlen(engine.keys.stream_for(Priority.LOW)) == 1
    assert await engine.redis.xlen(engine.keys.stream) == 0
    job = await engine.jobs.get(d.job_id)
    assert job.priority is Priority.LOW and job.status == "pending"


async def test_a_one_level_backlog_yields_to_new_critical_work_within_three_reads(
    engine: Engine,
) -> None:
    """The plain-XREADGROUP fast path on a one-level backlog ends at the next fair-share read."""
    await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 40)
    consumer = engine.consumer("c1")
    assert {level for level, _, _, _ in await consumer.read(5, 0)} == {2}  # read 1: read.lua
    critical = await engine.producer.enqueue(
        JobCreate(task_type="noop", priority=Priority.CRITICAL)
    )
    assert {level for level, _, _, _ in await consumer.read(5, 0)} == {2}  # read 2: fast path
    third = await consumer.read(5, 0)  # read 3 takes high, then critical, first
    assert third[0][0] == 0 and third[0][2] == critical.id
    assert [e.level for e in third] == [0, 2, 2, 2, 2]
    # Reads 4-8 are fast again; read 9 takes low first, then the last normal entry.
    low = await engine.producer.enqueue(JobCreate(task_type="noop", priority=Priority.LOW))
    rest = [entry for _ in range(6) for entry in await consumer.read(5, 0)]
    assert [e.level for e in rest] == [2] * 25 + [3, 2]
    assert rest[25][2] == low.id
    assert await consumer.read(5, 0) == []
