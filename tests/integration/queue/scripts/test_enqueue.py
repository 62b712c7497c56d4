import pytest

from dtq.errors import DuplicateJobError
from dtq.models import JobCreate
from dtq.queue import Engine
from dtq.queue.producer import new_job_id
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
    assert await r.zscore(k.index, job.id) is not None
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
    assert await engine.redis.zrange(k.index, 0, -1) == [existing.id]


async def test_a_named_tenants_job_is_indexed_once_and_its_ids_are_its_own(engine: Engine) -> None:
    # In its tenant's index only (a second index entry cost ~145 bytes a job); a duplicate id is
    # still refused within the tenant, and another tenant may use the same id.
    k = engine.keys
    (job_id,) = await engine.producer.enqueue_many([JobCreate(id="j1", task_type="noop")], "acme")
    assert await engine.redis.zrange(k.tenant_index("acme"), 0, -1) == [stored_id("acme", "j1")]
    assert await engine.redis.zcard(k.index) == 0
    with pytest.raises(DuplicateJobError):
        await engine.producer.enqueue_many(
            [JobCreate(id="j2", task_type="noop"), JobCreate(id="j1", task_type="noop")], "acme"
        )
    assert await engine.redis.zcard(k.tenant_index("acme")) == 1  # j2 was not kept either
    assert not await engine.redis.exists(k.job(stored_id("acme", "j2")))
    await engine.producer.enqueue_many([JobCreate(id="j1", task_type="noop")])  # default's own
    page = await engine.jobs.list(tenant="acme")
    assert [j.id for j in page.data] == ["j1"] and page.data[0].tenant == "acme"
    assert [j.tenant for j in (await engine.jobs.list()).data] == ["default"]


async def test_index_scores_are_unique_and_increasing(engine: Engine) -> None:
    ids = await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 1200)
    ids += await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 10)
    scores = [await engine.redis.zscore(engine.keys.index, i) for i in ids]
    assert scores == sorted(scores) and len(set(scores)) == len(scores)
