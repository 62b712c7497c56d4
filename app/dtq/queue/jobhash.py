"""The job hash, `<prefix>:{shard}:job:<stored id>`: its fields, and how they decode.

The scripts write it (enqueue.lua creates it, every transition updates it); this module is the
one place that reads it back into the wire models. Fields (absent when unset):

    id task_type payload (JSON) status tenant (absent: default) queue (absent: default)
    priority (absent: normal)
    attempt (times started) failures: absent until the first start and failure (a pending
      job's hash is smaller without them)
    deliveries (starts without an outcome): absent while it equals attempt, until a retry or a
      redrive starts it over (start.lua)
    max_retries timeout_s
    created_at started_at finished_at due_at (ms, Redis clock)
    worker (last owner) entry (stream entry id while pending/running)
    errors (JSON: the last 10 {attempt, error, at, traceback?}; the last is the job's last
      error; builds before 2026-11-28 also kept it as last_error) result (JSON; absent: None)
    dead_reason dlq_entry cancel_reason failed_parent progress progress_message progress_at
    depends_on (comma-separated stored ids) deps_left dependents (others wait on it)
    partition_key trace_id rate_slot (reserved start slot, ms) keep (seconds to keep it once
      succeeded, when the job says: 0 removes it as it succeeds)
    lane (tenant whose lane it waits in) lane_slot (the running set holding its slot)
    pk_line (the line of its partition key) parked_to parked_lanes (while parked in that line)
    history: every transition as "status,at,worker,attempt,reason;" once anything beyond the
      happy path happened (see _lib.lua: written_out, appended); the happy path (pending,
      running, succeeded) is implicit in created_at, started_at and finished_at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from dtq.models import (
    DEFAULT_QUEUE,
    DEFAULT_TENANT,
    DeadReason,
    Job,
    JobError,
    JobEvent,
    JobStatus,
    Priority,
)
from dtq.queue.clock import from_ms
from dtq.queue.tenant_ids import public_id


@dataclass(frozen=True, slots=True)
class Serving:
    """What the live workers serve: (queue, task type) pairs, the queues paused, and how many
    live workers listen to each queue."""

    pairs: frozenset[tuple[str, str]]
    paused: frozenset[str] = frozenset()
    listeners: dict[str, int] = field(default_factory=dict)


# What a timeline needs of the hash.
TIMELINE_FIELDS = (
    "tenant",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "worker",
    "attempt",
    "history",
    "errors",
)
# Statuses a job may be created in besides pending, with the reason enqueue.lua records for each
# in its history at once. The reason tells them from the same status reached later in the same
# millisecond (a pending job canceled at once records `was pending`).
BORN_AS = (
    (JobStatus.SCHEDULED, "delayed"),
    (JobStatus.WAITING, "dependencies"),
    (JobStatus.CANCELED, "dependency_failed"),
)


def _opt(value: str | None) -> str | None:
    return value or None


def _opt_time(value: str | None) -> Any:
    return from_ms(value) if value else None


def tenant_of(h: dict[str, str]) -> str:
    """The tenant a job (or a dead-letter entry) belongs to."""
    return h.get("tenant", DEFAULT_TENANT)


def owned_by(h: dict[str, str], tenant: str | None) -> bool:
    """Whether a job belongs to the tenant; None means any tenant (internal callers)."""
    return tenant is None or tenant_of(h) == tenant


def parents_of(h: dict[str, str]) -> list[str]:
    """The stored ids of a job's parents (depends_on)."""
    return h["depends_on"].split(",") if h.get("depends_on") else []


def parse_history(history: str) -> list[JobEvent]:
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


# Transitions that end a failed attempt: the attempt's error and traceback are shown on them.
FAILURE_REASONS = ("error", "timeout", "retries_exhausted", "invalid_result")


def _with_errors(events: list[JobEvent], errors: list[dict[str, Any]]) -> list[JobEvent]:
    """Events that end failed attempts, with those attempts' errors and tracebacks."""
    by_attempt = {e["attempt"]: e for e in errors}
    for event in events:
        if event.reason in FAILURE_REASONS and event.attempt in by_attempt:
            error = by_attempt[event.attempt]
            event.error = error["error"]
            event.traceback = error.get("traceback")
    return events


def timeline(h: dict[str, str]) -> list[JobEvent]:
    """A job's transitions, oldest first (from TIMELINE_FIELDS of its hash); those that end a
    failed attempt carry its error and traceback (of the last 10 failures)."""
    recorded = parse_history(h.get("history", ""))
    if recorded and h.get("errors"):
        recorded = _with_errors(recorded, orjson.loads(h["errors"]))
    created = from_ms(h["created_at"])
    events = []
    first = recorded[0] if recorded else None
    born_other = first and first.at == created and (first.status, first.reason) in BORN_AS
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


