"""Read-only views of the queue: jobs, pages of jobs, the dead-letter queue, metrics, events."""

from __future__ import annotations

from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from app.config import Settings
from app.errors import JobNotFoundError, ResultNotReadyError
from app.models import (
    DEFAULT_TENANT,
    PRIORITY_ORDER,
    DeadLetter,
    DeadLetterList,
    DeadReason,
    Job,
    JobError,
    JobEvent,
    JobList,
    JobResult,
    JobStatus,
    JobTimeline,
    Priority,
    QueueMetrics,
)
from app.queue.job_ids import public_id, stored_id
from app.queue.keys import Keys
from app.queue.timefmt import from_ms

# How many index entries one list request may examine while filtering.
LIST_SCAN_BUDGET = 5000
LIST_CHUNK = 200


def _opt(value: str | None) -> str | None:
    return value or None


def _opt_time(value: str | None) -> Any:
    return from_ms(value) if value else None


def timeline_from_history(history: str) -> list[JobEvent]:
    """The transitions recorded in a job hash's `history` field, oldest first."""
    events = []
    for record in history.split(";"):
        if record:
            status, at, worker, attempt, reason = record.split(",", 4)
            events.append(
                JobEvent(
                    status=status,
                    at=from_ms(at),
                    worker=worker or None,
                    attempt=int(attempt) if attempt else None,
                    reason=reason or None,
                )
            )
    return events


# Statuses a job may be created in besides pending; each is recorded in its history at once.
BORN_AS = (JobStatus.SCHEDULED, JobStatus.WAITING, JobStatus.CANCELED)


def timeline(h: dict[str, str]) -> list[JobEvent]:
    """A job's transitions, oldest first.

    The happy path (pending, running, succeeded) is implicit in the hash's times; `history`
    records every transition once anything else happened (see _lib.lua).
    """
    recorded = timeline_from_history(h.get("history", ""))
    created = from_ms(h["created_at"])
    events = []
    born_other = recorded and recorded[0].at == created and recorded[0].status in BORN_AS
    if not born_other:
        events.append(JobEvent(status=JobStatus.PENDING, at=created, attempt=0))
    if recorded:
        return events + recorded
    worker = _opt(h.get("worker"))
    attempt = int(h["attempt"]) if h.get("attempt") else None
    finished = h.get("finished_at") if h["status"] == JobStatus.SUCCEEDED else None
    for status, at in ((JobStatus.RUNNING, h.get("started_at")), (JobStatus.SUCCEEDED, finished)):
        if at:
            events.append(JobEvent(status=status, at=from_ms(at), worker=worker, attempt=attempt))
    return events


def blocked_reason(
    h: dict[str, str], served: set[str] | None, waiting_on: str | None = None
) -> str | None:
    """Why a job that is not running is not running (None for running and succeeded jobs).

    :param served: task types that live workers serve, if known.
    :param waiting_on: for a waiting job, the first parent that has not succeeded, if known.
    """
    status = h["status"]
    if status == JobStatus.WAITING:
        if waiting_on:
            return f"waiting on dependency {public_id(waiting_on)}"
        return f"waiting on {h.get('deps_left', 'its')} dependencies"
    if status == JobStatus.PENDING:
        if served is not None and h["task_type"] not in served:
            return f"no live worker serves task type {h['task_type']!r}"
        if h.get("lane") and not h.get("entry"):
            return "waiting in its tenant's lane (its turn among tenants, or a slot under its cap)"
        return "waiting for a free worker"
    if status == JobStatus.SCHEDULED:
        due = from_ms(h["due_at"]).isoformat() if h.get("due_at") else "its due time"
        if h.get("rate_slot"):
            return f"rate limited until {due}"
        if int(h.get("failures") or 0) > 0:
            return f"retry backoff until {due}"
        return f"scheduled until {due}"
    if status == JobStatus.CANCELED:
        if h.get("cancel_reason") == "dependency_failed":
            return f"canceled: dependency {public_id(h.get('failed_parent') or '')} failed"
        return "canceled"
    if status == JobStatus.DEAD:
        return f"dead-lettered ({h.get('dead_reason')}); retry it from the DLQ"
    return None


