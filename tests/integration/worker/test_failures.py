"""Failures users can debug: every failed attempt keeps the handler's traceback (on the job, in
its timeline, in the DLQ) and is logged; a result that is not JSON is never retried."""

from __future__ import annotations

import logging

import pytest

from dtq.models import JobCreate, JobStatus
from dtq.queue import Engine
from tests import tasks
from tests.conftest import wait_for


async def _dead(engine: Engine, job_id: str):
    async def check():
        job = await engine.jobs.get(job_id)
        return job if job.status == JobStatus.DEAD else None

    return await wait_for(check, timeout=20)


@pytest.mark.parametrize("task_type", ["broken", "broken_sync", "broken_isolated"])
async def test_each_failed_attempt_keeps_the_handlers_traceback(
    engine: Engine, start_worker, task_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dtq.worker.execution")
    start_worker()
    job = await engine.producer.enqueue(JobCreate(task_type=task_type, max_retries=1))
    dead = await _dead(engine, job.id)
    assert [e.attempt for e in dead.errors] == [1, 2]
    for error in dead.errors:
        assert error.error == "ValueError: invalid literal for int() with base 10: 'x'"
        tb = error.traceback or ""
        assert tb.startswith("Traceback (most recent call last):\n")
        assert 'tests/tasks.py", line' in tb and "in _parse" in tb and f"in {task_type}" in tb
        assert "dtq/worker" not in tb  # the worker's own frames are left out
        assert tb.rstrip().endswith("ValueError: invalid literal for int() with base 10: 'x'")
    failed = [e for e in (await engine.jobs.timeline(job.id)).data if e.error]
    assert [(e.status, e.attempt, e.reason) for e in failed] == [
        ("scheduled", 1, "error"),
        ("dead", 2, "retries_exhausted"),
    ]
    assert all("in _parse" in (e.traceback or "") for e in failed)
    (letter,) = (await engine.dlq.list()).data
    assert letter.traceback and "in _parse" in letter.traceback
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        f"job attempt failed job_id={job.id} task_type={task_type} attempt=1 reason=error "
        "error=ValueError: invalid literal for int() with base 10: 'x'"
    ) in warnings
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(m.startswith(f"job attempt traceback job_id={job.id}\n") for m in debug)


async def test_a_long_traceback_keeps_its_end(engine: Engine, start_worker) -> None:
    start_worker()
    text = "x" * 10_000  # the exception's message alone is longer than the cap
    job = await engine.producer.enqueue(
        JobCreate(task_type="fail", payload={"message": text}, max_retries=0)
    )
    (error,) = (await _dead(engine, job.id)).errors
    tb = error.traceback or ""
    assert len(tb) <= 4000 and tb.startswith("…(earlier frames cut)\n") and tb.endswith("xx\n")
    assert len(error.error) == 2000


async def test_an_isolated_result_that_is_not_json_is_not_retried(
    engine: Engine, start_worker
) -> None:
    start_worker()
    job = await engine.producer.enqueue(
        JobCreate(task_type="isolated_unserializable", max_retries=3)
    )
    dead = await _dead(engine, job.id)
    assert (dead.dead_reason, dead.attempt) == ("invalid_result", 1)
    assert dead.last_error and "returned set, which is not JSON" in dead.last_error


async def test_the_traceback_is_in_the_http_answers(api, engine: Engine, start_worker) -> None:
    start_worker()
    job = (await api.post("/jobs", json={"task_type": "broken", "max_retries": 0})).json()
    await _dead(engine, job["id"])
    body = (await api.get(f"/jobs/{job['id']}")).json()
    assert "in _parse" in body["errors"][0]["traceback"]
    timeline = (await api.get(f"/jobs/{job['id']}/timeline")).json()["data"]
    assert "in _parse" in timeline[-1]["traceback"] and timeline[-1]["status"] == "dead"
    assert "in _parse" in (await api.get("/dlq")).json()["data"][0]["traceback"]


async def test_typed_handlers_run_from_enqueue_and_a_misfit_payload_dies_at_once(
    engine: Engine, start_worker
) -> None:
    start_worker(queues=["default", "math"])
    added = await tasks.add.enqueue(engine, a=2)
    assert added.queue == "math"  # the task's own queue
    typed = await tasks.send_typed.enqueue(engine, tasks.Email(to="ada"))

    async def finished(job_id: str):
        job = await engine.jobs.get(job_id)
        return job if job.status.is_terminal else None

    assert (await wait_for(lambda: finished(added.id))).result == 3
    assert (await wait_for(lambda: finished(typed.id))).result == "ada:hi"
    misfit = await engine.producer.enqueue(
        JobCreate(task_type="add", queue="math", payload={"a": "two"}, max_retries=5)
    )
    dead = await _dead(engine, misfit.id)
    assert (dead.dead_reason, dead.attempt) == ("invalid_payload", 1)
    assert "a: Input should be a valid integer" in (dead.last_error or "")
