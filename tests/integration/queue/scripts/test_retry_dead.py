"""retry_dead.lua: a dead job goes back to its stream with fresh retries (or one more attempt);
only dead jobs can be retried."""

import pytest

from dtq.errors import InvalidTransitionError, JobNotFoundError
from dtq.queue import Consumer, Engine, Failure
from dtq.queue.scripts.retry_dead import retry_dead


async def test_retry_gives_fresh_retries_and_keeps_counting_attempts(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer, max_retries=0)
    await consumer.settle([], [Failure(d, "boom", 0)])
    await engine.dlq.retry(d.job_id)
    job = await engine.jobs.get(d.job_id)
    assert (job.status, job.failures, job.attempt, job.dead_reason) == ("pending", 0, 1, None)
    assert (await engine.dlq.list()).count == 0
    (again,) = await consumer.start(await consumer.read(1, 100))
    assert again.attempt == 2
    with pytest.raises(InvalidTransitionError):
        await engine.dlq.retry(d.job_id)


async def test_retry_without_reset_gives_one_more_attempt(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer, max_retries=0)
    await consumer.settle([], [Failure(d, "boom", 0)])
    await engine.dlq.retry(d.job_id, reset_attempts=False)
    job = await engine.jobs.get(d.job_id)
    assert (job.status, job.failures) == ("pending", 1)
    timeline = (await engine.jobs.timeline(d.job_id)).data
    assert (timeline[-1].status, timeline[-1].reason) == ("pending", "dlq_retry")


async def test_unknown_job_and_bulk_mode(engine: Engine) -> None:
    with pytest.raises(JobNotFoundError):
        await engine.dlq.retry("nope")
    # In bulk (strict=False) a job that is not dead any more answers False, raises nothing.
    assert await retry_dead(engine.lib, job_id="nope", reset_failures=True, strict=False) is False