def _owned_by(h: dict[str, str], tenant: str | None) -> bool:
    """Whether a job (or DLQ entry) belongs to the tenant; None means any tenant (internal)."""
    return tenant is None or h.get("tenant", DEFAULT_TENANT) == tenant


def job_from_hash(
    h: dict[str, str], served: set[str] | None = None, waiting_on: str | None = None
) -> Job:
    """A Job from its Redis hash."""
    errors = orjson.loads(h["errors"]) if h.get("errors") else []
    return Job(
        id=public_id(h["id"]),
        tenant=h.get("tenant", DEFAULT_TENANT),
        task_type=h["task_type"],
        payload=orjson.loads(h["payload"]),
        status=JobStatus(h["status"]),
        priority=Priority(h.get("priority") or Priority.NORMAL),
        depends_on=[public_id(p) for p in h["depends_on"].split(",")]
        if h.get("depends_on")
        else [],
        attempt=int(h["attempt"]),
        failures=int(h["failures"]),
        max_retries=int(h["max_retries"]),
        timeout_s=float(h["timeout_s"]) if h.get("timeout_s") else None,
        partition_key=_opt(h.get("partition_key")),
        trace_id=_opt(h.get("trace_id")),
        created_at=from_ms(h["created_at"]),
        started_at=_opt_time(h.get("started_at")),
        finished_at=_opt_time(h.get("finished_at")),
        due_at=_opt_time(h.get("due_at")),
        worker=_opt(h.get("worker")),
        last_error=_opt(h.get("last_error")),
        errors=[
            JobError(attempt=e["attempt"], error=e["error"], at=from_ms(e["at"])) for e in errors
        ],
        result=orjson.loads(h["result"]) if h.get("result") else None,
        dead_reason=DeadReason(h["dead_reason"]) if h.get("dead_reason") else None,
        cancel_reason=_opt(h.get("cancel_reason")),
        progress=float(h["progress"]) if h.get("progress") else None,
        progress_message=_opt(h.get("progress_message")),
        blocked_reason=blocked_reason(h, served, waiting_on),
    )


