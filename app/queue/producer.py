"""Submitting jobs and moving them by hand: enqueue, cancel, dead-letter redrive and purge."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.typing import EncodableT

from app.config import Settings
from app.errors import (
    DependencyCycleError,
    DuplicateJobError,
    IdempotencyConflictError,
    PayloadTooLargeError,
    UnknownParentError,
)
from app.models import (
    DEFAULT_TENANT,
    DeadLetterRetried,
    DeadLetterRetry,
    Job,
    JobCreate,
    JobStatus,
    Priority,
)
from app.queue import jsontext
from app.queue.dependencies import Dependencies
from app.queue.inspector import Inspector
from app.queue.job_ids import public_id, stored_id
from app.queue.keys import Keys
from app.queue.scripts import IDEMPOTENCY_CONFLICT, UNKNOWN_PARENT, Scripts, raise_for_code
from app.queue.timefmt import from_ms, to_ms

# Jobs per enqueue script call, and script calls per pipelined round trip.
ENQUEUE_CHUNK = 1000
REDRIVE_SCAN = 500
CHUNKS_PER_ROUND_TRIP = 8


def _fingerprint(job: JobCreate) -> str:
    """What makes two submissions under one idempotency key the same request."""
    body = job.model_dump(mode="json", exclude={"idempotency_key"})
    return hashlib.sha256(jsontext.dumps(body, sort_keys=True)).hexdigest()


# What enqueue.lua answers for a job created waiting on parents, or canceled at birth.
WAITING = -1
CANCELED_AT_BIRTH = -2


def _check(result: list[Any], jobs: Sequence[JobCreate]) -> list[Any]:
    """Raise the error an enqueue script's result stands for."""
    if isinstance(result[0], int) and result[0] < 0:
        if result[0] == IDEMPOTENCY_CONFLICT:
            key = jobs[result[1] - 1].idempotency_key
            raise IdempotencyConflictError(f"idempotency key {key!r} was used with another body")
        if result[0] == UNKNOWN_PARENT:
            parent = public_id(result[2])
            raise UnknownParentError(f"depends_on names job {parent}, which does not exist")
        chosen = [j.id for j in jobs if j.id]
        if chosen:
            raise DuplicateJobError(f"a job with one of the ids {', '.join(chosen[:10])} exists")
        raise DuplicateJobError("a generated job id exists already")
    return result


def _status_of(outcome: int) -> JobStatus:
    if outcome == WAITING:
        return JobStatus.WAITING
    if outcome == CANCELED_AT_BIRTH:
        return JobStatus.CANCELED
    return JobStatus.SCHEDULED if outcome else JobStatus.PENDING


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


def new_job_id() -> str:
    """A random 128-bit job id, as 32 hex characters."""
    return os.urandom(16).hex()


