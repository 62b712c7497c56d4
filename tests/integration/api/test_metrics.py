"""GET /metrics (keys on, the app in process): behind the admin key unless METRICS_PUBLIC; the
API's own requests by route and status, 429s by tenant, and the queue's state from Redis, read
at most once per METRICS_CACHE_S however many API instances are scraped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from dtq.api.main import create_app
from dtq.config import Settings
from dtq.models import JobCreate, TenantCreate
from dtq.queue import Engine

ADMIN = "m" * 40


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(name, sorted labels) -> value of every sample in an exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_need_the_admin_key_and_count_what_happened(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN, METRICS_CACHE_S=0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engine: Engine = app.state.engine
        await engine.tenants.create(TenantCreate(name="acme", rate_per_s=0.01, burst=3))
        key = (await engine.tenants.create_key("acme")).key
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as http:
            assert (await http.get("/metrics")).status_code == 401
            tenant = {"Authorization": f"Bearer {key}"}
            assert (await http.get("/metrics", headers=tenant)).status_code == 401
            body = {"task_type": "noop"}
            codes = [(await http.post("/jobs", json=body, headers=tenant)).status_code
                     for _ in range(5)]  # fmt: skip
            assert codes == [201, 201, 201, 429, 429]
            answer = await http.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    got = samples(answer.text)
    assert (
        got[
            ("dtq_http_requests_total", (("method", "POST"), ("route", "/jobs"), ("status", "201")))
        ]
        == 3
    )
    assert (
        got[
            ("dtq_http_requests_total", (("method", "POST"), ("route", "/jobs"), ("status", "429")))
        ]
        == 2
    )
    assert got[("dtq_rate_limited_total", (("tenant", "acme"),))] == 2
    assert (
        got[("dtq_http_request_duration_seconds_count", (("method", "POST"), ("route", "/jobs")))]
        == 5
    )
    assert got[("dtq_queue_pending", (("queue", "default"),))] == 3
    assert got[("dtq_tenant_queued", (("tenant", "acme"),))] == 3
    assert got[("dtq_live_workers", ())] == 0
    assert got[("dtq_feed_clients", ())] == 0
    assert got[("dtq_queue_state_up", ())] == 1


async def test_queue_state_is_read_once_per_interval_across_instances(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(AUTH_DISABLED=True, METRICS_CACHE_S=1.0)
    first, second = create_app(settings), create_app(settings)  # two API instances
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        engine: Engine = first.state.engine

        async def pending(app: object) -> float:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as http:
                text = (await http.get("/metrics")).text
            return samples(text)[("dtq_queue_pending", (("queue", "default"),))]

        await engine.producer.submit_many([JobCreate(task_type="noop")])
        assert await pending(first) == 1
        await engine.producer.submit_many([JobCreate(task_type="noop")])
        assert await pending(second) == 1  # the snapshot the first instance stored
        await asyncio.sleep(1.1)
        assert await pending(second) == 2


async def test_public_metrics(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN, METRICS_PUBLIC=True)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as http:
            assert (await http.get("/metrics")).status_code == 200


async def test_metrics_without_redis_still_count_the_api(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(AUTH_DISABLED=True, REDIS_URL="redis://127.0.0.1:1/0")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as http:
            assert (await http.get("/health/live")).status_code == 200
            answer = await http.get("/metrics")
    assert answer.status_code == 200
    got = samples(answer.text)
    assert got[("dtq_queue_state_up", ())] == 0
    assert ("dtq_queue_jobs", (("status", "pending"),)) not in got
    assert (
        got[
            (
                "dtq_http_requests_total",
                (("method", "GET"), ("route", "/health/live"), ("status", "200")),
            )
        ]
        == 1
    )
