"""admit.lua, and enqueue.lua's own admission: a tenant's submission token bucket on the Redis
clock, all or nothing."""

import pytest

from dtq.models import JobCreate
from dtq.queue import Engine, job_index
from dtq.queue.scripts.admit import Bucket, NotAdmitted, admit
from dtq.queue.tenant_ids import stored_id


def bucket(engine: Engine, tenant: str, cost: int, burst: int = 3) -> Bucket:
    return Bucket(engine.keys.submit_bucket(tenant), 1.0, burst, cost)


async def test_takes_whole_requests_or_none(engine: Engine) -> None:
    lib = engine.lib
    first = await admit(lib, bucket(engine, "acme", 2))
    assert (first.admitted, first.limit, first.remaining, first.retry_after_ms) == (True, 3, 1, 0)
    refused = await admit(lib, bucket(engine, "acme", 2))
    assert not refused.admitted and 0 < refused.retry_after_ms <= 1000
    assert refused.remaining == 1  # a refused request takes nothing
    assert (await admit(lib, bucket(engine, "acme", 1))).admitted
    # Another tenant has a bucket of its own.
    assert (await admit(lib, bucket(engine, "globex", 3))).admitted
    assert 0 < await engine.redis.pttl(engine.keys.submit_bucket("acme")) <= 4000


async def test_enqueue_admits_its_job_in_the_same_script(engine: Engine) -> None:
    """A single submission takes its token in enqueue.lua; refused, nothing is stored."""
    producer = engine.producer
    done = await producer.enqueue_once(
        JobCreate(task_type="noop"), "acme", bucket(engine, "acme", 1, 2)
    )
    assert done.created and done.admission is not None
    assert (done.admission.admitted, done.admission.limit, done.admission.remaining) == (True, 2, 1)
    await producer.enqueue_once(JobCreate(task_type="noop"), "acme", bucket(engine, "acme", 1, 2))
    before = await engine.redis.dbsize()
    index_before = await job_index.count(engine.redis, engine.keys.tenant_index("acme"))
    with pytest.raises(NotAdmitted) as refused:
        await producer.enqueue_once(
            JobCreate(task_type="noop", id="refused-1"), "acme", bucket(engine, "acme", 1, 2)
        )
    assert not refused.value.admission.admitted and refused.value.admission.retry_after_ms > 0
    assert await engine.redis.dbsize() == before
    assert await job_index.count(engine.redis, engine.keys.tenant_index("acme")) == index_before
    assert not await engine.redis.exists(engine.keys.job(stored_id("acme", "refused-1")))
    # Without a bucket (in-process producers), no rate limit applies.
    assert (await producer.enqueue_once(JobCreate(task_type="noop"), "acme")).admission is None
