"""Fair dispatch across tenants and per-tenant concurrency caps (keys on: jobs wait in lanes).

Consumer-level tests pin the dispatch order exactly; worker-level tests show the bounds with
real workers: a small tenant starts promptly behind a 20,000-job backlog, a cap of 5 holds
across three workers, capped workers do not spin, and a dead worker's slots pass on.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from dtq.config import Settings
from dtq.models import JobCreate, JobStatus, Priority, TenantCreate
from dtq.queue import Engine, Failure
from dtq.queue.jobhash import Serving, blocked_reason
from dtq.queue.scripts.purge_queue import purge_queue
from dtq.queue.tenant_ids import public_id, stored_id
from tests.conftest import SHARDS, wait_for


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings(AUTH_DISABLED=False)


async def tenants(engine: Engine, **limits: dict[str, Any]) -> None:
    for name, own in limits.items():
        await engine.tenants.create(TenantCreate(name=name, **own))


async def waiting(engine: Engine, tenant: str) -> int:
    """Jobs of a tenant still in its lane (not dispatched yet)."""
    return sum([await engine.redis.llen(engine.keys.lane(tenant, lv)) for lv in range(4)])


async def done_with(engine: Engine, n: int) -> bool:
    """Whether at least n jobs have completed."""
    return int(await engine.redis.hget(engine.keys.stats, "completed_total") or 0) >= n


async def enqueue(engine: Engine, jobs: list[JobCreate], tenant: str) -> list[str]:
    """Submit jobs; their ids as stored (as streams, entries and keys name them)."""
    return [stored_id(tenant, j) for j in await engine.producer.enqueue_many(jobs, tenant)]


def noops(n: int, **kw: Any) -> list[JobCreate]:
    return [JobCreate(task_type="noop", **kw) for _ in range(n)]


async def test_busy_tenants_are_served_in_proportion_to_their_weights(engine: Engine) -> None:
    await tenants(engine, big={"weight": 3}, small={})
    big = set(await enqueue(engine, noops(100), "big"))
    small = set(await enqueue(engine, noops(100), "small"))
    entries = await engine.consumer("c").read(40, 0)
    ids = [job_id for _, _, job_id, _ in entries]
    assert len(ids) == 40
    assert 29 <= len(big.intersection(ids)) <= 31
    assert 9 <= len(small.intersection(ids)) <= 11


async def test_a_read_gives_each_busy_tenant_its_weighted_share_and_a_run_stops_at_its_cap(
    engine: Engine,
) -> None:
    # read.lua dispatches a run per turn, not a job: the shares must still be those of
    # picking job by job, read after read, and a run must stop at the tenant's cap.
    await tenants(engine, a={}, b={}, c={}, d={"weight": 2}, e={"max_concurrency": 3})
    owner = {}
    for name in "abcde":
        for job_id in await enqueue(engine, noops(60), name):
            owner[job_id] = name
    c = engine.consumer("c")
    for first in (True, False):
        served = [owner[job_id] for _, _, job_id, _ in await c.read(36, 0)]
        assert len(served) == 36
        counts = {name: served.count(name) for name in "abcde"}
        # e is capped at 3 (and stays so: nothing settles); the rest share by weight 1:1:1:2
        assert counts["e"] == (3 if first else 0)
        assert all(6 <= counts[name] <= 8 for name in "abc"), counts
        assert 12 <= counts["d"] <= 16, counts


async def test_a_new_tenant_goes_next_however_long_the_backlog_ahead(engine: Engine) -> None:
    await tenants(engine, a={}, b={})
    await enqueue(engine, noops(5000), "a")
    c = engine.consumer("c")
    assert len(await c.read(100, 0)) == 100
    b_ids = await enqueue(engine, noops(5), "b")
    ids = [job_id for _, _, job_id, _ in await c.read(10, 0)]
    assert set(b_ids) <= set(ids)  # a and b take turns: b's 5 among the next 10
    # b earned no credit while it was idle: once b is done, a is served alone again.
    assert await waiting(engine, "a") == 5000 - 100 - 5


async def test_a_batch_waits_in_its_lanes_in_submission_order(engine: Engine) -> None:
    # enqueue.lua pushes a call's ids with one RPUSH per lane: the order must be the jobs'.
    await tenants(engine, a={})
    jobs = [JobCreate(task_type="noop", priority=p) for p in [Priority.LOW, Priority.HIGH] * 3]
    ids = await enqueue(engine, noops(2) + jobs, "a")
    lanes = [await engine.redis.lrange(engine.keys.lane("a", lv), 0, -1) for lv in range(4)]
    assert lanes[1] == ids[3::2] and lanes[3] == ids[2::2] and lanes[2] == ids[:2]
    read = [job_id for _, _, job_id, _ in await engine.consumer("c").read(8, 0)]
    assert read == ids[3::2] + ids[:2] + ids[2::2]


async def test_within_a_tenant_higher_priority_goes_first(engine: Engine) -> None:
    await tenants(engine, a={})
    await enqueue(engine, noops(50), "a")
    urgent = await engine.producer.enqueue(
        JobCreate(task_type="noop", priority=Priority.CRITICAL), "a"
    )
    ((level, _, job_id, _),) = await engine.consumer("c").read(1, 0)
    assert (level, job_id) == (0, stored_id("a", urgent.id))


async def test_a_cap_holds_across_consumers_and_each_settle_frees_a_slot(
    engine: Engine, redis: Redis
) -> None:
    await tenants(engine, capped={"max_concurrency": 5}, free={})
    k = engine.keys
    ids = await enqueue(engine, noops(20), "capped")
    c1, c2, c3 = (engine.consumer(n) for n in ("c1", "c2", "c3"))
    running = await c1.start(await c1.read(10, 0))
    assert len(running) == 5
    await engine.heartbeat("w1", {"tasks": "noop"})
    last = await engine.jobs.get(public_id(ids[-1]), "capped")
    assert last.blocked_reason == (
        "waiting in its tenant's lane: the tenant's cap of 5 jobs at once is full "
        "(5 dispatched in queue 'default')"
    )
    assert await c2.read(10, 0) == [] and await c3.read(10, 0) == []
    # Another tenant is not held up by the capped one.
    free = await enqueue(engine, noops(3), "free")
    assert {e.job_id for e in await c2.read(10, 0)} == set(free)

    # Success, a retry and a cancel each free one slot; the retry goes back to the lane.
    settled = await c1.settle([(running[0], b"null")], [Failure(running[1], "boom", 0)])
    assert (settled.completed, settled.retried) == (1, 1)
    await engine.jobs.cancel(running[2].job_id, "capped")
    assert await redis.scard(k.running("capped")) == 2
    reason = blocked_reason(
        await redis.hgetall(k.job(ids[-1])), served=Serving(frozenset({("default", "noop")}))
    )
    assert reason is not None and "tenant's lane" in reason
    assert len(await c3.read(10, 0)) == 3
    assert await c3.read(10, 0) == []
    await asyncio.sleep(0.01)
    assert (await engine.promote_due())[0] == 1
    retried = await redis.hmget(k.job(running[1].job_id), ["status", "entry", "lane_slot"])
    assert retried == ["pending", "", None]  # waiting in the lane again, holding no slot
    assert await waiting(engine, "capped") == 20 - 5 - 3 + 1
    assert await redis.scard(k.running("capped")) == 5
    assert len(ids) == 20


async def test_a_capped_tenants_dispatched_job_holds_a_slot_until_it_settles(
    engine: Engine, redis: Redis
) -> None:
    """A capped tenant's dispatched jobs count against its cap (and as its usage's `running`)
    from the read that dispatched them: read.lua puts them in its running set, start.lua names
    the slot in their hashes, the settle gives it back. An uncapped tenant's take no slot."""
    await tenants(engine, free={}, capped={"max_concurrency": 5})
    k, c = engine.keys, engine.consumer("c")
    await enqueue(engine, noops(3), "free")
    await enqueue(engine, noops(3), "capped")

    async def capped_running() -> int:
        (usage,) = await engine.tenants.usages([await engine.tenants.get("capped")])
        return usage.running

    entries = await c.read(10, 0)
    assert len(entries) == 6 and await capped_running() == 3
    assert await redis.scard(k.running("capped")) == 3
    assert not await redis.exists(k.running("free"))
    started = await c.start(entries)
    slots = {d.tenant: await redis.hget(k.job(d.job_id), "lane_slot") for d in started}
    assert slots == {"free": None, "capped": k.running("capped")}
    await c.settle([(d, b"null") for d in started], [])
    assert await capped_running() == 0 and not await redis.exists(k.running("capped"))
    for d in started:
        assert await redis.hget(k.job(d.job_id), "status") == JobStatus.SUCCEEDED


