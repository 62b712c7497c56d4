"""The face of enqueue.lua: store jobs and queue them, all or none."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.typing import EncodableT

from dtq.errors import DuplicateJobError, IdempotencyConflictError, UnknownParentError
from dtq.models import Priority
from dtq.queue.scripts.codes import CODES, Code
from dtq.queue.scripts.library import Call, Library
from dtq.queue.tenant_ids import public_id


@dataclass(slots=True)
class NewJob:
    """One job as enqueue.lua stores it (ids are stored ids, see job_ids)."""

    id: str
    task_type: str
    payload: bytes
    max_retries: int
    chosen_id: bool = False  # the client chose the id (named in a DuplicateJobError)
    priority: Priority = Priority.NORMAL
    depends_on: Sequence[str] = ()
    partition_key: str | None = None
    trace_id: str | None = None
    delay_ms: int | None = None
    run_at_ms: int | None = None
    timeout_s: float | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None  # of the request body, with an idempotency key

    def options(self) -> bytes:
        """The options ARGV of the job: '' or a JSON object of the options given."""
        o: dict[str, Any] = {}
        if self.priority is not Priority.NORMAL:
            o["priority"] = self.priority.value
        if self.depends_on:
            o["depends_on"] = list(self.depends_on)
        if self.partition_key is not None:
            o["partition_key"] = self.partition_key
        if self.trace_id is not None:
            o["trace_id"] = self.trace_id
        if self.delay_ms is not None:
            o["delay_ms"] = self.delay_ms
        if self.run_at_ms is not None:
            o["run_at_ms"] = self.run_at_ms
        if self.timeout_s is not None:
            o["timeout_s"] = self.timeout_s
        if self.idempotency_key:
            o["fingerprint"] = self.fingerprint
        return orjson.dumps(o) if o else b""


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What became of each job, in order: `codes[i]` (PENDING, SCHEDULED, WAITING, CANCELED or
    REPLAYED) and `values[i]`: the due time of a SCHEDULED job, the original (stored) id of a
    REPLAYED one, else 0."""

    created_at_ms: int
    codes: list[Code]
    values: list[int | str]


def _decode(jobs: Sequence[NewJob]) -> Callable[[list[Any]], Enqueued]:
    def decode(reply: list[Any]) -> Enqueued:
        code = reply[0]
        if code == Code.IDEMPOTENCY_CONFLICT:
            key = jobs[reply[1] - 1].idempotency_key
            raise IdempotencyConflictError(f"idempotency key {key!r} was used with another body")
        if code == Code.UNKNOWN_PARENT:
            parent = public_id(reply[2])
            raise UnknownParentError(f"depends_on names job {parent}, which does not exist")
        if code == Code.DUPLICATE:
            chosen = [public_id(j.id) for j in jobs if j.chosen_id]
            if chosen:
                raise DuplicateJobError(
                    f"a job with one of the ids {', '.join(chosen[:10])} exists"
                )
            raise DuplicateJobError("a generated job id exists already")
        return Enqueued(int(code), [CODES[c] for c in reply[1::2]], reply[2::2])

    return decode


def enqueue(lib: Library, *, tenant: str, jobs: Sequence[NewJob], lanes: bool) -> Call[Enqueued]:
    """Store `jobs` of `tenant` and queue each: on its stream, in the tenant's lane (`lanes`:
    fair dispatch, keys on), in the delayed set, or waiting on parents.

    Raises DuplicateJobError, IdempotencyConflictError or UnknownParentError; nothing is then
    written.
    """
    k, s = lib.keys, lib.settings
    keys = [
        *k.streams,
        k.index,
        k.stats,
        k.events,
        k.delayed,
        k.lanes,
        k.tenant_index(tenant),
        *(k.job(j.id) for j in jobs),
        *(k.idempotency(tenant, j.idempotency_key) for j in jobs if j.idempotency_key),
    ]
    for j in jobs:
        for parent in j.depends_on:
            keys += (k.job(parent), k.children(parent))
    args: list[EncodableT] = [
        s.EVENTS_MAXLEN,
        len(jobs),
        s.IDEMPOTENCY_TTL_S,
        s.RESULT_TTL_S,
        tenant,
        "1" if lanes else "",
    ]
    for j in jobs:
        args += (j.id, j.task_type, j.payload, j.max_retries, j.options())
    return Call(lib.script("enqueue"), keys, args, _decode(jobs))
