"""The edges an attacker tries (issue 16), each against the app with keys on: limits that
cannot be walked around, no 500 from any input, nothing parsed before it is authorised."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from dtq.api.main import create_app
from dtq.config import Settings
from dtq.models import TenantCreate
from dtq.queue import Engine
from tests.conftest import wait_for

ADMIN = "h" * 40
EVERY_SECOND = "* * * * * *"


class Keyed:
    """An app with keys on, one tenant `acme` (rate 2/s, burst 5) and its key."""

    def __init__(self, api: httpx.AsyncClient, engine: Engine, key: str) -> None:
        self.api = api
        self.engine = engine
        self.auth = {"Authorization": f"Bearer {key}"}
        self.admin = {"Authorization": f"Bearer {ADMIN}"}

    async def stored(self) -> int:
        """Jobs created so far (every path that stores a job counts it)."""
        return int(await self.engine.redis.hget(self.engine.keys.stats, "created_total") or 0)


async def _keyed(settings: Settings) -> AsyncIterator[Keyed]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engine: Engine = app.state.engine
        await engine.tenants.create(TenantCreate(name="acme", rate_per_s=2, burst=5))
        key = (await engine.tenants.create_key("acme")).key
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as client:
            yield Keyed(client, engine, key)


@pytest.fixture
async def keyed(make_settings: Callable[..., Settings]) -> AsyncIterator[Keyed]:
    async for k in _keyed(
        make_settings(AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN, SCHEDULES_PER_TENANT=4)
    ):
        yield k


def _schedule(name: str, cron: str = EVERY_SECOND) -> dict[str, Any]:
    return {"name": name, "cron": cron, "task_type": "noop"}


# --- 1. schedules, redrives and the dev endpoint count against the tenant's limits ---


async def test_schedules_may_not_fire_faster_than_the_tenants_rate(keyed: Keyed) -> None:
    # acme may submit 2 a second: two every-second schedules fill that; a third is refused.
    for name in ("a", "b"):
        r = await keyed.api.post("/schedules", json=_schedule(name), headers=keyed.auth)
        assert r.status_code == 201, r.text
    r = await keyed.api.post("/schedules", json=_schedule("c"), headers=keyed.auth)
    assert r.status_code == 422 and r.json()["code"] == "schedule_limit"
    assert "7200 times an hour" in r.json()["detail"]
    # Replacing one with a slower cron frees its share; deleting one frees it all.
    r = await keyed.api.post("/schedules", json=_schedule("b", "* * * * *"), headers=keyed.auth)
    assert r.status_code == 200
    assert (await keyed.api.delete("/schedules/a", headers=keyed.auth)).status_code == 204
    r = await keyed.api.post("/schedules", json=_schedule("c"), headers=keyed.auth)
    assert r.status_code == 201
    names = [
        s["name"] for s in (await keyed.api.get("/schedules", headers=keyed.auth)).json()["data"]
    ]
    assert names == ["b", "c"]


async def test_a_tenant_has_at_most_schedules_per_tenant(keyed: Keyed) -> None:
    hourly = "0 * * * *"
    codes = []
    for i in range(5):
        await keyed.engine.redis.delete(keyed.engine.keys.submit_bucket("acme"))  # a full bucket
        r = await keyed.api.post("/schedules", json=_schedule(f"s{i}", hourly), headers=keyed.auth)
        codes.append(r.status_code)
    assert codes == [201, 201, 201, 201, 422]
    assert "SCHEDULES_PER_TENANT 4" in r.json()["detail"]


async def test_creating_schedules_takes_from_the_rate_limit(keyed: Keyed) -> None:
    codes = [
        (
            await keyed.api.post("/schedules", json=_schedule("s", "0 * * * *"), headers=keyed.auth)
        ).status_code
        for _ in range(6)
    ]
    assert codes == [201, 200, 200, 200, 200, 429]  # burst 5


async def test_a_firing_takes_its_job_from_the_rate_limit(keyed: Keyed) -> None:
    engine, k = keyed.engine, keyed.engine.keys
    r = await keyed.api.post("/schedules", json=_schedule("tick"), headers=keyed.auth)
    assert r.status_code == 201
    before = await keyed.stored()
    # Spend the rest of acme's bucket, then make the schedule due: its tick is skipped.
    while (
        await keyed.api.post("/jobs", json={"task_type": "noop"}, headers=keyed.auth)
    ).status_code == 201:
        pass
    spent = await keyed.stored()
    (stored,) = await engine.redis.zrange(k.schedules_due, 0, -1)
    now_ms = int((await engine.redis.time())[0]) * 1000
    await engine.redis.zadd(k.schedules_due, {stored: now_ms - 10})
    assert await engine.schedules.fire_due() == 0
    assert await keyed.stored() == spent
    # Once the bucket has refilled, the next tick fires.
    await engine.redis.delete(k.submit_bucket("acme"))
    now_ms = int((await engine.redis.time())[0]) * 1000
    await engine.redis.zadd(k.schedules_due, {stored: now_ms - 10})
    assert await engine.schedules.fire_due() == 1
    assert await keyed.stored() == spent + 1 > before


async def test_a_redrive_takes_from_the_rate_limit(keyed: Keyed, start_worker) -> None:
    start_worker(engine_=keyed.engine)
    r = await keyed.api.post(
        "/jobs/batch",
        json={"jobs": [{"task_type": "fail", "max_retries": 0}] * 3},
        headers=keyed.auth,
    )
    assert r.status_code == 201
    ids = r.json()["ids"]

    async def all_dead() -> bool:
        page = (await keyed.api.get("/dlq", headers=keyed.auth)).json()
        return len(page["data"]) == 3

    await wait_for(all_dead)
    await keyed.engine.redis.delete(keyed.engine.keys.submit_bucket("acme"))
    # A bulk retry takes one submission per job it sends back; with the bucket empty a single
    # retry is 429.
    bulk = await keyed.api.post("/dlq/retry", json={"limit": 1}, headers=keyed.auth)
    assert bulk.status_code == 200 and bulk.json()["retried"] == 1
    assert bulk.headers["ratelimit-remaining"] == "4"
    now_ms = int((await keyed.engine.redis.time())[0]) * 1000 + 1000
    await keyed.engine.redis.hset(
        keyed.engine.keys.submit_bucket("acme"), mapping={"tokens": 0, "at": now_ms}
    )
    refused = await keyed.api.post(f"/dlq/{ids[1]}/retry", headers=keyed.auth)
    assert refused.status_code == 429


async def test_the_dev_endpoint_is_off_unless_development_is_explicit(
    make_settings: Callable[..., Settings],
) -> None:
    for env, served in (("test", False), ("production", False), ("development", True)):
        settings = make_settings(ENVIRONMENT=env, AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN)
        assert settings.dev_routes is served
    implicit = Settings(_env_file=None, REDIS_URL="redis://unused")  # type: ignore[call-arg]
    assert implicit.ENVIRONMENT == "development" and implicit.dev_routes is False


async def test_the_dev_endpoint_answers_only_the_admin_key(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(ENVIRONMENT="development", AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN)
    async for k in _keyed(settings):
        body = {"count": 1000, "task_type": "echo", "tenant": "acme"}
        r = await k.api.post("/dev/generate-jobs", json=body, headers=k.auth)
        assert r.status_code == 401 and await k.stored() == 0
        r = await k.api.post("/dev/generate-jobs", json=body | {"count": 100_001}, headers=k.admin)
        assert r.status_code == 422 and await k.stored() == 0
        r = await k.api.post("/dev/generate-jobs", json=body, headers=k.admin)
        assert r.status_code == 201 and await k.stored() == 1000
        job = await k.api.get(f"/jobs/{r.json()['last_id']}", headers=k.auth)
        assert job.status_code == 200 and job.json()["tenant"] == "acme"


async def test_dev_generate_jobs_with_auth_disabled(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(ENVIRONMENT="development"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as api:
            r = await api.post(
                "/dev/generate-jobs",
                json={
                    "count": 2500,
                    "task_type": "echo",
                    "partition_key_prefix": "load",
                    "payload_template": {"size": 1},
                },
            )
            assert r.status_code == 201 and r.json()["batches"] == 3
            engine: Engine = app.state.engine
            assert await engine.redis.xlen(engine.keys.stream) == 2500
            job = (await api.get(f"/jobs/{r.json()['last_id']}")).json()
            assert job["partition_key"] == "load-2499" and job["payload"] == {"size": 1}


# --- 3-5. one strict JSON reader ---

BAD_BODIES: list[tuple[bytes, int, str]] = [
    (b'{"task_type": "noop", "timeout_s": 1e400}', 422, "invalid_json"),
    (b'{"task_type": "noop", "max_retries": NaN}', 422, "invalid_json"),
    (b'{"task_type": "noop", "payload": {"x": NaN}}', 422, "invalid_json"),
    (b'{"task_type": "noop", "payload": {"x": Infinity}}', 422, "invalid_json"),
    (b'{"task_type": "noop", "payload": {"x": -Infinity}}', 422, "invalid_json"),
    (b'{"task_type": "noop", "payload": {"x": 1e400}}', 422, "invalid_json"),
    (
        b'{"task_type": "noop", "payload": {"x": %d}}' % (2**70 + 123),
        422,
        "json_number_out_of_range",
    ),
    (
        b'{"task_type": "noop", "payload": {"x": -%d}}' % (2**63 + 1),
        422,
        "json_number_out_of_range",
    ),
    (
        b'{"task_type": "noop", "payload": {"x": %d}}' % 2**63,  # an int to orjson, still too big
        422,
        "json_number_out_of_range",
    ),
    (b'{"task_type":"echo","task_type":"fail"}', 422, "json_duplicate_key"),
    (b'{"task_type":"echo","payload":{"a":1,"b":{"c":1,"c":2}}}', 422, "json_duplicate_key"),
    (b'{"task_type":"echo","payload":{"l":[{"a":1},{"a":1,"a":2}]}}', 422, "json_duplicate_key"),
    (b'{"task_type":"a:b","payload":{"k:\\":":1,"k:\\":":2}}', 422, "json_duplicate_key"),
    (b'{"task_type": "noop", "payload": {"x": "\xff"}}', 400, "invalid_encoding"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_BODIES)
async def test_the_strict_reader_refuses_and_stores_nothing(
    keyed: Keyed, body: bytes, status: int, code: str
) -> None:
    headers = keyed.auth | {"content-type": "application/json"}
    r = await keyed.api.post("/jobs", content=body, headers=headers)
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert await keyed.stored() == 0


async def test_colons_and_quotes_in_strings_are_no_members(keyed: Keyed) -> None:
    """The fast pass counts members by the colons outside strings: these are inside."""
    payload = {"url": "http://h:80/a", 'k:"x"': ["a:b", {"\\": "\\:"}], "big": 1e19, "e": {}}
    r = await keyed.api.post(
        "/jobs", json={"task_type": "noop", "payload": payload}, headers=keyed.auth
    )
    assert r.status_code == 201, r.text
    job = await keyed.api.get(f"/jobs/{r.json()['id']}", headers=keyed.auth)
    assert job.json()["payload"] == payload


async def test_64_bit_integers_are_kept_exactly(keyed: Keyed) -> None:
    payload = {"max": 2**63 - 1, "min": -(2**63), "float": 1.5e300}
    r = await keyed.api.post(
        "/jobs", json={"task_type": "noop", "payload": payload}, headers=keyed.auth
    )
    assert r.status_code == 201
    job = await keyed.api.get(f"/jobs/{r.json()['id']}", headers=keyed.auth)
    assert job.json()["payload"] == payload


@pytest.mark.parametrize(
    "content_type",
    ["Application/JSON", "APPLICATION/JSON; charset=UTF-8", "application/vnd.x+json"],
)
async def test_the_depth_limit_holds_for_any_spelling_of_json(
    keyed: Keyed, content_type: str
) -> None:
    deep: Any = 1
    for _ in range(100):
        deep = {"a": deep}
    body = orjson.dumps({"task_type": "noop", "payload": deep})
    r = await keyed.api.post(
        "/jobs", content=body, headers=keyed.auth | {"content-type": content_type}
    )
    assert r.status_code == 422 and r.json()["code"] == "json_too_deep"
    assert await keyed.stored() == 0


async def test_a_body_that_is_not_json_is_415_and_never_echoed(keyed: Keyed) -> None:
    body = b"x" * (512 * 1024)
    r = await keyed.api.post(
        "/jobs", content=body, headers=keyed.auth | {"content-type": "text/plain"}
    )
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    assert len(r.content) < 300


async def test_a_422_quotes_only_an_excerpt_of_the_input(keyed: Keyed) -> None:
    r = await keyed.api.post(
        "/jobs",
        json={"task_type": "x" * 60_000, "payload": {"a": "b" * 60_000}},
        headers=keyed.auth,
    )
    assert r.status_code == 422 and len(r.content) < 2000, len(r.content)
    assert r.json()["detail"][0]["loc"] == ["body", "task_type"]
    r = await keyed.api.post("/jobs", json=["y" * 100_000], headers=keyed.auth)
    assert r.status_code == 422 and len(r.content) < 2000


# --- 6. authentication before the body; per-route body limits ---


async def _asgi_call(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, bool]:
    """POST `body` straight to the ASGI app; its status and whether it read the body."""
    read = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"dtq"), (b"content-length", b"%d" % len(body)), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("dtq", 80),
    }
    await app(scope, receive, send)
    return status, read


async def test_no_body_is_read_before_the_caller_is_authenticated(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engine: Engine = app.state.engine
        await engine.tenants.create(TenantCreate(name="acme"))
        key = (await engine.tenants.create_key("acme")).key
        body = orjson.dumps([{"task_type": "noop"}] * 1000)
        for path in ("/jobs", "/jobs/batch", "/schedules", "/admin/tenants", "/nowhere"):
            for auth in ([], [(b"authorization", b"Bearer dtq_0123456789abcdef_" + b"x" * 43)]):
                assert await _asgi_call(app, path, auth, body) == (401, False), (path, auth)
        # With a key, a single job's route refuses a body over MAX_PAYLOAD_BYTES + 64 KiB
        # unread; a batch may be larger.
        mine = [
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
        ]
        big = b'{"jobs": [' + b",".join([b'{"task_type": "noop"}'] * 60_000) + b"]}"
        assert len(big) > settings.MAX_PAYLOAD_BYTES + 64 * 1024
        assert await _asgi_call(app, "/jobs", mine, big) == (413, False)
        status, read = await _asgi_call(app, "/jobs/batch", mine, big)
        assert read and status == 422  # read, and refused for its size as a batch (not a 413)


# --- 8. docs in production, reserved names ---


async def test_docs_are_off_in_production_unless_asked_for(
    make_settings: Callable[..., Settings],
) -> None:
    for env, docs, served in (
        ("production", None, False),
        ("production", True, True),
        ("development", None, True),
        ("development", False, False),
    ):
        settings = make_settings(
            ENVIRONMENT=env, AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN, API_DOCS=docs
        )
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as api:
            for path in ("/docs", "/redoc", "/openapi.json"):
                status = (await api.get(path)).status_code
                assert status == (200 if served else 404), (env, docs, path, status)


async def test_the_default_tenant_name_is_reserved(keyed: Keyed) -> None:
    r = await keyed.api.post("/admin/tenants", json={"name": "default"}, headers=keyed.admin)
    assert r.status_code == 422 and r.json()["code"] == "reserved_name"
    names = [
        t["name"]
        for t in (await keyed.api.get("/admin/tenants", headers=keyed.admin)).json()["data"]
    ]
    assert names == ["acme"]
