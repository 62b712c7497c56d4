"""Submitting jobs: one enqueue.lua call per chunk, pipelined, parents stored first."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple, cast

from dtq import jsontext
from dtq.errors import DependencyCycleError, PayloadTooLargeError
from dtq.models import DEFAULT_TENANT, Job, JobCreate, JobCreated, JobStatus
from dtq.queue.clock import from_ms
from dtq.queue.group_commit import GroupCommit
from dtq.queue.job_ids import new_job_id
from dtq.queue.jobhash import job_from_hash
from dtq.queue.scripts.admit import Admission, Bucket
from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.enqueue import Enqueued, enqueue
from dtq.queue.scripts.library import Call, Library, run_all
from dtq.queue.tenant_ids import public_id

# Jobs per enqueue script call, and script calls per pipelined round trip.
ENQUEUE_CHUNK = 1000
CHUNKS_PER_ROUND_TRIP = 8

STATUS_OF = {
    Code.PENDING: JobStatus.PENDING,
    Code.SCHEDULED: JobStatus.SCHEDULED,
    Code.WAITING: JobStatus.WAITING,
    Code.CANCELED: JobStatus.CANCELED,
}


def parents_first(ids: Sequence[str], jobs: Sequence[JobCreate]) -> list[int]:
    """An order of the jobs in which every parent submitted along comes before its children.

    Raises DependencyCycleError when the jobs' depends_on lists form a cycle.
    """
    position = {job_id: i for i, job_id in enumerate(ids)}
    children: dict[int, list[int]] = {}
    waiting_on = [0] * len(jobs)
    for i, job in enumerate(jobs):
        for parent in job.depends_on:
            p = position.get(parent)
            if p is not None:
                children.setdefault(p, []).append(i)
                waiting_on[i] += 1
    order = [i for i, n in enumerate(waiting_on) if n == 0]
    for i in order:  # grows while it is walked (Kahn's algorithm)
        for child in children.get(i, []):
            waiting_on[child] -= 1
            if waiting_on[child] == 0:
                order.append(child)
    if len(order) < len(jobs):
        placed = set(order)
        stuck = [ids[i] for i in range(len(jobs)) if i not in placed]
        raise DependencyCycleError(f"depends_on forms a cycle among {', '.join(stuck[:10])}")
    return order


class Submitted(NamedTuple):
    """One job submitted: its state, whether it was created (False: an idempotent replay) and
    what the submitter should know."""

    job: JobCreated
    created: bool
    warnings: list[str]
    admission: Admission | None = None  # submitted with a bucket: how the rate limit stands


class SubmittedMany(NamedTuple):
    """Jobs submitted together: their ids in order, and what the submitter should know."""

    ids: list[str]
    warnings: list[str]


def unserved_warnings(task_types: Iterable[str]) -> list[str]:
    """The warnings for task types no worker has ever served."""
    return [
        f"no worker has ever served task type {t!r}: its jobs wait until a worker that "
        "serves it starts (check the name)"
        for t in sorted(set(task_types))
    ]


class Producer:
    """Writes jobs into the queue, each chunk all or nothing."""

    def __init__(self, lib: Library) -> None:
        self._lib = lib
        self._settings = lib.settings
        # Single submissions made at once go together (one call per tenant and round trip).
        self._single = GroupCommit(lib, lanes=not self._settings.AUTH_DISABLED)

    def _call(
        self,
        tenant: str,
        ids: Sequence[str],
        jobs: Sequence[JobCreate],
        bucket: Bucket | None = None,
    ) -> Call[Enqueued]:
        """The enqueue call for these jobs; every payload is checked for size first."""
        return enqueue(
            self._lib,
            tenant=tenant,
            ids=ids,
            jobs=jobs,
            payloads=[self._payload(job) for job in jobs],
            lanes=not self._settings.AUTH_DISABLED,
            bucket=bucket,
        )

    def _payload(self, job: JobCreate) -> bytes:
        """The job's payload as stored (JSON); PayloadTooLargeError past MAX_PAYLOAD_BYTES."""
        payload = jsontext.dumps(job.payload)
        limit = self._settings.MAX_PAYLOAD_BYTES
        if len(payload) > limit:
            raise PayloadTooLargeError(f"payload is {len(payload)} bytes; the limit is {limit}")
        return payload

    async def warnings_for(self, task_types: Iterable[str]) -> list[str]:
        """The warnings a submission of these task types would carry (e.g. for a schedule)."""
        names = sorted(set(task_types))
        known = await self._lib.redis.hmget(self._lib.keys.tasks, names)
        return unserved_warnings(t for t, queue in zip(names, known, strict=True) if not queue)

    async def enqueue(self, job: JobCreate, tenant: str = DEFAULT_TENANT) -> Job:
        """Store one job and queue it (or schedule it, or make it wait); returns its state."""
        return (await self.enqueue_once(job, tenant)).job

    async def enqueue_once(
        self,
        job: JobCreate,
        tenant: str = DEFAULT_TENANT,
        bucket: Bucket | None = None,
        job_id: str | None = None,
    ) -> Submitted:
        """enqueue(), also saying whether the job was created, with warnings.

        Not created means its idempotency key was used before with the same body: the original
        job is returned. The same key with another body raises IdempotencyConflictError.
        Idempotency keys and parents (depends_on) are the tenant's own. With a `bucket`, the
        job is admitted by the tenant's rate limit in the same round trip (NotAdmitted when
        refused); `admission` says how it stands. `job_id`: the id to store a job without one
        under (default: a new random one).
        """
        job_id = job.id or job_id or new_job_id()
        done = await self._single.submit(tenant, bucket, job_id, job, self._payload(job))
        (code,), (value,), (queue,) = done.codes, done.values, done.queues
        warnings = unserved_warnings(done.unknown_task_types)
        if code == Code.REPLAYED:
            h = await self._lib.redis.hgetall(self._lib.keys.job(str(value)))
            original = job_from_hash(str(value), cast(dict[str, str], h))
            replayed = JobCreated.model_validate({**original.__dict__, "warnings": warnings})
            return Submitted(replayed, False, warnings, done.admission)
        created = from_ms(done.created_at_ms)
        return Submitted(
            JobCreated(
                id=job_id,
                tenant=tenant,
                task_type=job.task_type,
                payload=job.payload,
                queue=queue,
                status=STATUS_OF[code],
                priority=job.priority,
                depends_on=job.depends_on,
                due_at=from_ms(value) if code == Code.SCHEDULED else None,
                attempt=0,
                failures=0,
                max_retries=self._settings.MAX_RETRIES
                if job.max_retries is None
                else job.max_retries,
                timeout_s=job.timeout_s,
                keep_for_s=job.keep_s,
                partition_key=job.partition_key,
                trace_id=job.trace_id,
                created_at=created,
                finished_at=created if code == Code.CANCELED else None,
                cancel_reason="dependency_failed" if code == Code.CANCELED else None,
                warnings=warnings,
            ),
            True,
            warnings,
            done.admission,
        )

    async def enqueue_many(
        self, jobs: Sequence[JobCreate], tenant: str = DEFAULT_TENANT
    ) -> list[str]:
        """Store many jobs (see submit_many); returns their ids in order."""
        return (await self.submit_many(jobs, tenant)).ids

    async def submit_many(
        self,
        jobs: Sequence[JobCreate],
        tenant: str = DEFAULT_TENANT,
        new_ids: Iterator[str] | None = None,
    ) -> SubmittedMany:
        """Store many jobs in pipelined chunks; returns their ids in order, with warnings.

        Each chunk of up to 1,000 jobs (an API batch) is stored all or nothing; every payload
        is checked before anything is written. A job whose idempotency key was used before
        with the same body gets the original job's id. Jobs are stored parents first, so a job
        may depend on another submitted along with it. `new_ids` gives the ids of jobs without
        one (default: new random ones).
        """
        fresh = new_ids if new_ids is not None else iter(new_job_id, "")
        given = [job.id or next(fresh) for job in jobs]
        order = parents_first(given, jobs) if any(job.depends_on for job in jobs) else None
        unknown: set[str] = set()
        if order is None or order == list(range(len(jobs))):
            ids = await self._enqueue_ordered(jobs, given, tenant, unknown)
            return SubmittedMany(ids, unserved_warnings(unknown))
        stored = await self._enqueue_ordered(
            [jobs[i] for i in order], [given[i] for i in order], tenant, unknown
        )
        out = [""] * len(jobs)
        for position, i in enumerate(order):
            out[i] = stored[position]
        return SubmittedMany(out, unserved_warnings(unknown))

    async def _enqueue_ordered(
        self, jobs: Sequence[JobCreate], ids: list[str], tenant: str, unknown: set[str]
    ) -> list[str]:
        chunks = range(0, len(jobs), ENQUEUE_CHUNK)
        calls = [
            self._call(tenant, ids[i : i + ENQUEUE_CHUNK], jobs[i : i + ENQUEUE_CHUNK])
            for i in chunks
        ]
        for first in range(0, len(calls), CHUNKS_PER_ROUND_TRIP):
            batch = calls[first : first + CHUNKS_PER_ROUND_TRIP]
            results = await run_all(self._lib.redis, batch)
            for start, done in zip(chunks[first:], results, strict=False):
                unknown.update(done.unknown_task_types)
                if Code.REPLAYED not in done.codes:
                    continue
                for offset, (code, value) in enumerate(zip(done.codes, done.values, strict=True)):
                    if code == Code.REPLAYED:
                        ids[start + offset] = public_id(str(value))
        return ids
