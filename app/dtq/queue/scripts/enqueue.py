"""The face of enqueue.lua: store jobs and queue them, all or none (enqueue), or each on its own
(enqueue_each: independent submissions sent in one call)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.typing import EncodableT

from dtq import jsontext
from dtq.errors import DuplicateJobError, IdempotencyConflictError, UnknownParentError
from dtq.models import DEFAULT_QUEUE, JobCreate, Priority
from dtq.queue.clock import to_ms
from dtq.queue.keys import index_directory
from dtq.queue.retention import retention_config
from dtq.queue.scripts.admit import Admission, Bucket, NotAdmitted
from dtq.queue.scripts.codes import CODES, Code
from dtq.queue.scripts.library import Call, Library
from dtq.queue.tenant_ids import public_id, stored_id


def fingerprint(job: JobCreate) -> str:
    """What makes two submissions under one idempotency key the same request (not its trace:
    a client's retry comes in a new one)."""
    body = job.model_dump(mode="json", exclude={"idempotency_key", "trace_id"})
    return hashlib.sha256(jsontext.dumps(body, sort_keys=True)).hexdigest()


def _options(job: JobCreate, tenant: str) -> bytes:
    """A job's options ARGV: '' or a JSON object of the options given (parents as stored ids)."""
    o: dict[str, Any] = {}
    if job.queue is not None:
        o["queue"] = job.queue
    if job.priority is not Priority.NORMAL:
        o["priority"] = job.priority.value
    if job.depends_on:
        o["depends_on"] = [stored_id(tenant, parent) for parent in job.depends_on]
    if job.partition_key:
        o["partition_key"] = job.partition_key
    if job.trace_id:
        o["trace_id"] = job.trace_id
    if job.delay_ms is not None:
        o["delay_ms"] = job.delay_ms
    if job.run_at is not None:
        o["run_at_ms"] = to_ms(job.run_at)
    if job.timeout_s is not None:
        o["timeout_s"] = job.timeout_s
    if job.keep_s is not None:
        o["keep"] = job.keep_s
    if job.idempotency_key:
        o["fingerprint"] = fingerprint(job)
    return orjson.dumps(o) if o else b""


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What became of each job, in order: `codes[i]` (PENDING, SCHEDULED, WAITING, CANCELED or
    REPLAYED), `values[i]`: the due time of a SCHEDULED job, the original (stored) id of a
    REPLAYED one, else 0, and `queues[i]`, the queue it went to. `unknown_task_types`: those
    no worker has ever served."""

    created_at_ms: int
    codes: list[Code]
    values: list[int | str]
    queues: list[str]
    unknown_task_types: list[str]
    admission: Admission | None  # with a bucket: the jobs' admission (RateLimit-* headers)


def _refusal(
    code: int, ids: Sequence[str], jobs: Sequence[JobCreate], bucket: Bucket | None, said: list[Any]
) -> Exception:
    """The error a refusal stands for; `said`: what the script returned after its code."""
    if code == Code.OVER_RATE and bucket is not None:
        return NotAdmitted(Admission.of(bucket, said[0]))
    if code == Code.IDEMPOTENCY_CONFLICT:
        key = jobs[said[0] - 1].idempotency_key
        return IdempotencyConflictError(f"idempotency key {key!r} was used with another body")
    if code == Code.UNKNOWN_PARENT:
        parent = public_id(said[1])
        return UnknownParentError(f"depends_on names job {parent}, which does not exist")
    if code == Code.DUPLICATE:
        chosen = [i for i, j in zip(ids, jobs, strict=True) if j.id]
        if chosen:
            return DuplicateJobError(f"a job with one of the ids {', '.join(chosen[:10])} exists")
        return DuplicateJobError("a generated job id exists already")
    return RuntimeError(f"enqueue.lua answered code {code}")


def _decode(
    ids: Sequence[str], jobs: Sequence[JobCreate], bucket: Bucket | None
) -> Callable[[list[Any]], Enqueued]:
    def decode(reply: list[Any]) -> Enqueued:
        code = reply[0]
        if code < 0:  # refused: nothing was stored
            raise _refusal(code, ids, jobs, bucket, reply[1:])
        triples = reply[3:]
        return Enqueued(
            int(code),
            [CODES[c] for c in triples[0::3]],
            triples[1::3],
            [q or DEFAULT_QUEUE for q in triples[2::3]],
            list(reply[1]),
            Admission.of(bucket, reply[2]) if bucket is not None else None,
        )

    return decode


def _decode_each(
    ids: Sequence[str], jobs: Sequence[JobCreate], bucket: Bucket | None
) -> Callable[[list[Any]], list[Enqueued | Exception]]:
    def decode(reply: list[Any]) -> list[Enqueued | Exception]:
        if reply[0] < 0:  # not a job's refusal: the call's (nothing was stored)
            raise _refusal(reply[0], ids, jobs, bucket, reply[1:])
        unknown, answers = list(reply[1]), reply[2]
        outcomes: list[Enqueued | Exception] = []
        for i, (job_id, job) in enumerate(zip(ids, jobs, strict=True)):
            code, value, queue = reply[3 + 3 * i : 6 + 3 * i]
            if code < 0:
                said = [answers[i]] if code == Code.OVER_RATE else [1, value]
                outcomes.append(_refusal(code, [job_id], [job], bucket, said))
                continue
            outcomes.append(
                Enqueued(
                    reply[0],
                    [CODES[code]],
                    [value],
                    [queue or DEFAULT_QUEUE],
                    [t for t in unknown if t == job.task_type],
                    Admission.of(bucket, answers[i]) if bucket is not None else None,
                )
            )
        return outcomes

    return decode


def enqueue(
    lib: Library,
    *,
    tenant: str,
    ids: Sequence[str],
    jobs: Sequence[JobCreate],
    payloads: Sequence[bytes],
    lanes: bool,
    bucket: Bucket | None = None,
) -> Call[Enqueued]:
    """Store `jobs` of `tenant` under `ids` (the tenant's own), with `payloads` (their JSON,
    checked already), and queue each in its queue (named, else its task type's, else default):
    on its stream, in the tenant's lane (`lanes`: fair dispatch, keys on), in the delayed set,
    or waiting on parents (in the same tenant). With a `bucket`, the jobs first take its cost
    from the tenant's rate limit, in the same script (one round trip for the API).

    Raises NotAdmitted, DuplicateJobError, IdempotencyConflictError or UnknownParentError;
    nothing is then written (but for the tokens taken by an admitted submission).
    """
    keys, args = _keys_and_args(lib, tenant, ids, jobs, payloads, lanes, bucket, each=False)
    return Call(lib.script("enqueue"), keys, args, _decode(ids, jobs, bucket))


def enqueue_each(
    lib: Library,
    *,
    tenant: str,
    ids: Sequence[str],
    jobs: Sequence[JobCreate],
    payloads: Sequence[bytes],
    lanes: bool,
    bucket: Bucket | None = None,
) -> Call[list[Enqueued | Exception]]:
    """enqueue() for independent submissions of one tenant: each job admitted (taking the
    bucket's cost for itself), checked and stored as if sent alone, after those before it.
    Each job's outcome, in order: its Enqueued, or the error it was refused with (nothing of it
    stored). No two jobs may share an id or an idempotency key.
    """
    keys, args = _keys_and_args(lib, tenant, ids, jobs, payloads, lanes, bucket, each=True)
    return Call(lib.script("enqueue"), keys, args, _decode_each(ids, jobs, bucket))


def _keys_and_args(
    lib: Library,
    tenant: str,
    ids: Sequence[str],
    jobs: Sequence[JobCreate],
    payloads: Sequence[bytes],
    lanes: bool,
    bucket: Bucket | None,
    *,
    each: bool,
) -> tuple[list[str], list[EncodableT]]:
    k, s = lib.keys, lib.settings
    stored = [stored_id(tenant, i) for i in ids]
    keys = [
        k.index,
        k.stats,
        k.events,
        k.delayed,
        k.tasks,
        k.queues,
        index_directory(k.tenant_index(tenant)),
        k.retention,
        k.gone,
        *(k.job(i) for i in stored),
        *(k.idempotency(tenant, j.idempotency_key) for j in jobs if j.idempotency_key),
    ]
    args: list[EncodableT] = [
        s.EVENTS_MAXLEN,
        len(jobs),
        s.IDEMPOTENCY_TTL_S,
        retention_config(k, s),
        tenant,
        "1" if lanes else "",
        k.base,
        k.stream_name,
        "1" if each else "",
    ]
    default_retries = s.MAX_RETRIES
    for job_id, job, payload in zip(stored, jobs, payloads, strict=True):
        retries = default_retries if job.max_retries is None else job.max_retries
        args += (job_id, job.task_type, payload, retries, _options(job, tenant))
        for parent in job.depends_on:
            parent_id = stored_id(tenant, parent)
            keys += (k.job(parent_id), k.children(parent_id))
    if bucket is not None:
        keys.append(bucket.key)
        args += bucket.args()
    return keys, args
