"""Named queues: routing at submission, consumers that listen to chosen queues only, handing
back task types a consumer does not serve, pause and resume, purge, gauges."""

from __future__ import annotations

import asyncio

import pytest

from dtq.errors import ConfirmationRequiredError, QueueNotFoundError
from dtq.models import JobCreate, JobStatus, Priority, TenantCreate
from dtq.queue import Engine, Failure
from dtq.queue.clock import redis_now_ms
from tests import tasks
from tests.conftest import wait_for


def noops(n: int, **job: object) -> list[JobCreate]:
    return [JobCreate(task_type="noop", **job)] * n


async def test_a_job_goes_to_its_named_queue_else_its_task_types_else_default(
    engine: Engine,
) -> None:
    await engine.queues.register(["emails"], {"send_email": "emails", "noop": "default"})
    named = await engine.producer.enqueue(JobCreate(task_type="noop", queue="gpu"))
    registered = await engine.producer.enqueue(JobCreate(task_type="send_email"))
    plain = await engine.producer.enqueue(JobCreate(task_type="noop"))
    assert (named.queue, registered.queue, plain.queue) == ("gpu", "emails", "default")
    assert (await engine.jobs.get(named.id)).queue == "gpu"
    assert await engine.queues.names() == ["default", "emails", "gpu"]
    k = engine.keys
    assert await engine.redis.xlen(k.queue("gpu").stream) == 1
    assert await engine.redis.xlen(k.queue("emails").stream) == 1
    assert await engine.redis.xlen(k.stream) == 1


async def test_task_types_no_worker_has_served_are_reported(engine: Engine) -> None:
    await engine.queues.register(["default"], {"noop": "default"})
    known = await engine.producer.enqueue_once(JobCreate(task_type="noop"))
    assert known.warnings == []
    unknown = await engine.producer.enqueue_once(JobCreate(task_type="mypkg.resize"))
    assert len(unknown.warnings) == 1 and "'mypkg.resize'" in unknown.warnings[0]
    many = await engine.producer.submit_many(noops(3) + [JobCreate(task_type="x.y")] * 2)
    assert len(many.ids) == 5 and len(many.warnings) == 1 and "'x.y'" in many.warnings[0]


async def test_a_consumer_reads_only_its_queues_in_order(engine: Engine) -> None:
    await engine.setup(["a", "b"])
    await engine.producer.enqueue_many(noops(3, queue="a") + noops(3, queue="b") + noops(3))
    both = engine.consumer("c1", ["b", "a"])
    got = await both.read(4, 0)
    assert [e.queue for e in got] == ["b", "b", "b", "a"]
    started = await both.start(got)
    assert [d.queue for d in started] == ["b", "b", "b", "a"]
    settled = await both.settle([(d, b"null") for d in started], [])
    assert settled.completed == 4
    assert [e.queue for e in await both.read(10, 0)] == ["a", "a"]
    assert [e.queue for e in await engine.consumer("c2").read(10, 0)] == ["default"] * 3


async def test_weights_share_reads_between_queues(engine: Engine) -> None:
    await engine.setup(["a", "b"])
    await engine.producer.enqueue_many(noops(400, queue="a") + noops(400, queue="b"))
    c = engine.consumer("c1", ["a", "b"], weights=[3, 1])
    firsts = [(await c.read(1, 0))[0].queue for _ in range(200)]
    assert 120 <= firsts.count("a") <= 180  # about 3 in 4


async def test_a_blocked_consumer_wakes_for_any_of_its_queues(engine: Engine) -> None:
    await engine.setup(["a", "b"])
    c = engine.consumer("c1", ["a", "b"])
    assert await c.read(5, 50) == []
    await engine.producer.enqueue(JobCreate(task_type="noop", queue="b", priority=Priority.LOW))
    (entry,) = await c.read(5, 50)
    assert (entry.queue, entry.level) == ("b", 3)


async def test_a_task_type_the_consumer_does_not_serve_is_handed_back_uncounted(
    engine: Engine,
) -> None:
    mine = await engine.producer.enqueue(JobCreate(task_type="mine"))
    theirs = await engine.producer.enqueue(JobCreate(task_type="theirs"))
    incapable = engine.consumer("c1", serves=["mine"])
    started = await incapable.start(await incapable.read(10, 0))
    assert [d.job_id for d in started] == [mine.id]
    h = await engine.redis.hgetall(engine.keys.job(theirs.id))
    # handed back uncounted: still no attempt, no delivery (absent fields: 0)
    assert (h["status"], h.get("attempt"), h.get("deliveries")) == ("pending", None, None)
    capable = engine.consumer("c2", serves=["theirs"])
    (d,) = await capable.start(await capable.read(10, 0))
    assert (d.job_id, d.attempt) == (theirs.id, 1)
    assert (await engine.redis.xpending(engine.keys.stream, "workers"))["pending"] == 2


async def test_a_paused_queue_starts_nothing_and_resume_puts_held_jobs_back_in_order(
    engine: Engine,
) -> None:
    await engine.setup(["a"])
    ids = await engine.producer.enqueue_many(noops(5, queue="a"))
    c = engine.consumer("c1", ["a"])
    early = await c.read(3, 0)  # read before the pause, started after it
    info = await engine.queues.pause("a")
    assert info.paused and info.pending == 2 and info.running == 3
    assert await c.start(early) == []  # held
    assert await c.read(10, 0) == []  # a paused queue hands out nothing
    info = await engine.queues.info("a")
    assert (info.pending, info.running) == (5, 0)
    assert (await engine.jobs.get(ids[0])).blocked_reason == "queue 'a' is paused"
    late = await engine.producer.enqueue(JobCreate(task_type="noop", queue="a"))
    assert late.status == JobStatus.PENDING  # a paused queue still takes submissions

    resumed = await engine.queues.resume("a")
    assert not resumed.paused and resumed.pending == 6
    c2 = engine.consumer("c2", ["a"])
    started = await c2.start(await c2.read(10, 0))
    assert sorted(d.job_id for d in started) == sorted([*ids, late.id])
    assert [d.attempt for d in started] == [1] * 6


