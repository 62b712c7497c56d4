"""A Redis restart (append-only file on) loses no stored job; workers reconnect and finish them."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from redis.exceptions import RedisError

from dtq.config import Settings
from dtq.embedded_redis import EmbeddedRedis
from dtq.models import JobCreate
from dtq.queue import Engine
from dtq.redis_client import create_redis
from tests.conftest import FAST, stream_entries, wait_for


async def test_jobs_survive_a_redis_restart(tmp_path: Path, start_worker) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    redis = None
    try:
        settings = Settings(
            _env_file=None,
            REDIS_URL=server.url,  # type: ignore[call-arg]
            KEY_PREFIX=f"t{uuid.uuid4().hex[:8]}",
            **FAST,
        )
        redis = create_redis(settings)
        engine = Engine(redis, settings)
        await engine.setup()
        ids = await engine.producer.enqueue_many(
            [JobCreate(task_type="sleep", payload={"seconds": 0.01}) for _ in range(2000)]
        )
        start_worker(concurrency=20, engine_=engine)
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.stop)  # SIGTERM: the server flushes its AOF and exits
        await asyncio.sleep(0.5)
        await asyncio.to_thread(server.start)

        async def all_succeeded() -> bool:
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    for job_id in ids:
                        pipe.hget(engine.keys.job(job_id), "status")
                    return all(s == "succeeded" for s in await pipe.execute())
            except RedisError:  # the client reconnects on the next call
                return False

        await wait_for(all_succeeded, timeout=30, every=0.2)
        assert await stream_entries(engine) == 0
    finally:
        if redis is not None:
            await redis.aclose()
        server.stop()
