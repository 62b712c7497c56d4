"""Recurring schedules: each tick fires exactly once across many workers and API processes."""

from __future__ import annotations

import asyncio

import httpx

from dtq.models import Misfire, ScheduleCreate
from dtq.queue import Engine
from tests.conftest import wait_for


async def _jobs(engine: Engine) -> list:
    page = await engine.jobs.list(limit=500)
    return sorted(page.data, key=lambda j: j.created_at)


async def test_a_cron_fires_exactly_once_per_tick(settings, engine: Engine, processes) -> None:
    apis = [processes.api(settings), processes.api(settings)]
    for i in range(3):
        processes.worker(settings, "--name", f"w{i}")
    body = {"name": "every-second", "cron": "* * * * * *", "task_type": "noop"}
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(f"{apis[0]}/schedules", json=body)
        assert created.status_code == 201
        await asyncio.sleep(21.5)
        listed = (await http.get(f"{apis[1]}/schedules")).json()
        assert listed["data"][0]["name"] == "every-second" and listed["data"][0]["next_run_at"]
        assert (await http.delete(f"{apis[1]}/schedules/every-second")).status_code == 204
    await asyncio.sleep(1.5)
    jobs = await _jobs(engine)
    assert len(jobs) >= 20
    # One job per tick, no duplicate and no gap: each tick's idempotency record names its job.
    # (Not the gaps between creation times: on a busy machine a tick may fire a little late.)
    first = int(jobs[0].created_at.timestamp()) - 3
    last = int(jobs[-1].created_at.timestamp()) + 2
    fired = {}
    for second in range(first, last + 1):
        tick = second * 1000
        record = await engine.redis.get(
            engine.keys.idempotency("default", f"schedule:every-second:{tick}")
        )
        if record:
            fired[tick] = record.split(":")[0]
    ticks = sorted(fired)
    assert ticks == list(range(ticks[0], ticks[-1] + 1000, 1000)), ticks
    assert sorted(fired.values()) == sorted(j.id for j in jobs)
    assert len(await _jobs(engine)) == len(jobs)  # deleted: nothing more fires


async def _overdue(engine: Engine, misfire: Misfire, queue: str | None = None) -> int:
    await engine.schedules.put(
        ScheduleCreate(name="s", cron="* * * * * *", task_type="noop", misfire=misfire, queue=queue)
    )
    seconds, _ = await engine.redis.time()
    await engine.redis.zadd(engine.keys.schedules_due, {"s": (int(seconds) - 5) * 1000})
    return await engine.schedules.fire_due()


async def test_skip_runs_only_the_latest_missed_tick(engine: Engine) -> None:
    seconds, _ = await engine.redis.time()
    assert await _overdue(engine, Misfire.SKIP, queue="nightly") == 1
    (job,) = await _jobs(engine)
    assert job.queue == "nightly"  # the schedule's queue
    # Moved on to a tick after the firing (not to the next missed one). Calling fire_due again
    # to see 0 would race the next every-second tick on a busy machine.
    due = await engine.redis.zscore(engine.keys.schedules_due, "s")
    assert due is not None and due > int(seconds) * 1000


async def test_catch_up_runs_every_missed_tick_once(engine: Engine) -> None:
    fired = await _overdue(engine, Misfire.CATCH_UP)
    assert 5 <= fired <= 7
    # A second firer racing on the same ticks adds nothing: the ticks' jobs exist already.
    await engine.redis.zadd(engine.keys.schedules_due, {"s": 0}, xx=True)
    assert len(await _jobs(engine)) == fired


async def test_schedule_api_answers(api) -> None:
    ok = {"name": "n1", "cron": "*/5 * * * *", "task_type": "noop", "timezone": "Europe/Paris"}
    assert (await api.post("/schedules", json=ok)).status_code == 201
    assert (await api.post("/schedules", json=ok)).status_code == 200  # replaced
    got = (await api.get("/schedules/n1")).json()
    assert got["timezone"] == "Europe/Paris" and got["next_run_at"]
    for bad in (
        {**ok, "cron": "every day"},
        {**ok, "timezone": "Mars/Olympus"},
        {**ok, "name": "a b"},
    ):
        assert (await api.post("/schedules", json=bad)).status_code == 422
    assert (await api.get("/schedules/none")).status_code == 404
    assert (await api.delete("/schedules/n1")).status_code == 204
    assert (await api.delete("/schedules/n1")).status_code == 404
    await wait_for(lambda: _empty(api))


async def _empty(api) -> bool:
    return (await api.get("/schedules")).json()["count"] == 0


async def test_a_seconds_first_cron_is_refused_in_one_line_and_warnings_come_back(
    api, engine: Engine
) -> None:
    base = {"name": "fast", "task_type": "noop"}
    refused = await api.post("/schedules", json={**base, "cron": "*/3 * * * * *"})
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert "seconds last (minute hour day-of-month month day-of-week [second])" in problem["msg"]
    assert "'* * * * * */3'" in problem["msg"] and "\n" not in problem["msg"]
    nonsense = await api.post("/schedules", json={**base, "cron": "every day"})
    message = nonsense.json()["detail"][0]["msg"]
    assert len(message) < 250 and "(?:" not in message  # no regex echoed
    every_3s = await api.post("/schedules", json={**base, "cron": "* * * * * */3"})
    assert every_3s.status_code == 201
    assert every_3s.json()["warnings"] and "'noop'" in every_3s.json()["warnings"][0]
    await engine.queues.register(["default"], {"noop": "default"})
    again = await api.post("/schedules", json={**base, "cron": "* * * * * */3"})
    assert again.status_code == 200 and again.json()["warnings"] == []
