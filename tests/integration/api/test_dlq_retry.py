"""POST /dlq/retry: retry dead jobs by filter, with dry_run and reset_attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dtq.queue import Engine
from tests.conftest import wait_for


async def _fill_dlq(api, engine: Engine, start_worker) -> tuple[list[str], list[str]]:
    worker = start_worker()
    failed = [
        (await api.post("/jobs", json={"task_type": "fail", "max_retries": 0})).json()["id"]
        for _ in range(2)
    ]
    timed_out = [
        (
            await api.post("/jobs", json={"task_type": "hang", "timeout_s": 0.1, "max_retries": 0})
        ).json()["id"]
    ]

    async def all_dead() -> bool:
        return (await engine.stats.queue_stats()).dlq_depth == 3

    await wait_for(all_dead)
    worker.stop()

    async def worker_gone() -> bool:
        return (await engine.stats.queue_stats()).live_workers == 0

    await wait_for(worker_gone)  # it deregisters last, after it stopped reading
    return failed, timed_out


async def test_filters_dry_run_and_reset(api, engine: Engine, start_worker) -> None:
    failed, timed_out = await _fill_dlq(api, engine, start_worker)

    dry = (await api.post("/dlq/retry", json={"task_type": "fail", "dry_run": True})).json()
    assert (dry["matched"], dry["retried"], sorted(dry["job_ids"])) == (2, 0, sorted(failed))
    assert (await api.get("/stats")).json()["dlq_depth"] == 3  # a dry run changes nothing

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await api.post("/dlq/retry", json={"since": future})).json()["matched"] == 0

    by_reason = (await api.post("/dlq/retry", json={"reason": "timeout"})).json()
    assert (by_reason["matched"], by_reason["retried"], by_reason["job_ids"]) == (1, 1, timed_out)
    job = (await api.get(f"/jobs/{timed_out[0]}")).json()
    assert (job["status"], job["failures"]) == ("pending", 0)

    kept = (
        await api.post("/dlq/retry", json={"task_type": "fail", "reset_attempts": False})
    ).json()
    assert kept["retried"] == 2
    for job_id in failed:
        job = (await api.get(f"/jobs/{job_id}")).json()
        assert (job["status"], job["failures"]) == (
            "pending",
            1,
        )  # one more attempt, not fresh ones
    assert (await api.get("/stats")).json()["dlq_depth"] == 0


async def test_bad_filters_are_refused(api) -> None:
    for body in ({"reason": "bored"}, {"limit": 0}, {"since": "yesterday"}, {"extra": 1}):
        assert (await api.post("/dlq/retry", json=body)).status_code == 422
