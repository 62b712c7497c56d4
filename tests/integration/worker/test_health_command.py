"""`python -m dtq.worker.health`, a container's healthcheck: 0 while a worker on this host
heartbeats, 1 (saying why) when none does or Redis is gone."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable

from dtq.config import Settings
from tests.conftest import ROOT, Processes, settings_env, wait_for


def _check(settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dtq.worker.health"], env=settings_env(settings),
                          cwd=ROOT, capture_output=True, text=True, timeout=20)  # fmt: skip


async def test_health_follows_the_worker(settings: Settings, processes: Processes) -> None:
    none = _check(settings)
    assert none.returncode == 1 and "no live worker on" in none.stderr
    processes.worker(settings)

    async def healthy() -> bool:
        return (await asyncio.to_thread(_check, settings)).returncode == 0

    await wait_for(healthy, timeout=20, every=0.5)


def test_unhealthy_without_redis(make_settings: Callable[..., Settings]) -> None:
    gone = _check(make_settings(REDIS_URL="redis://127.0.0.1:1/0"))
    assert gone.returncode == 1 and "redis" in gone.stderr
