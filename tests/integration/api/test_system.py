"""Health, metrics, DLQ paging and Redis outages."""

from __future__ import annotations

import httpx

from dtq.api.main import create_app
from dtq.embedded_redis import free_port
from dtq.queue import Engine


async def test_health(api) -> None:
    assert (await api.get("/health/live")).json()["status"] == "ok"
    ready = (await api.get("/health/ready")).json()
    assert ready["status"] == "ok" and ready["scripts_loaded"] is True and ready["warnings"] == []


async def test_ready_warns_about_an_evicting_redis(api, engine: Engine) -> None:
    await engine.redis.config_set("maxmemory-policy", "allkeys-lru")
    try:
        ready = (await api.get("/health/ready")).json()
    finally:
        await engine.redis.config_set("maxmemory-policy", "noeviction")
    assert any("allkeys-lru" in w for w in ready["warnings"])


async def test_unreachable_redis_is_503_never_2xx(make_settings) -> None:
    settings = make_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://dtq"
        ) as api:
            assert (await api.get("/health/live")).status_code == 200
            assert (await api.get("/health/ready")).status_code == 503
            r = await api.post("/jobs", json={"task_type": "noop"})
            assert r.status_code == 503 and "Traceback" not in r.text
            assert r.json()["detail"] == "Redis is unreachable"


async def test_stats(api) -> None:
    await api.post("/jobs/batch", json={"jobs": [{"task_type": "noop"}] * 5})
    # /metrics is the Prometheus exposition (tests/integration/api/test_metrics.py); the JSON
    # is /stats.
    assert (await api.get("/metrics")).headers["content-type"].startswith("text/plain")
    m = (await api.get("/stats")).json()
    assert m["jobs_by_status"]["pending"] == 5 and m["jobs_created_total"] == 5
    assert m["stream_length"] == 5 and m["consumer_group_lag"] == 5 and m["pending_entries"] == 0
    assert m["dlq_depth"] == 0 and m["live_workers"] == 0


async def test_dlq_pages_and_delete(api, engine: Engine, start_worker) -> None:
    start_worker()
    ids = (
        await api.post("/jobs/batch", json={"jobs": [{"task_type": "fail", "max_retries": 0}] * 3})
    ).json()["ids"]
    import asyncio

    for _ in range(200):
        if (await api.get("/stats")).json()["dlq_depth"] == 3:
            break
        await asyncio.sleep(0.02)
    first = (await api.get("/dlq", params={"limit": 2})).json()
    second = (await api.get("/dlq", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert sorted(d["id"] for d in first["data"] + second["data"]) == sorted(ids)
    assert (await api.delete(f"/dlq/{ids[0]}")).status_code == 204
    assert (await api.get(f"/jobs/{ids[0]}")).status_code == 404
    assert (await api.get("/stats")).json()["dlq_depth"] == 2


async def test_openapi_has_stable_operation_ids(api) -> None:
    spec = (await api.get("/openapi.json")).json()
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {
        "jobs-create_job",
        "jobs-get_job",
        "dlq-retry_dead",
        "stats-get_stats",
        "jobs-get_job_timeline",
    } <= ops
