import pytest

from dtq.errors import DuplicateJobError
from dtq.models import JobCreate
from dtq.queue import Engine, job_index
from dtq.queue.job_ids import new_job_id
from dtq.queue.tenant_ids import stored_id


async def test_enqueue_writes_hash_stream_entry_and_index(engine: Engine) -> None:
    job = await engine.producer.enqueue(
        JobCreate(task_type="echo", payload={"a": 1}, max_retries=2)
    )
    k, r = engine.keys, engine.redis
    h = await r.hgetall(k.job(job.id))
    assert h["status"] == "pending" and h["max_retries"] == "2"
    assert "attempt" not in h and "failures" not in h and "deliveries" not in h  # absent: 0
    assert "id" not in h  # the key names it
    assert (job.attempt, job.failures) == (0, 0)
    got = await engine.jobs.get(job.id)
    assert (got.attempt, got.failures) == (0, 0)
    entries = await r.xrange(k.stream)
    assert entries == [(h["entry"], {"id": job.id})]
    assert await job_index.job_ids(r, k.index) == [job.id]
    stats = await r.hgetall(k.stats)
    assert stats["created_total"] == "1" and stats["jobs:pending"] == "1"


async def test_duplicate_id_writes_nothing(engine: Engine) -> None:
    k = engine.keys
    existing = await engine.producer.enqueue(JobCreate(task_type="noop"))
    fresh = new_job_id()
    with pytest.raises(DuplicateJobError):
        await engine.producer.enqueue_many(
            [JobCreate(id=fresh, task_type="noop"), JobCreate(id=existing.id, task_type="noop")]
        )
    assert not await engine.redis.exists(k.job(fresh))
    assert await engine.redis.xlen(k.stream) == 1
    assert await job_index.job_ids(engine.redis, k.index) == [existing.id]


async def test_a_named_tenants_job_is_indexed_once_and_its_ids_are_its_own(engine: Engine) -> None:
    # In its tenant's index only (a second index entry cost ~145 bytes a job); a duplicate id is
    # still refused within the tenant, and another tenant may use the same id.
    k = engine.keys
    (job_id,) = await engine.producer.enqueue_many([JobCreate(id="j1", task_type="noop")], "acme")
    assert await job_index.job_ids(engine.redis, k.tenant_index("acme")) == [
        stored_id("acme", "j1")
    ]
    assert await job_index.count(engine.redis, k.index) == 0
    with pytest.raises(DuplicateJobError):
        await engine.producer.enqueue_many(
            [JobCreate(id="j2", task_type="noop"), JobCreate(id="j1", task_type="noop")], "acme"
        )
    assert (
        await job_index.count(engine.redis, k.tenant_index("acme")) == 1
    )  # j2 was not kept either
    assert not await engine.redis.exists(k.job(stored_id("acme", "j2")))
    await engine.producer.enqueue_many([JobCreate(id="j1", task_type="noop")])  # default's own
    page = await engine.jobs.list(tenant="acme")
    assert [j.id for j in page.data] == ["j1"] and page.data[0].tenant == "acme"
    assert [j.tenant for j in (await engine.jobs.list()).data] == ["default"]


async def test_index_scores_are_unique_and_increasing(engine: Engine) -> None:
    ids = await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 1200)
    ids += await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 10)
    found = [e async for e in job_index.entries(engine.redis, engine.keys.index)][::-1]
    assert [e.job_id for e in found] == ids
    scores = [e.score for e in found]
    assert scores == sorted(scores) and len(set(scores)) == len(scores)