async def test_an_uncapped_tenants_running_jobs_are_the_ones_its_workers_report(
    engine: Engine, redis: Redis, start_worker
) -> None:
    """An uncapped tenant's jobs take no slot: its usage's `running` adds up what the live
    workers report running in their heartbeats (every HEARTBEAT_INTERVAL_S, 0.5 s here)."""
    await tenants(engine, free={}, idle={})
    sleepy = JobCreate(task_type="sleep", payload={"seconds": 2})
    await enqueue(engine, [sleepy] * 3, "free")

    async def running() -> dict[str, int]:
        mine = [await engine.tenants.get(name) for name in ("free", "idle")]
        return {u.name: u.running for u in await engine.tenants.usages(mine)}

    assert await running() == {"free": 0, "idle": 0}
    start_worker()
    await wait_for(lambda: equal(running(), {"free": 3, "idle": 0}), timeout=5)
    assert not await redis.exists(engine.keys.running("free"))
    await wait_for(lambda: equal(running(), {"free": 0, "idle": 0}), timeout=10)


async def equal(value: Any, expected: Any) -> bool:
    """Whether an awaited value equals `expected` (for wait_for)."""
    return bool(await value == expected)


async def test_a_retried_job_takes_a_slot_again_when_dispatched_again(
    engine: Engine, redis: Redis
) -> None:
    """A retry gives its slot back and waits in the lane; dispatched again, it takes one
    again and is recorded as it starts like a new one (its hash now counts deliveries, another
    variant there)."""
    await tenants(engine, t={"max_concurrency": 5})
    k, c = engine.keys, engine.consumer("c")
    (job,) = await enqueue(engine, noops(1), "t")
    (first,) = await c.start(await c.read(1, 0))
    await c.settle([], [Failure(first, "boom", 0)])
    assert await redis.scard(k.running("t")) == 0
    await asyncio.sleep(0.01)
    assert (await engine.promote_due())[0] == 1
    (entry,) = await c.read(1, 0)
    (second,) = await c.start([entry])
    fields = await redis.hmget(k.job(job), ["status", "entry", "lane_slot", "deliveries"])
    assert fields == ["running", entry.entry_id, k.running("t"), "1"]
    assert second.attempt == 2 and await redis.smembers(k.running("t")) == {job}
    await c.settle([(second, b"null")], [])
    assert await redis.scard(k.running("t")) == 0


