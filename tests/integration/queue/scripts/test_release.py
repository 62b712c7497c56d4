"""release.lua: a finished parent's children are released (or canceled) once; a stale view of
the children set is refused."""

from dtq.models import JobCreate, JobStatus
from dtq.queue import Consumer, Engine, Failure
from dtq.queue.scripts.release import release


async def _status(engine: Engine, job_id: str) -> str:
    return await engine.redis.hget(engine.keys.job(job_id), "status")


async def test_refuses_a_stale_view_and_waits_for_the_parent(engine: Engine) -> None:
    await engine.producer.enqueue_many(
        [JobCreate(id="p", task_type="noop"), JobCreate(id="c", task_type="noop", depends_on=["p"])]
    )
    # A caller that read p's children set before c was added is told to read it again.
    assert (await release(engine.lib, parent="p", children=[])).changed
    # p is not finished: nothing to release, and c keeps waiting.
    done = await release(engine.lib, parent="p", children=["c"])
    assert (done.changed, done.released, done.canceled) == (False, 0, 0)
    assert await _status(engine, "c") == JobStatus.WAITING


async def test_releases_after_success_and_cancels_after_death(
    engine: Engine, consumer: Consumer
) -> None:
    await engine.producer.enqueue_many(
        [
            JobCreate(id="ok", task_type="noop", max_retries=0),
            JobCreate(id="bad", task_type="noop", max_retries=0),
            JobCreate(id="c1", task_type="noop", depends_on=["ok"]),
            JobCreate(id="c2", task_type="noop", depends_on=["bad"]),
            JobCreate(id="g2", task_type="noop", depends_on=["c2"]),
        ]
    )
    ok, bad = await consumer.start(await consumer.read(2, 100))
    settled = await consumer.settle([(ok, b"1")], [Failure(bad, "boom", 0)])
    assert sorted(settled.parents) == ["bad", "ok"]
    done = await release(engine.lib, parent="ok", children=["c1"])
    assert (done.released, done.canceled, done.cascade) == (1, 0, [])
    done = await release(engine.lib, parent="bad", children=["c2"])
    assert (done.released, done.canceled, done.cascade) == (0, 1, ["c2"])  # g2 waits on c2
    assert (await _status(engine, "c1"), await _status(engine, "c2")) == ("pending", "canceled")
    # Released once: a second call finds the outbox and the children set empty.
    again = await release(engine.lib, parent="ok", children=[])
    assert (again.changed, again.released) == (False, 0)
