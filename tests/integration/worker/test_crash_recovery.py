"""Failure: kill -9, a frozen worker (fencing), SIGTERM, leases, deleted stream entries.

Workers run as real subprocesses so signals hit a real process.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from dtq.models import DEFAULT_TENANT, JobCreate, JobStatus, TenantCreate
from dtq.queue import Engine, Keys
from dtq.queue.tenant_ids import stored_id
from tests.conftest import stream_entries, stream_events, wait_for


async def _statuses(engine: Engine, ids: list[str]) -> list[str]:
    return await _fields(engine, ids, "status")


async def _all_succeeded(engine: Engine, ids: list[str]) -> bool:
    return all(s == "succeeded" for s in await _statuses(engine, ids))


async def test_sigkill_mid_run_loses_nothing(engine: Engine, settings, processes) -> None:
    # 0.2 s jobs keep the victim busy well past the survivor's start (at 0.05 s, one CI run
    # found no job interrupted by the kill; why is not established)
    ids = await engine.producer.enqueue_many(
        [JobCreate(task_type="sleep", payload={"seconds": 0.2}) for _ in range(1200)]
    )
    victim = processes.worker(settings, "--concurrency", "40", "--name", "victim")
    await wait_for(lambda: _running_on(engine, "victim"), timeout=20)
    processes.worker(settings, "--concurrency", "40", "--name", "survivor")
    await asyncio.sleep(0.3)
    await wait_for(lambda: _running_on(engine, "victim"), timeout=5)  # still busy
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    await wait_for(lambda: _all_succeeded(engine, ids), timeout=60, every=0.2)
    reclaimed = [j for j in ids if int(await engine.redis.hget(engine.keys.job(j), "attempt")) > 1]
    assert reclaimed, "the kill should have interrupted some jobs"
    for job_id in reclaimed:
        assert await engine.redis.hget(engine.keys.job(job_id), "worker") == "survivor"
    m = await engine.stats.queue_stats()
    assert m.jobs_completed_total == 1200 and m.pending_entries == m.consumer_group_lag == 0
    assert await stream_entries(engine) == 0


async def test_sigkill_mid_run_loses_no_tenants_job(make_settings, redis, processes) -> None:
    """The same with keys on: jobs of three tenants wait in their lanes, one of them capped, and
    the reads dispatch them as the workers ask. Nothing is lost, and the capped tenant's slots
    held by the killed worker's jobs are all given back."""
    settings = make_settings(AUTH_DISABLED=False)
    engine = Engine(redis, settings)
    await engine.setup()
    await engine.tenants.create(TenantCreate(name="capped", max_concurrency=15))
    for name in ("t1", "t2"):
        await engine.tenants.create(TenantCreate(name=name))
    ids = []
    for name in ("capped", "t1", "t2"):
        jobs = [JobCreate(task_type="sleep", payload={"seconds": 0.2}) for _ in range(300)]
        ids += [stored_id(name, j) for j in await engine.producer.enqueue_many(jobs, name)]
    victim = processes.worker(settings, "--concurrency", "40", "--name", "victim")
    await wait_for(lambda: _running_on_any(engine, ids, "victim"), timeout=20)
    processes.worker(settings, "--concurrency", "40", "--name", "survivor")
    await asyncio.sleep(0.3)
    await wait_for(lambda: _running_on_any(engine, ids, "victim"), timeout=5)  # still busy
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    await wait_for(lambda: _all_succeeded(engine, ids), timeout=60, every=0.2)
    attempts = await _fields(engine, ids, "attempt")
    reclaimed = [j for j, a in zip(ids, attempts, strict=True) if int(a) > 1]
    assert reclaimed, "the kill should have interrupted some jobs"
    assert set(await _fields(engine, reclaimed, "worker")) == {"survivor"}
    assert await redis.scard(engine.keys.running("capped")) == 0
    m = await engine.stats.queue_stats()
    assert m.jobs_completed_total == 900 and m.pending_entries == m.consumer_group_lag == 0


async def _fields(engine: Engine, ids: list[str], field: str) -> list[str]:
    async with engine.redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(engine.keys.job(job_id), field)
        return await pipe.execute()


async def _running_on_any(engine: Engine, ids: list[str], worker: str) -> bool:
    """Whether any of the jobs runs on the worker (they belong to several tenants)."""
    fields = zip(await _statuses(engine, ids), await _fields(engine, ids, "worker"), strict=True)
    return any(s == "running" and w == worker for s, w in fields)


async def _running_on(engine: Engine, worker: str) -> bool:
    page = await engine.jobs.list(status=JobStatus.RUNNING, limit=5)
    return any(j.worker == worker for j in page.data)