async def test_a_dispatched_job_is_checked_and_recorded_as_it_starts(
    engine: Engine, redis: Redis, settings: Settings, start_worker
) -> None:
    """read.lua moves a tenant's jobs from its lane to the stream without touching their
    hashes; start.lua drops one canceled meanwhile (acknowledged, not run, its slot given back)
    and records the others' entries. A worker that dies between its read and its start leaves
    its jobs to the worker that reclaims them."""
    await tenants(engine, capped={"max_concurrency": 10})
    k, c = engine.keys, engine.consumer("c")
    ids = await enqueue(engine, noops(3), "capped")
    entries = await c.read(10, 0)
    assert [e.job_id for e in entries] == ids
    assert [await redis.hget(k.job(j), "entry") or "" for j in ids] == ["", "", ""]
    await engine.jobs.cancel(ids[0], "capped")
    started = await c.start(entries)
    assert [d.job_id for d in started] == ids[1:]
    recorded = [await redis.hget(k.job(d.job_id), "entry") for d in started]
    assert recorded == [e.entry_id for e in entries[1:]]
    unacked = await redis.xpending(k.stream, settings.CONSUMER_GROUP)
    assert unacked["pending"] == 2  # the canceled job's entry was acknowledged
    assert await redis.smembers(k.running("capped")) == set(ids[1:])

    more = await enqueue(engine, noops(2), "capped")
    assert len(await engine.consumer("dead").read(10, 0)) == 2  # then it dies, not started
    start_worker()

    async def statuses() -> list[Any]:
        return [await redis.hget(k.job(j), "status") for j in ids + more]

    done = [JobStatus.CANCELED] + [JobStatus.SUCCEEDED] * 4

    async def all_done() -> bool:
        return await statuses() == done

    await wait_for(all_done, timeout=15)
    assert await redis.scard(k.running("capped")) == 0


