"""requeue.lua: a live job whose stream entry was deleted unacked gets a new entry, once."""

from dtq.models import JobCreate
from dtq.queue import Consumer, Engine
from dtq.queue.scripts.requeue import requeue


async def test_requeues_once_and_only_a_job_still_on_that_entry(
    engine: Engine, consumer: Consumer
) -> None:
    job = await engine.producer.enqueue(JobCreate(task_type="noop"))
    entry = await engine.redis.hget(engine.keys.job(job.id), "entry")
    await engine.redis.xdel(engine.keys.stream, entry)
    assert (
        await requeue(engine.lib, queue=engine.keys.queue(), job_id=job.id, entry_id=entry, level=2)
        is True
    )
    new_entry = await engine.redis.hget(engine.keys.job(job.id), "entry")
    assert new_entry != entry
    # The job moved on (it names the new entry now): nothing to do.
    assert (
        await requeue(engine.lib, queue=engine.keys.queue(), job_id=job.id, entry_id=entry, level=2)
        is False
    )
    # Another level's entry with the same id is not this job's.
    assert (
        await requeue(
            engine.lib, queue=engine.keys.queue(), job_id=job.id, entry_id=new_entry, level=0
        )
        is False
    )
    assert [d.job_id for d in await consumer.start(await consumer.read(5, 100))] == [job.id]
