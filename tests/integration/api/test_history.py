"""GET /stats/history: rates, gauges and latency percentiles per step, from samples kept in
Redis (they outlive the API process), written once per step whatever the number of APIs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from dtq.api.main import create_app
from dtq.config import Settings
from dtq.models import JobCreate
from dtq.queue import Engine
from dtq.queue.scripts.history import COARSE_STEP_MS, FINE_STEP_MS
from tests.conftest import wait_for


async def test_history_has_rates_gauges_and_latencies_and_survives_a_restart(
    make_settings: Callable[..., Settings], engine: Engine, start_worker: Callable[..., object]
) -> None:
    settings = make_settings(HISTORY_SAMPLE_S=0.2)
    keys = engine.keys
    # two samples 5 s apart are needed for a point: write the first, then age it
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await wait_for(lambda: engine.redis.xlen(keys.history_fine))
    first = await engine.redis.xrange(keys.history_fine)
    entry_id, fields = first[0]
    await engine.redis.delete(keys.history_fine)
    old = int(entry_id.partition("-")[0]) - 6000
    await engine.redis.xadd(keys.history_fine, fields, id=f"{old}-0")

    await engine.producer.submit_many([JobCreate(task_type="noop") for _ in range(30)])
    await engine.producer.submit_many([JobCreate(task_type="sleep", payload={"seconds": 0.05})])
    start_worker()
    await wait_for(lambda: _all_done(engine))

    app = create_app(settings)  # a new API process: the history is still there
    async with app.router.lifespan_context(app):
        await wait_for(lambda: _two_samples(engine))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as api:
            r = await api.get("/stats/history", params={"window": 600, "step": 5})
            assert r.status_code == 200, r.text
            body = r.json()
            assert r.status_code == 200
            assert body["step_s"] == 5
            point = body["data"][-1]
            assert point["enqueued"] > 0 and point["succeeded"] > 0
            assert point["run_p50_ms"] is not None and point["wait_p99_ms"] is not None
            assert point["run_p99_ms"] >= 40  # the sleep job ran 50 ms
            assert set(point["pending_by_priority"]) == {"critical", "high", "normal", "low"}
            bad = await api.get("/stats/history", params={"window": 5})
            assert bad.status_code == 422


async def _all_done(engine: Engine) -> bool:
    stats = await engine.stats.queue_stats()
    return stats.jobs_completed_total >= 31


async def _two_samples(engine: Engine) -> bool:
    return await engine.redis.xlen(engine.keys.history_fine) >= 2


async def test_many_apis_write_one_sample_per_step(
    make_settings: Callable[..., Settings], engine: Engine
) -> None:
    for _ in range(5):
        await asyncio.gather(*(engine.history.record() for _ in range(4)))
    # the 20 calls may straddle a step boundary (slow on a cluster): at most one sample a step
    for stream, step_ms in (
        (engine.keys.history_fine, FINE_STEP_MS),
        (engine.keys.history_coarse, COARSE_STEP_MS),
    ):
        ids = [entry_id for entry_id, _ in await engine.redis.xrange(stream)]
        steps = {int(entry_id.partition("-")[0]) // step_ms for entry_id in ids}
        assert 1 <= len(ids) <= 2 and len(steps) == len(ids), ids


async def test_a_queue_says_when_its_oldest_waiting_job_came(
    engine: Engine, start_worker: Callable[..., object]
) -> None:
    assert (await engine.queues.info("default")).oldest_pending_at is None
    first = await engine.producer.enqueue(JobCreate(task_type="noop"))
    await engine.producer.enqueue(JobCreate(task_type="noop", priority="high"))
    oldest = (await engine.queues.info("default")).oldest_pending_at
    assert oldest is not None
    assert abs(oldest - first.created_at.timestamp() * 1000) < 50
    start_worker()
    await wait_for(lambda: _none_waiting(engine))


async def _none_waiting(engine: Engine) -> bool:
    return (await engine.queues.info("default")).oldest_pending_at is None
