"""The whole path over real HTTP: uvicorn API process, worker process, the SDK (sync and async)."""

from __future__ import annotations

import asyncio

import pytest

from dtq.client import AsyncDTQClient, DTQClient, DTQClientError
from dtq.errors import DTQError
from dtq.models import (
    DeadLetterRetry,
    JobCreate,
    JobStatus,
    Priority,
    ScheduleCreate,
    TenantCreate,
)
from dtq.queue import Engine
from dtq.redis_client import create_redis


@pytest.fixture
def stack(settings, processes) -> str:
    url = processes.api(settings)
    processes.worker(settings, "--concurrency", "20")
    return url


def test_sync_sdk_happy_path(stack: str) -> None:
    with DTQClient(stack) as dtq:
        job = dtq.submit("echo", {"hello": "world"}, partition_key="k")
        done = dtq.wait(job.id, timeout=20)
        assert done.status == JobStatus.SUCCEEDED and done.result == {"hello": "world"}
        assert dtq.result(job.id).result == {"hello": "world"}
        assert [e.status for e in dtq.timeline(job.id).data] == ["pending", "running", "succeeded"]
        ids = dtq.submit_many([JobCreate(task_type="noop")] * 1500)
        assert len(ids) == 1500
        assert all(dtq.wait(i, timeout=20).status == JobStatus.SUCCEEDED for i in ids[-3:])
        assert dtq.list_jobs(status="succeeded", limit=10).count == 10
        dead = dtq.wait(dtq.submit("fail", max_retries=0).id, timeout=20)
        assert dead.status == JobStatus.DEAD
        assert dtq.list_dead().data[0].id == dead.id
        assert dtq.retry_dead(dead.id).failures == 0 or dtq.get_job(dead.id).attempt == 2
        assert dtq.wait(dead.id, timeout=20).attempt == 2  # ran again, died again
        dry = dtq.retry_dead_matching(DeadLetterRetry(task_type="fail", dry_run=True))
        assert (dry.matched, dry.job_ids) == (1, [dead.id])
        with pytest.raises(DTQClientError) as err:
            dtq.cancel(job.id)
        assert err.value.status_code == 409


async def test_async_sdk_happy_path(stack: str) -> None:
    async with AsyncDTQClient(stack) as dtq:
        jobs = await asyncio.gather(*(dtq.submit("echo", {"i": i}) for i in range(20)))
        done = await asyncio.gather(*(dtq.wait(j.id, timeout=20) for j in jobs))
        assert [d.result for d in done] == [{"i": i} for i in range(20)]
        with pytest.raises(DTQClientError) as err:
            await dtq.get_job("f" * 32)
        assert (err.value.status_code, err.value.code) == (404, "job_not_found")
        assert isinstance(err.value, DTQError)


def test_sdk_priorities_dependencies_and_schedules(stack: str) -> None:
    with DTQClient(stack) as dtq:
        parent = dtq.submit("echo", {"n": 1}, id="sdk-parent", priority="critical")
        assert parent.id == "sdk-parent" and parent.priority is Priority.CRITICAL
        child = dtq.submit("echo", {"n": 2}, depends_on=[parent.id], priority=Priority.LOW)
        assert child.depends_on == [parent.id]
        assert dtq.wait(child.id, timeout=20).status == JobStatus.SUCCEEDED
        with pytest.raises(DTQClientError) as err:
            dtq.submit("echo", depends_on=["no-such-job"])
        assert err.value.status_code == 422 and "no-such-job" in str(err.value.detail)
        with pytest.raises(DTQClientError) as err:
            dtq.submit("echo", id="sdk-parent")
        assert err.value.status_code == 409

        every_second = ScheduleCreate(name="sdk-tick", cron="* * * * * *", task_type="noop")
        created = dtq.put_schedule(every_second)
        assert created.next_run_at is not None
        assert [s.name for s in dtq.list_schedules().data] == ["sdk-tick"]
        assert dtq.get_schedule("sdk-tick").task_type == "noop"
        dtq.delete_schedule("sdk-tick")
        with pytest.raises(DTQClientError) as err:
            dtq.get_schedule("sdk-tick")
        assert err.value.status_code == 404


async def test_async_sdk_schedules(stack: str) -> None:
    async with AsyncDTQClient(stack) as dtq:
        await dtq.put_schedule(
            ScheduleCreate(name="a-tick", cron="0 0 * * *", task_type="noop", priority="high")
        )
        assert (await dtq.get_schedule("a-tick")).priority is Priority.HIGH
        assert (await dtq.list_schedules()).count == 1
        await dtq.delete_schedule("a-tick")
        assert (await dtq.list_schedules()).count == 0


async def test_sdk_with_an_api_key_sees_its_tenant(make_settings, processes) -> None:
    settings = make_settings(AUTH_DISABLED=False)
    redis = create_redis(settings)
    engine = Engine(redis, settings)
    await engine.setup()
    await engine.tenants.create(TenantCreate(name="acme", max_concurrency=3))
    key = (await engine.tenants.create_key("acme")).key
    await redis.aclose()
    url = processes.api(settings)
    processes.worker(settings, "--concurrency", "20")
    async with AsyncDTQClient(url, api_key=key) as dtq:
        job = await dtq.submit("echo", {"n": 1})
        assert job.tenant == "acme"
        assert (await dtq.wait(job.id, timeout=20)).status == JobStatus.SUCCEEDED
        usage = await dtq.tenant()
        assert (usage.name, usage.max_concurrency, usage.queued, usage.running) == (
            "acme",
            3,
            0,
            0,
        )
    async with AsyncDTQClient(url, api_key=key[:-1] + "x") as wrong:
        with pytest.raises(DTQClientError) as err:
            await wrong.tenant()
        assert err.value.status_code == 401
