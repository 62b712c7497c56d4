"""One tenant over every shard (issue 17, item 2's opt-in spread): `default` with
SPREAD_DEFAULT (a deployment without tenants) and a tenant created with `spread`. Each job lives
on the shard its id hashes to; what must be atomic (idempotency keys, chosen ids, batches,
parents, partition keys) shares a shard; the submission bucket stays exact; the cap is split;
listings and the dead-letter queue merge the shards; a job is still found after SHARDS grows.
On a local cluster (DTQ_TEST_CLUSTER=1) the shards live on different masters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from dtq.api.main import create_app
from dtq.config import Settings
from dtq.models import DEFAULT_TENANT, JobCreate, TenantCreate
from dtq.queue import Engine, ShardCountError, Shards
from dtq.queue.spread import id_shard
from dtq.redis_client import create_redis
from tests.conftest import Processes, wait_for

ADMIN = "s" * 40
SHARDS = 4


class Api:
    """An in-process API over SHARDS shards and its Shards."""

    def __init__(self, client: httpx.AsyncClient, shards: Shards, key: str | None) -> None:
        self.client = client
        self.shards = shards
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    async def submit(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        return await self.client.post("/jobs", json=body, headers=self.headers | headers)

    async def job(self, job_id: str) -> dict[str, Any]:
        answer = await self.client.get(f"/jobs/{job_id}", headers=self.headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def shards_of(self, stored: str) -> list[int]:
        """The shards holding a job's hash (by its stored id)."""
        found = []
        for i, engine in enumerate(self.shards.engines):
            if await engine.redis.exists(engine.keys.job(stored)):
                found.append(i)
        return found


