"""One logical queue over several shards (issue 17, item 2): tenants placed on the shard with
the fewest tenants, their jobs stored there, a real `dtq worker` process reading every shard,
the operator's views added up, cancels, dead letters, pauses and schedules across shards, and
the shard count fixed once chosen. On a local cluster (DTQ_TEST_CLUSTER=1) the shards live on
different masters."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from dtq.api.main import create_app
from dtq.config import Settings
from dtq.models import JobCreate, TenantCreate
from dtq.queue import Engine, ShardCountError, Shards
from dtq.redis_client import create_redis
from tests.conftest import ROOT, Processes, settings_env, wait_for

ADMIN = "s" * 40
SHARDS = 4
TENANTS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka"]


def dtq(settings: Settings, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m dtq.<command> args` with these settings, run to its end."""
    return subprocess.run(
        [sys.executable, "-m", f"dtq.{command}", *args],
        env=settings_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


class Fleet:
    """An API over SHARDS shards, eight tenants with a key each, and the admin key."""

    def __init__(self, api: httpx.AsyncClient, shards: Shards, keys: dict[str, str]) -> None:
        self.api = api
        self.shards = shards
        self.keys = keys

    def auth(self, who: str) -> dict[str, str]:
        key = ADMIN if who == "admin" else self.keys[who]
        return {"Authorization": f"Bearer {key}"}

    async def submit(self, who: str, body: dict[str, Any]) -> str:
        answer = await self.api.post("/jobs", json=body, headers=self.auth(who))
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def far_tenant(self) -> str:
        """A tenant whose shard is not the first."""
        for name in TENANTS:
            if (await self.shards.locate(name)).home is not self.shards.control:
                return name
        raise AssertionError("every tenant is on the first shard")

    async def job(self, who: str, job_id: str) -> dict[str, Any]:
        answer = await self.api.get(f"/jobs/{job_id}", headers=self.auth(who))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


@pytest.fixture
def sharded(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(SHARDS=SHARDS, AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN)


@pytest.fixture
async def fleet(sharded: Settings) -> AsyncIterator[Fleet]:
    app = create_app(sharded)
    async with app.router.lifespan_context(app):
        shards: Shards = app.state.shards
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as client:
            keys = {}
            for name in TENANTS:
                made = await client.post(
                    "/admin/tenants",
                    json={"name": name},
                    headers={"Authorization": f"Bearer {ADMIN}"},
                )
                assert made.status_code == 201, made.text
                key = await client.post(
                    f"/admin/tenants/{name}/keys", headers={"Authorization": f"Bearer {ADMIN}"}
                )
                keys[name] = key.json()["key"]
            yield Fleet(client, shards, keys)


async def test_tenants_spread_evenly_and_their_jobs_live_on_their_shard(fleet: Fleet) -> None:
    listed = await fleet.api.get("/admin/tenants", headers=fleet.auth("admin"))
    placed = {t["name"]: t["shard"] for t in listed.json()["data"]}
    assert sorted(placed.values()) == sorted(list(range(SHARDS)) * 2)  # two per shard
    for name in TENANTS:
        engine = fleet.shards.engines[placed[name]]
        job_id = await fleet.submit(name, {"task_type": "noop", "id": f"job-{name}"})
        assert await engine.redis.exists(engine.keys.job(f"{name}/{job_id}")) == 1
        others = [e for e in fleet.shards.engines if e is not engine]
        for other in others:
            assert await other.redis.exists(other.keys.job(f"{name}/{job_id}")) == 0
        # its definition is on its shard too, where dispatch reads its weight and cap
        assert await engine.redis.hexists(engine.keys.tenants, name)
        assert (await fleet.job(name, job_id))["status"] == "pending"
    stats = (await fleet.api.get("/stats", headers=fleet.auth("admin"))).json()
    assert stats["jobs_created_total"] == len(TENANTS)
    assert stats["jobs_by_status"]["pending"] == len(TENANTS)
    # An unread bell counts as pending once its 200 ms key (_lib.lua's ring) is gone: wait that
    # out, so that both reads below see the same (a clean-clone CI once read 8, then 9).
    await asyncio.sleep(0.3)
    queues = (await fleet.api.get("/queues", headers=fleet.auth("admin"))).json()["data"]
    each = [await e.queues.info("default") for e in fleet.shards.engines]
    assert [(q["name"], q["pending"]) for q in queues] == [
        ("default", sum(i.pending for i in each))
    ]
    assert all(i.pending >= 2 for i in each)  # (an unread bell may count too: no worker runs)


async def test_one_worker_process_serves_every_shard(
    fleet: Fleet, sharded: Settings, processes: Processes
) -> None:
    ids = {name: [await fleet.submit(name, {"task_type": "echo", "payload": {"n": i}})
                  for i in range(5)] for name in TENANTS}  # fmt: skip
    processes.worker(sharded, "--concurrency", "8")

    async def all_done() -> bool:
        stats = (await fleet.api.get("/stats", headers=fleet.auth("admin"))).json()
        return bool(stats["jobs_completed_total"] == 5 * len(TENANTS))

    await wait_for(all_done, timeout=30)
    for name, mine in ids.items():
        for job_id in mine:
            assert (await fleet.job(name, job_id))["status"] == "succeeded"
    workers = (await fleet.api.get("/workers", headers=fleet.auth("admin"))).json()["data"]
    assert [w["alive"] for w in workers] == [True]  # one process, heard on every shard
    history = await fleet.api.get("/stats/history?window=60", headers=fleet.auth("admin"))
    assert history.status_code == 200


async def test_cancel_dead_letters_and_pause_across_shards(
    fleet: Fleet, sharded: Settings, processes: Processes
) -> None:
    far = await fleet.far_tenant()
    processes.worker(sharded, "--concurrency", "4")
    # a running job on a shard other than the first is stopped by its cancel
    sleeper = await fleet.submit(far, {"task_type": "sleep", "payload": {"seconds": 30}})

    async def running() -> bool:
        return (await fleet.job(far, sleeper))["status"] == "running"

    await wait_for(running, timeout=15)
    canceled = await fleet.api.post(f"/jobs/{sleeper}/cancel", headers=fleet.auth(far))
    assert canceled.json()["status"] == "canceled"
    # a job that fails for good reaches the dead-letter queue of its tenant's shard
    doomed = await fleet.submit(far, {"task_type": "fail", "max_retries": 0})

    async def dead() -> bool:
        return (await fleet.job(far, doomed))["status"] == "dead"

    await wait_for(dead, timeout=15)
    dlq = (await fleet.api.get("/dlq", headers=fleet.auth(far))).json()
    assert [d["id"] for d in dlq["data"]] == [doomed]
    stats = (await fleet.api.get("/stats", headers=fleet.auth("admin"))).json()
    assert stats["dlq_depth"] == 1
    # pausing a queue holds it on every shard
    paused = await fleet.api.post("/queues/default/pause", headers=fleet.auth("admin"))
    assert paused.json()["paused"] is True
    held = [await fleet.submit(name, {"task_type": "noop"}) for name in TENANTS]
    await asyncio.sleep(1.0)
    assert {(await fleet.job(n, j))["status"] for n, j in zip(TENANTS, held, strict=True)} == {
        "pending"
    }
    await fleet.api.post("/queues/default/resume", headers=fleet.auth("admin"))

    async def drained() -> bool:
        states = {(await fleet.job(n, j))["status"] for n, j in zip(TENANTS, held, strict=True)}
        return states == {"succeeded"}

    await wait_for(drained, timeout=15)


async def test_a_schedule_fires_into_its_tenants_shard(
    fleet: Fleet, sharded: Settings, processes: Processes
) -> None:
    far = await fleet.far_tenant()
    made = await fleet.api.post(
        "/schedules",
        json={"name": "tick", "cron": "* * * * * *", "task_type": "noop"},
        headers=fleet.auth(far),
    )
    assert made.status_code == 201, made.text
    processes.worker(sharded)
    home = (await fleet.shards.locate(far)).home

    async def fired() -> bool:
        listed = (await fleet.api.get("/jobs", headers=fleet.auth(far))).json()["data"]
        return any(j["status"] == "succeeded" for j in listed)

    await wait_for(fired, timeout=15)
    assert int(await home.redis.hget(home.keys.stats, "created_total") or 0) >= 1
    control = fleet.shards.control
    assert int(await control.redis.hget(control.keys.stats, "created_total") or 0) == 0


async def test_shards_can_grow_but_never_shrink(
    fleet: Fleet, sharded: Settings, make_settings: Callable[..., Settings], processes: Processes
) -> None:
    before = {name: await fleet.submit(name, {"task_type": "noop"}) for name in TENANTS}
    fewer = make_settings(SHARDS=2, KEY_PREFIX=sharded.KEY_PREFIX)
    shards = Shards(fewer, lambda tag: create_redis(fewer, shard=tag))
    try:
        with pytest.raises(ShardCountError, match="can grow but never shrink"):
            await shards.check_count()
    finally:
        await shards.aclose()
    worker = dtq(fewer, "worker", "--tasks", "dtq.demo_tasks")
    assert worker.returncode == 2
    assert "this data has SHARDS=4" in worker.stderr

    more = make_settings(SHARDS=2 * SHARDS, KEY_PREFIX=sharded.KEY_PREFIX)
    grown = Shards(more, lambda tag: create_redis(more, shard=tag))
    try:
        await grown.setup()
        assert grown.tags[:SHARDS] == fleet.shards.tags  # the old shards keep their names
        late = [await grown.create_tenant(TenantCreate(name=f"late{i}")) for i in range(SHARDS)]
        assert sorted(t.shard for t in late) == list(range(SHARDS, 2 * SHARDS))  # the new ones
        processes.worker(more)

        async def all_done() -> bool:
            totals = await grown.each(lambda e: e.redis.hget(e.keys.stats, "completed_total"))
            return sum(int(t or 0) for t in totals) == len(TENANTS)

        await wait_for(all_done, timeout=30)  # the jobs placed before it grew run where they are
        for name, job_id in before.items():
            assert (await fleet.job(name, job_id))["status"] == "succeeded"
        for t in late:
            home = (await grown.locate(t.name)).home
            job = await home.producer.enqueue(JobCreate(task_type="noop"), t.name)
            assert grown.engines.index(home) == t.shard

            async def ran(home: Engine = home, job_id: str = job.id, tenant: str = t.name) -> bool:
                return (await home.jobs.get(job_id, tenant)).status == "succeeded"

            await wait_for(ran, timeout=15)
    finally:
        await grown.aclose()


async def test_tenants_are_placed_the_same_through_the_cli(sharded: Settings) -> None:
    shards = Shards(sharded, lambda tag: create_redis(sharded, shard=tag))
    try:
        await shards.setup()
        made = [await shards.create_tenant(TenantCreate(name=f"t{i}")) for i in range(SHARDS)]
        assert sorted(t.shard for t in made) == list(range(SHARDS))
        cli = dtq(sharded, "admin", "create-tenant", "late")
        assert cli.returncode == 0, cli.stderr
        assert (await shards.control.tenants.get("late")).shard == 0
        cli = dtq(sharded, "admin", "create-tenant", "wide", "--spread", "--max-concurrency", "8")
        assert cli.returncode == 0, cli.stderr
        wide = await shards.control.tenants.get("wide")
        assert wide.spread and wide.shard == 0  # its bucket on the first, its jobs on every one
        assert wide.spread_over == SHARDS
        for engine in shards.engines:  # its definition everywhere (dispatch splits its cap)
            assert await engine.redis.hexists(engine.keys.tenants, "wide")
        listed = dtq(sharded, "admin", "list")
        shard_of = {line.split()[0]: line.split()[-1] for line in listed.stdout.splitlines()}
        assert shard_of == {"late": "shard=0", "wide": f"shard=0-{SHARDS - 1}"} | {
            t.name: f"shard={t.shard}" for t in made
        }
    finally:
        await shards.aclose()


async def test_a_queue_known_on_one_shard_is_read_there_and_paused_everywhere(
    fleet: Fleet,
) -> None:
    far = await fleet.far_tenant()
    home = (await fleet.shards.locate(far)).home
    await fleet.submit(far, {"task_type": "noop", "queue": "emails"})
    admin = fleet.auth("admin")
    info = (await fleet.api.get("/queues/emails", headers=admin)).json()
    assert (info["name"], info["pending"], info["paused"]) == ("emails", 1, False)
    knows = [await e.redis.sismember(e.keys.queues, "emails") for e in fleet.shards.engines]
    assert knows == [e is home for e in fleet.shards.engines]  # a read wrote nothing elsewhere
    assert (await fleet.api.get("/queues/nope", headers=admin)).status_code == 404
    paused = await fleet.api.post("/queues/emails/pause", headers=admin)
    assert paused.json()["paused"] is True
    for e in fleet.shards.engines:  # where later jobs of other tenants land, too
        assert await e.redis.exists(e.keys.queue("emails").paused) == 1
