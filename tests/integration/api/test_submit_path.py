"""POST /jobs's fast path (dtq.api.submit_path) answers as the route does; what it does not
serve reaches the route; keys are remembered for AUTH_CACHE_S and no longer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from dtq.api import submit_path
from dtq.api.main import create_app
from dtq.config import Settings
from dtq.models import TenantCreate, TenantLimits
from dtq.queue import Engine, job_index
from dtq.queue.group_commit import GroupCommit
from dtq.redis_client import create_redis

ADMIN = "a" * 40
# A browser's request (CORS) goes through the full stack: the route's own answer.
BROWSER = {"Origin": "http://localhost:5173"}


@dataclass
class Keyed:
    api: httpx.AsyncClient
    engine: Engine
    settings: Settings
    auth: dict[str, str]
    key_id: str


@pytest.fixture
async def keyed(make_settings: Callable[..., Settings]) -> AsyncIterator[Keyed]:
    settings = make_settings(AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN, AUTH_CACHE_S=0.5)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engine: Engine = app.state.engine
        await engine.tenants.create(TenantCreate(name="acme", rate_per_s=1.0, burst=5))
        created = await engine.tenants.create_key("acme")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as client:
            auth = {"Authorization": f"Bearer {created.key}"}
            yield Keyed(client, engine, settings, auth, created.key_id)


def _same_shape(a: dict[str, object], b: dict[str, object]) -> None:
    skip = {"id", "created_at"}
    assert {k: v for k, v in a.items() if k not in skip} == {
        k: v for k, v in b.items() if k not in skip
    }
    assert list(a) == list(b)  # the same fields, in the same order


async def test_the_fast_path_answers_as_the_route_does(keyed: Keyed) -> None:
    body = {"task_type": "noop", "payload": {"n": 1}, "priority": "high", "max_retries": 2}
    fast = await keyed.api.post("/jobs", json=body, headers=keyed.auth)
    routed = await keyed.api.post("/jobs", json=body, headers=keyed.auth | BROWSER)
    assert fast.status_code == routed.status_code == 201, (fast.text, routed.text)
    _same_shape(fast.json(), routed.json())
    assert "access-control-allow-origin" in routed.headers  # that one did go through CORS
    for name in ("content-type", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
        assert name in fast.headers and name in routed.headers, name
    assert (
        fast.headers["ratelimit-remaining"] == "4" and routed.headers["ratelimit-remaining"] == "3"
    )

    # An idempotent replay: 200 and the original job, both ways.
    keyed_body = {"task_type": "noop", "payload": {"n": 2}}
    headers = keyed.auth | {"Idempotency-Key": "order-7"}
    first = await keyed.api.post("/jobs", json=keyed_body, headers=headers)
    again = await keyed.api.post("/jobs", json=keyed_body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]

    # Metrics count fast answers under the route's template.
    metrics = await keyed.api.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    assert 'dtq_http_requests_total{method="POST",route="/jobs",status="201"}' in metrics.text


async def test_what_the_fast_path_does_not_serve_gets_the_routes_answer(keyed: Keyed) -> None:
    api, auth = keyed.api, keyed.auth
    stored = await job_index.count(keyed.engine.redis, keyed.engine.keys.tenant_index("acme"))
    for body, headers in (
        ({"task_type": "bad type!"}, auth),  # fails validation
        ({"task_type": "noop", "max_retries": "3"}, auth),  # a string for a number
        ({"task_type": "noop"}, auth | {"Idempotency-Key": "\x7f"}),  # a bad header
    ):
        fast = await api.post("/jobs", json=body, headers=headers)
        routed = await api.post("/jobs", json=body, headers=headers | BROWSER)
        assert fast.status_code == routed.status_code == 422, (body, fast.text)
        assert fast.json() == routed.json()
    empty = await api.post("/jobs", content=b"", headers=auth)
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body"]
    admin = await api.post(
        "/jobs", json={"task_type": "noop"}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert admin.status_code == 401  # the admin key is not a tenant's: the route says so
    bad_key = await api.post("/jobs", json={"task_type": "noop"}, headers={"Authorization": "x"})
    assert bad_key.status_code == 401
    assert (
        await job_index.count(keyed.engine.redis, keyed.engine.keys.tenant_index("acme")) == stored
    )  # nothing stored
    # Each answer is counted once, under the route, whichever way it went.
    metrics = (await api.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})).text
    for status, times in (("422", 7), ("401", 2)):
        line = f'dtq_http_requests_total{{method="POST",route="/jobs",status="{status}"}}'
        assert f"{line} {times}.0" in metrics, (status, metrics)

    # A duplicate id is the route's 409, from the fast path's own error handling.
    assert (
        await api.post("/jobs", json={"id": "once", "task_type": "noop"}, headers=auth)
    ).status_code == 201
    dup = await api.post("/jobs", json={"id": "once", "task_type": "noop"}, headers=auth)
    assert dup.status_code == 409 and dup.json()["code"] == "duplicate_job"


async def test_an_unexpected_error_on_the_fast_path_is_the_apps_500(
    keyed: Keyed, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> Any:
        raise ValueError("a bug")

    monkeypatch.setattr(submit_path, "submit_job", broken)
    answer = await keyed.api.post("/jobs", json={"task_type": "noop"}, headers=keyed.auth)
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error", "code": "internal"}
    metrics = await keyed.api.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    assert 'dtq_http_requests_total{method="POST",route="/jobs",status="500"} 1.0' in metrics.text


async def test_over_the_rate_limit_is_429_and_stores_nothing(keyed: Keyed) -> None:
    answers = [
        await keyed.api.post("/jobs", json={"task_type": "noop"}, headers=keyed.auth)
        for _ in range(7)
    ]
    assert [a.status_code for a in answers] == [201] * 5 + [429] * 2
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited" and int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-remaining"] == "0"
    assert await job_index.count(keyed.engine.redis, keyed.engine.keys.tenant_index("acme")) == 5


async def test_a_key_revoked_elsewhere_stops_working_within_auth_cache_s(keyed: Keyed) -> None:
    ok = await keyed.api.post("/jobs", json={"task_type": "noop"}, headers=keyed.auth)
    assert ok.status_code == 201  # the key is remembered from here on
    other = create_redis(keyed.settings)  # another process's engine (the CLI, another API)
    try:
        await Engine(other, keyed.settings).tenants.revoke_key(keyed.key_id)
    finally:
        await other.aclose()
    await asyncio.sleep(keyed.settings.AUTH_CACHE_S + 0.1)
    gone = await keyed.api.post("/jobs", json={"task_type": "noop"}, headers=keyed.auth)
    assert gone.status_code == 401


async def test_a_key_revoked_through_this_process_stops_working_at_once(keyed: Keyed) -> None:
    assert (await keyed.api.get("/tenant", headers=keyed.auth)).status_code == 200
    admin = {"Authorization": f"Bearer {ADMIN}"}
    revoked = await keyed.api.delete(f"/admin/keys/{keyed.key_id}", headers=admin)
    assert revoked.status_code == 204, revoked.text
    assert (await keyed.api.get("/tenant", headers=keyed.auth)).status_code == 401


async def test_concurrent_submissions_share_round_trips(
    keyed: Keyed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Submissions made at once go together, one call per round trip; each keeps its own
    outcome (a duplicate id goes in a call of its own, after the first)."""
    trips: list[list[int]] = []  # per round trip, the jobs of each call
    real_trip, real_call = GroupCommit._round_trip, GroupCommit._call

    async def trip(self: GroupCommit, batch: list[Any]) -> None:
        trips.append([])
        await real_trip(self, batch)

    def call(self: GroupCommit, group: list[Any]) -> Any:
        trips[-1].append(len(group))
        return real_call(self, group)

    monkeypatch.setattr(GroupCommit, "_round_trip", trip)
    monkeypatch.setattr(GroupCommit, "_call", call)
    await keyed.engine.tenants.set_limits("acme", TenantLimits(rate_per_s=1000.0, burst=1000))
    warm = await keyed.api.post("/jobs", json={"task_type": "noop"}, headers=keyed.auth)
    assert warm.status_code == 201  # the key is remembered: nothing else to wait for
    trips.clear()
    bodies = [{"id": f"c{i}", "task_type": "noop"} for i in range(4)] + [
        {"id": "c0", "task_type": "noop"}  # a duplicate: its own 409, the others unharmed
    ]
    answers = await asyncio.gather(
        *(keyed.api.post("/jobs", json=b, headers=keyed.auth) for b in bodies)
    )
    assert sorted(a.status_code for a in answers) == [201, 201, 201, 201, 409]
    calls = [n for trip in trips for n in trip]
    assert sum(calls) == 5 and len(trips) < 5, trips
    assert max(calls) > 1, trips  # jobs shared a call
