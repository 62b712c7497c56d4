"""Tenants and API keys: every route x every kind of credential, isolation, admin, CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from dtq.api.main import create_app
from dtq.config import Settings
from dtq.errors import SettingsError
from dtq.models import JobCreate, TenantCreate
from dtq.queue import Engine
from dtq.redis_client import create_redis
from tests.conftest import ROOT, settings_env, wait_for

ADMIN = "a" * 40
JOB_ID = "job-of-a"


class Tenancy:
    """Two tenants, a live key each, a revoked key of A's, and an API client."""

    def __init__(self, api: httpx.AsyncClient, engine: Engine, keys: dict[str, str]) -> None:
        self.api = api
        self.engine = engine
        self.keys = keys

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture
async def tenancy(make_settings: Callable[..., Settings]) -> AsyncIterator[Tenancy]:
    settings = make_settings(AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engine: Engine = app.state.engine
        for name in ("acme", "globex"):
            await engine.tenants.create(TenantCreate(name=name))
        revoked = await engine.tenants.create_key("acme")
        await engine.tenants.revoke_key(revoked.key_id)
        keys = {
            "acme": (await engine.tenants.create_key("acme")).key,
            "globex": (await engine.tenants.create_key("globex")).key,
            "revoked": revoked.key,
            "malformed": "dtq_not-a-key",
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as client:
            yield Tenancy(client, engine, keys)


# A valid request of each tenant route. Paths name acme's resources: job JOB_ID, schedule
# "nightly"; `own` says whether another tenant's key must get 404 (it names acme's resource)
# or a 2xx that shows none of acme's data (a collection).
ROUTES: list[tuple[str, str, dict[str, Any] | None, bool]] = [
    ("POST", "/jobs", {"task_type": "noop"}, False),
    ("POST", "/jobs/batch", {"jobs": [{"task_type": "noop"}]}, False),
    ("GET", "/jobs", None, False),
    ("GET", f"/jobs/{JOB_ID}", None, True),
    ("GET", f"/jobs/{JOB_ID}/result", None, True),
    ("GET", f"/jobs/{JOB_ID}/timeline", None, True),
    ("GET", f"/jobs/{JOB_ID}/events", None, True),  # the timeline's deprecated path
    ("POST", f"/jobs/{JOB_ID}/cancel", None, True),
    ("GET", "/dlq", None, False),
    ("POST", "/dlq/retry", {"dry_run": True}, False),
    ("POST", f"/dlq/{JOB_ID}/retry", None, True),
    ("DELETE", f"/dlq/{JOB_ID}", None, True),
    ("POST", "/schedules", {"name": "hourly", "cron": "0 * * * *", "task_type": "noop"}, False),
    ("GET", "/schedules", None, False),
    ("GET", "/schedules/nightly", None, True),
    ("DELETE", "/schedules/nightly", None, True),
    ("GET", "/tenant", None, False),
]


def test_the_matrix_covers_every_tenant_route() -> None:
    app = create_app(Settings(_env_file=None, REDIS_URL="redis://unused"))  # type: ignore[call-arg]
    routes = {
        (method.upper(), path)
        for path, methods in app.openapi()["paths"].items()
        for method in methods
    }
    tenant_routes = {
        (m, p)
        for m, p in routes
        if not p.startswith(("/health", "/admin", "/stats", "/queues", "/workers", "/metrics"))
        and p != "/"
    }
    covered = {
        (m, p.replace(JOB_ID, "{job_id}").replace("nightly", "{name}")) for m, p, _, _ in ROUTES
    }
    assert tenant_routes == covered


async def _acme_resources(t: Tenancy, dead: bool = True) -> None:
    """Acme's job JOB_ID (dead, or pending) and schedule `nightly`."""
    e = t.engine
    await e.producer.enqueue(JobCreate(id=JOB_ID, task_type="noop", max_retries=0), "acme")
    if not dead:
        return
    (entry,) = await e.consumer("c").read(1, 0)
    (delivery,) = await e.consumer("c").start([entry])
    from dtq.queue import Failure

    await e.consumer("c").settle([], [Failure(delivery, "boom", 0)])
    from dtq.models import ScheduleCreate

    await e.schedules.put(
        ScheduleCreate(name="nightly", cron="0 3 * * *", task_type="noop"), "acme"
    )


@pytest.mark.parametrize(("method", "path", "body", "own"), ROUTES)
async def test_every_route_by_credential(
    tenancy: Tenancy, method: str, path: str, body: dict[str, Any] | None, own: bool
) -> None:
    t = tenancy
    await _acme_resources(t, dead=not path.endswith("/cancel"))
    expect = {
        None: 401,
        "malformed": 401,
        "revoked": 401,
        "globex": 404 if own else "2xx",
        "acme": "2xx",
    }
    for who, wanted in expect.items():
        headers = t.auth(who) if who else {}
        r = await t.api.request(method, path, json=body, headers=headers)
        if wanted == "2xx":
            assert 200 <= r.status_code < 300, (who, r.status_code, r.text)
            if who == "globex":  # a collection seen by another tenant shows nothing of acme's
                assert JOB_ID not in r.text and "nightly" not in r.text
        else:
            assert r.status_code == wanted, (who, r.status_code, r.text)
        if wanted == 401:
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        if wanted == 404:  # exactly like a job or schedule that does not exist
            missing = path.replace(JOB_ID, "no-such-job").replace("nightly", "no-such")
            other = await t.api.request(method, missing, json=body, headers=t.auth("acme"))
            assert other.status_code == 404
            assert r.json()["code"] == other.json()["code"]
    if method == "GET" or not own:  # else acme's own request, the last, changed it on purpose
        job = await t.engine.jobs.get(JOB_ID, "acme")
        assert job.status == ("pending" if path.endswith("/cancel") else "dead")


async def test_a_tenant_sees_its_limits_and_load_and_the_operator_sees_every_busy_one(
    tenancy: Tenancy,
) -> None:
    t = tenancy
    admin = {"Authorization": f"Bearer {ADMIN}"}
    limits = {"max_concurrency": 2, "weight": 3}
    r = await t.api.post("/admin/tenants/acme/limits", json=limits, headers=admin)
    assert r.status_code == 200
    await t.engine.producer.enqueue_many([JobCreate(task_type="noop")] * 5, "acme")
    assert len(await t.engine.consumer("c").read(10, 0)) == 2  # the cap
    mine = (await t.api.get("/tenant", headers=t.auth("acme"))).json()
    assert mine["name"] == "acme" and (mine["queued"], mine["running"]) == (3, 2)
    assert (mine["max_concurrency"], mine["weight"]) == (2, 3)
    theirs = (await t.api.get("/tenant", headers=t.auth("globex"))).json()
    assert (theirs["name"], theirs["queued"], theirs["running"]) == ("globex", 0, 0)
    assert theirs["max_concurrency"] is None and theirs["weight"] == 1
    metrics = (await t.api.get("/stats", headers=admin)).json()
    assert [(u["name"], u["queued"], u["running"]) for u in metrics["tenants"]] == [("acme", 3, 2)]


async def test_a_small_tenants_listing_is_whole_however_many_jobs_others_have(
    tenancy: Tenancy,
) -> None:
    t = tenancy
    mine = await t.engine.producer.enqueue_many([JobCreate(task_type="noop")] * 3, "acme")
    noise = [JobCreate(task_type="noop")] * 1000
    for _ in range(6):  # newer than acme's, and more than one listing scan budget (5,000)
        await t.engine.producer.enqueue_many(noise, "globex")
    page = (await t.api.get("/jobs", params={"limit": 10}, headers=t.auth("acme"))).json()
    assert [j["id"] for j in page["data"]] == mine[::-1]
    assert page["next_cursor"] is None
    theirs = (await t.api.get("/jobs", params={"limit": 500}, headers=t.auth("globex"))).json()
    assert len(theirs["data"]) == 500 and not set(mine) & {j["id"] for j in theirs["data"]}


async def test_each_tenant_chooses_job_ids_in_its_own_namespace(
    tenancy: Tenancy, start_worker
) -> None:
    t = tenancy
    job = {"id": "invoice-42", "task_type": "whoami"}
    for who in ("acme", "globex"):  # the same id: no 409, nothing learned about the other
        r = await t.api.post("/jobs", json=job, headers=t.auth(who))
        assert r.status_code == 201 and r.json()["id"] == "invoice-42", r.text
    again = await t.api.post("/jobs", json=job, headers=t.auth("acme"))
    assert again.status_code == 409  # a tenant's own ids stay unique
    child = {"id": "child", "task_type": "whoami", "depends_on": ["invoice-42"]}
    made = await t.api.post("/jobs", json=child, headers=t.auth("globex"))
    assert made.json()["depends_on"] == ["invoice-42"]
    bad = {"id": "bad", "task_type": "fail", "max_retries": 0}
    await t.api.post("/jobs", json=bad, headers=t.auth("acme"))
    start_worker(engine_=t.engine)

    async def result(who: str, job_id: str) -> Any:
        async def finished() -> Any:
            r = await t.api.get(f"/jobs/{job_id}/result", headers=t.auth(who))
            return r.json() if r.status_code == 200 else None

        return await wait_for(finished)

    # Handlers see the ids the tenant chose, and parents by those ids.
    assert (await result("globex", "child"))["result"] == {
        "job_id": "child",
        "parents": ["invoice-42"],
    }
    assert (await result("acme", "invoice-42"))["result"]["job_id"] == "invoice-42"
    assert (await result("acme", "bad"))["status"] == "dead"
    theirs = await t.api.get("/jobs/invoice-42", headers=t.auth("globex"))
    assert (theirs.json()["id"], theirs.json()["tenant"]) == ("invoice-42", "globex")
    listed = (await t.api.get("/jobs", headers=t.auth("globex"))).json()
    assert sorted(j["id"] for j in listed["data"]) == ["child", "invoice-42"]
    dead = (await t.api.get("/dlq", headers=t.auth("acme"))).json()
    assert [d["id"] for d in dead["data"]] == ["bad"]
    retried = await t.api.post("/dlq/bad/retry", headers=t.auth("acme"))
    assert retried.status_code == 200 and retried.json()["id"] == "bad"
    assert (await t.api.post("/dlq/bad/retry", headers=t.auth("globex"))).status_code == 404


async def test_metrics_and_admin_routes_take_the_admin_key(tenancy: Tenancy) -> None:
    t = tenancy
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert (await t.api.get("/stats")).status_code == 401
    assert (await t.api.get("/stats", headers=t.auth("acme"))).status_code == 403
    assert (await t.api.get("/stats", headers=admin)).status_code == 200
    for method, path in [
        ("GET", "/queues"),
        ("POST", "/queues/default/pause"),
        ("GET", "/workers"),
        ("GET", "/stats/history"),
    ]:
        assert (await t.api.request(method, path)).status_code == 401
        assert (await t.api.request(method, path, headers=t.auth("acme"))).status_code == 403
    assert (await t.api.get("/queues/default", headers=admin)).json()["paused"] is False
    for method, path in [
        ("GET", "/admin/tenants"),
        ("POST", "/admin/tenants/acme/keys"),
        ("GET", "/admin/keys"),
    ]:
        assert (await t.api.request(method, path)).status_code == 401
        assert (await t.api.request(method, path, headers=t.auth("acme"))).status_code == 401
    listed = (await t.api.get("/admin/tenants", headers=admin)).json()
    assert [x["name"] for x in listed["data"]] == ["acme", "globex"]
    made = await t.api.post("/admin/tenants", json={"name": "initech", "burst": 5}, headers=admin)
    assert made.status_code == 201
    assert (
        await t.api.post("/admin/tenants", json={"name": "initech"}, headers=admin)
    ).status_code == 409
    key = (await t.api.post("/admin/tenants/initech/keys", headers=admin)).json()
    ok = await t.api.post(
        "/jobs", json={"task_type": "noop"}, headers={"Authorization": f"Bearer {key['key']}"}
    )
    assert ok.status_code == 201 and ok.json()["tenant"] == "initech"
    keys = (await t.api.get("/admin/keys", params={"tenant": "initech"}, headers=admin)).json()
    assert [k["key_id"] for k in keys["data"]] == [key["key_id"]]
    assert key["key"] not in str(keys)
    stored = await t.engine.redis.hgetall(t.engine.keys.api_keys)
    assert key["key"] not in str(stored)  # only its hash is kept
    assert (await t.api.delete(f"/admin/keys/{key['key_id']}", headers=admin)).status_code == 204
    after = await t.api.get("/jobs", headers={"Authorization": f"Bearer {key['key']}"})
    assert after.status_code == 401
    assert (
        await t.api.post("/admin/tenants", json={"name": "Bad:Name"}, headers=admin)
    ).status_code == 422


async def test_tenants_have_their_own_ids_keys_parents_and_dead_letters(tenancy: Tenancy) -> None:
    t = tenancy
    await _acme_resources(t)  # first: it fails the first job of the stream
    a, g = t.auth("acme"), t.auth("globex")
    body = {"task_type": "noop", "payload": {"n": 1}}
    first = await t.api.post("/jobs", json=body, headers=a | {"Idempotency-Key": "k1"})
    second = await t.api.post("/jobs", json=body, headers=g | {"Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == 201  # the same key, two tenants: two jobs
    assert first.json()["id"] != second.json()["id"]
    parent = first.json()["id"]
    child = await t.api.post("/jobs", json={"task_type": "noop", "depends_on": [parent]}, headers=g)
    assert child.status_code == 422 and child.json()["code"] == "unknown_parent"
    own = await t.api.post("/jobs", json={"task_type": "noop", "depends_on": [parent]}, headers=a)
    assert own.status_code == 201 and own.json()["status"] == "waiting"
    assert (await t.api.get("/dlq", headers=g)).json()["count"] == 0
    assert [d["id"] for d in (await t.api.get("/dlq", headers=a)).json()["data"]] == [JOB_ID]
    dry = await t.api.post("/dlq/retry", json={"dry_run": True}, headers=g)
    assert dry.json()["matched"] == 0
    listed = (await t.api.get("/jobs", headers=g)).json()["data"]
    assert {j["tenant"] for j in listed} == {"globex"}


async def test_bad_ids_and_bodies_are_refused_before_redis(tenancy: Tenancy) -> None:
    t = tenancy
    a = t.auth("acme")
    for bad in ["a:b", "a*", "a{b}", "a\nb", "x" * 10_000]:
        r = await t.api.get(f"/jobs/{quote(bad, safe='')}", headers=a)
        assert r.status_code == 422, bad
        r = await t.api.post("/jobs", json={"task_type": "noop", "id": bad}, headers=a)
        assert r.status_code == 422, bad
    deep: Any = {}
    for _ in range(100):
        deep = {"a": deep}
    r = await t.api.post("/jobs", json={"task_type": "noop", "payload": deep}, headers=a)
    assert r.status_code == 422 and r.json()["code"] == "json_too_deep"
    # Integers are 64-bit: the largest is kept exactly, a 70-bit one is refused (not rounded);
    # a lone surrogate has no UTF-8 form.
    top = await t.api.post(
        "/jobs", json={"task_type": "noop", "payload": {"n": 2**63 - 1}}, headers=a
    )
    assert top.status_code == 201
    assert (await t.api.get(f"/jobs/{top.json()['id']}", headers=a)).json()["payload"] == {
        "n": 2**63 - 1
    }
    big = await t.api.post("/jobs", json={"task_type": "noop", "payload": {"n": 2**70}}, headers=a)
    assert big.status_code == 422 and big.json()["code"] == "json_number_out_of_range"
    lone = b'{"task_type": "noop", "payload": {"s": "\\ud800"}}'
    r = await t.api.post("/jobs", content=lone, headers=a | {"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_json"
    # Brackets inside strings are text, not nesting.
    ok = await t.api.post(
        "/jobs", json={"task_type": "noop", "payload": {"s": "[" * 500}}, headers=a
    )
    assert ok.status_code == 201


def test_production_refuses_auth_disabled_and_default_secrets(
    make_settings: Callable[..., Settings],
) -> None:
    for overrides in (
        {"AUTH_DISABLED": True},
        {"AUTH_DISABLED": False, "ADMIN_API_KEY": "changeme"},
        {"AUTH_DISABLED": False, "ADMIN_API_KEY": "short"},
    ):
        with pytest.raises(SettingsError, match="refusing to serve production"):
            create_app(make_settings(ENVIRONMENT="production", **overrides))
    create_app(make_settings(ENVIRONMENT="production", AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN))
    env = settings_env(make_settings(ENVIRONMENT="production", AUTH_DISABLED=True))
    proc = subprocess.run(
        [sys.executable, "-m", "dtq.api"], env=env, cwd=ROOT, capture_output=True, timeout=30
    )
    assert proc.returncode == 2 and b"AUTH_DISABLED" in proc.stderr


async def test_admin_cli_creates_tenants_and_keys_that_work(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(AUTH_DISABLED=False)
    env = settings_env(settings)

    def admin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dtq.admin", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert admin("create-tenant", "acme", "--burst", "10").returncode == 0
    assert admin("create-tenant", "acme").returncode == 1  # taken
    assert admin("create-tenant", "Not Valid").returncode == 2
    assert admin("create-key", "nobody").returncode == 1
    made = admin("create-key", "acme")
    assert made.returncode == 0
    key = made.stdout.strip().splitlines()[-1]
    listing = admin("list")
    assert "acme" in listing.stdout and "burst=10" in listing.stdout and key not in listing.stdout
    redis = create_redis(settings)
    engine = Engine(redis, settings)
    await engine.load_scripts()
    tenant = await engine.tenants.authenticate(key)
    assert tenant is not None and tenant.name == "acme" and tenant.burst == 10
    key_id = key.split("_")[1]
    assert admin("revoke-key", key_id).returncode == 0
    # This engine remembers the key it found valid for AUTH_CACHE_S; then it is refused.
    await asyncio.sleep(settings.AUTH_CACHE_S)
    assert await engine.tenants.authenticate(key) is None
    assert admin("revoke-key", key_id).returncode == 1
    assert admin("revoke-key", "x;FLUSHALL").returncode == 2
    await redis.aclose()


async def test_an_authorization_header_without_bearer_says_so(tenancy: Tenancy) -> None:
    t = tenancy
    for header, says in [
        (f"Token {t.keys['acme']}", "the Authorization scheme is 'Token'"),
        (t.keys["acme"], "the Authorization header has no scheme"),
        ("", "missing API key"),
    ]:
        answer = await t.api.get("/jobs", headers={"Authorization": header})
        assert answer.status_code == 401 and says in answer.json()["detail"], header
    admin = await t.api.get("/admin/tenants", headers={"Authorization": f"Basic {ADMIN}"})
    assert "the Authorization scheme is 'Basic'" in admin.json()["detail"]


async def test_the_root_points_to_the_docs(tenancy: Tenancy) -> None:
    index = (await tenancy.api.get("/")).json()
    assert index["docs"] == "/docs" and (await tenancy.api.get(index["docs"])).status_code == 200
