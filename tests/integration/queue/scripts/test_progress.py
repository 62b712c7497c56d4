"""progress.lua: the owner of a running job records progress; anyone else is refused."""

from dtq.queue import Consumer, Engine


async def test_owner_records_progress_clamped_and_trimmed(
    engine: Engine, consumer: Consumer, deliver
) -> None:
    (d,) = await deliver(consumer)
    assert await consumer.report_progress(d, 150, "x" * 600) is True
    job = await engine.jobs.get(d.job_id)
    assert (job.progress, len(job.progress_message or "")) == (100, 500)
    assert await consumer.report_progress(d, -5, "") is True
    assert (await engine.jobs.get(d.job_id)).progress == 0


async def test_a_stale_owner_is_refused(engine: Engine, consumer: Consumer, deliver) -> None:
    (d,) = await deliver(consumer)
    (taken,) = await engine.consumer("c2").start([d.entry])
    assert await consumer.report_progress(d, 50, "late") is False
    assert (await engine.jobs.get(d.job_id)).progress is None
    assert await engine.consumer("c2").report_progress(taken, 50, "mine") is True
