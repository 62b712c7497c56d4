"""Progress, results, the timeline and blocked_reason of jobs."""

from __future__ import annotations

from datetime import datetime

from dtq.queue import Engine
from tests.conftest import wait_for


async def _job(api, job_id: str) -> dict:
    return (await api.get(f"/jobs/{job_id}")).json()


async def _until(api, job_id: str, check) -> dict:
    async def poll():
        job = await _job(api, job_id)
        return job if check(job) else None

    return await wait_for(poll, timeout=10)


async def test_progress_from_async_and_sync_handlers(api, start_worker) -> None:
    start_worker()
    for task_type, percent, message in [
        ("halfway", 50, "half way"),
        ("sync_progress", 30, "from a thread"),
    ]:
        job = (
            await api.post("/jobs", json={"task_type": task_type, "payload": {"seconds": 0.5}})
        ).json()
        running = await _until(api, job["id"], lambda j: j["progress"] is not None)
        assert (running["progress"], running["progress_message"]) == (percent, message)
        assert running["status"] == "running" and running["blocked_reason"] is None


async def test_result_is_404_until_the_job_finishes(api, start_worker) -> None:
    job = (await api.post("/jobs", json={"task_type": "echo", "payload": {"v": 1}})).json()
    r = await api.get(f"/jobs/{job['id']}/result")
    assert r.status_code == 404 and r.json()["code"] == "result_not_ready"
    start_worker()
    await _until(api, job["id"], lambda j: j["status"] == "succeeded")
    result = (await api.get(f"/jobs/{job['id']}/result")).json()
    assert result["status"] == "succeeded" and result["result"] == {"v": 1}
    assert (await api.get(f"/jobs/{'0' * 32}/result")).status_code == 404


async def test_timeline_lists_every_transition(api, start_worker) -> None:
    start_worker(name="w1")
    job = (await api.post("/jobs", json={"task_type": "flaky", "payload": {"failures": 1}})).json()
    await _until(api, job["id"], lambda j: j["status"] == "succeeded")
    events = (await api.get(f"/jobs/{job['id']}/timeline")).json()["data"]
    assert [(e["status"], e["attempt"], e["reason"]) for e in events] == [
        ("pending", 0, None),
        ("running", 1, None),
        ("scheduled", 1, "error"),
        ("pending", None, "due"),
        ("running", 2, None),
        ("succeeded", 2, None),
    ]
    assert {e["worker"] for e in events if e["status"] == "running"} == {"w1"}
    times = [datetime.fromisoformat(e["at"]) for e in events]  # not as text: "03Z" > "03.5Z"
    assert times == sorted(times)


async def test_blocked_reason_says_why_a_job_is_not_running(
    api, engine: Engine, start_worker
) -> None:
    nobody = (await api.post("/jobs", json={"task_type": "nobody_serves_this"})).json()
    delayed = (await api.post("/jobs", json={"task_type": "noop", "delay_ms": 60_000})).json()
    canceled = (await api.post("/jobs", json={"task_type": "noop", "delay_ms": 60_000})).json()
    await api.post(f"/jobs/{canceled['id']}/cancel")
    assert (
        "no live worker serves task type 'nobody_serves_this' on queue 'default'"
        == (await _job(api, nobody["id"]))["blocked_reason"]
    )
    assert (await _job(api, delayed["id"]))["blocked_reason"].startswith("scheduled until 20")
    assert (await _job(api, canceled["id"]))["blocked_reason"] == "canceled"
    page = (await api.get("/jobs", params={"status": "pending"})).json()
    assert [j["blocked_reason"] for j in page["data"]] == [
        "no live worker serves task type 'nobody_serves_this' on queue 'default'"
    ]

    start_worker(concurrency=1)
    hog = (await api.post("/jobs", json={"task_type": "sleep", "payload": {"seconds": 1.5}})).json()
    await _until(api, hog["id"], lambda j: j["status"] == "running")
    queued = (await api.post("/jobs", json={"task_type": "noop"})).json()
    assert (await _job(api, queued["id"]))["blocked_reason"] == "waiting for a free worker"

    retrying = (
        await api.post("/jobs", json={"task_type": "retry_later", "payload": {"delay": 30}})
    ).json()
    backoff = await _until(api, retrying["id"], lambda j: j["status"] == "scheduled")
    assert backoff["blocked_reason"].startswith("retry backoff until 20")

    dead = (await api.post("/jobs", json={"task_type": "fail", "max_retries": 0})).json()
    died = await _until(api, dead["id"], lambda j: j["status"] == "dead")
    assert died["blocked_reason"].startswith("dead-lettered (retries_exhausted)")


async def test_timeline_of_delayed_and_canceled_jobs(api) -> None:
    delayed = (await api.post("/jobs", json={"task_type": "noop", "delay_ms": 60_000})).json()
    await api.post(f"/jobs/{delayed['id']}/cancel")
    events = (await api.get(f"/jobs/{delayed['id']}/timeline")).json()["data"]
    assert [(e["status"], e["reason"]) for e in events] == [
        ("scheduled", "delayed"),
        ("canceled", "was scheduled"),
    ]
    plain = (await api.post("/jobs", json={"task_type": "noop"})).json()
    await api.post(f"/jobs/{plain['id']}/cancel")
    events = (await api.get(f"/jobs/{plain['id']}/timeline")).json()["data"]
    assert [e["status"] for e in events] == ["pending", "canceled"]
