"""Retention of finished jobs, enforced by the scripts that finish them: a queue keeps at most
its count of succeeded (and canceled) jobs, each for at most its age or the job's own keep_for_s;
removed jobs answer 410; dead jobs always stay."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from dtq.api.main import create_app
from dtq.config import Settings
from dtq.models import JobCreate
from dtq.queue import Engine, job_index
from dtq.queue.keys import index_directory
from dtq.queue.scripts.retire import retire
from tests.conftest import wait_for


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """This module's settings: small limits, so that a test can go past them."""
    return make_settings(KEEP_SUCCEEDED=100, REMOVED_IDS_KEPT=50)


async def _count(api: httpx.AsyncClient, status: str) -> int:
    counts: dict[str, int] = (await api.get("/stats")).json()["jobs_by_status"]
    return counts.get(status, 0)


async def _job_hashes(engine: Engine) -> int:
    return sum([1 async for _ in engine.redis.scan_iter(match=engine.keys.job("*"), count=1000)])


async def test_a_queue_keeps_its_newest_succeeded_jobs_and_every_dead_one(
    api: httpx.AsyncClient, engine: Engine, start_worker: Callable[..., Any]
) -> None:
    r = await api.put("/queues/default/retention", json={"succeeded_count": 5})
    assert r.status_code == 200 and r.json()["effective"]["succeeded_count"] == 5
    assert r.json()["own"] == {
        "succeeded_count": 5,
        "succeeded_s": None,
        "canceled_count": None,
        "canceled_s": None,
    }
    dead = (
        await api.post("/jobs/batch", json={"jobs": [{"task_type": "fail", "max_retries": 0}] * 10})
    ).json()["ids"]
    ok = []
    for _ in range(4):  # in several runs: each completion batch trims the oldest beyond 5
        ok += (await api.post("/jobs/batch", json={"jobs": [{"task_type": "noop"}] * 5})).json()[
            "ids"
        ]
    start_worker()

    async def settled() -> bool:
        return await _count(api, "succeeded") == 20 and await _count(api, "dead") == 10

    await wait_for(settled)
    entries = await engine.redis.lrange(engine.keys.queue().finished("succeeded"), 0, -1)
    finished = [entry.split(" ")[1] for entry in entries]
    assert len(finished) == 5
    kept = [j for j in ok if (await api.get(f"/jobs/{j}")).status_code == 200]
    assert set(kept) == set(finished)
    gone = await api.get(f"/jobs/{next(j for j in ok if j not in kept)}")
    assert gone.status_code == 410 and gone.json()["code"] == "job_removed"
    assert "retention" in gone.json()["detail"]
    for job_id in dead:  # every dead job stays, with its dead letter
        assert (await api.get(f"/jobs/{job_id}")).json()["status"] == "dead"
    assert (await api.get("/stats")).json()["dlq_depth"] == 10
    listed = (await api.get("/jobs", params={"limit": 100})).json()["data"]
    assert len(listed) == 15  # the index lost the removed jobs too
    assert await _job_hashes(engine) == 15


async def test_keep_result_false_removes_a_job_as_it_succeeds(
    api: httpx.AsyncClient, engine: Engine, start_worker: Callable[..., Any]
) -> None:
    start_worker()
    gone = (await api.post("/jobs", json={"task_type": "echo", "keep_result": False})).json()
    short = (await api.post("/jobs", json={"task_type": "echo", "keep_for_s": 30})).json()
    kept = (await api.post("/jobs", json={"task_type": "echo"})).json()
    assert (short["keep_for_s"], gone["keep_for_s"], kept["keep_for_s"]) == (30, 0, None)

    async def done() -> bool:
        return await _count(api, "succeeded") == 3

    await wait_for(done)
    r = await api.get(f"/jobs/{gone['id']}")
    assert r.status_code == 410
    assert (await api.get(f"/jobs/{gone['id']}/result")).status_code == 410
    assert not await engine.redis.exists(engine.keys.job(gone["id"]))
    assert 0 < await engine.redis.ttl(engine.keys.job(short["id"])) <= 30
    assert (await api.get(f"/jobs/{short['id']}")).json()["keep_for_s"] == 30
    assert await engine.redis.ttl(engine.keys.job(kept["id"])) == -1  # the queue's age: its list
    r = await api.post("/jobs", json={"task_type": "echo", "keep_result": False, "keep_for_s": 5})
    assert r.status_code == 422


