"""The whole path over real HTTP: uvicorn API process, worker process, the SDK (sync and async)."""

from __future__ import annotations

import asyncio

import pytest

from app.client import AsyncDTQClient, DTQClient, DTQClientError
from app.models import DeadLetterRetry, JobCreate, JobStatus


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
        assert [e.status for e in dtq.events(job.id).data] == ["pending", "running", "succeeded"]
        ids = dtq.submit_many([JobCreate(task_type="noop")] * 1500)
        assert len(ids) == 1500
        assert all(dtq.wait(i, timeout=20).status == JobStatus.SUCCEEDED for i in ids[-3:])
        assert dtq.list(status="succeeded", limit=10).count == 10
        dead = dtq.wait(dtq.submit("fail", max_retries=0).id, timeout=20)
        assert dead.status == JobStatus.DEAD
        assert dtq.dlq_list().data[0].job_id == dead.id
        assert dtq.dlq_retry(dead.id).failures == 0 or dtq.get(dead.id).attempt == 2
        assert dtq.wait(dead.id, timeout=20).attempt == 2  # ran again, died again
        dry = dtq.dlq_retry_matching(DeadLetterRetry(task_type="fail", dry_run=True))
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
            await dtq.get("f" * 32)
        assert err.value.status_code == 404