async def listed(api: Api, path: str, limit: int) -> list[dict[str, Any]]:
    """Every item of a listing, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = f"{path}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.client.get(query, headers=api.headers)).json()
        items += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def running_api(settings: Settings, key_for: str | None) -> AsyncIterator[Api]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as client:
            key = None
            if key_for:
                admin = {"Authorization": f"Bearer {ADMIN}"}
                body = {"name": key_for, "spread": True, "max_concurrency": 4, "burst": 400,
                        "rate_per_s": 0.01}  # fmt: skip
                made = await client.post("/admin/tenants", json=body, headers=admin)
                assert made.status_code == 201, made.text
                assert made.json()["spread"] is True and made.json()["shard"] == 0
                key = (await client.post(f"/admin/tenants/{key_for}/keys", headers=admin)).json()
                key = key["key"]
            yield Api(client, app.state.shards, key)


@pytest.fixture
def open_spread(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(SHARDS=SHARDS, AUTH_DISABLED=True, SPREAD_DEFAULT=True)


@pytest.fixture
def keyed(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(SHARDS=SHARDS, AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN)


@pytest.fixture
async def default_api(open_spread: Settings) -> AsyncIterator[Api]:
    async for api in running_api(open_spread, None):
        yield api


@pytest.fixture
async def big_api(keyed: Settings) -> AsyncIterator[Api]:
    async for api in running_api(keyed, "big"):
        yield api


async def test_the_default_tenant_spreads_over_every_shard(
    default_api: Api, open_spread: Settings, processes: Processes
) -> None:
    api = default_api
    ids = []
    for i in range(120):
        answer = await api.submit({"task_type": "echo", "payload": {"n": i}})
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    batch = await api.client.post("/jobs/batch", json={"jobs": [{"task_type": "noop"}] * 40})
    assert batch.status_code == 201, batch.text
    batch_ids = batch.json()["ids"]
    per_shard = [0] * SHARDS
    for job_id in ids:
        assert await api.shards_of(job_id) == [id_shard(job_id, SHARDS)]
        per_shard[id_shard(job_id, SHARDS)] += 1
    assert min(per_shard) >= 10, per_shard  # 120 jobs over 4 shards: about 30 each
    # a batch lives on one shard, whole (all or none), its ids hashing there
    assert {id_shard(j, SHARDS) for j in batch_ids} == {id_shard(batch_ids[0], SHARDS)}
    assert await api.shards_of(batch_ids[-1]) == [id_shard(batch_ids[0], SHARDS)]
    # one listing over the shards, newest first, each job once
    every = await listed(api, "/jobs", 25)
    assert [j["id"] for j in every] == list(reversed(ids + batch_ids))
    # a real worker reads every shard and runs them all
    processes.worker(open_spread, "--concurrency", "20")

    async def all_done() -> bool:
        stats = (await api.client.get("/stats")).json()
        return bool(stats["jobs_completed_total"] == 160)

    await wait_for(all_done, timeout=30)
    assert (await api.job(ids[7]))["result"] == {"n": 7}
    succeeded = (await api.client.get("/jobs?status=succeeded&limit=500")).json()
    assert succeeded["count"] == 160


async def test_what_must_be_atomic_shares_a_shard(big_api: Api) -> None:
    api = big_api
    stored = "big/{}".format
    # an idempotency key: a retry meets the first job, on the key's shard
    first = await api.submit({"task_type": "noop"}, **{"Idempotency-Key": "order-1"})
    again = await api.submit({"task_type": "noop"}, **{"Idempotency-Key": "order-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    key_shard = id_shard("order-1", SHARDS)
    assert await api.shards_of(stored(first.json()["id"])) == [key_shard]
    found = await api.client.get("/jobs?idempotency_key=order-1", headers=api.headers)
    assert [j["id"] for j in found.json()["data"]] == [first.json()["id"]]
    # a chosen id lives where it hashes, and is unique there
    chosen = await api.submit({"task_type": "noop", "id": "invoice-7"})
    assert chosen.status_code == 201
    assert await api.shards_of(stored("invoice-7")) == [id_shard("invoice-7", SHARDS)]
    assert (await api.submit({"task_type": "noop", "id": "invoice-7"})).status_code == 409
    # a child goes to its parent's shard; a chosen child id that hashes elsewhere is a 422
    child = await api.submit({"task_type": "noop", "depends_on": ["invoice-7"]})
    assert child.json()["status"] == "waiting"
    assert await api.shards_of(stored(child.json()["id"])) == [id_shard("invoice-7", SHARDS)]
    other = next(
        f"c{i}" for i in range(99) if id_shard(f"c{i}", SHARDS) != id_shard("invoice-7", SHARDS)
    )
    refused = await api.submit({"task_type": "noop", "id": other, "depends_on": ["invoice-7"]})
    assert refused.status_code == 422 and refused.json()["code"] == "shard_placement"
    assert await api.shards_of(stored(other)) == []
    missing = await api.submit({"task_type": "noop", "depends_on": ["nope"]})
    assert missing.status_code == 422 and missing.json()["code"] == "unknown_parent"
    # one partition key's jobs share its shard (they run in order there)
    keyed = [(await api.submit({"task_type": "noop", "partition_key": "acct-9"})).json()["id"]
             for _ in range(5)]  # fmt: skip
    for job_id in keyed:
        assert await api.shards_of(stored(job_id)) == [id_shard("acct-9", SHARDS)]
    # a batch whose chosen ids belong on two shards is refused whole
    one = "b0"
    two = next(f"b{i}" for i in range(99) if id_shard(f"b{i}", SHARDS) != id_shard(one, SHARDS))
    batch = {"jobs": [{"task_type": "noop", "id": one}, {"task_type": "noop", "id": two}]}
    refused = await api.client.post("/jobs/batch", json=batch, headers=api.headers)
    assert refused.status_code == 422 and refused.json()["code"] == "shard_placement"
    assert await api.shards_of(stored(one)) == [] and await api.shards_of(stored(two)) == []
    # a batch with parents inside it and outside (on one shard) is stored on that shard
    home = id_shard("invoice-7", SHARDS)
    parent = next(f"p{i}" for i in range(99) if id_shard(f"p{i}", SHARDS) == home)
    inside = {"jobs": [{"task_type": "noop", "depends_on": [parent, "invoice-7"]},
                       {"task_type": "noop", "id": parent}]}  # fmt: skip
    made = await api.client.post("/jobs/batch", json=inside, headers=api.headers)
    assert made.status_code == 201, made.text
    for job_id in made.json()["ids"]:
        assert await api.shards_of(stored(job_id)) == [home]
    # a cancel reaches the job on its shard; its usage adds up the shards
    later = await api.submit({"task_type": "noop", "delay_ms": 60_000})
    canceled = await api.client.post(f"/jobs/{later.json()['id']}/cancel", headers=api.headers)
    assert canceled.json()["status"] == "canceled"
    usage = (await api.client.get("/tenant", headers=api.headers)).json()
    assert usage["queued"] >= 8  # what waits in its lanes on every shard (no worker runs)


async def test_the_submission_bucket_and_the_cap_hold_over_every_shard(
    big_api: Api, keyed: Settings, processes: Processes
) -> None:
    api = big_api
    # burst 400 (refilled at 0.01/s): one bucket (on the control shard), not one per shard
    answers = [await api.submit({"task_type": "sleep", "payload": {"seconds": 0.2}})
               for _ in range(400)]  # fmt: skip
    assert {a.status_code for a in answers} == {201}
    over = await api.submit({"task_type": "noop"})
    assert over.status_code == 429
    assert {id_shard(a.json()["id"], SHARDS) for a in answers} == set(range(SHARDS))
    # max_concurrency 4 over 4 shards: at most 1 running per shard, 4 in all
    processes.worker(keyed, "--concurrency", "40")
    most = 0
    for _ in range(40):
        usage = (await api.client.get("/tenant", headers=api.headers)).json()
        most = max(most, usage["running"])
        await asyncio.sleep(0.05)
    assert 1 <= most <= 4


async def test_dead_letters_merge_over_the_shards(
    big_api: Api, keyed: Settings, processes: Processes
) -> None:
    api = big_api
    doomed = [(await api.submit({"task_type": "fail", "max_retries": 0})).json()["id"]
              for _ in range(24)]  # fmt: skip
    assert len({id_shard(j, SHARDS) for j in doomed}) > 1
    processes.worker(keyed, "--concurrency", "8")

    async def all_dead() -> bool:
        dlq = (await api.client.get("/dlq?limit=500", headers=api.headers)).json()
        return bool(dlq["count"] == len(doomed))

    await wait_for(all_dead, timeout=30)
    pages = await listed(api, "/dlq", 5)
    assert sorted(d["id"] for d in pages) == sorted(doomed)
    # newest first by DLQ entry id (ties between shards: the higher shard first)
    order = []
    for d in pages:
        shard = id_shard(d["id"], SHARDS)
        engine = api.shards.engines[shard]
        entry = await engine.redis.hget(engine.keys.job(f"big/{d['id']}"), "dlq_entry")
        ms, seq = str(entry).split("-")
        order.append((int(ms), int(seq), shard))
    assert order == sorted(order, reverse=True)
    retried = await api.client.post(f"/dlq/{doomed[3]}/retry", headers=api.headers)
    assert retried.status_code == 200 and retried.json()["status"] in {"pending", "running", "dead"}
    gone = await api.client.delete(f"/dlq/{doomed[5]}", headers=api.headers)
    assert gone.status_code == 204
    assert (await api.client.get(f"/jobs/{doomed[5]}", headers=api.headers)).status_code == 404
    dry = await api.client.post("/dlq/retry", json={"dry_run": True}, headers=api.headers)
    assert dry.json()["matched"] >= len(doomed) - 2


async def test_a_spread_tenant_keeps_its_shards_when_shards_grow(
    make_settings: Callable[..., Settings],
) -> None:
    """A spread tenant stays over the shards it was spread over: every idempotency key (and id,
    and partition key) keeps its shard, so a retry after the growth meets the first job."""
    two = make_settings(SHARDS=2, SPREAD_DEFAULT=True)
    four = make_settings(SHARDS=4, SPREAD_DEFAULT=True)
    before = Shards(two, lambda tag: create_redis(two, shard=tag))
    await before.setup()
    early = await before.create_tenant(TenantCreate(name="early", spread=True))
    assert early.spread_over == 2
    where = await before.locate(DEFAULT_TENANT)
    first = {}
    for i in range(12):
        job = JobCreate(task_type="noop", payload={"n": i}, idempotency_key=f"k{i}")
        engine, job_id = await where.place(job)
        first[f"k{i}"] = (await engine.producer.enqueue_once(job, job_id=job_id)).job.id
    await before.aclose()
    after = Shards(four, lambda tag: create_redis(four, shard=tag))
    await after.setup()
    try:
        grown = await after.locate(DEFAULT_TENANT)
        assert len(grown.engines) == 2  # still over the two it was spread over
        assert any(id_shard(k, 4) != id_shard(k, 2) for k in first)  # keys that would move
        for i, (key, job_id) in enumerate(first.items()):
            job = JobCreate(task_type="noop", payload={"n": i}, idempotency_key=key)
            engine, chosen = await grown.place(job)
            retried = await engine.producer.enqueue_once(job, job_id=chosen)
            assert not retried.created and retried.job.id == job_id  # it met the first job

            async def get(engine: Engine, job_id: str = job_id) -> str:
                return (await engine.jobs.get(job_id)).id

            assert await grown.on_job(job_id, get) == job_id
        for i in range(20):  # new jobs too: only on its two shards
            engine, _ = await grown.place(JobCreate(task_type="noop", payload={"m": i}))
            assert after.engines.index(engine) < 2
        assert len((await after.locate("early")).engines) == 2
        late = await after.create_tenant(TenantCreate(name="late", spread=True))
        assert late.spread_over == 4 and len((await after.locate("late")).engines) == 4
        for engine in after.engines:  # its definition on each of them (dispatch splits its cap)
            assert await engine.redis.hexists(engine.keys.tenants, "late")
        assert not await after.engines[3].redis.hexists(after.engines[3].keys.tenants, "early")
    finally:
        await after.aclose()
    # once spread, `default` stays spread: its jobs may be on any shard
    unspread = make_settings(SHARDS=4, SPREAD_DEFAULT=False)
    again = Shards(unspread, lambda tag: create_redis(unspread, shard=tag))
    try:
        with pytest.raises(ShardCountError, match="SPREAD_DEFAULT can be turned on but never off"):
            await again.check_count()
    finally:
        await again.aclose()


async def test_a_cycle_is_named_before_the_shards(big_api: Api) -> None:
    api = big_api
    one = "b0"
    two = next(f"b{i}" for i in range(99) if id_shard(f"b{i}", SHARDS) != id_shard(one, SHARDS))
    jobs = [{"task_type": "noop", "id": one, "depends_on": [two]},
            {"task_type": "noop", "id": two, "depends_on": [one]}]  # fmt: skip
    refused = await api.client.post("/jobs/batch", json={"jobs": jobs}, headers=api.headers)
    assert refused.status_code == 422 and refused.json()["code"] == "dependency_cycle"


async def test_the_live_feed_follows_every_shard(
    open_spread: Settings, processes: Processes
) -> None:
    url = processes.api(open_spread)
    async with connect(url.replace("http://", "ws://") + "/ws") as ws:
        await ws.send(json.dumps({}))
        welcome = json.loads(await ws.recv())
        assert welcome["tenant"] == DEFAULT_TENANT
        async with httpx.AsyncClient(base_url=url) as http:
            ids = [(await http.post("/jobs", json={"task_type": "noop"})).json()["id"]
                   for _ in range(12)]  # fmt: skip
        assert len({id_shard(j, SHARDS) for j in ids}) > 1
        seen: set[str] = set()
        async with asyncio.timeout(10):
            while not set(ids) <= seen:
                message = json.loads(await ws.recv())
                if message["type"] == "events":
                    seen |= {e["job_id"] for e in message["events"] if e["status"] == "pending"}
    # a resume cannot name one place in several shards' streams: resync
    async with connect(url.replace("http://", "ws://") + "/ws") as ws:
        await ws.send(json.dumps({"last_event_id": welcome["last_event_id"]}))
        assert json.loads(await ws.recv())["resumed"] is False
        assert json.loads(await ws.recv())["type"] == "resync"


async def test_a_dlq_retry_over_the_shards_is_admitted_whole_or_not_at_all(
    big_api: Api, keyed: Settings, processes: Processes
) -> None:
    api = big_api
    admin = {"Authorization": f"Bearer {ADMIN}"}
    body = {"name": "tight", "spread": True, "burst": 30, "rate_per_s": 0.01}
    assert (await api.client.post("/admin/tenants", json=body, headers=admin)).status_code == 201
    key = (await api.client.post("/admin/tenants/tight/keys", headers=admin)).json()["key"]
    tight = {"Authorization": f"Bearer {key}"}
    for _ in range(24):  # 24 of its 30 submissions: 6 left
        sent = await api.client.post("/jobs", json={"task_type": "fail", "max_retries": 0},
                                     headers=tight)  # fmt: skip
        assert sent.status_code == 201, sent.text
    worker = processes.worker(keyed, "--concurrency", "8")

    async def dead() -> int:
        return int((await api.client.get("/dlq?limit=500", headers=tight)).json()["count"])

    await wait_for(lambda: _equals(dead(), 24), timeout=30)
    worker.terminate()  # what is retried now stays out of the DLQ
    worker.wait(timeout=10)
    refused = await api.client.post("/dlq/retry", json={}, headers=tight)
    assert refused.status_code == 429  # 24 matched over the shards, 6 submissions left
    assert await dead() == 24  # no shard retried its share
    some = await api.client.post("/dlq/retry", json={"limit": 5}, headers=tight)
    assert some.json()["matched"] == some.json()["retried"] == 5  # the 6 are still there
    assert await dead() == 19


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)