class Producer:
    """Writes jobs into the queue. Every change is one script call."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        scripts: Scripts,
        settings: Settings,
        dependencies: Dependencies,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._scripts = scripts
        self._settings = settings
        self._dependencies = dependencies
        self._inspector = Inspector(redis, keys, settings)

    def _encode(self, job: JobCreate) -> bytes:
        payload = jsontext.dumps(job.payload)
        if len(payload) > self._settings.MAX_PAYLOAD_BYTES:
            raise PayloadTooLargeError(
                f"payload is {len(payload)} bytes; the limit is {self._settings.MAX_PAYLOAD_BYTES}"
            )
        return payload

    def _args(
        self, ids: Sequence[str], jobs: Sequence[JobCreate], tenant: str
    ) -> tuple[list[str], list[EncodableT]]:
        k = self._keys
        s = self._settings
        ids = [stored_id(tenant, job_id) for job_id in ids]
        keys = [
            *k.streams,
            k.index,
            k.stats,
            k.events,
            k.delayed,
            k.lanes,
            k.tenant_index(tenant),
            *(k.job(i) for i in ids),
        ]
        parent_keys: list[str] = []
        args: list[EncodableT] = [
            s.EVENTS_MAXLEN,
            len(jobs),
            s.IDEMPOTENCY_TTL_S,
            s.RESULT_TTL_S,
            tenant,
            "" if s.AUTH_DISABLED else "1",  # with keys on, tenants share the workers fairly
        ]
        for job_id, job in zip(ids, jobs, strict=True):
            options: dict[str, str | int | float | list[str]] = {}
            if job.priority is not Priority.NORMAL:
                options["priority"] = job.priority.value
            if job.depends_on:
                parents = [stored_id(tenant, parent) for parent in job.depends_on]
                options["depends_on"] = parents
                for parent in parents:
                    parent_keys += (k.job(parent), k.children(parent))
            if job.partition_key:
                options["partition_key"] = job.partition_key
            if job.trace_id:
                options["trace_id"] = job.trace_id
            if job.delay_ms is not None:
                options["delay_ms"] = job.delay_ms
            if job.run_at is not None:
                options["run_at_ms"] = to_ms(job.run_at)
            if job.timeout_s is not None:
                options["timeout_s"] = job.timeout_s
            if job.idempotency_key:
                keys.append(k.idempotency(tenant, job.idempotency_key))
                options["fingerprint"] = _fingerprint(job)
            args += (
                job_id,
                job.task_type,
                self._encode(job),
                s.MAX_RETRIES if job.max_retries is None else job.max_retries,
                orjson.dumps(options) if options else "",
            )
        return keys + parent_keys, args

    async def enqueue(self, job: JobCreate, tenant: str = DEFAULT_TENANT) -> Job:
        """Store one job and append it to the stream (or the delayed set); returns its state."""
        stored, _ = await self.enqueue_once(job, tenant)
        return stored

    async def enqueue_once(self, job: JobCreate, tenant: str = DEFAULT_TENANT) -> tuple[Job, bool]:
        """enqueue(), also saying whether the job was created.

        False means its idempotency key was used before with the same body: the original job is
        returned. The same key with another body raises IdempotencyConflictError. Idempotency
        keys and parents (depends_on) are the tenant's own.
        """
        job_id = job.id or new_job_id()
        keys, args = self._args([job_id], [job], tenant)
        result = _check(await self._scripts["enqueue"](keys, args), [job])
        outcome = result[1]
        if isinstance(outcome, str):
            return await self._inspector.get_job(outcome, tenant), False
        return (
            Job(
                id=job_id,
                tenant=tenant,
                task_type=job.task_type,
                payload=job.payload,
                status=_status_of(outcome),
                priority=job.priority,
                depends_on=job.depends_on,
                due_at=from_ms(outcome) if outcome > 0 else None,
                attempt=0,
                failures=0,
                max_retries=self._settings.MAX_RETRIES
                if job.max_retries is None
                else job.max_retries,
                timeout_s=job.timeout_s,
                partition_key=job.partition_key,
                trace_id=job.trace_id,
                created_at=from_ms(result[0]),
                finished_at=from_ms(result[0]) if outcome == CANCELED_AT_BIRTH else None,
                cancel_reason="dependency_failed" if outcome == CANCELED_AT_BIRTH else None,
            ),
            True,
        )

    async def enqueue_many(
        self, jobs: Sequence[JobCreate], tenant: str = DEFAULT_TENANT
    ) -> list[str]:
        """Store many jobs in pipelined chunks; returns their ids in order.

        Each chunk of up to 1,000 jobs (an API batch) is stored all or nothing; every payload
        is checked before anything is written. A job whose idempotency key was used before
        with the same body gets the original job's id. Jobs are stored parents first, so a job
        may depend on another submitted along with it.
        """
        given = [job.id or new_job_id() for job in jobs]
        order = parents_first(given, jobs) if any(job.depends_on for job in jobs) else None
        if order is None or order == list(range(len(jobs))):
            return await self._enqueue_ordered(jobs, given, tenant)
        stored = await self._enqueue_ordered(
            [jobs[i] for i in order], [given[i] for i in order], tenant
        )
        out = [""] * len(jobs)
        for position, i in enumerate(order):
            out[i] = stored[position]
        return out

    async def _enqueue_ordered(
        self, jobs: Sequence[JobCreate], ids: list[str], tenant: str
    ) -> list[str]:
        calls = [
            (i, self._args(ids[i : i + ENQUEUE_CHUNK], jobs[i : i + ENQUEUE_CHUNK], tenant))
            for i in range(0, len(jobs), ENQUEUE_CHUNK)
        ]
        script = self._scripts["enqueue"]
        for first in range(0, len(calls), CHUNKS_PER_ROUND_TRIP):
            batch = calls[first : first + CHUNKS_PER_ROUND_TRIP]
            async with self._redis.pipeline(transaction=False) as pipe:
                for _, (keys, args) in batch:
                    await script(keys, args, client=pipe)
                results = await pipe.execute()
            for (start, _), result in zip(batch, results, strict=True):
                chunk = jobs[start : start + ENQUEUE_CHUNK]
                for offset, outcome in enumerate(_check(result, chunk)[1:]):
                    if isinstance(outcome, str):
                        ids[start + offset] = public_id(outcome)
        return ids

    async def cancel(self, job_id: str, tenant: str | None = None) -> None:
        """Cancel a waiting, pending, scheduled or running job (a running one is stopped at once).

        Jobs that wait on it are canceled too (`dependency_failed`), all the way down. With a
        tenant, another tenant's job is JobNotFoundError (a job's tenant never changes).
        """
        job_id = stored_id(tenant, job_id)
        k = self._keys
        await self._inspector.check_tenant(job_id, tenant)
        result = await self._scripts["cancel"](
            [k.job(job_id), k.delayed, *k.streams, k.stats, k.events, k.dependency_outbox, k.lanes],
            [
                self._settings.CONSUMER_GROUP,
                job_id,
                self._settings.RESULT_TTL_S,
                self._settings.EVENTS_MAXLEN,
                k.cancel_channel,
            ],
        )
        raise_for_code(result, public_id(job_id))
        if result == 2:
            await self._dependencies.release([job_id])

    async def redrive(
        self, job_id: str, reset_attempts: bool = True, tenant: str | None = None
    ) -> None:
        """Send a dead job back to the stream, with fresh retries unless told otherwise."""
        k = self._keys
        job_id = stored_id(tenant, job_id)
        await self._inspector.check_tenant(job_id, tenant)
        result = await self._scripts["redrive"](
            [k.job(job_id), k.dlq, *k.streams, k.stats, k.events, k.lanes],
            [job_id, self._settings.EVENTS_MAXLEN, "1" if reset_attempts else "0"],
        )
        raise_for_code(result, public_id(job_id))

    async def redrive_matching(
        self, ask: DeadLetterRetry, tenant: str | None = None
    ) -> DeadLetterRetried:
        """Send every dead job matching the filter back to the stream (or, dry run, count them).

        With a tenant, only that tenant's dead jobs match.
        """
        k = self._keys
        low = f"{max(to_ms(ask.since), 0)}-0" if ask.since else "-"
        high = f"({to_ms(ask.until)}-0" if ask.until else "+"
        matched: list[str] = []
        # Nothing is dead-lettered before the epoch (and "(0-0" is no valid stream id).
        while len(matched) < ask.limit and (ask.until is None or to_ms(ask.until) > 0):
            rows: Any = await self._redis.xrange(k.dlq, low, high, count=REDRIVE_SCAN)
            for _, f in rows:
                if (
                    (ask.task_type is None or f["task_type"] == ask.task_type)
                    and (ask.reason is None or f["reason"] == ask.reason)
                    and (tenant is None or f.get("tenant", DEFAULT_TENANT) == tenant)
                ):
                    matched.append(f["job_id"])
            if len(rows) < REDRIVE_SCAN:
                break
            low = f"({rows[-1][0]}"
        matched = matched[: ask.limit]
        retried = 0
        if not ask.dry_run:
            reset = "1" if ask.reset_attempts else "0"
            script = self._scripts["redrive"]
            for i in range(0, len(matched), REDRIVE_SCAN):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for job_id in matched[i : i + REDRIVE_SCAN]:
                        keys = [k.job(job_id), k.dlq, *k.streams, k.stats, k.events, k.lanes]
                        await script(
                            keys, [job_id, self._settings.EVENTS_MAXLEN, reset], client=pipe
                        )
                    retried += sum(1 for r in await pipe.execute() if r == 1)
        return DeadLetterRetried(
            matched=len(matched),
            retried=retried,
            dry_run=ask.dry_run,
            job_ids=[public_id(job_id) for job_id in matched[:1000]],
        )

    async def purge(self, job_id: str, tenant: str | None = None) -> None:
        """Delete a dead job and its dead-letter entry."""
        k = self._keys
        job_id = stored_id(tenant, job_id)
        await self._inspector.check_tenant(job_id, tenant)
        result = await self._scripts["purge"](
            [k.job(job_id), k.dlq, k.stats, k.events], [job_id, self._settings.EVENTS_MAXLEN]
        )
        raise_for_code(result, public_id(job_id))