async def test_a_queue_lets_its_jobs_go_at_their_age_with_a_tombstone(
    api: httpx.AsyncClient, engine: Engine, start_worker: Callable[..., Any]
) -> None:
    """The age is enforced from the queue's finished list, not by an expiry on each job: as
    later jobs finish, and by housekeeping in a queue where nothing finishes any more. A job
    kept for its own time stays until then; a removed one answers 410, not 404."""
    assert (await api.put("/queues/default/retention", json={"succeeded_s": 1})).status_code == 200
    start_worker()
    old = (await api.post("/jobs/batch", json={"jobs": [{"task_type": "noop"}] * 3})).json()["ids"]
    own = (await api.post("/jobs", json={"task_type": "noop", "keep_for_s": 60})).json()["id"]

    def succeeded(n: int) -> Callable[[], Any]:
        async def check() -> bool:
            return await _count(api, "succeeded") == n

        return check

    await wait_for(succeeded(4))
    assert [await engine.redis.ttl(engine.keys.job(j)) for j in old] == [-1, -1, -1]
    await asyncio.sleep(1.1)
    later = (await api.post("/jobs", json={"task_type": "noop"})).json()["id"]
    await wait_for(succeeded(5))  # its finish lets the three older ones go
    for job_id in old:
        gone = await api.get(f"/jobs/{job_id}")
        assert gone.status_code == 410 and gone.json()["code"] == "job_removed"
    assert (await api.get(f"/jobs/{own}")).status_code == 200  # kept for its own 60 s
    listed = {j["id"] for j in (await api.get("/jobs", params={"limit": 100})).json()["data"]}
    assert listed == {own, later}

    await asyncio.sleep(1.1)  # nothing finishes any more: housekeeping lets `later` go
    await engine.redis.delete(engine.keys.housekeeping_lock)  # the worker's round took it
    report = await engine.housekeep()
    assert report is not None and report.jobs_retired == 1
    assert (await api.get(f"/jobs/{later}")).status_code == 410
    assert (await api.get(f"/jobs/{own}")).status_code == 200
    assert await engine.redis.llen(engine.keys.queue().finished("succeeded")) == 0


async def test_a_job_gone_by_its_own_keep_for_s_answers_410(
    api: httpx.AsyncClient, engine: Engine, start_worker: Callable[..., Any]
) -> None:
    """A job kept for its own time leaves by its expiry, not by a script: its tombstone is laid
    as it succeeds, dated when the expiry removes it, so GET tells it from a job that never
    existed."""
    start_worker()
    own = (await api.post("/jobs", json={"task_type": "noop", "keep_for_s": 1})).json()["id"]

    async def succeeded() -> bool:
        return (await api.get(f"/jobs/{own}")).json()["status"] == "succeeded"

    await wait_for(succeeded)
    finished = (await api.get(f"/jobs/{own}")).json()["finished_at"]

    async def expired() -> bool:
        return not await engine.redis.exists(engine.keys.job(own))

    await wait_for(expired, timeout=5)
    gone = await api.get(f"/jobs/{own}")
    assert gone.status_code == 410 and gone.json()["code"] == "job_removed"
    assert "keep_for_s" in gone.json()["detail"]
    removed_at = datetime.fromisoformat(gone.json()["detail"].split(" at ")[1].split(" by ")[0])
    assert removed_at - datetime.fromisoformat(finished) == timedelta(seconds=1)
    assert (await api.get(f"/jobs/{own}/result")).status_code == 410
    assert (await api.get("/jobs/never-was")).status_code == 404


