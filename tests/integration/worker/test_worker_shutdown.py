"""Stopping a worker always ends, even though redis-py can swallow a cancellation mid-call."""

from __future__ import annotations

import asyncio
import random

from dtq.models import JobCreate
from dtq.queue import Engine
from dtq.worker.registry import TaskRegistry
from dtq.worker.runner import Worker


async def test_stop_always_finishes(engine: Engine, registry: TaskRegistry, caplog) -> None:
    rng = random.Random(5)
    await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 2000)
    for _ in range(15):
        worker = Worker(engine, registry, concurrency=20)
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(rng.uniform(0.05, 0.2))
        worker.stop()
        done, _ = await asyncio.wait({task}, timeout=8)  # not wait_for: it would wait forever too
        assert task in done, "the worker did not stop"
        task.result()
    stuck = [r.getMessage() for r in caplog.records if "ignored cancellation" in r.getMessage()]
    assert not stuck


async def test_cancelling_the_run_task_ends_it(engine: Engine, registry: TaskRegistry) -> None:
    rng = random.Random(6)
    for _ in range(15):
        worker = Worker(engine, registry, concurrency=5)
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(rng.uniform(0.05, 0.2))
        task.cancel()  # what a second SIGTERM does
        done, _ = await asyncio.wait({task}, timeout=8)
        assert task in done, "the worker ignored its cancellation"


async def test_a_loop_that_fails_stops_the_worker_loudly(
    engine: Engine, registry: TaskRegistry, caplog, monkeypatch
) -> None:
    """A background loop's unexpected error is never swallowed: the worker logs it and stops
    (its process exits non-zero and other workers reclaim its jobs)."""
    from dtq.worker import upkeep

    async def broken(self: object) -> None:
        await asyncio.sleep(0.2)
        raise RuntimeError("a bug in a loop")

    monkeypatch.setattr(upkeep.Upkeep, "tidy", broken)
    await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 50)
    task = asyncio.create_task(Worker(engine, registry, concurrency=5).run())
    done, _ = await asyncio.wait({task}, timeout=8)
    assert task in done, "the worker went on without its loop"
    assert isinstance(task.exception(), ExceptionGroup)
    failed = [r for r in caplog.records if "a loop failed unexpectedly" in r.getMessage()]
    assert failed and failed[0].levelname == "CRITICAL" and failed[0].exc_info
