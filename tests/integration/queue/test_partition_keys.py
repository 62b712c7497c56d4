"""Per-key ordering: jobs with the same partition_key in a queue run one at a time, in
submission order, across all workers; jobs with different keys run in parallel."""

from __future__ import annotations

import time

from dtq.models import JobCreate, JobStatus
from dtq.queue import Engine, Failure
from tests import tasks
from tests.conftest import wait_for


def keyed(key: str, seq: int, **job: object) -> JobCreate:
    return JobCreate(task_type="keyed", payload={"key": key, "seq": seq}, partition_key=key, **job)


async def test_only_the_head_of_a_key_starts_and_the_next_goes_when_it_finishes(
    engine: Engine,
) -> None:
    a1, a2, b1, a3 = await engine.producer.enqueue_many(
        [keyed("a", 1), keyed("a", 2), keyed("b", 1), keyed("a", 3)]
    )
    c = engine.consumer("c1")
    started = await c.start(await c.read(10, 0))
    assert [d.job_id for d in started] == [a1, b1]  # a2 and a3 are parked
    await engine.heartbeat("w1", {"tasks": "keyed"})
    assert (await engine.jobs.get(a2)).blocked_reason == (
        "waiting for the jobs ahead of it with its partition_key to finish"
    )
    assert await c.read(10, 0) == []
    await c.settle([(started[0], b"null")], [])
    (d,) = await c.start(await c.read(10, 0))
    assert d.job_id == a2
    await engine.jobs.cancel(a3)  # leaves the line without holding anyone up
    await c.settle([(d, b"null")], [])
    assert await c.read(10, 0) == []
    assert not await engine.redis.exists(engine.keys.queue().line("a"))


async def test_a_retry_holds_its_keys_order_and_a_dead_job_lets_the_next_go(
    engine: Engine,
) -> None:
    first, second = await engine.producer.enqueue_many(
        [keyed("k", 1, max_retries=1), keyed("k", 2)]
    )
    c = engine.consumer("c1")
    (d,) = await c.start(await c.read(10, 0))
    await c.settle([], [Failure(d, "boom", 0)])  # retry: still at the head
    assert (await engine.promote_due())[0] == 1
    (again,) = await c.start(await c.read(10, 0))
    assert (again.job_id, again.attempt) == (first, 2)
    await c.settle([], [Failure(again, "boom", 0)])  # dead: the next one goes
    (nxt,) = await c.start(await c.read(10, 0))
    assert nxt.job_id == second
    assert (await engine.jobs.get(first)).status == JobStatus.DEAD


async def test_a_canceled_head_lets_the_next_go(engine: Engine) -> None:
    first, second = await engine.producer.enqueue_many([keyed("k", 1), keyed("k", 2)])
    c = engine.consumer("c1")
    (d,) = await c.start(await c.read(10, 0))
    await engine.jobs.cancel(first)
    (nxt,) = await c.start(await c.read(10, 0))
    assert nxt.job_id == second and d.job_id == first


async def test_ten_keys_over_three_workers_keep_order_and_never_overlap(
    engine: Engine, start_worker
) -> None:
    """10 keys x 500 jobs over 3 workers of concurrency 50 (2 ms jobs, a few failing once),
    against the same jobs without keys: at most 10 run at once instead of 150, so the ordered run
    may take up to 15 times as long as the unordered one, and no longer."""
    for _ in range(3):
        start_worker(concurrency=50)
    tasks.KEY_STARTS.clear()
    t0 = time.monotonic()
    await engine.producer.enqueue_many(
        [
            JobCreate(task_type="keyed", payload={"key": f"free{seq % 10}", "seq": seq})
            for seq in range(5000)
        ]
    )

    async def unordered_done() -> bool:
        return sum(len(s) for s in tasks.KEY_STARTS.values()) >= 5000

    await wait_for(unordered_done, timeout=120)
    unordered_s = time.monotonic() - t0
    tasks.KEY_STARTS.clear()
    tasks.KEY_OVERLAPS.clear()
    keys = [f"key{k}" for k in range(10)]
    jobs = [
        keyed(key, seq, max_retries=2)
        if seq % 97
        else JobCreate(
            task_type="keyed",
            payload={"key": key, "seq": seq, "fail_first": True},
            partition_key=key,
            max_retries=2,
        )
        for seq in range(500)
        for key in keys
    ]
    t0 = time.monotonic()
    await engine.producer.enqueue_many(jobs)

    async def done() -> bool:
        return sum(len(s) for s in tasks.KEY_STARTS.values()) >= 5000 + 10 * 6

    await wait_for(done, timeout=120)
    ordered_s = time.monotonic() - t0
    assert tasks.KEY_OVERLAPS == []
    for key in keys:
        starts = tasks.KEY_STARTS[key]
        firsts = list(dict.fromkeys(starts))  # a retried job starts twice, back to back
        assert firsts == list(range(500)), key
        assert len(starts) == 506  # seq 0, 97, 194, 291, 388, 485 failed once each
    print(f"\n5,000 jobs, 3 workers x 50: unordered {unordered_s:.2f} s, 10 keys {ordered_s:.2f} s")
    assert ordered_s <= 15 * unordered_s + 1