async def test_jobs_canceled_for_their_parents_are_kept_like_any_canceled_job(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    """Canceled by release (the parent canceled later) or at birth (the parent was canceled
    already): no expiry of their own, in the queue's canceled list, gone by its count."""
    policy = {"canceled_count": 3}
    assert (await api.put("/queues/default/retention", json=policy)).status_code == 200
    parent = (await api.post("/jobs", json={"task_type": "noop", "delay_ms": 60_000})).json()["id"]
    later = {"task_type": "noop", "depends_on": [parent]}
    released = (await api.post("/jobs", json=later)).json()["id"]
    assert (await api.post(f"/jobs/{parent}/cancel")).status_code == 200
    at_birth = (await api.post("/jobs", json=later)).json()
    assert at_birth["status"] == "canceled"
    for job_id in (released, at_birth["id"]):
        got = (await api.get(f"/jobs/{job_id}")).json()
        assert (got["status"], got["cancel_reason"]) == ("canceled", "dependency_failed")
        assert await engine.redis.ttl(engine.keys.job(job_id)) == -1
    finished = engine.keys.queue().finished("canceled")
    assert await engine.redis.llen(finished) == 3  # the parent and both children
    extra = (await api.post("/jobs", json=later)).json()["id"]  # a fourth: the oldest goes
    assert (await api.get(f"/jobs/{parent}")).status_code == 410
    assert (await api.get(f"/jobs/{extra}")).json()["status"] == "canceled"


async def test_a_cancel_answers_the_canceled_job_though_its_queue_keeps_none(
    api: httpx.AsyncClient,
) -> None:
    """Retention removes the job in the cancel's own script call: the answer is the job as it
    was canceled (200), not the 410 a read after it would get."""
    assert (await api.put("/queues/default/retention", json={"canceled_s": 0})).status_code == 200
    job_id = (await api.post("/jobs", json={"task_type": "noop", "delay_ms": 60_000})).json()["id"]
    canceled = await api.post(f"/jobs/{job_id}/cancel")
    assert canceled.status_code == 200, canceled.text
    body = canceled.json()
    assert (body["id"], body["status"], body["cancel_reason"]) == (job_id, "canceled", "requested")
    assert (await api.get(f"/jobs/{job_id}")).status_code == 410


async def test_a_lowered_count_is_reached_a_thousand_jobs_a_call(
    api: httpx.AsyncClient, engine: Engine, start_worker: Callable[..., Any]
) -> None:
    """No script call removes a whole backlog at once: a count lowered under 1,200 kept jobs is
    reached by housekeeping in calls of at most 1,000 (and by later finishes the same way)."""
    assert (await api.put("/queues/default/retention", json={"succeeded_count": -1})).is_success
    for _ in range(2):
        r = await api.post("/jobs/batch", json={"jobs": [{"task_type": "noop"}] * 600})
        assert r.status_code == 201
    start_worker(concurrency=50)

    async def done() -> bool:
        return await _count(api, "succeeded") == 1200

    await wait_for(done, timeout=30)
    assert (await api.put("/queues/default/retention", json={"succeeded_count": 0})).is_success
    queue = engine.keys.queue()
    assert await retire(engine.lib, queue=queue) == 1000
    assert await engine.redis.llen(queue.finished("succeeded")) == 200
    await engine.redis.delete(engine.keys.housekeeping_lock)  # the worker's round took it
    report = await engine.housekeep()
    assert report is not None and report.jobs_retired == 200
    assert await _job_hashes(engine) == 0


@pytest.mark.parametrize(
    "policy",
    [{}, {"succeeded_count": 0}, {"succeeded_s": 0}, {"succeeded_count": 0, "succeeded_s": 0}],
)
async def test_a_parent_with_dependents_is_kept_until_they_are_released(
    api: httpx.AsyncClient,
    engine: Engine,
    start_worker: Callable[..., Any],
    policy: dict[str, int],
) -> None:
    """Its dependents are released (release.lua reads its status) however little its queue
    keeps; then it goes by the policy like any other job."""
    if policy:
        assert (await api.put("/queues/default/retention", json=policy)).status_code == 200
    parent = (await api.post("/jobs", json={"task_type": "noop"})).json()
    child = (
        await api.post("/jobs", json={"task_type": "noop", "depends_on": [parent["id"]]})
    ).json()
    start_worker()

    async def child_done() -> bool:  # succeeded, or succeeded and removed (a policy of none)
        r = await api.get(f"/jobs/{child['id']}")
        return r.status_code == 410 or r.json()["status"] == "succeeded"

    await wait_for(child_done)
    assert await _count(api, "succeeded") == 2
    # The child's finish let the parent go too, under a policy that keeps none.
    assert await _job_hashes(engine) == (0 if policy else 2)


async def test_a_parent_goes_by_its_own_keep_once_its_dependents_are_released(
    api: httpx.AsyncClient, engine: Engine, start_worker: Callable[..., Any]
) -> None:
    """keep_result false and keep_for_s wait for the dependents' release, then apply: the first
    parent is removed (410), the second expires keep_for_s after it succeeded, while the queue
    keeps its other succeeded jobs."""
    gone = (await api.post("/jobs", json={"task_type": "noop", "keep_result": False})).json()
    brief = (await api.post("/jobs", json={"task_type": "noop", "keep_for_s": 2})).json()
    kids = [
        (await api.post("/jobs", json={"task_type": "noop", "depends_on": [p["id"]]})).json()
        for p in (gone, brief)
    ]
    start_worker()

    async def released() -> bool:
        return await _count(api, "succeeded") == 4

    await wait_for(released)
    r = await api.get(f"/jobs/{gone['id']}")
    assert r.status_code == 410 and r.json()["code"] == "job_removed"
    assert not await engine.redis.exists(engine.keys.job(gone["id"]))
    finished = (await api.get(f"/jobs/{brief['id']}")).json()["finished_at"]
    assert 0 < await engine.redis.pttl(engine.keys.job(brief["id"])) <= 2000
    for kid in kids:
        assert (await api.get(f"/jobs/{kid['id']}")).json()["status"] == "succeeded"

    async def expired() -> bool:
        return not await engine.redis.exists(engine.keys.job(brief["id"]))

    await wait_for(expired, timeout=5)
    r = await api.get(f"/jobs/{brief['id']}")
    assert r.status_code == 410
    removed_at = datetime.fromisoformat(r.json()["detail"].split(" at ")[1].split(" by ")[0])
    assert removed_at - datetime.fromisoformat(finished) == timedelta(seconds=2)


async def test_a_canceled_parent_cancels_its_dependents_in_a_queue_that_keeps_none(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    """canceled_count 0: the canceled parent stays until its dependents are canceled in turn
    (dependency_failed; kept by the same policy, so gone at once), then goes at the queue's
    next retention pass."""
    policy = {"canceled_count": 0}
    assert (await api.put("/queues/default/retention", json=policy)).status_code == 200
    parent = (await api.post("/jobs", json={"task_type": "noop"})).json()["id"]
    child = (await api.post("/jobs", json={"task_type": "noop", "depends_on": [parent]})).json()
    canceled = await api.post(f"/jobs/{parent}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert await _count(api, "canceled") == 2 and await _count(api, "waiting") == 0
    assert (await api.get(f"/jobs/{child['id']}")).status_code == 410
    assert (await api.get(f"/jobs/{parent}")).status_code == 200  # still there, released since
    await engine.redis.delete(engine.keys.housekeeping_lock)
    report = await engine.housekeep()
    assert report is not None and report.jobs_retired == 1
    assert (await api.get(f"/jobs/{parent}")).status_code == 410


async def test_a_queue_keeps_its_newest_canceled_jobs(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(KEEP_CANCELED=2))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as api:
            ids = (
                await api.post("/jobs/batch", json={"jobs": [{"task_type": "noop"}] * 5})
            ).json()["ids"]
            for job_id in ids[:3]:
                assert (await api.post(f"/jobs/{job_id}/cancel")).status_code == 200
            purged = await api.post("/queues/default/purge", params={"confirm": "true"})
            assert purged.json()["purged"] == 2
            statuses = [(await api.get(f"/jobs/{j}")).status_code for j in ids]
            assert statuses == [410, 410, 410, 200, 200]


async def test_memory_stays_bounded_by_the_count(
    api: httpx.AsyncClient, engine: Engine, start_worker: Callable[..., Any]
) -> None:
    start_worker(concurrency=50)  # KEEP_SUCCEEDED 100, REMOVED_IDS_KEPT 50 (this module's)
    for _ in range(10):
        batch = {"jobs": [{"task_type": "noop"}] * 200}
        assert (await api.post("/jobs/batch", json=batch)).status_code == 201

    async def done() -> bool:
        return await _count(api, "succeeded") == 2000

    await wait_for(done, timeout=30)
    assert await _job_hashes(engine) == 100
    assert await engine.redis.zcard(engine.keys.gone) == 50
    assert await job_index.count(engine.redis, engine.keys.index) == 100
    # The newest 100 of 2,000: in the last buckets of 128; the emptied ones left the directory.
    assert await engine.redis.zcard(index_directory(engine.keys.index)) <= 2


async def test_the_events_stream_is_bounded_whatever_the_batch_size(
    make_settings: Callable[..., Settings], redis: Redis
) -> None:
    """EVENTS_MAXLEN caps entries; an entry names at most 64 jobs, so big batches (enqueued,
    purged) cannot grow the stream past about EVENTS_MAXLEN x 64 ids."""
    engine = Engine(redis, make_settings(EVENTS_MAXLEN=100))
    await engine.setup()
    for _ in range(30):
        await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 1000)
    rows = await redis.xrange(engine.keys.events)
    sizes = [len(fields["job_ids"].split(",")) for _, fields in rows]
    # MAXLEN ~ trims whole nodes of 100 entries: at most about 200 entries stay
    assert max(sizes) == 64 and len(rows) <= 200 and sum(sizes) <= 200 * 64, (len(rows), sum(sizes))
    newest = await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 100)
    rows = await redis.xrevrange(engine.keys.events, count=2)
    tail = [i for _, f in reversed(rows) for i in f["job_ids"].split(",")]
    assert tail == newest  # the newest batch is there whole, in order


async def test_the_retention_routes_are_for_operators(
    make_settings: Callable[..., Settings],
) -> None:
    from dtq.models import TenantCreate

    app = create_app(make_settings(AUTH_DISABLED=False, ADMIN_API_KEY="r" * 40))
    async with app.router.lifespan_context(app):
        engine: Engine = app.state.engine
        await engine.tenants.create(TenantCreate(name="acme"))
        key = (await engine.tenants.create_key("acme")).key
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as api:
            tenant = {"Authorization": f"Bearer {key}"}
            admin = {"Authorization": "Bearer " + "r" * 40}
            r = await api.put("/queues/emails/retention", json={"succeeded_s": 60}, headers=tenant)
            assert r.status_code == 403
            r = await api.put(
                "/queues/emails/retention",
                json={"succeeded_s": 60, "canceled_count": -1},
                headers=admin,
            )
            assert r.status_code == 200
            effective = (await api.get("/queues/emails/retention", headers=admin)).json()
            assert effective["effective"] == {
                "succeeded_count": 100_000,
                "succeeded_s": 60,
                "canceled_count": -1,
                "canceled_s": 86_400,
            }
            bad = await api.put("/queues/emails/retention", json={"succeeded_s": -5}, headers=admin)
            assert bad.status_code == 422