class Inspector:
    """Answers questions about the queue without changing it (beyond pruning dead index ids)."""

    def __init__(self, redis: Redis, keys: Keys, settings: Settings) -> None:
        self._redis = redis
        self._keys = keys
        self._settings = settings

    async def _hash(self, job_id: str, tenant: str | None) -> dict[str, str]:
        key = self._keys.job(stored_id(tenant, job_id))
        h = cast(dict[str, str], await self._redis.hgetall(key))
        if not h or not _owned_by(h, tenant):
            raise JobNotFoundError(f"job {public_id(job_id)} not found")
        return h

    async def check_tenant(self, job_id: str, tenant: str | None) -> None:
        """JobNotFoundError unless the job exists and belongs to the tenant (None: no check).

        Another tenant's job is answered exactly like a job that does not exist.
        """
        if tenant is None:
            return
        key = self._keys.job(stored_id(tenant, job_id))
        status, owner = await self._redis.hmget(key, ["status", "tenant"])
        if status is None or (owner or DEFAULT_TENANT) != tenant:
            raise JobNotFoundError(f"job {public_id(job_id)} not found")

    async def get_job(self, job_id: str, tenant: str | None = None) -> Job:
        """One job's state; JobNotFoundError if unknown, expired or (tenant given) not its."""
        h = await self._hash(job_id, tenant)
        served = await self.served_task_types() if h["status"] == JobStatus.PENDING else None
        waiting_on = await self._waiting_on([h])
        return job_from_hash(h, served, waiting_on.get(h["id"]))

    async def _waiting_on(self, hashes: list[dict[str, str]]) -> dict[str, str]:
        """For each waiting job among these, the first of its parents that has not succeeded."""
        waiting = [h for h in hashes if h and h["status"] == JobStatus.WAITING]
        if not waiting:
            return {}
        parents = {h["id"]: h.get("depends_on", "").split(",") for h in waiting}
        asked = sorted({p for ps in parents.values() for p in ps if p})
        async with self._redis.pipeline(transaction=False) as pipe:
            for parent in asked:
                pipe.hget(self._keys.job(parent), "status")
            status = dict(zip(asked, await pipe.execute(), strict=True))
        return {
            job_id: next((p for p in ps if status.get(p) != JobStatus.SUCCEEDED), ps[0])
            for job_id, ps in parents.items()
        }

    async def get_result(self, job_id: str, tenant: str | None = None) -> JobResult:
        """A finished job's outcome; ResultNotReadyError until it is finished."""
        job = job_from_hash(await self._hash(job_id, tenant))
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

    async def get_timeline(self, job_id: str, tenant: str | None = None) -> JobTimeline:
        """Every transition of one job (time, status, worker, attempt, reason)."""
        fields = (
            "tenant",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "worker",
            "attempt",
            "history",
        )
        values = await self._redis.hmget(self._keys.job(stored_id(tenant, job_id)), fields)
        h = {k: str(v) for k, v in zip(fields, values, strict=True) if v is not None}
        if "status" not in h or not _owned_by(h, tenant):
            raise JobNotFoundError(f"job {public_id(job_id)} not found")
        events = timeline(h)
        return JobTimeline(id=public_id(job_id), data=events, count=len(events))

    async def served_task_types(self) -> set[str]:
        """Task types that at least one live worker serves."""
        names = await self._live_workers()
        if not names:
            return set()
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hget(self._keys.worker(name), "tasks")
            lists = await pipe.execute()
        return {t for tasks in lists if tasks for t in str(tasks).split(",")}

    async def _live_workers(self) -> list[str]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.zrange(self._keys.workers, 0, -1, withscores=True)
            (secs, micros), workers = await pipe.execute()
        return self._alive(workers, secs * 1000 + micros // 1000)

    def _alive(self, workers: list[tuple[str, float]], now_ms: int) -> list[str]:
        """Names of the workers that heartbeated within three intervals of now (Redis clock)."""
        horizon = now_ms - self._settings.HEARTBEAT_INTERVAL_S * 3000
        return [name for name, seen in workers if seen >= horizon]

    async def list_jobs(
        self,
        status: JobStatus | None = None,
        task_type: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        tenant: str | None = None,
    ) -> JobList:
        """A page of jobs, newest first, optionally filtered by status and task type.

        `cursor` is the `next_cursor` of the previous page. A filtered page may hold fewer than
        `limit` jobs while `next_cursor` is set: the scan stops after LIST_SCAN_BUDGET jobs.
        """
        k = self._keys
        index = k.index if tenant is None else k.tenant_index(tenant)
        top: str | float = f"({cursor}" if cursor else "+inf"
        found: list[Job] = []
        scanned = 0
        last_score: float | None = None
        exhausted = False
        while len(found) < limit and scanned < LIST_SCAN_BUDGET:
            chunk: Any = await self._redis.zrange(
                index,
                top,
                "-inf",
                desc=True,
                byscore=True,
                offset=0,
                num=LIST_CHUNK,
                withscores=True,
            )
            if not chunk:
                exhausted = True
                break
            async with self._redis.pipeline(transaction=False) as pipe:
                for job_id, _ in chunk:
                    pipe.hgetall(k.job(job_id))
                hashes = await pipe.execute()
            gone = []
            pending = any(h and h["status"] == JobStatus.PENDING for h in hashes)
            served = await self.served_task_types() if pending else None
            waiting_on = await self._waiting_on(hashes)
            for (job_id, score), h in zip(chunk, hashes, strict=True):
                if len(found) == limit:
                    break
                scanned += 1
                last_score = score
                if not h:
                    gone.append(job_id)
                elif (
                    (status is None or h["status"] == status)
                    and (task_type is None or h["task_type"] == task_type)
                    and _owned_by(h, tenant)
                ):
                    found.append(job_from_hash(h, served, waiting_on.get(job_id)))
            if gone:
                await self._redis.zrem(index, *gone)
            top = f"({int(last_score)}" if last_score is not None else top
            if len(chunk) < LIST_CHUNK and len(found) < limit:
                exhausted = True
                break
        next_cursor = None if exhausted or last_score is None else str(int(last_score))
        return JobList(data=found, count=len(found), next_cursor=next_cursor)

    async def list_dead(
        self, cursor: str | None = None, limit: int = 50, tenant: str | None = None
    ) -> DeadLetterList:
        """A page of the dead-letter queue (of one tenant, or all), newest first.

        Like list_jobs, a tenant's page may hold fewer than `limit` entries while `next_cursor`
        is set: one request examines at most LIST_SCAN_BUDGET entries.
        """
        if cursor is not None and cursor.strip("0-") == "":
            return DeadLetterList(data=[], count=0, next_cursor=None)  # nothing is older than 0-0
        top = f"({cursor}" if cursor else "+"
        data: list[DeadLetter] = []
        last: str | None = None
        scanned = 0
        exhausted = False
        while len(data) < limit and scanned < LIST_SCAN_BUDGET:
            rows: Any = await self._redis.xrevrange(self._keys.dlq, top, "-", count=LIST_CHUNK)
            for entry_id, f in rows:
                if len(data) == limit:
                    break
                scanned += 1
                last = entry_id
                if _owned_by(f, tenant):
                    data.append(
                        DeadLetter(
                            job_id=public_id(f["job_id"]),
                            task_type=f["task_type"],
                            reason=DeadReason(f["reason"]),
                            attempts=int(f["attempts"]),
                            last_error=_opt(f.get("last_error")),
                            failed_at=from_ms(f["failed_at"]),
                        )
                    )
            if len(rows) < LIST_CHUNK and len(data) < limit:
                exhausted = True
                break
            top = f"({last}"
        next_cursor = None if exhausted or last is None else last
        return DeadLetterList(data=data, count=len(data), next_cursor=next_cursor)

    async def metrics(self) -> QueueMetrics:
        """Counts by status, stream and group gauges, totals and live workers."""
        k = self._keys
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.hgetall(k.stats)
            pipe.zcard(k.delayed)
            pipe.xlen(k.dlq)
            pipe.zrange(k.workers, 0, -1, withscores=True)
            for stream in k.streams:
                pipe.xlen(stream)
                pipe.xinfo_groups(stream)
            replies = await pipe.execute(raise_on_error=False)
        (secs, micros), stats, scheduled, dlq_len, workers = replies[:5]
        now = secs * 1000 + micros // 1000
        lengths = replies[5::2]
        groups = [self._group_info(g) for g in replies[6::2]]
        return QueueMetrics(
            jobs_by_status={s: max(int(stats.get(f"jobs:{s}", 0)), 0) for s in JobStatus},
            stream_length=sum(lengths),
            stream_length_by_priority=dict(zip(PRIORITY_ORDER, lengths, strict=True)),
            pending_entries=sum(int(g["pending"]) for g in groups if g),
            consumer_group_lag=sum(int(g.get("lag") or 0) for g in groups if g),
            scheduled=scheduled,
            dlq_depth=dlq_len,
            jobs_created_total=int(stats.get("created_total", 0)),
            jobs_completed_total=int(stats.get("completed_total", 0)),
            jobs_failed_total=int(stats.get("failed_total", 0)),
            jobs_retried_total=int(stats.get("retried_total", 0)),
            jobs_dead_total=int(stats.get("dead_total", 0)),
            live_workers=len(self._alive(workers, now)),
        )

    def _group_info(self, groups: Any) -> dict[str, Any] | None:
        """The consumer group's XINFO GROUPS row of one stream (None if missing)."""
        if isinstance(groups, ResponseError):
            return None
        return next((g for g in groups if g["name"] == self._settings.CONSUMER_GROUP), None)

    async def job_events(self, job_id: str, scan: int = 10_000) -> list[dict[str, str]]:
        """Transitions of one job still held in the capped events stream, oldest first.

        An event names one job, or every job a batch moved at once (`job_ids`, comma-separated).
        """
        rows: Any = await self._redis.xrevrange(self._keys.events, "+", "-", count=scan)
        return [
            fields for _, fields in reversed(rows) if job_id in fields.get("job_ids", "").split(",")
        ]
