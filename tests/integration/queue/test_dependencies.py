"""Dependencies on a real worker: a DAG runs in order, failures cancel descendants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dtq.errors import DependencyCycleError, UnknownParentError
from dtq.models import JobCreate, JobStatus
from dtq.queue import Engine, Failure, job_index
from dtq.worker.runner import Worker
from tests.conftest import wait_for


def _mark(label: str, key: str, url: str, **job: Any) -> JobCreate:
    return JobCreate(
        task_type="mark_start", payload={"url": url, "key": key, "label": label}, **job
    )


async def _status(engine: Engine, job_id: str) -> JobStatus:
    return (await engine.jobs.get(job_id)).status


async def test_three_level_dag_runs_in_order_with_parents_results(
    engine: Engine, start_worker: Callable[..., Worker], redis_url: str
) -> None:
    key = f"{engine.keys.base}:started"
    # a -> (b, c) -> d: a chain three levels deep with a fan-out and a fan-in. Submitted
    # children first, in one batch: the producer stores parents first.
    jobs = [
        _mark("d", key, redis_url, id="d", depends_on=["b", "c"]),
        _mark("b", key, redis_url, id="b", depends_on=["a"]),
        _mark("c", key, redis_url, id="c", depends_on=["a"]),
        _mark("a", key, redis_url, id="a"),
    ]
    assert await engine.producer.enqueue_many(jobs) == ["d", "b", "c", "a"]
    d = await engine.jobs.get("d")
    assert d.status == JobStatus.WAITING and d.depends_on == ["b", "c"]
    assert d.blocked_reason == "waiting on dependency b"
    start_worker(concurrency=8)

    async def d_done() -> bool:
        return await _status(engine, "d") == JobStatus.SUCCEEDED

    await wait_for(d_done)
    order = await engine.redis.lrange(key, 0, -1)
    assert order[0] == "a" and set(order[1:3]) == {"b", "c"} and order[3] == "d"
    result: Any = (await engine.jobs.get("d")).result
    assert result["parents"] == {
        "b": {"label": "b", "parents": {"a": {"label": "a", "parents": {}}}},
        "c": {"label": "c", "parents": {"a": {"label": "a", "parents": {}}}},
    }
    timeline = [(e.status, e.reason) for e in (await engine.jobs.timeline("d")).data]
    assert timeline[:2] == [("waiting", "dependencies"), ("pending", "dependencies_met")]
    stats = await engine.redis.hgetall(engine.keys.stats)
    assert stats["jobs:waiting"] == "0" and stats["jobs:succeeded"] == "4"
    assert await engine.redis.zcard(engine.keys.dependency_outbox) == 0


async def test_a_dead_parent_cancels_every_descendant(
    engine: Engine, start_worker: Callable[..., Worker], redis_url: str
) -> None:
    key = f"{engine.keys.base}:started"
    await engine.producer.enqueue_many(
        [
            JobCreate(id="p", task_type="fail", max_retries=1),
            _mark("ok", key, redis_url, id="ok"),
            _mark("child", key, redis_url, id="child", depends_on=["p", "ok"]),
            _mark("grandchild", key, redis_url, id="grandchild", depends_on=["child"]),
            _mark("other", key, redis_url, id="other", depends_on=["ok"]),
        ]
    )
    start_worker(concurrency=4)

    async def settled() -> bool:  # the dead branch canceled, the other one run to the end
        return await _status(engine, "grandchild") == JobStatus.CANCELED and (
            await _status(engine, "other") == JobStatus.SUCCEEDED
        )

    await wait_for(settled)
    assert await _status(engine, "p") == JobStatus.DEAD
    for job_id, parent in (("child", "p"), ("grandchild", "child")):
        job = await engine.jobs.get(job_id)
        assert job.cancel_reason == "dependency_failed"
        assert job.blocked_reason == f"canceled: dependency {parent} failed"
        assert job.attempt == 0
    assert await _status(engine, "other") == JobStatus.SUCCEEDED  # its parent succeeded
    assert sorted(await engine.redis.lrange(key, 0, -1)) == ["ok", "other"]  # nothing else ran
    stats = await engine.redis.hgetall(engine.keys.stats)
    assert stats["jobs:waiting"] == "0" and stats["jobs:canceled"] == "2"
    # A job submitted after a parent died is canceled at once; after one succeeded, it runs.
    late = await engine.producer.enqueue(JobCreate(task_type="noop", depends_on=["p"]))
    assert late.status == JobStatus.CANCELED and late.cancel_reason == "dependency_failed"
    on_time = await engine.producer.enqueue(_mark("late", key, redis_url, depends_on=["ok"]))
    assert on_time.status == JobStatus.PENDING


async def test_canceling_a_parent_cancels_its_descendants(engine: Engine) -> None:
    await engine.producer.enqueue_many(
        [
            JobCreate(id="root", task_type="noop", delay_ms=60_000),
            JobCreate(id="mid", task_type="noop", depends_on=["root"]),
            JobCreate(id="leaf", task_type="noop", depends_on=["mid"]),
        ]
    )
    await engine.jobs.cancel("root")
    assert await _status(engine, "mid") == JobStatus.CANCELED
    assert await _status(engine, "leaf") == JobStatus.CANCELED
    assert await engine.redis.zcard(engine.keys.dependency_outbox) == 0
    # Canceling a waiting job cancels its own dependents, and leaves its parent alone.
    await engine.producer.enqueue_many(
        [
            JobCreate(id="p2", task_type="noop", delay_ms=60_000),
            JobCreate(id="w", task_type="noop", depends_on=["p2"]),
            JobCreate(id="w2", task_type="noop", depends_on=["w"]),
        ]
    )
    await engine.jobs.cancel("w")
    assert (await engine.jobs.get("w")).cancel_reason == "requested"
    assert await _status(engine, "w2") == JobStatus.CANCELED
    assert await _status(engine, "p2") == JobStatus.SCHEDULED


async def test_unknown_parent_and_cycle_write_nothing(engine: Engine) -> None:
    with pytest.raises(UnknownParentError, match="nope"):
        await engine.producer.enqueue_many(
            [JobCreate(id="x", task_type="noop"), JobCreate(task_type="noop", depends_on=["nope"])]
        )
    with pytest.raises(DependencyCycleError):
        await engine.producer.enqueue_many(
            [
                JobCreate(id="y", task_type="noop", depends_on=["z"]),
                JobCreate(id="z", task_type="noop", depends_on=["y"]),
            ]
        )
    assert await job_index.count(engine.redis, engine.keys.index) == 0
    assert not await engine.redis.exists(engine.keys.job("x"))


async def test_a_child_with_a_due_time_is_scheduled_when_released(engine: Engine) -> None:
    consumer = engine.consumer("c1")
    await engine.producer.enqueue_many(
        [
            JobCreate(id="p", task_type="noop"),
            JobCreate(id="later", task_type="noop", depends_on=["p"], delay_ms=60_000),
        ]
    )
    (d,) = await consumer.start(await consumer.read(1, 0))
    settled = await consumer.settle([(d, b"1")], [])
    assert settled.parents == ["p"]
    assert await engine.dependencies.release(settled.parents)
    job = await engine.jobs.get("later")
    assert job.status == JobStatus.SCHEDULED and job.blocked_reason.startswith("scheduled until")


async def test_parents_left_in_the_outbox_are_swept(
    engine: Engine, start_worker: Callable[..., Worker]
) -> None:
    """A worker that dies between finishing a parent and releasing its children loses nothing."""
    consumer = engine.consumer("crashed")
    await engine.producer.enqueue_many(
        [
            JobCreate(id="p", task_type="fail", max_retries=0),
            JobCreate(id="q", task_type="noop"),
            JobCreate(id="c1", task_type="noop", depends_on=["p"]),
            JobCreate(id="c2", task_type="noop", depends_on=["q"]),
        ]
    )
    dp, dq = await consumer.start(await consumer.read(2, 0))
    settled = await consumer.settle([(dq, b"null")], [Failure(dp, "boom", 0)])
    assert sorted(settled.parents) == ["p", "q"]  # ...and the crash: nobody releases them
    assert await engine.redis.zcard(engine.keys.dependency_outbox) == 2
    start_worker()

    async def both_settled() -> bool:
        return (
            await _status(engine, "c1") == JobStatus.CANCELED
            and await _status(engine, "c2") == JobStatus.SUCCEEDED
        )

    await wait_for(both_settled, timeout=10)
