"""Priorities on a real worker: order under a backlog, and no starvation under load."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dtq.models import PRIORITY_ORDER, JobCreate, Priority
from dtq.queue import Engine
from dtq.worker.runner import Worker
from tests.conftest import wait_for


def _jobs(priority: Priority, n: int, key: str, url: str, seconds: float = 0) -> list[JobCreate]:
    return [
        JobCreate(
            task_type="mark_start",
            priority=priority,
            payload={"url": url, "key": key, "label": priority.value, "seconds": seconds},
        )
        for _ in range(n)
    ]


async def test_higher_priority_submitted_later_starts_first(
    engine: Engine, start_worker: Callable[..., Worker], redis_url: str
) -> None:
    key = f"{engine.keys.base}:started"
    for priority in reversed(PRIORITY_ORDER):  # low is queued first, critical last
        await engine.producer.enqueue_many(_jobs(priority, 30, key, redis_url))
    start_worker(concurrency=1)

    async def all_started() -> bool:
        return await engine.redis.llen(key) == 120

    await wait_for(all_started, timeout=30)
    order = await engine.redis.lrange(key, 0, -1)
    assert order[0] == "critical"
    # Critical runs first, but 3 reads in 10 serve a lower level first (the documented share).
    assert order[:30].count("critical") == 21
    c = "critical"
    assert order[:10] == [c, c, "high", c, c, "normal", c, c, "low", c]
    mean = {p: sum(i for i, x in enumerate(order) if x == p) / 30 for p in ("critical", "high")}
    assert mean["critical"] < mean["high"]
    last_critical = max(i for i, x in enumerate(order) if x == "critical")
    assert last_critical < 45  # all 30 critical within the first 45 starts
    # Beyond the share, the rest goes by priority: high before normal before low.
    rest = order[last_critical + 1 :]
    assert rest.index("high") < rest.index("normal") < rest.index("low")


async def test_low_progresses_under_sustained_critical_load(
    engine: Engine, start_worker: Callable[..., Worker], redis_url: str
) -> None:
    key = f"{engine.keys.base}:started"
    await engine.producer.enqueue_many(_jobs(Priority.LOW, 20, key, redis_url, 0.005))
    critical_stream = engine.keys.stream_for(Priority.CRITICAL)
    await engine.producer.enqueue_many(_jobs(Priority.CRITICAL, 400, key, redis_url, 0.005))
    stop = asyncio.Event()
    backlog_low = []

    async def keep_critical_backlog() -> None:
        while not stop.is_set():
            lag = (await engine.redis.xinfo_groups(critical_stream))[0]["lag"]
            backlog_low.append(lag)
            if lag < 300:
                await engine.producer.enqueue_many(
                    _jobs(Priority.CRITICAL, 200, key, redis_url, 0.005)
                )
            await asyncio.sleep(0.02)

    feeder = asyncio.create_task(keep_critical_backlog())
    start_worker(concurrency=4)

    async def low_done() -> int:
        stats = await engine.redis.lrange(key, 0, -1)
        return stats.count("low") == 20 and len(stats)

    started = await wait_for(low_done, timeout=20)
    stop.set()
    await feeder
    # The critical backlog never ran dry while the low jobs ran...
    assert min(backlog_low[2:]) > 0
    # ...and low got about its share: 20 low jobs within roughly 10x as many starts.
    assert started <= 20 * 10 * 1.5, started
