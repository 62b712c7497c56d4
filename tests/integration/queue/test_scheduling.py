"""Delayed and scheduled jobs fire on the Redis clock, whatever the workers' clocks say."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta

import pytest

from dtq.models import JobCreate, JobStatus
from dtq.queue import Engine, job_index
from dtq.queue.clock import to_ms
from tests.conftest import libfaketime, stream_entries, wait_for


def _has_faketime() -> bool:
    try:
        return bool(libfaketime())
    except RuntimeError:
        return False


needs_faketime = pytest.mark.skipif(
    not _has_faketime() and not os.environ.get("CI"),
    reason="faketime is not installed (.ci/run installs it)",
)


@needs_faketime
@pytest.mark.parametrize("offset", ["+1h", "-1h"])
async def test_200_delayed_jobs_fire_within_100ms_of_due_time(
    make_settings, redis, processes, offset
) -> None:
    settings = make_settings(PROMOTE_INTERVAL_MS=50)  # the default
    engine = Engine(redis, settings)
    await engine.setup()
    processes.worker(settings, "--concurrency", "50", "--name", "skewed", clock_offset=offset)
    await wait_for(lambda: _live(engine), timeout=20)
    info = await redis.hgetall(engine.keys.worker("skewed"))
    skew_ms = int(info["clock_ms"]) - int(info["last_seen"])
    assert abs(abs(skew_ms) - 3_600_000) < 5_000, "the worker's clock should be an hour off"
    rng = random.Random(3)
    jobs = [
        await engine.producer.enqueue(JobCreate(task_type="noop", delay_ms=rng.randint(300, 2300)))
        for _ in range(200)
    ]
    assert all(j.status == JobStatus.SCHEDULED and j.due_at for j in jobs)

    async def all_done():
        got = [await engine.jobs.get(j.id) for j in jobs]
        return got if all(g.status == JobStatus.SUCCEEDED for g in got) else None

    done = await wait_for(all_done, timeout=20, every=0.2)
    lateness = [to_ms(d.started_at) - to_ms(j.due_at) for j, d in zip(jobs, done, strict=True)]
    assert min(lateness) >= 0, "a job started before its due time"
    assert max(lateness) <= 100, f"a job started {max(lateness)} ms late"


async def _live(engine: Engine) -> bool:
    return (await engine.stats.queue_stats()).live_workers > 0


async def test_run_at_in_the_past_is_pending_at_once(api) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    job = (await api.post("/jobs", json={"task_type": "noop", "run_at": past})).json()
    assert job["status"] == "pending" and job["due_at"] is None


async def test_run_at_schedules_and_can_be_canceled(api, engine: Engine) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    job = (await api.post("/jobs", json={"task_type": "noop", "run_at": later.isoformat()})).json()
    assert job["status"] == "scheduled"
    assert abs(datetime.fromisoformat(job["due_at"]) - later) < timedelta(milliseconds=2)
    assert await stream_entries(engine) == 0
    metrics = (await api.get("/stats")).json()
    assert metrics["jobs_by_status"]["scheduled"] == 1 and metrics["scheduled"] == 1
    assert (await api.post(f"/jobs/{job['id']}/cancel")).json()["status"] == "canceled"
    assert await engine.redis.zcard(engine.keys.delayed) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"task_type": "noop", "delay_ms": -1},
        {"task_type": "noop", "delay_ms": 10, "run_at": "2030-01-01T00:00:00Z"},
        {"task_type": "noop", "run_at": "2030-01-01T00:00:00"},  # no zone
        {"task_type": "noop", "run_at": "tomorrow"},
    ],
)
async def test_bad_due_times_are_refused(api, engine: Engine, body) -> None:
    r = await api.post("/jobs", json=body)
    assert r.status_code == 422
    assert await job_index.count(engine.redis, engine.keys.index) == 0
