import pytest

from dtq.queue import Consumer, Engine
from tests.conftest import stream_entries


async def test_complete_records_result_and_removes_the_entry(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer, "echo")
    settled = await consumer.settle([(d, b'{"ok":true}')], [])
    assert settled.completed == 1
    r, k = engine.redis, engine.keys
    h = await r.hgetall(k.job(d.job_id))
    assert h["status"] == "succeeded" and h["result"] == '{"ok":true}'
    kept = await r.lrange(k.queue().finished("succeeded"), 0, -1)
    assert [entry.split(" ")[1] for entry in kept] == [d.job_id]  # retention's list: its age
    assert await stream_entries(engine) == 0
    assert (await r.xpending(k.stream, "workers"))["pending"] == 0


async def test_no_result_is_no_field_and_reads_as_none(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer, "noop")
    assert (await consumer.settle([(d, b"null")], [])).completed == 1
    h = await engine.redis.hgetall(engine.keys.job(d.job_id))
    assert h["status"] == "succeeded" and "result" not in h  # ~12 bytes a kept job
    job = await engine.jobs.get(d.job_id)
    assert job.status == "succeeded" and job.result is None
    assert (await engine.jobs.result(d.job_id)).result is None


@pytest.mark.parametrize("field", ["consumer", "attempt"])
async def test_stale_owner_is_refused_and_changes_nothing(
    engine: Engine, consumer: Consumer, deliver, field: str
) -> None:
    (d,) = await deliver(consumer)
    stale = engine.consumer("zombie") if field == "consumer" else consumer
    if field == "attempt":
        d.attempt -= 1
    before = await engine.redis.hgetall(engine.keys.job(d.job_id))
    settled = await stale.settle([(d, b"1")], [])
    assert settled.stale == 1 and settled.completed == 0
    assert await engine.redis.hgetall(engine.keys.job(d.job_id)) == before
    assert await engine.redis.xlen(engine.keys.stream) == 1
