"""A full Redis (maxmemory, noeviction) drains instead of wedging: submissions are refused with
507 storage_full and nothing half-stored, /health/ready says so, and the workers keep finishing
the jobs already stored, without a stall, because the scripts that settle, lease, read and start
jobs run when Redis is full (allow-oom)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from dtq.api import errors
from dtq.api.main import create_app
from dtq.config import Settings
from dtq.embedded_redis import EmbeddedRedis
from dtq.queue import Engine
from tests.conftest import SERVER_BINARY, Processes

PAD = "x" * 1000


async def _created(engine: Engine) -> int:
    return int(await engine.redis.hget(engine.keys.stats, "created_total") or 0)


async def _completed(engine: Engine) -> int:
    return int(await engine.redis.hget(engine.keys.stats, "completed_total") or 0)


async def test_a_full_redis_drains_without_a_stall(
    tmp_path: Path, make_settings: Callable[..., Settings], processes: Processes
) -> None:
    with EmbeddedRedis(tmp_path / "redis", binary=SERVER_BINARY) as server:
        settings = make_settings(REDIS_URL=server.url)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            engine: Engine = app.state.engine
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as api:
                used = int((await engine.redis.info("memory"))["used_memory"])
                await engine.redis.config_set("maxmemory", used + 3 * 1024 * 1024)
                batch = {"jobs": [{"task_type": "noop", "payload": {"pad": PAD}}] * 100}
                submitted = 0
                for _ in range(1000):
                    r = await api.post("/jobs/batch", json=batch)
                    if r.status_code != 201:
                        break
                    submitted += 100
                assert r.status_code == 507, r.text
                assert r.json()["code"] == "storage_full" and int(r.headers["retry-after"]) >= 1
                for _ in range(1000):  # single jobs fill what the last batch left
                    one = await api.post("/jobs", json={"task_type": "noop", "payload": {"p": PAD}})
                    if one.status_code != 201:
                        break
                    submitted += 1
                assert one.status_code == 507 and one.json()["code"] == "storage_full"
                assert submitted >= 1000
                assert await _created(engine) == submitted  # a refused batch stored nothing
                ready = await api.get("/health/ready")
                assert ready.status_code == 200 and ready.json()["status"] == "storage_full"
                assert any("507" in w for w in ready.json()["warnings"])

                # A worker started while Redis is full drains every job, never stalling.
                log = tmp_path / "worker.log"
                processes.worker(settings, "-c", "50", log=log)
                longest_stall = 0.0
                last_progress = None
                done = 0
                deadline = time.monotonic() + 60
                while done < submitted and time.monotonic() < deadline:
                    now_done = await _completed(engine)
                    now = time.monotonic()
                    if now_done > done:
                        if last_progress is not None:
                            longest_stall = max(longest_stall, now - last_progress)
                        last_progress, done = now, now_done
                    await asyncio.sleep(0.02)
                assert done == submitted, (done, submitted, log.read_text()[-6000:])
                assert longest_stall < 1.0, longest_stall
                counts = (await api.get("/stats")).json()["jobs_by_status"]
                assert counts["succeeded"] == submitted and counts["pending"] == 0


@asynccontextmanager
async def _api_on_own_server(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> AsyncIterator[tuple[Engine, httpx.AsyncClient]]:
    """A server of the test's own (its maxmemory is the test's to set) and an app on it."""
    with EmbeddedRedis(tmp_path / "redis", binary=SERVER_BINARY) as server:
        app = create_app(make_settings(REDIS_URL=server.url))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as api:
                yield app.state.engine, api


async def test_ready_says_full_at_the_edge_of_maxmemory(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """Right after a refused write the reading dips a few KiB under maxmemory (the request's
    buffers are freed): within 1 % of it counts as full, well under it does not."""
    async with _api_on_own_server(tmp_path, make_settings) as (engine, api):
        # ~40 MiB held in small values (a large one's query buffer is freed later, and
        # the reading with it), so that 1 % of maxmemory (~0.4 MiB) dwarfs what the
        # app's own activity moves used_memory by between two readings (tens of KiB).
        for chunk in range(40):
            await engine.redis.mset({f"ballast:{chunk}:{i}": PAD for i in range(1000)})
        await asyncio.sleep(0.2)
        for headroom, status in ((2048, "storage_full"), (64 << 20, "ok")):
            used = int((await engine.redis.info("memory"))["used_memory"])
            await engine.redis.config_set("maxmemory", used + headroom)
            ready = await api.get("/health/ready")
            assert ready.status_code == 200 and ready.json()["status"] == status


async def test_ready_says_full_right_after_a_refusal(
    tmp_path: Path, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that just answered 507 says storage_full for the Retry-After it gave, whatever
    the memory reading (here the limit is lifted right after the refusal); then ok again."""
    # 3 s: a stall of a busy machine between the refusal and the check cannot outlast it.
    monkeypatch.setattr(errors, "STORAGE_FULL_RETRY_S", 3)
    async with _api_on_own_server(tmp_path, make_settings) as (engine, api):
        assert (await api.get("/health/ready")).json()["status"] == "ok"
        used = int((await engine.redis.info("memory"))["used_memory"])
        await engine.redis.config_set("maxmemory", used + 256 * 1024)
        for _ in range(1000):
            one = await api.post("/jobs", json={"task_type": "noop", "payload": {"p": PAD}})
            if one.status_code != 201:
                break
        assert one.status_code == 507 and one.json()["code"] == "storage_full"
        await engine.redis.config_set("maxmemory", 0)
        ready = (await api.get("/health/ready")).json()
        assert ready["status"] == "storage_full"
        assert any("refused a write" in w for w in ready["warnings"]), ready
        await asyncio.sleep(3.1)
        assert (await api.get("/health/ready")).json()["status"] == "ok"
