"""Shared stream entries: read.lua dispatches a tenant's run of jobs as one entry (one XADD, one
pending entry, one XACK for the run). Its consumer acks it once none of its jobs runs there; a
dead consumer's run is taken over job by job, its finished jobs skipped; a queue's `running`
still counts jobs."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from dtq.config import Settings
from dtq.errors import TenantExistsError
from dtq.models import JobCreate, JobStatus, TenantCreate
from dtq.queue import Engine, Failure
from dtq.queue.scripts.purge_queue import purge_queue
from dtq.queue.tenant_ids import stored_id


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings(AUTH_DISABLED=False)


@pytest.fixture(autouse=True)
async def readers(engine: Engine) -> None:
    """A live worker of this build: read.lua writes runs as shared entries (see heartbeat.lua)."""
    await engine.heartbeat("reader", {})


async def enqueue(engine: Engine, n: int, tenant: str, **kw: Any) -> list[str]:
    """Submit n no-op jobs for a tenant; their stored ids."""
    with contextlib.suppress(TenantExistsError):
        await engine.tenants.create(TenantCreate(name=tenant, **kw))
    jobs = [JobCreate(task_type="noop") for _ in range(n)]
    return [stored_id(tenant, j) for j in await engine.producer.enqueue_many(jobs, tenant)]


async def unacked(engine: Engine) -> int:
    """Entries of the normal stream handed out and not acknowledged."""
    reply = await engine.redis.xpending(engine.keys.stream, engine.settings.CONSUMER_GROUP)
    return int(reply["pending"])


async def running(engine: Engine) -> int:
    return (await engine.queues.info("default")).running


async def statuses(engine: Engine, ids: list[str]) -> list[Any]:
    return [await engine.redis.hget(engine.keys.job(j), "status") for j in ids]


async def test_a_tenants_run_is_one_entry_acked_with_the_last_of_its_jobs(engine: Engine) -> None:
    ids = await enqueue(engine, 20, "t")
    c = engine.consumer("c")
    entries = await c.read(50, 0)
    assert [e.job_id for e in entries] == ids
    assert all(e.shared for e in entries) and len({e.entry_id for e in entries}) == 1
    runs = [f for _, f in await engine.redis.xrange(engine.keys.stream) if "ids" in f]
    assert runs == [{"ids": ",".join(ids)}]

    started = await c.start(entries)
    assert [d.job_id for d in started] == ids
    assert await unacked(engine) == 1 and await running(engine) == 20
    await c.settle([(d, b"null") for d in started[:12]], [])
    await c.settle([], [Failure(d, "boom", 60_000) for d in started[12:19]])  # retries later
    assert await unacked(engine) == 1 and await running(engine) == 1
    await c.settle([(started[19], b"null")], [])
    assert await unacked(engine) == 0 and await running(engine) == 0
    assert await statuses(engine, ids) == ["succeeded"] * 12 + ["scheduled"] * 7 + ["succeeded"]


async def test_a_dead_consumers_run_is_taken_over_and_its_finished_jobs_do_not_run_again(
    engine: Engine,
) -> None:
    ids = await enqueue(engine, 10, "t")
    dead = engine.consumer("dead")
    started = await dead.start(await dead.read(50, 0))
    await dead.settle([(d, b"null") for d in started[:4]], [Failure(started[4], "boom", 60_000)])
    assert await unacked(engine) == 1 and await running(engine) == 5
    # the consumer dies here; its entry is reclaimed once idle past the visibility timeout
    await asyncio.sleep(engine.settings.VISIBILITY_TIMEOUT_MS / 1000 + 0.1)
    survivor = engine.consumer("survivor")
    claimed, deleted = await survivor.reclaim(50)
    assert [e.job_id for e in claimed] == ids and all(e.shared for e in claimed) and not deleted
    again = await survivor.start(claimed)
    assert [d.job_id for d in again] == ids[5:]
    assert all(d.attempt == 2 for d in again)
    assert await unacked(engine) == 1 and await running(engine) == 5
    stale = await dead.settle([(d, b"null") for d in started[5:]], [])  # the zombie is fenced
    assert stale.stale == 5 and await unacked(engine) == 1
    await survivor.settle([(d, b"null") for d in again], [])
    assert await unacked(engine) == 0 and await running(engine) == 0
    attempts = [await engine.redis.hget(engine.keys.job(j), "attempt") for j in ids]
    assert attempts == ["1"] * 5 + ["2"] * 5
    assert await statuses(engine, ids) == ["succeeded"] * 4 + ["scheduled"] + ["succeeded"] * 5


async def test_a_run_none_of_whose_jobs_starts_is_acked_at_once(engine: Engine) -> None:
    ids = await enqueue(engine, 3, "t")
    c = engine.consumer("c")
    entries = await c.read(10, 0)
    for job_id in ids:
        await engine.jobs.cancel(job_id, "t")
    assert await c.start(entries) == []
    assert await unacked(engine) == 0 and await running(engine) == 0


async def test_a_job_of_a_run_canceled_while_it_runs_leaves_the_entry_to_the_others(
    engine: Engine,
) -> None:
    ids = await enqueue(engine, 3, "t")
    c = engine.consumer("c")
    started = await c.start(await c.read(10, 0))
    await engine.jobs.cancel(ids[0], "t")
    c.dropped(started[0])  # what the worker does when told of the cancel
    await c.ack_dropped()
    assert await unacked(engine) == 1 and await running(engine) == 2
    await c.settle([(started[1], b"null")], [])
    await engine.jobs.cancel(ids[2], "t")  # the last one of the run here: its entry goes
    assert await unacked(engine) == 1
    c.dropped(started[2])
    await c.ack_dropped()
    assert await unacked(engine) == 0 and await running(engine) == 0
    assert await statuses(engine, ids) == ["canceled", "succeeded", "canceled"]


async def test_the_leases_of_a_runs_jobs_are_kept_with_one_claim(engine: Engine) -> None:
    await enqueue(engine, 5, "t")
    c = engine.consumer("c")
    started = await c.start(await c.read(10, 0))
    await asyncio.sleep(0.05)
    assert await c.extend_leases(started) == [True] * 5
    (row,) = await engine.redis.xpending_range(
        engine.keys.stream, engine.settings.CONSUMER_GROUP, "-", "+", 10
    )
    assert row["time_since_delivered"] < 50


async def test_a_run_dispatched_but_unread_is_purged(engine: Engine) -> None:
    """A run goes onto the stream behind entries no worker has read; still unread, it is purged
    job by job, the slots read.lua took given back."""
    await engine.tenants.create(TenantCreate(name="t", max_concurrency=5))
    others = [JobCreate(task_type="other") for _ in range(2)]
    first = [stored_id("t", j) for j in await engine.producer.enqueue_many(others, "t")]
    c = engine.consumer("c", serves=["noop"])
    assert await c.start(await c.read(2, 0)) == []  # both handed back: on the stream again
    noops = [JobCreate(task_type="noop") for _ in range(2)]
    run = [stored_id("t", j) for j in await engine.producer.enqueue_many(noops, "t")]
    read = await engine.consumer("c2").read(2, 0)  # dispatches the run, reads the other two
    assert [e.job_id for e in read] == first
    purged, _ = await purge_queue(engine.lib, queue=engine.keys.queue(), limit=10)
    assert purged == 2
    assert await statuses(engine, run) == [JobStatus.CANCELED] * 2
    assert await engine.redis.smembers(engine.keys.running("t")) == set(first)


async def test_a_queues_running_count_starts_from_its_pending_entries(make_settings, redis) -> None:
    """A build from before shared entries kept no count of a queue's running jobs: the first
    setup after the upgrade starts it from the pending entries, one per running job then."""
    engine = Engine(redis, make_settings())  # keys off: an entry per job
    await engine.setup()
    await engine.producer.enqueue_many([JobCreate(task_type="noop") for _ in range(3)])
    c = engine.consumer("c")
    started = await c.start(await c.read(10, 0))
    field = engine.keys.queue().running_field
    await redis.hdel(engine.keys.stats, field)
    await engine.setup()
    assert await redis.hget(engine.keys.stats, field) == "3"
    await c.settle([(d, b"null") for d in started], [])
    assert await redis.hget(engine.keys.stats, field) == "0" and await running(engine) == 0


async def test_runs_go_out_as_shared_entries_only_while_every_live_worker_reads_them(
    engine: Engine,
) -> None:
    """An older build's worker (heartbeating into `workers` only) would take a shared entry for
    a bell and strand its jobs: while one is live, runs go out an entry per job."""
    k, r = engine.keys, engine.redis

    async def shared_after_reading(n: int) -> bool:
        await enqueue(engine, n, "t")
        entries = await engine.consumer("c").read(50, 0)
        assert len(entries) == n
        return all(e.shared for e in entries)

    assert await shared_after_reading(3)
    now_ms = await engine.heartbeat("reader", {})
    await r.zadd(k.workers, {"older": now_ms})  # an older build's heartbeat
    await engine.heartbeat("reader", {})
    assert not await r.exists(k.shared_entries_on)
    assert not await shared_after_reading(3)
    await engine.forget_worker("older")
    await engine.heartbeat("reader", {})
    assert await shared_after_reading(3)
    await engine.forget_worker("reader")
    await r.delete(k.shared_entries_on)  # (it would lapse after the heartbeat ttl)
    assert not await shared_after_reading(3)