async def test_purge_cancels_waiting_jobs_only_and_wants_confirmation(engine: Engine) -> None:
    await engine.setup(["a"])
    await engine.producer.enqueue_many(noops(2501, queue="a"))
    later = await engine.producer.enqueue(JobCreate(task_type="noop", queue="a", delay_ms=60_000))
    c = engine.consumer("c1", ["a"])
    running = await c.start(await c.read(1, 0))
    with pytest.raises(ConfirmationRequiredError, match="its 2500 pending jobs"):
        await engine.queues.purge("a", confirm=False)
    assert (await engine.queues.info("a")).pending == 2500
    assert await engine.queues.purge("a", confirm=True) == 2500
    info = await engine.queues.info("a")
    assert (info.pending, info.running) == (0, 1)
    assert (await engine.jobs.get(running[0].job_id)).status == JobStatus.RUNNING
    assert (await engine.jobs.get(later.id)).status == JobStatus.SCHEDULED
    stats = await engine.redis.hgetall(engine.keys.stats)
    assert (stats["jobs:pending"], stats["jobs:canceled"]) == ("0", "2500")
    assert await c.read(10, 0) == []  # the purged entries are not handed out
    assert await engine.queues.purge("a", confirm=True) == 0


async def test_unknown_queues_are_refused(engine: Engine) -> None:
    with pytest.raises(QueueNotFoundError, match="'nope'"):
        await engine.queues.pause("nope")
    with pytest.raises(QueueNotFoundError):
        await engine.queues.info("nope")


async def test_retries_and_redrives_stay_in_their_queue(engine: Engine) -> None:
    await engine.setup(["a"])
    job = await engine.producer.enqueue(JobCreate(task_type="noop", queue="a", max_retries=0))
    c = engine.consumer("c1", ["a"])
    (d,) = await c.start(await c.read(1, 0))
    await c.settle([], [Failure(d, "boom", 0)])
    assert (await engine.jobs.get(job.id)).status == JobStatus.DEAD
    await engine.dlq.retry(job.id)
    assert await engine.redis.xlen(engine.keys.queue("a").stream) == 2
    (again,) = await c.start(await c.read(1, 0))
    assert (again.job_id, again.queue) == (job.id, "a")


async def test_pause_under_load_starts_nothing_until_resume_and_loses_nothing(
    engine: Engine, start_worker
) -> None:
    await engine.setup(["bulk"])
    for _ in range(3):
        start_worker(concurrency=20, queues=["bulk"])
    tasks.KEY_STARTS.clear()
    ids = await engine.producer.enqueue_many(
        [
            JobCreate(task_type="keyed", payload={"key": "k", "seq": i}, queue="bulk")
            for i in range(3000)
        ]
    )

    async def some_started() -> bool:
        return len(tasks.KEY_STARTS.get("k", [])) >= 300

    await wait_for(some_started)
    await engine.queues.pause("bulk")
    paused_at = await redis_now_ms(engine.redis)
    before = len(tasks.KEY_STARTS["k"])
    await asyncio.sleep(1.5)  # workers keep reading; nothing of the paused queue may start
    info = await engine.queues.info("bulk")
    assert info.paused and info.running == 0 and info.pending > 0
    async with engine.redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(engine.keys.job(job_id), "started_at")
        started_at = [int(s) for s in await pipe.execute() if s]
    assert max(started_at) <= paused_at  # no job started after the pause
    assert len(tasks.KEY_STARTS["k"]) == before == len(started_at)
    await engine.queues.resume("bulk")

    async def all_done() -> bool:
        return (await engine.stats.queue_stats()).jobs_completed_total == 3000

    await wait_for(all_done, timeout=60)
    assert sorted(tasks.KEY_STARTS["k"]) == list(range(3000))  # each ran once: nothing lost


async def test_dependencies_release_children_into_their_own_queue(engine: Engine) -> None:
    await engine.setup(["a"])
    parent = await engine.producer.enqueue(JobCreate(task_type="noop"))
    child = await engine.producer.enqueue(
        JobCreate(task_type="noop", queue="a", depends_on=[parent.id])
    )
    c = engine.consumer("c1")
    (d,) = await c.start(await c.read(5, 0))
    settled = await c.settle([(d, b"null")], [])
    await engine.dependencies.release(settled.parents)
    only_a = engine.consumer("c2", ["a"])
    assert [e.job_id for e in await only_a.read(5, 0)] == [child.id]


async def test_tenants_lanes_work_per_queue(make_settings, redis) -> None:
    engine = Engine(redis, make_settings(AUTH_DISABLED=False))
    await engine.setup(["default", "a"])
    for name in ("acme", "globex"):
        await engine.tenants.create(TenantCreate(name=name, max_concurrency=1))
    await engine.producer.enqueue_many(noops(3, queue="a"), "acme")
    await engine.producer.enqueue_many(noops(3, queue="a"), "globex")
    assert (await engine.queues.info("a")).pending == 6  # in the queue's lanes
    c = engine.consumer("c1", ["a"])
    started = await c.start(await c.read(10, 0))
    assert sorted(d.job_id.split("/")[0] for d in started) == ["acme", "globex"]  # a cap of 1
    assert await engine.consumer("c2").read(10, 0) == []  # the default queue has none
