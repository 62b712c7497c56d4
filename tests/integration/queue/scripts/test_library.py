"""library.py: batched calls are bare EVALSHAs; a server that lost its scripts gets them again."""

import pytest
from redis.exceptions import ResponseError

from dtq.models import JobCreate
from dtq.queue import Engine
from dtq.queue.scripts.library import Batch, Call


async def test_a_batch_survives_a_script_flush_and_runs_each_call_once(engine: Engine) -> None:
    await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 3)
    c = engine.consumer("c1")
    started = await c.start(await c.read(3, 0))
    await engine.redis.script_flush()
    settled = await c.settle([(d, b"1") for d in started], [])  # one batch: complete.lua
    assert settled.completed == 3
    stats = await engine.redis.hgetall(engine.keys.stats)
    assert (stats["completed_total"], stats["jobs:succeeded"]) == ("3", "3")
    assert await engine.scripts_loaded() is False  # only what the batch needed was loaded


async def test_an_error_is_raised_once_the_other_calls_have_run(engine: Engine) -> None:
    script = engine.lib.script("trim")
    not_a_stream = f"{engine.keys.base}:not-a-stream"
    await engine.redis.set(not_a_stream, "x")
    batch = Batch(engine.redis)
    broken = batch.add(Call(script, [not_a_stream], [engine.settings.CONSUMER_GROUP], int))
    fine = batch.add(Call(script, [engine.keys.stream], [engine.settings.CONSUMER_GROUP], int))
    with pytest.raises(ResponseError):
        await batch.run()
    assert fine.value == 0
    with pytest.raises(RuntimeError):
        broken.value  # noqa: B018