async def test_a_tenants_job_dispatched_but_unread_is_purged(engine: Engine) -> None:
    """read.lua puts a tenant's job on the stream without recording its entry in the hash
    (start.lua does); one still unread there is purged all the same, its slot given back."""
    await tenants(engine, t={"max_concurrency": 5})
    other, first, second = await enqueue(engine, [JobCreate(task_type="other")] + noops(2), "t")
    c = engine.consumer("c", serves=["noop"])
    assert await c.start(await c.read(1, 0)) == []  # `other` handed back: on the stream again
    (handed_back,) = await engine.consumer("c2").read(1, 0)  # dispatches `first`, reads `other`
    assert handed_back.job_id == other
    purged, _ = await purge_queue(engine.lib, queue=engine.keys.queue(), limit=10)
    assert purged == 2  # `first` (unread on the stream) and `second` (in the lane)
    for job in (first, second):
        canceled = await engine.jobs.get(job, "t")
        assert (canceled.status, canceled.cancel_reason) == ("canceled", "purged")
    assert await engine.redis.smembers(engine.keys.running("t")) == {other}  # first's slot back


async def test_a_settle_rings_only_while_a_tenant_waits_on_its_cap(engine: Engine) -> None:
    """A freed slot matters only to a tenant held at its cap: uncapped tenants' jobs were rung
    for by their submission or the read that left them. `<lanes>:capped` tells settles which."""
    await tenants(engine, free={}, capped={"max_concurrency": 1})
    r, stream, group = engine.redis, engine.keys.stream, engine.settings.CONSUMER_GROUP
    consumer = engine.consumer("c")

    async def settle_rings() -> bool:
        running = await consumer.start(await consumer.read(1, 0))
        await r.xreadgroup(group, "gone", {stream: ">"}, count=10)  # bells handed out
        before = await r.xlen(stream)
        await consumer.settle([(running[0], b"null")], [])
        return await r.xlen(stream) > before

    await enqueue(engine, noops(2), "free")
    assert not await settle_rings()  # the free tenant's first job
    assert not await r.exists(engine.keys.queue().capped)
    await consumer.start(await consumer.read(10, 0))  # the free tenant's last job

    await enqueue(engine, noops(2), "capped")
    assert await settle_rings()  # the capped tenant's second job waited on its cap
    assert await r.exists(engine.keys.queue().capped)
    last = await consumer.start(await consumer.read(10, 0))
    await consumer.settle([(last[0], b"null")], [])
    assert await consumer.read(10, 0) == []
    assert not await r.exists(engine.keys.queue().capped)  # no tenant waits any more


