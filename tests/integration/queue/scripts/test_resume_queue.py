"""resume_queue.lua: the pause flag goes and held jobs go back, in order, canceled ones not."""

from dtq.models import JobCreate
from dtq.queue import Engine


async def test_held_jobs_go_back_in_order_and_canceled_ones_are_dropped(engine: Engine) -> None:
    ids = await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 3)
    c = engine.consumer("c1")
    entries = await c.read(3, 0)
    await engine.queues.pause("default")
    assert await c.start(entries) == []
    q = engine.keys.queue()
    assert await engine.redis.lrange(q.held, 0, -1) == ids
    await engine.jobs.cancel(ids[1])
    assert await engine.queues.resume("default")
    assert not await engine.redis.exists(q.paused, q.held)
    # c leaves the queue alone for a second after it held jobs; another consumer reads now.
    assert [e.job_id for e in await engine.consumer("c2").read(10, 0)] == [ids[0], ids[2]]


async def test_resuming_a_queue_that_is_not_paused_changes_nothing(engine: Engine) -> None:
    await engine.producer.enqueue(JobCreate(task_type="noop"))
    assert not (await engine.queues.resume("default")).paused
    assert len(await engine.consumer("c1").read(10, 0)) == 1
