"""The job index in count-bounded buckets: compact zsets, emptied and dropped as jobs go, and the
index zset of earlier builds still read and pruned."""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from dtq.config import Settings
from dtq.models import JobCreate, RetentionPolicy, TenantCreate
from dtq.queue import Engine, job_index
from dtq.queue.keys import index_bucket, index_directory
from dtq.queue.scripts.retire import retire


async def _run_all(engine: Engine, n: int) -> None:
    """Read, start and complete `n` jobs (no worker process: the consumer's own calls)."""
    consumer = engine.consumer("w")
    done = 0
    while done < n:
        started = await consumer.start(await consumer.read(200, 100))
        await consumer.settle([(d, b"null") for d in started], [])
        done += len(started)


async def test_ids_go_into_buckets_of_at_most_128_that_redis_keeps_compact(
    engine: Engine,
) -> None:
    r, index = engine.redis, engine.keys.index
    ids = await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 200)
    ids += await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 100)
    buckets = await r.zrange(index_directory(index), 0, -1)
    assert buckets == ["1", "2", "3"]
    sizes = [await r.zcard(index_bucket(index, b)) for b in buckets]
    assert sizes == [128, 128, 44]
    for b in buckets:  # a listpack: ~48 bytes an id instead of a skiplist's ~145
        assert await r.object("encoding", index_bucket(index, b)) == "listpack"
    assert not await r.exists(index)  # nothing goes to the single zset of earlier builds
    marks = [await r.hget(engine.keys.job(job_id), "ix") for job_id in ids]
    assert marks == ["1"] * 128 + ["2"] * 128 + ["3"] * 44
    assert await job_index.job_ids(r, index) == ids
    listed = await engine.jobs.list(limit=300)
    assert [j.id for j in listed.data] == ids[::-1]


async def test_the_longest_stored_ids_still_make_compact_buckets(engine: Engine) -> None:
    """A 32-character tenant's 64-character ids are stored as 97 characters: past Redis's
    default 64-byte listpack member, so the servers DTQ starts allow 128."""
    r, tenant = engine.redis, "t" * 32
    await engine.tenants.create(TenantCreate(name=tenant))
    jobs = [JobCreate(task_type="noop", id=f"{i:03}" + "x" * 61) for i in range(130)]
    await engine.producer.enqueue_many(jobs, tenant)
    index = engine.keys.tenant_index(tenant)
    assert await r.zrange(index_directory(index), 0, -1) == ["1", "2"]
    members = await r.zrange(index_bucket(index, "1"), 0, 0)
    assert len(members[0]) == 97
    for b in ("1", "2"):
        assert await r.object("encoding", index_bucket(index, b)) == "listpack"


async def test_removed_jobs_leave_their_buckets_and_empty_buckets_the_directory(
    make_settings: Callable[..., Settings], redis: Redis
) -> None:
    engine = Engine(redis, make_settings(KEEP_SUCCEEDED=10))
    await engine.setup()
    index = engine.keys.index
    ids = await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 400)
    await _run_all(engine, 400)
    assert await job_index.job_ids(redis, index) == ids[-10:]
    assert await redis.zrange(index_directory(index), 0, -1) == ["4"]  # 385..400
    gone = [JobCreate(task_type="noop", keep_result=False)] * 5
    await engine.producer.enqueue_many(gone)
    await _run_all(engine, 5)  # removed as they succeed
    assert await job_index.count(redis, index) == 10
    await engine.retention.put("default", RetentionPolicy(succeeded_count=0))
    await retire(engine.lib, queue=engine.keys.queue())
    assert await job_index.count(redis, index) == 0
    assert not await redis.exists(index_directory(index))
    again = await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 3)
    assert await job_index.job_ids(redis, index) == again  # into a new bucket


async def test_the_index_zset_of_earlier_builds_is_still_listed_and_pruned(engine: Engine) -> None:
    r, k = engine.redis, engine.keys
    (old,) = await engine.producer.enqueue_many([JobCreate(task_type="noop")])
    # As an earlier build left it: the id in the index's own zset, no `ix` on the job.
    score = (await job_index.newest(r, k.index, "+inf", "-inf", 1))[0].score
    await r.delete(index_bucket(k.index, "1"), index_directory(k.index))
    await r.hdel(k.job(old), "ix")
    await r.zadd(k.index, {old: score})
    new = await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 2)
    assert [j.id for j in (await engine.jobs.list()).data] == [*new[::-1], old]
    assert await job_index.job_ids(r, k.index) == [old, *new]
    await r.delete(k.job(old))  # its time ran out
    upkeep = await engine.housekeep()
    assert upkeep is not None and upkeep.index_pruned == 1
    assert not await r.exists(k.index)


async def test_an_id_used_again_after_its_job_expired_is_listed_once(engine: Engine) -> None:
    r, k = engine.redis, engine.keys
    await engine.producer.enqueue_many([JobCreate(id="report-1", task_type="noop")])
    await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 127)  # fills bucket 1
    await r.delete(k.job("report-1"))  # as if it expired: a new job may take the id
    await engine.producer.enqueue_many([JobCreate(id="report-1", task_type="noop")])
    assert await r.hget(k.job("report-1"), "ix") == "2"
    listed = [j.id for j in (await engine.jobs.list(limit=200)).data]
    assert listed.count("report-1") == 1 and listed[0] == "report-1"
    assert (await job_index.job_ids(r, k.index)).count("report-1") == 1  # the old entry went
