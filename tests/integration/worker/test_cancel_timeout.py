"""Cancel of running jobs (async and isolated), durable cancels, and hard timeouts."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from dtq.models import DeadReason, JobCreate, JobStatus
from dtq.queue import Engine, Keys
from tests.conftest import stream_events, wait_for


async def _status(engine: Engine, job_id: str, status: JobStatus):
    job = await engine.jobs.get(job_id)
    return job if job.status == status else None


def _gone(pid: int) -> bool:
    """Whether the process has exited (or is a zombie). It may exit while its status is read:
    reading then fails with ESRCH (ProcessLookupError), or the file is gone."""
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True


async def test_cancel_of_a_running_async_job_stops_it_and_never_retries(
    api, engine: Engine, start_worker
) -> None:
    worker = start_worker()
    job = (await api.post("/jobs", json={"task_type": "hang", "max_retries": 3})).json()
    await wait_for(lambda: _status(engine, job["id"], JobStatus.RUNNING))
    t0 = time.monotonic()
    r = await api.post(f"/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "canceled"

    async def stopped() -> bool:
        each = getattr(worker, "workers", [worker])  # a WorkerGroup with DTQ_TEST_SHARDS
        return not any(w._running or w._inflight for w in each)

    await wait_for(stopped, timeout=1.0, every=0.01)
    assert time.monotonic() - t0 < 1.0
    await asyncio.sleep(1.2)  # past the visibility timeout: nothing may bring it back
    after = await engine.jobs.get(job["id"])
    assert (after.status, after.attempt, after.failures) == (JobStatus.CANCELED, 1, 0)
    assert (await engine.stats.queue_stats()).jobs_retried_total == 0


async def test_cancel_of_an_isolated_cpu_bound_job_kills_its_process(
    engine: Engine, settings, start_worker
) -> None:
    start_worker()
    pid_key = f"{Keys.from_settings(settings).base}:pid"
    job = await engine.producer.enqueue(
        JobCreate(task_type="spin", payload={"url": settings.REDIS_URL, "key": pid_key})
    )
    pid = int(await wait_for(lambda: engine.redis.get(pid_key), timeout=20))
    assert not _gone(pid)
    t0 = time.monotonic()
    await engine.jobs.cancel(job.id)

    async def killed() -> bool:
        return _gone(pid)

    await wait_for(killed, timeout=1.0, every=0.01)
    assert time.monotonic() - t0 < 1.0
    await asyncio.sleep(1.2)
    after = await engine.jobs.get(job.id)
    assert (after.status, after.attempt) == (JobStatus.CANCELED, 1)


async def test_isolated_handler_returns_its_result(engine: Engine, start_worker) -> None:
    start_worker()
    job = await engine.producer.enqueue(JobCreate(task_type="isolated_double", payload={"n": 21}))
    done = await wait_for(lambda: _status(engine, job.id, JobStatus.SUCCEEDED), timeout=20)
    assert done.result == {"double": 42, "attempt": 1}


async def test_cancel_while_the_worker_is_down_holds_after_restart(
    engine: Engine, settings, processes
) -> None:
    job = await engine.producer.enqueue(JobCreate(task_type="hang"))
    first = processes.worker(settings, "--name", "first")
    await wait_for(lambda: _status(engine, job.id, JobStatus.RUNNING), timeout=20)
    first.send_signal(signal.SIGKILL)
    first.wait()
    await engine.jobs.cancel(job.id)
    processes.worker(settings, "--name", "second")
    await asyncio.sleep(2.5)  # more than two visibility timeouts: a reclaim would have happened
    after = await engine.jobs.get(job.id)
    assert (after.status, after.attempt, after.worker) == (JobStatus.CANCELED, 1, "first")
    assert (await engine.redis.xpending(engine.keys.stream, "workers"))["pending"] == 0


async def test_a_hanging_job_times_out_retries_and_dies_with_reason_timeout(
    engine: Engine, start_worker
) -> None:
    start_worker()
    job = await engine.producer.enqueue(JobCreate(task_type="hang", timeout_s=0.3, max_retries=1))
    dead = await wait_for(lambda: _status(engine, job.id, JobStatus.DEAD), timeout=10)
    assert dead.dead_reason == DeadReason.TIMEOUT and dead.failures == 2
    assert "timeout_s=0.3" in (dead.last_error or "")
    (entry,) = (await engine.dlq.list()).data
    assert entry.reason == DeadReason.TIMEOUT
    scheduled = [e for e in await stream_events(engine, job.id) if e["status"] == "scheduled"]
    assert [e["reason"] for e in scheduled] == ["timeout"]


async def test_task_level_timeout_applies(engine: Engine, start_worker) -> None:
    start_worker()
    job = await engine.producer.enqueue(
        JobCreate(task_type="slow_with_task_timeout", max_retries=0)
    )
    dead = await wait_for(lambda: _status(engine, job.id, JobStatus.DEAD), timeout=10)
    assert dead.dead_reason == DeadReason.TIMEOUT and "timeout_s=0.2" in (dead.last_error or "")


async def test_an_isolated_job_past_its_timeout_is_killed(
    engine: Engine, settings, start_worker
) -> None:
    start_worker()
    pid_key = f"{Keys.from_settings(settings).base}:pid"
    job = await engine.producer.enqueue(
        JobCreate(
            task_type="spin",
            payload={"url": settings.REDIS_URL, "key": pid_key},
            timeout_s=2.0,
            max_retries=0,
        )
    )
    dead = await wait_for(lambda: _status(engine, job.id, JobStatus.DEAD), timeout=20)
    assert dead.dead_reason == DeadReason.TIMEOUT
    pid = int(await engine.redis.get(pid_key))

    async def killed() -> bool:
        return _gone(pid)

    await wait_for(killed, timeout=2.0)
