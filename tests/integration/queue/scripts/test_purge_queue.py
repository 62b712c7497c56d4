"""purge_queue.lua: cancels jobs no worker has taken (streams, lanes, held), a chunk a call."""

from dtq.models import JobCreate
from dtq.queue import Engine
from dtq.queue.scripts.purge_queue import purge_queue


async def test_a_chunk_at_a_time_and_taken_jobs_stay(engine: Engine) -> None:
    ids = await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 5)
    c = engine.consumer("c1")
    (taken,) = await c.start(await c.read(1, 0))
    q = engine.keys.queue()
    assert await purge_queue(engine.lib, queue=q, limit=3) == (3, 3)
    assert await purge_queue(engine.lib, queue=q, limit=3) == (1, 1)
    assert await purge_queue(engine.lib, queue=q, limit=3) == (0, 0)
    statuses = [(await engine.jobs.get(i)).status for i in ids]
    assert statuses == ["running", "canceled", "canceled", "canceled", "canceled"]
    assert (await engine.jobs.get(ids[1])).cancel_reason == "purged"
    assert taken.job_id == ids[0]


async def test_a_stream_no_worker_listened_to_is_emptied(engine: Engine) -> None:
    await engine.producer.enqueue_many([JobCreate(task_type="noop", queue="fresh")] * 2)
    q = engine.keys.queue("fresh")
    assert await purge_queue(engine.lib, queue=q, limit=10) == (2, 2)
    assert await engine.redis.xlen(q.stream) == 0
    assert await purge_queue(engine.lib, queue=q, limit=10) == (0, 0)
