"""REDIS_URL may name a Sentinel set (`redis+sentinel://host:port/master-name`): DTQ runs jobs
on the master it names, and when that master is killed (SIGKILL) and the sentinel promotes its
replica, the API and a worker carry on without a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from dtq.config import Settings
from dtq.embedded_redis import EmbeddedRedis, find_server_binary, free_port
from dtq.models import JobCreate, JobStatus
from dtq.queue import Engine
from dtq.redis_client import create_redis
from tests.conftest import SERVER_BINARY, Processes, wait_for


@pytest.fixture
def sentinel_set(tmp_path: Path) -> Iterator[tuple[str, EmbeddedRedis, int]]:
    """A master, its replica and one sentinel watching them as `dtq`: the REDIS_URL, the master
    and the sentinel's port."""
    binary = SERVER_BINARY or find_server_binary()
    master = EmbeddedRedis(tmp_path / "master", binary=binary,
                           options=["--repl-diskless-sync-delay", "0"])  # fmt: skip
    master.start()
    replica = EmbeddedRedis(tmp_path / "replica", binary=binary,
                            options=["--replicaof", "127.0.0.1", str(master.port)])  # fmt: skip
    replica.start()
    port = free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor dtq 127.0.0.1 {master.port} 1\n"
        "sentinel down-after-milliseconds dtq 1000\nsentinel failover-timeout dtq 5000\n"
    )
    sentinel = subprocess.Popen([binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port, decode_responses=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:  # the sentinel answers and has found the replica
            if client.sentinel_slaves("dtq"):
                break
        except redis.RedisError:
            pass
        time.sleep(0.1)
    client.close()
    yield f"redis+sentinel://127.0.0.1:{port}/dtq", master, port
    sentinel.kill()
    sentinel.wait()
    replica.stop()
    master.stop()


async def test_dtq_follows_the_master_a_sentinel_promotes(
    make_settings: Callable[..., Settings],
    processes: Processes,
    sentinel_set: tuple[str, EmbeddedRedis, int],
) -> None:
    url, master, sentinel_port = sentinel_set
    settings = make_settings(REDIS_URL=url, AUTH_DISABLED=True)
    processes.worker(settings)
    api = processes.api(settings)
    redis_client = create_redis(settings)
    try:
        engine = Engine(redis_client, settings)

        async def run_jobs(n: int) -> None:
            ids = []
            async with httpx.AsyncClient(base_url=api, timeout=10) as client:
                for _ in range(n):
                    answer = await client.post("/jobs", json={"task_type": "noop"})
                    assert answer.status_code == 201, answer.text
                    ids.append(answer.json()["id"])

            async def all_done() -> bool:
                jobs = [await engine.jobs.get(i) for i in ids]
                return all(j.status == JobStatus.SUCCEEDED for j in jobs)

            await wait_for(all_done, timeout=30)

        await run_jobs(20)
        replicated = await engine.producer.enqueue(JobCreate(task_type="noop"))
        await redis_client.execute_command("WAIT", 1, 5000)

        assert master.pid is not None
        os.kill(master.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        sentinel = redis.Redis(port=sentinel_port, decode_responses=True)

        def promoted() -> bool:
            address: Any = sentinel.sentinel_get_master_addr_by_name("dtq")
            return int(address[1]) != master.port

        while not promoted():
            assert time.monotonic() - killed_at < 30, "the sentinel promoted no replica"
            await asyncio.sleep(0.2)
        sentinel.close()

        async with httpx.AsyncClient(base_url=api, timeout=10) as client:  # the API recovers
            while (await client.post("/jobs", json={"task_type": "noop"})).status_code != 201:
                assert time.monotonic() - killed_at < 30, "the API did not recover"
                await asyncio.sleep(0.2)
        await run_jobs(20)  # and the worker runs jobs on the new master
        assert (await engine.jobs.get(replicated.id)).status == JobStatus.SUCCEEDED
    finally:
        await redis_client.aclose()