def queue_of(h: dict[str, str]) -> str:
    """The job's queue."""
    return h.get("queue") or DEFAULT_QUEUE


def _pending_reason(h: dict[str, str], served: Serving | None, lane: tuple[int, int] | None) -> str:
    queue = queue_of(h)
    if served is not None and queue in served.paused:
        return f"queue {queue!r} is paused"
    if served is not None and (queue, h["task_type"]) not in served.pairs:
        return f"no live worker serves task type {h['task_type']!r} on queue {queue!r}"
    if h.get("parked_to"):
        return "waiting for the jobs ahead of it with its partition_key to finish"
    if lane is not None and lane[0] and lane[1] >= lane[0]:
        return (
            f"waiting in its tenant's lane: the tenant's cap of {lane[0]} jobs at once is full "
            f"({lane[1]} dispatched in queue {queue!r})"
        )
    if lane is not None:
        return "waiting in its tenant's lane for its turn among the tenants"
    if h.get("lane") and not h.get("entry"):
        return "waiting in its tenant's lane (its turn among tenants, or a slot under its cap)"
    return "waiting for a free worker"


def blocked_reason(
    h: dict[str, str],
    served: Serving | None,
    waiting_on: str | None = None,
    lane: tuple[int, int] | None = None,
) -> str | None:
    """Why a job that is not running is not running (None for running and succeeded jobs).

    :param served: what live workers serve and which queues are paused, if known.
    :param waiting_on: for a waiting job, the first parent that has not succeeded, if known.
    :param lane: for a job in its tenant's lane, (the tenant's cap, 0 for none; its jobs
        dispatched in the job's queue), if known.
    """
    status = h["status"]
    if status == JobStatus.WAITING:
        if waiting_on:
            return f"waiting on dependency {public_id(waiting_on)}"
        return f"waiting on {h.get('deps_left', 'its')} dependencies"
    if status == JobStatus.PENDING:
        return _pending_reason(h, served, lane)
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


def last_error(errors: list[dict[str, Any]], field: str | None) -> str | None:
    """A job's last error: its last recorded failure's (`errors`, decoded), or the `last_error`
    field of a hash no failure has been recorded on since before 2026-11-28."""
    if errors:
        return str(errors[-1]["error"])
    return _opt(field)


def job_from_hash(
    stored: str,
    h: dict[str, str],
    served: Serving | None = None,
    waiting_on: str | None = None,
    lane: tuple[int, int] | None = None,
) -> Job:
    """A Job from its stored id and hash (which does not repeat the id), in its tenant's ids
    (see blocked_reason for the other arguments)."""
    errors = orjson.loads(h["errors"]) if h.get("errors") else []
    return Job(
        id=public_id(stored),
        tenant=tenant_of(h),
        task_type=h["task_type"],
        payload=orjson.loads(h["payload"]),
        queue=queue_of(h),
        status=JobStatus(h["status"]),
        priority=Priority(h.get("priority") or Priority.NORMAL),
        depends_on=[public_id(p) for p in parents_of(h)],
        attempt=int(h.get("attempt") or 0),
        failures=int(h.get("failures") or 0),
        max_retries=int(h["max_retries"]),
        timeout_s=float(h["timeout_s"]) if h.get("timeout_s") else None,
        keep_for_s=int(h["keep"]) if h.get("keep") else None,
        partition_key=_opt(h.get("partition_key")),
        trace_id=_opt(h.get("trace_id")),
        created_at=from_ms(h["created_at"]),
        started_at=_opt_time(h.get("started_at")),
        finished_at=_opt_time(h.get("finished_at")),
        due_at=_opt_time(h.get("due_at")),
        worker=_opt(h.get("worker")),
        last_error=last_error(errors, h.get("last_error")),
        errors=[
            JobError(
                attempt=e["attempt"],
                error=e["error"],
                at=from_ms(e["at"]),
                traceback=e.get("traceback"),
            )
            for e in errors
        ],
        result=orjson.loads(h["result"]) if h.get("result") else None,
        dead_reason=DeadReason(h["dead_reason"]) if h.get("dead_reason") else None,
        cancel_reason=_opt(h.get("cancel_reason")),
        progress=float(h["progress"]) if h.get("progress") else None,
        progress_message=_opt(h.get("progress_message")),
        blocked_reason=blocked_reason(h, served, waiting_on, lane),
    )
