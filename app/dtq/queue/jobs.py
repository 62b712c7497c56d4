"""Jobs after submission: read one, its result and timeline, list them, cancel one.

Methods take and give the tenant's own ids (tenant None: an internal caller, any tenant);
another tenant's job is answered exactly like one that does not exist.
"""

from __future__ import annotations

from typing import cast

import orjson

from dtq.errors import JobNotFoundError, JobRemovedError, ResultNotReadyError
from dtq.models import DEFAULT_TENANT, Job, JobList, JobResult, JobStatus, JobTimeline
from dtq.queue import job_index
from dtq.queue.clock import from_ms
from dtq.queue.dependencies import Dependencies
from dtq.queue.jobhash import (
    TIMELINE_FIELDS,
    job_from_hash,
    owned_by,
    parents_of,
    queue_of,
    timeline,
)
from dtq.queue.page import Page
from dtq.queue.scripts.cancel import cancel
from dtq.queue.scripts.library import Library
from dtq.queue.tenant_ids import public_id, stored_id
from dtq.queue.workers import Workers

# How many index entries one list request may examine while filtering.
LIST_SCAN_BUDGET = 5000
LIST_CHUNK = 200


class Jobs:
    """Reads of jobs (they change nothing beyond pruning expired ids), and cancel."""

    def __init__(self, lib: Library, workers: Workers, dependencies: Dependencies) -> None:
        self._lib = lib
        self._redis = lib.redis
        self._keys = lib.keys
        self._workers = workers
        self._dependencies = dependencies

    async def _hash(self, job_id: str, tenant: str | None) -> dict[str, str]:
        stored = stored_id(tenant, job_id)
        h = cast(dict[str, str], await self._redis.hgetall(self._keys.job(stored)))
        if not h:
            removed = await self._redis.zscore(self._keys.gone, stored)
            if removed is not None:
                raise JobRemovedError(
                    f"job {public_id(job_id)} finished and was removed at "
                    f"{from_ms(int(removed)).isoformat()} by retention: its queue's policy "
                    "(GET /queues/{name}/retention) or its own keep_for_s"
                )
        if not h or not owned_by(h, tenant):
            raise JobNotFoundError(f"job {public_id(job_id)} not found")
        return h

    async def check_tenant(self, job_id: str, tenant: str | None) -> str:
        """The stored id of the tenant's job; JobNotFoundError unless it exists and is the
        tenant's (None: no check)."""
        stored = stored_id(tenant, job_id)
        if tenant is None:
            return stored
        status, owner = await self._redis.hmget(self._keys.job(stored), ["status", "tenant"])
        if status is None or (owner or DEFAULT_TENANT) != tenant:
            raise JobNotFoundError(f"job {public_id(job_id)} not found")
        return stored

    async def get(self, job_id: str, tenant: str | None = None) -> Job:
        """One job's state; JobNotFoundError if unknown, expired or (tenant given) not its."""
        h = await self._hash(job_id, tenant)
        pending = h["status"] == JobStatus.PENDING
        served = await self._workers.serving() if pending else None
        stored = stored_id(tenant, job_id)
        waiting_on = await self._waiting_on([stored], [h])
        lane = await self._lane_cap(h) if pending else None
        return job_from_hash(stored, h, served, waiting_on.get(stored), lane)

    async def _lane_cap(self, h: dict[str, str]) -> tuple[int, int] | None:
        """For a job waiting in its tenant's lane: (the tenant's cap on this shard, its jobs
        dispatched in the job's queue here); None for any other job."""
        if not h.get("lane") or h.get("entry") or h.get("parked_to"):
            return None
        queue = self._keys.queue(queue_of(h))
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(self._keys.tenants, h["lane"])
            pipe.scard(queue.running(h["lane"]))
            definition, running = await pipe.execute()
        try:
            known = orjson.loads(definition or "{}")
            cap = int(known.get("max_concurrency") or 0)
            over = int(known.get("spread_over") or 0)
        except (ValueError, AttributeError, TypeError):
            cap, over = 0, 0
        cap = cap or self._lib.settings.TENANT_MAX_CONCURRENCY
        if over > 1:  # split over its shards, as read.lua does
            cap = -(-cap // over)
        return (cap, int(running))

    async def _waiting_on(self, ids: list[str], hashes: list[dict[str, str]]) -> dict[str, str]:
        """For each waiting job among these (stored ids, hashes), the first of its parents that
        has not succeeded."""
        parents = {
            job_id: parents_of(h)
            for job_id, h in zip(ids, hashes, strict=True)
            if h and h["status"] == JobStatus.WAITING
        }
        if not parents:
            return {}
        asked = sorted({p for ps in parents.values() for p in ps})
        async with self._redis.pipeline(transaction=False) as pipe:
            for parent in asked:
                pipe.hget(self._keys.job(parent), "status")
            status = dict(zip(asked, await pipe.execute(), strict=True))
        return {
            job_id: next((p for p in ps if status.get(p) != JobStatus.SUCCEEDED), ps[0])
            for job_id, ps in parents.items()
            if ps
        }

    async def result(self, job_id: str, tenant: str | None = None) -> JobResult:
        """A finished job's outcome; ResultNotReadyError until it is finished."""
        job = job_from_hash(stored_id(tenant, job_id), await self._hash(job_id, tenant))
        if not job.status.is_terminal:
            raise ResultNotReadyError(f"job {job.id} is {job.status}: no result yet")
        return JobResult(
            id=job.id,
            status=job.status,
            result=job.result,
            last_error=job.last_error,
            dead_reason=job.dead_reason,
            finished_at=job.finished_at,
        )

    async def timeline(self, job_id: str, tenant: str | None = None) -> JobTimeline:
        """Every transition of one job (time, status, worker, attempt, reason)."""
        key = self._keys.job(stored_id(tenant, job_id))
        values = await self._redis.hmget(key, TIMELINE_FIELDS)
        h = {k: str(v) for k, v in zip(TIMELINE_FIELDS, values, strict=True) if v is not None}
        if "status" not in h or not owned_by(h, tenant):
            raise JobNotFoundError(f"job {public_id(job_id)} not found")
        events = timeline(h)
        return JobTimeline(id=public_id(job_id), data=events, count=len(events))

    async def list(
        self,
        status: JobStatus | None = None,
        task_type: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        tenant: str = DEFAULT_TENANT,
        queue: str | None = None,
        priority: str | None = None,
        created: tuple[int | None, int | None] = (None, None),
    ) -> JobList:
        """A page of the tenant's jobs, newest first, optionally filtered by status, task
        type, queue and priority, and created in [after, before) (`created`, ms since the epoch).

        `cursor` is the `next_cursor` of the previous page. A filtered page may hold fewer than
        `limit` jobs while `next_cursor` is set: the scan stops after LIST_SCAN_BUDGET jobs.
        """
        page = await self.page(status, task_type, cursor, limit, tenant, queue, priority, created)
        found = [job for _, job in page.items]
        return JobList(data=found, count=len(found), next_cursor=page.next_cursor)

    async def page(
        self,
        status: JobStatus | None = None,
        task_type: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        tenant: str = DEFAULT_TENANT,
        queue: str | None = None,
        priority: str | None = None,
        created: tuple[int | None, int | None] = (None, None),
        inclusive: bool = False,
    ) -> Page[Job]:
        """list()'s page with each job's index score (its creation, in µs): what a listing over
        several shards merges by (see dtq.queue.spread); `inclusive` starts at the cursor's
        score instead of below it."""
        k = self._keys
        index = k.tenant_index(tenant)
        after, before = created
        top: str | float = (cursor if inclusive else f"({cursor}") if cursor else "+inf"
        if before is not None and (cursor is None or before * 1000 <= int(cursor)):
            top = f"({before * 1000}"  # index scores are creation times in µs
        bottom: str | float = after * 1000 if after is not None else "-inf"
        found: list[tuple[int, Job]] = []
        scanned = 0
        last_score: int | None = None
        exhausted = False
        while len(found) < limit and scanned < LIST_SCAN_BUDGET:
            chunk = await job_index.newest(self._redis, index, top, bottom, LIST_CHUNK)
            if not chunk:
                exhausted = True
                break
            async with self._redis.pipeline(transaction=False) as pipe:
                for entry in chunk:
                    pipe.hgetall(k.job(entry.job_id))
                hashes = await pipe.execute()
            stale = []
            pending = any(h and h["status"] == JobStatus.PENDING for h in hashes)
            served = await self._workers.serving() if pending else None
            waiting_on = await self._waiting_on([entry.job_id for entry in chunk], hashes)
            for entry, h in zip(chunk, hashes, strict=True):
                if len(found) == limit:
                    break
                scanned += 1
                last_score = entry.score
                if not entry.indexes(h):
                    stale.append(entry)
                elif (
                    (status is None or h["status"] == status)
                    and (task_type is None or h["task_type"] == task_type)
                    and (queue is None or queue_of(h) == queue)
                    and (priority is None or h.get("priority", "normal") == priority)
                    and owned_by(h, tenant)
                ):
                    job = job_from_hash(entry.job_id, h, served, waiting_on.get(entry.job_id))
                    found.append((entry.score, job))
            if stale:
                await job_index.drop(self._lib, index, stale)
            top = f"({last_score}" if last_score is not None else top
            if len(chunk) < LIST_CHUNK and len(found) < limit:
                exhausted = True
                break
        last = None if exhausted or last_score is None else int(last_score)
        return Page(found, last, None if last is None else str(last))

    async def find_by_idempotency_key(self, key: str, tenant: str) -> JobList:
        """The tenant's job submitted with this idempotency key (an empty list once the key's
        record expired)."""
        record = await self._redis.get(self._keys.idempotency(tenant, key))
        if not record:
            return JobList(data=[], count=0, next_cursor=None)
        try:
            job = await self.get(public_id(str(record).rpartition(":")[0]), tenant)
        except JobNotFoundError:
            return JobList(data=[], count=0, next_cursor=None)
        return JobList(data=[job], count=1, next_cursor=None)

    async def cancel(self, job_id: str, tenant: str | None = None) -> Job:
        """Cancel a waiting, pending, scheduled or running job (a running one is stopped at once);
        the job as canceled (its queue's retention may have removed it already).

        Jobs that wait on it are canceled too (`dependency_failed`), all the way down.
        JobNotFoundError; InvalidTransitionError for a finished job.
        """
        stored = await self.check_tenant(job_id, tenant)
        canceled = await cancel(self._lib, job_id=stored)
        if canceled.outcome.release_dependents:
            await self._dependencies.release([stored])
        return job_from_hash(stored, canceled.record)
