from __future__ import annotations

from collections.abc import Callable

import pytest

from dtq.models import JobCreate
from dtq.queue import Consumer, Delivery, Engine


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
