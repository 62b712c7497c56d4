"""The worker end to end in process: results, retries with backoff, the DLQ, handlers."""

from __future__ import annotations

import asyncio

from dtq.models import JobCreate, JobStatus
from dtq.queue import Engine
from dtq.queue.backoff import backoff_cap_ms
from tests.conftest import stream_entries, stream_events, wait_for


async def _terminal(engine: Engine, job_id: str, timeout: float = 10.0):
    async def check():
        job = await engine.jobs.get(job_id)
        return job if job.status.is_terminal else None

    return await wait_for(check, timeout)


async def test_happy_path(engine: Engine, start_worker) -> None:
    start_worker()
    job = await engine.producer.enqueue(JobCreate(task_type="echo", payload={"x": [1, 2]}))
    done = await _terminal(engine, job.id)
    assert done.status == JobStatus.SUCCEEDED and done.result == {"x": [1, 2]}
    assert done.attempt == 1 and done.started_at and done.finished_at


async def test_sync_handlers_run_in_the_thread_pool(engine: Engine, start_worker) -> None:
    start_worker(concurrency=4)
    ids = await engine.producer.enqueue_many(
        [JobCreate(task_type="sync_double", payload={"n": i}) for i in range(8)]
    )
    results = [(await _terminal(engine, i)).result for i in ids]
    assert results == [i * 2 for i in range(8)]


async def test_flaky_job_retries_within_jittered_bounds_then_succeeds(
    make_settings, redis, start_worker
) -> None:
    engine = Engine(redis, make_settings(INITIAL_BACKOFF_MS=100, MAX_BACKOFF_MS=10_000))
    await engine.setup()
    start_worker(engine_=engine)
    job = await engine.producer.enqueue(
        JobCreate(task_type="flaky", payload={"failures": 3}, max_retries=5)
    )
    done = await _terminal(engine, job.id)
    assert done.status == JobStatus.SUCCEEDED and done.failures == 3 and done.attempt == 4
    # Every time in the timeline is Redis time: each retry is due (promoted) no later than its
    # backoff cap after the failure (plus promotion latency), and starts once promoted.
    timeline = (await engine.jobs.timeline(job.id)).data
    scheduled = [e for e in timeline if e.status == JobStatus.SCHEDULED]
    due = [e for e in timeline if e.status == JobStatus.PENDING and e.reason == "due"]
    starts = [e for e in timeline if e.status == JobStatus.RUNNING]
    assert len(scheduled) == len(due) == 3 and len(starts) == 4
    for n, (failed, promoted, restarted) in enumerate(
        zip(scheduled, due, starts[1:], strict=True), start=1
    ):
        cap = backoff_cap_ms(n, 100, 10_000)
        waited_ms = (promoted.at - failed.at).total_seconds() * 1000
        assert 0 <= waited_ms <= cap + 150
        assert 0 <= (restarted.at - promoted.at).total_seconds() * 1000 <= 150


async def test_failing_job_is_dead_lettered_after_max_retries_plus_one_attempts(
    api, engine: Engine, start_worker
) -> None:
    start_worker()
    job = await engine.producer.enqueue(JobCreate(task_type="fail", payload={"message": "nope"}))
    dead = await _terminal(engine, job.id)
    retries = engine.settings.MAX_RETRIES
    assert dead.status == JobStatus.DEAD and dead.attempt == retries + 1
    assert dead.failures == retries + 1 and dead.last_error == "RuntimeError: nope"
    page = (await api.get("/dlq")).json()
    assert page["data"][0]["id"] == job.id and page["data"][0]["failures"] == retries + 1
    # Redrive through HTTP: it runs again with fresh retries and dies again.
    assert (await api.post(f"/dlq/{job.id}/retry")).status_code == 200
    again = await wait_for(lambda: _attempts_at_least(engine, job.id, 2 * (retries + 1)))
    assert again.status == JobStatus.DEAD


async def _attempts_at_least(engine: Engine, job_id: str, n: int):
    job = await engine.jobs.get(job_id)
    return job if job.status.is_terminal and job.attempt >= n else None


async def test_retry_exception_sets_the_delay(engine: Engine, start_worker) -> None:
    start_worker()
    job = await engine.producer.enqueue(JobCreate(task_type="retry_later", payload={"delay": 0.3}))
    events = []

    async def scheduled():
        events[:] = await stream_events(engine, job.id)
        return any(e["status"] == "scheduled" for e in events)

    await wait_for(scheduled)
    assert (await _terminal(engine, job.id)).result == "done"
    # It went back to pending no sooner than the 300 ms it asked for (the backoff in tests is
    # at most MAX_BACKOFF_MS, 200 ms).
    timeline = (await engine.jobs.timeline(job.id)).data
    (retry,) = [e for e in timeline if e.status == JobStatus.SCHEDULED]
    (due,) = [e for e in timeline if e.status == JobStatus.PENDING and e.reason == "due"]
    assert engine.settings.MAX_BACKOFF_MS < 300
    assert (due.at - retry.at).total_seconds() >= 0.3


async def test_a_task_type_the_worker_does_not_serve_waits_for_one_that_does(
    engine: Engine, start_worker
) -> None:
    start_worker()
    job = await engine.producer.enqueue(JobCreate(task_type="no_such_task", max_retries=0))
    await asyncio.sleep(0.5)  # the worker reads it, hands it back, reads it again...
    waiting = await engine.jobs.get(job.id)
    assert (waiting.status, waiting.attempt, waiting.failures) == (JobStatus.PENDING, 0, 0)
    assert waiting.blocked_reason == (
        "no live worker serves task type 'no_such_task' on queue 'default'"
    )


async def test_a_result_that_is_not_json_kills_the_job_without_a_retry(
    engine: Engine, start_worker
) -> None:
    start_worker()
    job = await engine.producer.enqueue(JobCreate(task_type="unserializable", max_retries=5))
    dead = await _terminal(engine, job.id)
    assert (dead.status, dead.dead_reason, dead.attempt) == (JobStatus.DEAD, "invalid_result", 1)
    assert dead.last_error and dead.last_error.startswith(
        "InvalidResultError: the handler returned object, which is not JSON"
    )
    assert "Not retried" in dead.last_error
    (letter,) = (await engine.dlq.list()).data
    assert letter.reason == "invalid_result"


async def test_stream_holds_no_acknowledged_entries_after_10000_jobs(
    engine: Engine, start_worker
) -> None:
    start_worker(concurrency=200)
    await engine.producer.enqueue_many([JobCreate(task_type="noop")] * 10_000)

    async def all_done():
        m = await engine.stats.queue_stats()
        return m.jobs_completed_total == 10_000

    await wait_for(all_done, timeout=60)
    r, k = engine.redis, engine.keys
    assert await stream_entries(engine) == 0
    assert (await r.xpending(k.stream, "workers"))["pending"] == 0
    m = await engine.stats.queue_stats()
    assert m.jobs_by_status[JobStatus.PENDING] == 0 and m.jobs_by_status[JobStatus.RUNNING] == 0


async def test_live_workers_are_counted_and_forgotten(engine: Engine, start_worker) -> None:
    w1, _ = start_worker(), start_worker()
    await wait_for(lambda: _live(engine, 2))
    w1.stop()
    await wait_for(lambda: _live(engine, 1))


async def _live(engine: Engine, n: int) -> bool:
    return (await engine.stats.queue_stats()).live_workers == n
