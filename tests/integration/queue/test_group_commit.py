"""Single submissions made at once share one enqueue call (group commit), yet each fares as if
it had been sent alone: its own admission, its own refusal, the others stored."""

import asyncio
from typing import Any

import pytest

from dtq.errors import DuplicateJobError, IdempotencyConflictError, UnknownParentError
from dtq.models import JobCreate
from dtq.queue import Engine, job_index
from dtq.queue.group_commit import GroupCommit
from dtq.queue.scripts.admit import Bucket, NotAdmitted
from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.enqueue import enqueue_each
from dtq.queue.tenant_ids import stored_id


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of jobs in each enqueue call GroupCommit makes."""
    sizes: list[int] = []
    real = GroupCommit._call

    def call(self: GroupCommit, group: list[Any]) -> Any:
        sizes.append(len(group))
        return real(self, group)

    monkeypatch.setattr(GroupCommit, "_call", call)
    return sizes


async def at_once(engine: Engine, jobs: list[JobCreate], bucket: Bucket | None = None) -> list[Any]:
    """enqueue_once for every job at the same moment; each outcome (or error), in order."""
    return await asyncio.gather(
        *(engine.producer.enqueue_once(j, "acme", bucket) for j in jobs), return_exceptions=True
    )


async def test_jobs_sent_at_once_go_in_one_call(engine: Engine, calls: list[int]) -> None:
    outcomes = await at_once(
        engine, [JobCreate(task_type="noop", payload={"n": i}) for i in range(20)]
    )
    assert calls == [20]
    assert all(o.created for o in outcomes)
    assert len({o.job.id for o in outcomes}) == 20
    for i, o in enumerate(outcomes):
        h = await engine.redis.hgetall(engine.keys.job(stored_id("acme", o.job.id)))
        assert h["status"] == "pending" and h["payload"] == f'{{"n":{i}}}'
    stats = await engine.redis.hgetall(engine.keys.stats)
    assert stats["created_total"] == "20" and stats["jobs:pending"] == "20"


async def test_each_job_takes_its_own_token(engine: Engine, calls: list[int]) -> None:
    bucket = Bucket(engine.keys.submit_bucket("acme"), 1.0, 3, 1)
    jobs = [JobCreate(id=f"j{i}", task_type="noop") for i in range(5)]
    outcomes = await at_once(engine, jobs, bucket)
    assert calls == [5]
    admitted = [o.admission.remaining for o in outcomes[:3]]
    assert admitted == [2, 1, 0]  # as if sent one after another
    for refused in outcomes[3:]:
        assert isinstance(refused, NotAdmitted) and refused.admission.retry_after_ms > 0
    for i in range(5):
        stored = await engine.redis.exists(engine.keys.job(stored_id("acme", f"j{i}")))
        assert stored == (i < 3)
    assert await job_index.count(engine.redis, engine.keys.tenant_index("acme")) == 3


async def test_a_refused_job_leaves_the_others_stored(engine: Engine, calls: list[int]) -> None:
    r, k = engine.redis, engine.keys
    await engine.producer.enqueue_once(JobCreate(id="taken", task_type="noop"), "acme")
    taken = await r.hgetall(k.job(stored_id("acme", "taken")))
    await engine.producer.enqueue_once(
        JobCreate(task_type="noop", idempotency_key="k1", payload={"a": 1}), "acme"
    )
    first = await engine.producer.enqueue_once(
        JobCreate(task_type="noop", idempotency_key="k2", payload={"a": 1}), "acme"
    )
    calls.clear()
    jobs = [
        JobCreate(id="new-1", task_type="noop"),
        JobCreate(id="taken", task_type="noop"),  # a duplicate
        JobCreate(task_type="noop", idempotency_key="k1", payload={"a": 2}),  # another body
        JobCreate(task_type="noop", depends_on=["nobody"]),  # an unknown parent
        JobCreate(task_type="noop", idempotency_key="k2", payload={"a": 1}),  # a replay
        JobCreate(id="new-2", task_type="noop", depends_on=["new-1"]),  # a parent just sent
    ]
    outcomes = await at_once(engine, jobs)
    assert calls == [6]
    assert outcomes[0].created
    assert isinstance(outcomes[1], DuplicateJobError)
    assert isinstance(outcomes[2], IdempotencyConflictError)
    assert isinstance(outcomes[3], UnknownParentError)
    assert not outcomes[4].created and outcomes[4].job.id == first.job.id
    assert outcomes[5].created and outcomes[5].job.status == "waiting"
    assert await r.hgetall(k.job(stored_id("acme", "taken"))) == taken
    ids = set(await job_index.job_ids(r, k.tenant_index("acme")))
    assert len(ids) == 5  # taken, k1's, k2's, new-1 and new-2
    assert {stored_id("acme", i) for i in ("taken", "new-1", "new-2", first.job.id)} < ids
    assert await r.smembers(k.children(stored_id("acme", "new-1"))) == {stored_id("acme", "new-2")}
    stats = await r.hgetall(k.stats)
    assert stats["created_total"] == "5"


async def test_a_repeated_id_or_key_waits_for_the_next_call(
    engine: Engine, calls: list[int]
) -> None:
    """Two submissions with one id (or one idempotency key) never share a call: the second is
    checked against what the first stored."""
    jobs = [
        JobCreate(id="same", task_type="noop"),
        JobCreate(task_type="noop", idempotency_key="k"),
        JobCreate(id="same", task_type="noop"),
        JobCreate(task_type="noop", idempotency_key="k"),
    ]
    outcomes = await at_once(engine, jobs)
    assert calls == [2, 2]
    assert outcomes[0].created and isinstance(outcomes[2], DuplicateJobError)
    assert outcomes[1].created and not outcomes[3].created
    assert outcomes[3].job.id == outcomes[1].job.id


async def test_tenants_go_in_calls_of_their_own(engine: Engine, calls: list[int]) -> None:
    outcomes = await asyncio.gather(
        *(
            engine.producer.enqueue_once(JobCreate(task_type="noop"), tenant)
            for tenant in ("acme", "globex", "acme", "globex", "acme")
        )
    )
    assert sorted(calls) == [2, 3]
    assert [o.job.tenant for o in outcomes] == ["acme", "globex", "acme", "globex", "acme"]


async def test_warnings_name_each_jobs_own_task_type(engine: Engine, calls: list[int]) -> None:
    await engine.redis.hset(engine.keys.tasks, "served", "default")
    outcomes = await at_once(
        engine, [JobCreate(task_type="served"), JobCreate(task_type="mypkg.resize")]
    )
    assert calls == [2]
    assert outcomes[0].warnings == []
    assert len(outcomes[1].warnings) == 1 and "mypkg.resize" in outcomes[1].warnings[0]


async def test_the_script_refuses_an_id_repeated_in_one_call(engine: Engine) -> None:
    """enqueue_each's callers never repeat an id in a call; if one did, the second is refused
    and the first stored (the same as two calls)."""
    call = enqueue_each(
        engine.lib,
        tenant="acme",
        ids=["twice", "twice", "once"],
        jobs=[JobCreate(task_type="noop")] * 3,
        payloads=[b"{}"] * 3,
        lanes=True,
    )
    first, second, third = await call
    assert not isinstance(first, Exception) and first.codes == [Code.PENDING]
    assert isinstance(second, DuplicateJobError)
    assert not isinstance(third, Exception) and third.codes == [Code.PENDING]
    assert await job_index.count(engine.redis, engine.keys.tenant_index("acme")) == 2