async def test_a_read_looks_past_a_page_of_capped_tenants(engine: Engine) -> None:
    names = [f"t{i:02}" for i in range(70)]  # read.lua loads busy tenants 64 at a time
    await tenants(engine, **{name: {"max_concurrency": 1} for name in names})
    owner = {}
    for name in names:
        for job_id in await enqueue(engine, noops(2), name):
            owner[job_id] = name
    c = engine.consumer("c")
    served = [owner[job_id] for _, _, job_id, _ in await c.read(100, 0)]
    assert sorted(served) == names  # one each: the cap; the last 6 too, past the first page
    assert await c.read(100, 0) == []


async def test_housekeeping_frees_slots_that_no_job_holds(
    engine: Engine, redis: Redis, settings: Settings
) -> None:
    await tenants(engine, capped={"max_concurrency": 2})
    await enqueue(engine, noops(5), "capped")
    c = engine.consumer("c")
    (first, _) = await c.start(await c.read(5, 0))
    await redis.delete(engine.keys.job(first.job_id))  # as if deleted while dispatched
    assert await c.read(5, 0) == []
    upkeep = await engine.housekeep()
    assert upkeep is not None and upkeep.slots_freed == 1
    assert len(await c.read(5, 0)) == 1


async def test_a_dead_workers_slots_pass_to_the_worker_that_reclaims_its_jobs(
    engine: Engine, redis: Redis, start_worker
) -> None:
    await tenants(engine, capped={"max_concurrency": 2})
    ids = await enqueue(engine, noops(10), "capped")
    dead = engine.consumer("dead")
    assert len(await dead.start(await dead.read(10, 0))) == 2  # then it dies holding both
    start_worker()

    async def statuses() -> list[Any]:
        return [await redis.hget(engine.keys.job(j), "status") for j in ids]

    async def all_succeeded() -> bool:
        return await statuses() == [JobStatus.SUCCEEDED] * 10

    await wait_for(all_succeeded, timeout=15)
    assert await statuses() == [JobStatus.SUCCEEDED] * 10
    assert await redis.scard(engine.keys.running("capped")) == 0


async def occupy_capped(
    engine: Engine, start_worker: Any, redis_url: str, cap: int, jobs: int, seconds: float
) -> tuple[str, list[str]]:
    """A tenant `capped` with this cap, `jobs` occupy jobs of `seconds` each and three workers
    of concurrency 10; returns the jobs' counter key (see tests.tasks.occupy) and their ids."""
    await tenants(engine, capped={"max_concurrency": cap})
    key = f"{engine.keys.base}:occupied"
    payload = {"url": redis_url, "key": key, "seconds": seconds}
    for _ in range(3):
        start_worker(concurrency=10)
    # All three waiting before the jobs come (a worker slow to start on a busy machine would
    # otherwise find the 40 short jobs done already).
    await wait_for(lambda: _all_live(engine, 3))
    ids = await enqueue(
        engine, [JobCreate(task_type="occupy", payload=payload) for _ in range(jobs)], "capped"
    )
    return key, ids


async def _all_live(engine: Engine, count: int) -> bool:
    return len(await engine.workers.live()) == count


async def test_a_cap_of_five_holds_across_three_workers(
    engine: Engine, redis: Redis, start_worker, redis_url: str
) -> None:
    # Jobs of 0.2 s: long enough that five overlap even on a loaded machine (with 0.05 s the
    # cap was once never reached in CI's cluster pass, and "the cap was used" failed).
    key, ids = await occupy_capped(engine, start_worker, redis_url, cap=5, jobs=40, seconds=0.2)
    await wait_for(lambda: done_with(engine, len(ids)), timeout=20, every=0.05)
    seen = [int(v) for v in await redis.lrange(f"{key}:seen", 0, -1)]
    assert len(seen) == 40
    assert max(seen) == 5  # never more than the cap, and the cap was used
    workers = {await redis.hget(engine.keys.job(j), "worker") for j in ids}
    # The cap held across workers: jobs ran on more than one. Which of the three blocked
    # workers a bell wakes is Redis's choice, and in two full-suite runs one of the three got
    # none of the 40 (never alone), so the test asks for two, not three.
    assert len(workers) >= 2, workers


