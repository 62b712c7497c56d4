"""What a job costs Redis. Its hash stays a listpack, Redis's compact encoding, through every
state when its payload, result and error are a few hundred bytes: the servers DTQ starts raise
hash-max-listpack-value from Redis's 64 bytes, past which a hash becomes a hashtable of about
twice the memory. A failed job's error and traceback are kept once, in its hash's `errors`: its
dead-letter entry names it and the listing reads them from there."""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from dtq.embedded_redis import HASH_MAX_LISTPACK_VALUE
from dtq.models import JobCreate
from dtq.queue import Engine
from dtq.queue.delivery import Failure

PAYLOAD = {"user_id": 1234567, "template": "welcome", "body": "x" * 400}


async def _encoding(redis: Redis, key: str) -> str:
    return str(await redis.object("encoding", key))


async def test_the_test_server_keeps_values_up_to_the_embedded_limit_in_listpacks(
    redis: Redis,
) -> None:
    limit = await redis.config_get("hash-max-listpack-value")
    assert int(limit["hash-max-listpack-value"]) == HASH_MAX_LISTPACK_VALUE


async def test_a_job_with_a_payload_of_a_few_hundred_bytes_stays_a_listpack(
    engine: Engine,
) -> None:
    r = engine.redis
    ok, doomed = await engine.producer.enqueue_many(
        [
            JobCreate(task_type="noop", payload=PAYLOAD),
            JobCreate(task_type="noop", payload=PAYLOAD, max_retries=0),
        ]
    )
    for job_id in (ok, doomed):
        assert len(await r.hget(engine.keys.job(job_id), "payload") or "") > 400
        assert await _encoding(r, engine.keys.job(job_id)) == "listpack"  # pending
    consumer = engine.consumer("w")
    started = {d.job_id: d for d in await consumer.start(await consumer.read(10, 100))}
    assert await _encoding(r, engine.keys.job(ok)) == "listpack"  # running
    error = "ValueError: " + "e" * 300
    settled = await consumer.settle(
        [(started[ok], orjson.dumps({"sent": True, "receipt": "r" * 300}))],
        [Failure(started[doomed], error, 0)],
    )
    assert (settled.completed, settled.dead) == (1, 1)
    job = await engine.jobs.get(ok)
    assert job is not None and job.result == {"sent": True, "receipt": "r" * 300}
    assert await _encoding(r, engine.keys.job(ok)) == "listpack"  # succeeded, result kept
    dead = await engine.jobs.get(doomed)
    assert dead is not None and dead.status == "dead" and dead.last_error == error
    assert await _encoding(r, engine.keys.job(doomed)) == "listpack"  # dead, error kept


async def test_a_dead_jobs_error_and_traceback_are_kept_once_and_listed(engine: Engine) -> None:
    r = engine.redis
    [failed] = await engine.producer.enqueue_many([JobCreate(task_type="noop", max_retries=0)])
    consumer = engine.consumer("w")
    [d] = await consumer.start(await consumer.read(10, 100))
    trace = 'Traceback (most recent call last):\n  File "tasks.py", line 9\n' + "t" * 2000
    await consumer.settle([], [Failure(d, "KeyError: 'sku'", 0, traceback=trace)])
    rows: Any = await r.xrange(engine.keys.dlq)
    [(_, fields)] = rows
    assert fields["job_id"] == failed and fields["reason"] == "retries_exhausted"
    assert "last_error" not in fields and "traceback" not in fields  # on the hash only
    # an entry written by an earlier build, with copies of its own (its job since deleted)
    await r.xadd(
        engine.keys.dlq,
        {"job_id": "old", "task_type": "noop", "reason": "timeout", "attempt": "2",
         "failures": "2", "last_error": "TimeoutError", "failed_at": "1700000000000",
         "tenant": "default", "traceback": "old frames"},
    )  # fmt: skip
    # ... and one an older worker wrote for a newer job: no last_error on the hash to copy
    await r.xadd(
        engine.keys.dlq,
        {"job_id": failed, "task_type": "noop", "reason": "retries_exhausted", "attempt": "1",
         "failures": "1", "last_error": "", "failed_at": "1700000000001",
         "tenant": "default", "traceback": ""},
    )  # fmt: skip
    listed = (await engine.dlq.list()).data
    assert [(e.id, e.last_error, e.traceback) for e in listed] == [
        (failed, "KeyError: 'sku'", trace),
        ("old", "TimeoutError", "old frames"),
        (failed, "KeyError: 'sku'", trace),
    ]
    job_key = engine.keys.job(failed)
    assert (await engine.jobs.get(failed)).last_error == "KeyError: 'sku'"
    assert not await r.hexists(job_key, "last_error")  # the last of `errors` says it
    # a hash of an earlier build that recorded no failure since: its own last_error field
    await r.hdel(job_key, "errors")
    await r.hset(job_key, "last_error", "OSError: old")
    assert (await engine.jobs.get(failed)).last_error == "OSError: old"
