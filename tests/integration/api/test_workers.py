"""GET /workers: live workers with their queues, task types and concurrency."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from dtq.queue import Engine
from tests.conftest import wait_for


async def test_workers_lists_a_live_worker_with_what_it_serves(
    api: httpx.AsyncClient, engine: Engine, start_worker: Callable[..., object]
) -> None:
    start_worker(concurrency=7)

    async def listed() -> list[dict[str, object]]:
        body = (await api.get("/workers")).json()
        return [w for w in body["data"] if w["alive"]]

    [worker] = await wait_for(listed)
    assert worker["concurrency"] == 7
    assert "default" in worker["queues"]
    assert "noop" in worker["task_types"]
    assert worker["last_heartbeat"] > 0