async def test_workers_wait_without_spinning_while_every_lane_is_capped(
    engine: Engine, redis: Redis, start_worker, redis_url: str
) -> None:
    key, _ = await occupy_capped(engine, start_worker, redis_url, cap=1, jobs=3, seconds=3)
    await wait_for(lambda: redis.get(key))
    await asyncio.sleep(0.3)

    async def calls() -> int:
        info = await redis.info("commandstats")
        return sum(int(info.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))

    before = await calls()
    await asyncio.sleep(1.0)
    # One job runs, two wait on the cap: each idle worker blocks on the streams (up to half a
    # visibility timeout here) instead of asking again and again. A spinning worker would make
    # thousands of script calls a second; heartbeats, lease extension and reclaim make a few
    # (per shard: about 27 on one, 99 on four).
    made = await calls() - before
    print(f"{made} script calls in 1 s")
    assert made < 60 * SHARDS, made
    assert int(await redis.get(key)) == 1


async def test_a_small_tenant_starts_within_a_second_behind_a_20000_job_backlog(
    engine: Engine, redis: Redis, start_worker
) -> None:
    """The issue's bound: all 20 of B's jobs start within 1 s of their submission while A's
    backlog would take ~10 s to drain first (FIFO). Measured here: about 4-26 ms."""
    await tenants(engine, a={}, b={})
    k = engine.keys
    sleepy = JobCreate(task_type="sleep", payload={"seconds": 0.02})
    await enqueue(engine, [sleepy] * 20_000, "a")
    for _ in range(3):
        start_worker(concurrency=20)
    await wait_for(lambda: done_with(engine, 200), timeout=30, every=0.05)
    b_ids = await enqueue(engine, [sleepy] * 20, "b")

    async def all_started() -> list[Any] | None:
        started = [await redis.hget(k.job(j), "started_at") for j in b_ids]
        return started if all(started) else None

    started = await wait_for(all_started, timeout=30, every=0.01)
    a_left = await waiting(engine, "a")
    created = int(await redis.hget(k.job(b_ids[0]), "created_at") or 0)
    waits_ms = [int(s or 0) - created for s in started]
    assert all(started), "B's jobs did not all start"
    print(f"B waited {min(waits_ms)}-{max(waits_ms)} ms; A still had {a_left} queued")
    assert max(waits_ms) <= 1000, waits_ms
    assert a_left >= 15_000  # behind A's backlog they would have waited for all of these


async def test_a_queue_with_no_worker_rings_one_bell_and_counts_each_job_once(
    engine: Engine,
) -> None:
    """Jobs put in lanes ring a bell (an entry on the stream) to wake a blocked worker. With
    no worker reading, one bell stays out whatever the submissions (each used to ring another
    200 ms later, and /queues counted every one as a job waiting); a bell handed to a worker
    that never acknowledges it (it died) lets the next submission ring again."""
    await tenants(engine, solo={})
    r, stream = engine.redis, engine.keys.stream
    for _ in range(5):
        await enqueue(engine, noops(1), "solo")
        await asyncio.sleep(0.25)
    assert await r.xlen(stream) == 1
    assert (await engine.queues.info("default")).pending == 5
    group = engine.settings.CONSUMER_GROUP
    taken: Any = await r.xreadgroup(group, "gone", {stream: ">"}, count=10)
    assert [fields for _, fields in taken[0][1]] == [{"bell": "1"}]
    await enqueue(engine, noops(1), "solo")
    assert await r.xlen(stream) == 2  # rung again: the first one's worker may be dead
    assert (await engine.queues.info("default")).pending == 6
    served = await engine.consumer("c").read(10, 0)
    assert len(served) == 6 and not await r.exists(engine.keys.bell)