async def test_frozen_worker_loses_its_job_and_its_late_completion_is_refused(
    engine: Engine, settings, processes
) -> None:
    runs_key = f"{Keys.from_settings(settings).base}:runs"
    job = await engine.producer.enqueue(
        JobCreate(task_type="record", payload={"seconds": 1.5, "key": runs_key})
    )
    frozen = processes.worker(settings, "--name", "frozen")
    await wait_for(lambda: _running_on(engine, "frozen"), timeout=20)
    frozen.send_signal(signal.SIGSTOP)
    processes.worker(settings, "--name", "healthy")

    async def done_by_healthy():
        j = await engine.jobs.get(job.id)
        return j if j.status == JobStatus.SUCCEEDED else None

    done = await wait_for(done_by_healthy, timeout=20)
    assert done.worker == "healthy" and done.attempt == 2
    frozen.send_signal(signal.SIGCONT)
    # The frozen worker wakes up, finishes its run and tries to complete it: refused.
    await wait_for(lambda: _llen_at_least(engine, runs_key, 2), timeout=10)
    await asyncio.sleep(0.5)
    after = await engine.jobs.get(job.id)
    assert (after.worker, after.attempt, after.status) == ("healthy", 2, JobStatus.SUCCEEDED)
    events = await stream_events(engine, job.id)
    assert [e["worker"] for e in events if e["status"] == "succeeded"] == ["healthy"]
    assert (await engine.stats.queue_stats()).jobs_completed_total == 1


async def _llen_at_least(engine: Engine, key: str, n: int) -> bool:
    return await engine.redis.llen(key) >= n


async def test_sigterm_during_a_run_loses_no_job(make_settings, redis, processes) -> None:
    settings = make_settings(SHUTDOWN_GRACE_S=0.2)
    engine = Engine(redis, settings)
    await engine.setup()
    ids = await engine.producer.enqueue_many(
        [JobCreate(task_type="sleep", payload={"seconds": 0.6}) for _ in range(40)]
    )
    first = processes.worker(settings, "--concurrency", "10", "--name", "first")
    await wait_for(lambda: _running_on(engine, "first"), timeout=20)
    first.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(first.wait, 10) == 0
    # Jobs cut off by the grace period stayed unacknowledged; another worker reclaims them.
    processes.worker(settings, "--concurrency", "20", "--name", "second")
    await wait_for(lambda: _all_succeeded(engine, ids), timeout=30, every=0.1)


async def test_sigterm_lets_in_flight_jobs_finish_within_the_grace_period(
    engine: Engine, settings, processes
) -> None:
    ids = await engine.producer.enqueue_many(
        [JobCreate(task_type="sleep", payload={"seconds": 0.5}) for _ in range(5)]
    )
    worker = processes.worker(settings, "--concurrency", "5", "--name", "graceful")
    await wait_for(lambda: _count_running(engine, 5), timeout=20)
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 10) == 0
    assert await _all_succeeded(engine, ids)
    assert (await engine.stats.queue_stats()).live_workers == 0


async def _count_running(engine: Engine, n: int) -> bool:
    return (await engine.stats.queue_stats()).jobs_by_status[JobStatus.RUNNING] == n


async def test_lease_keeps_a_long_job_with_its_live_worker(
    engine: Engine, settings, start_worker
) -> None:
    runs_key = f"{Keys.from_settings(settings).base}:runs"
    start_worker(name="a")
    start_worker(name="b")
    job = await engine.producer.enqueue(
        JobCreate(
            task_type="record", payload={"seconds": 3.0, "key": runs_key, "url": settings.REDIS_URL}
        )
    )

    async def finished():
        j = await engine.jobs.get(job.id)
        return j if j.status.is_terminal else None

    done = await wait_for(finished, timeout=15)
    assert done.status == JobStatus.SUCCEEDED and done.attempt == 1
    assert await engine.redis.llen(runs_key) == 1


@pytest.mark.parametrize("tenant", [DEFAULT_TENANT, "acme"])
async def test_entry_deleted_while_unacknowledged_is_recovered(
    engine: Engine, start_worker, tenant: str
) -> None:
    # A named tenant's job is found through its own index (the shard's holds only default's).
    if tenant != DEFAULT_TENANT:
        await engine.tenants.create(TenantCreate(name=tenant))
    job = await engine.producer.enqueue(JobCreate(task_type="echo", payload={"v": 1}), tenant)
    crashed = engine.consumer("crashed")
    (d,) = await crashed.start(await crashed.read(1, 100))
    await engine.redis.xdel(engine.keys.stream, d.entry_id)  # e.g. an operator's XDEL or XTRIM

    async def done():
        j = await engine.jobs.get(job.id, tenant)
        return j if j.status == JobStatus.SUCCEEDED else None

    start_worker()
    recovered = await wait_for(done, timeout=10)
    assert recovered.result == {"v": 1}
    assert (await engine.redis.xpending(engine.keys.stream, "workers"))["pending"] == 0
