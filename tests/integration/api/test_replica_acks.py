"""REPLICA_ACKS: each state-changing script is followed by WAIT on its connection; a write
fewer replicas confirmed in time is answered 503 `not_replicated` (it is on the master), a
replica that confirms lets it through, and read-only scripts and REPLICA_ACKS=0 send no WAIT."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from dtq.api.main import create_app
from dtq.config import Settings
from dtq.embedded_redis import EmbeddedRedis
from dtq.models import JobCreate
from dtq.queue import Engine, NotReplicatedError
from dtq.redis_client import create_redis
from tests.conftest import CLUSTER, SERVER_BINARY


async def waits(redis: Redis) -> int:
    """How many WAIT commands the server has run."""
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_wait", {}).get("calls", 0))


@pytest.fixture
def replicated(tmp_path: Path, redis_url: str) -> Iterator[str]:
    """A server of its own with one replica; its URL."""
    primary = EmbeddedRedis(tmp_path / "primary", binary=SERVER_BINARY,
                            options=["--repl-diskless-sync-delay", "0"])  # fmt: skip
    with primary:
        follows = ["--replicaof", "127.0.0.1", str(primary.port)]
        with EmbeddedRedis(tmp_path / "replica", binary=SERVER_BINARY, options=follows):
            yield primary.url


@pytest.mark.skipif(CLUSTER, reason="the tests' cluster has a replica for every master")
async def test_a_write_no_replica_confirms_is_answered_503_not_replicated(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(REPLICA_ACKS=1, REPLICA_ACK_TIMEOUT_MS=50)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as api:
            answer = await api.post("/jobs", json={"task_type": "noop", "id": "j1"})
            assert answer.status_code == 503, answer.text
            assert answer.json()["code"] == "not_replicated"
            assert answer.headers["retry-after"] == "1"
            stored = await api.get("/jobs/j1")  # on the master all the same (a read: no WAIT)
            assert stored.status_code == 200 and stored.json()["status"] == "pending"
            ready = await api.get("/health/ready")  # an operator is told why
            assert ready.status_code == 200
            assert any("REPLICA_ACKS=1 but the master has 0 replica" in w
                       for w in ready.json()["warnings"]), ready.json()  # fmt: skip

    redis = create_redis(settings)
    engine = Engine(redis, settings)
    with pytest.raises(NotReplicatedError):
        await engine.producer.enqueue_many([JobCreate(task_type="noop") for _ in range(3)])
    await redis.aclose()


async def test_a_replica_that_confirms_lets_writes_through_with_one_wait_each(
    make_settings: Callable[..., Settings], replicated: str
) -> None:
    settings = make_settings(REDIS_URL=replicated, REPLICA_ACKS=1, REPLICA_ACK_TIMEOUT_MS=5000)
    redis = create_redis(settings)
    engine = Engine(redis, settings)
    await engine.setup()
    before = await waits(redis)
    job = await engine.producer.enqueue(JobCreate(task_type="noop"))
    assert await waits(redis) == before + 1
    await engine.producer.enqueue_many([JobCreate(task_type="noop") for _ in range(5)])
    assert await waits(redis) == before + 2  # one batch, one WAIT
    await engine.jobs.get(job.id)
    assert await waits(redis) == before + 2  # reads wait for nothing
    await redis.aclose()

    plain = create_redis(make_settings(REDIS_URL=replicated))
    engine = Engine(plain, make_settings(REDIS_URL=replicated))
    await engine.setup()
    await engine.producer.enqueue(JobCreate(task_type="noop"))
    assert await waits(plain) == before + 2  # REPLICA_ACKS=0: no WAIT
    await plain.aclose()
