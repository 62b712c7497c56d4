from __future__ import annotations

from collections.abc import Callable

import pytest

from app.models import JobCreate
from app.queue import Consumer, Delivery, Engine


@pytest.fixture
def consumer(engine: Engine) -> Consumer:
    return engine.consumer("c1")


@pytest.fixture
def deliver(engine: Engine) -> Callable[..., object]:
    """Enqueue jobs and start them under a consumer: returns the deliveries."""

    async def run(
        consumer: Consumer, task_type: str = "noop", n: int = 1, **job: object
    ) -> list[Delivery]:
        await engine.producer.enqueue_many([JobCreate(task_type=task_type, **job)] * n)
        entries = await consumer.read(n, 100)
        return await consumer.start(entries)

    return run


async def redis_now_ms(engine: Engine) -> int:
    seconds, micros = await engine.redis.time()
    return int(seconds) * 1000 + int(micros) // 1000
