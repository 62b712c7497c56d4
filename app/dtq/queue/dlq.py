"""The dead-letter queue: list dead jobs, retry them (one, or every match of a filter), purge.

Dead jobs keep their hash (status `dead`) and have one entry in the DLQ stream, which names the
job, its task type, reason, attempt, failures, time and tenant: what the queue is filtered by.
The last error and its traceback stay on the hash alone (`errors`), read for a listing; entries
written before 2026-11-28 carry copies of their own, which are used as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson

from dtq.models import (
    DEFAULT_TENANT,
    DeadLetter,
    DeadLetterList,
    DeadLetterRetried,
    DeadLetterRetry,
    DeadReason,
)
from dtq.queue.clock import from_ms, to_ms
from dtq.queue.jobhash import last_error, owned_by
from dtq.queue.jobs import LIST_CHUNK, LIST_SCAN_BUDGET, Jobs
from dtq.queue.page import Page
from dtq.queue.scripts.library import Library, run_all
from dtq.queue.scripts.purge import purge
from dtq.queue.scripts.retry_dead import retry_dead
from dtq.queue.tenant_ids import public_id

# DLQ entries read per XRANGE while matching a filter, and retries per pipelined round trip.
RETRY_SCAN = 500


def dead_letter(fields: dict[str, str]) -> DeadLetter:
    """A DLQ stream entry as the wire model, in its tenant's ids."""
    return DeadLetter(
        id=public_id(fields["job_id"]),
        task_type=fields["task_type"],
        reason=DeadReason(fields["reason"]),
        attempt=int(fields.get("attempt", 0)),
        failures=int(fields.get("failures", 0)),
        last_error=fields.get("last_error") or None,
        traceback=fields.get("traceback") or None,
        failed_at=from_ms(fields["failed_at"]),
    )


def attempt_traceback(errors: list[dict[str, Any]], attempt: str | None) -> str:
    """The traceback recorded for one attempt in a job hash's `errors` (decoded: the last 10
    failures), or '' (none kept, or the attempt ended without one: a poisoned job's)."""
    for record in reversed(errors):
        if str(record.get("attempt")) == attempt:
            return str(record.get("traceback") or "")
    return ""


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id as (ms, sequence), which orders as the stream does."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class DeadLetters:
    """The dead-letter queue of one shard."""

    def __init__(self, lib: Library, jobs: Jobs) -> None:
        self._lib = lib
        self._redis = lib.redis
        self._keys = lib.keys
        self._jobs = jobs

    async def list(
        self,
        cursor: str | None = None,
        limit: int = 50,
        tenant: str | None = None,
        task_type: str | None = None,
        reason: str | None = None,
    ) -> DeadLetterList:
        """A page of the dead-letter queue (of one tenant, or all), newest first, optionally
        of one task type and one reason.

        A tenant's page may hold fewer than `limit` entries while `next_cursor` is set: one
        request examines at most LIST_SCAN_BUDGET entries.
        """
        page = await self.page(cursor, limit, tenant, task_type, reason)
        data = [entry for _, entry in page.items]
        return DeadLetterList(data=data, count=len(data), next_cursor=page.next_cursor)

    async def page(
        self,
        cursor: str | None = None,
        limit: int = 50,
        tenant: str | None = None,
        task_type: str | None = None,
        reason: str | None = None,
        inclusive: bool = False,
    ) -> Page[DeadLetter]:
        """list()'s page with each entry's DLQ stream id as (ms, sequence): what a listing over
        several shards merges by (see dtq.queue.spread); `inclusive` starts at the cursor's
        entry instead of below it."""
        if cursor is not None and cursor.strip("0-") == "":
            return Page([], None, None)  # nothing is older than 0-0
        top = (cursor if inclusive else f"({cursor}") if cursor else "+"
        data: list[tuple[str, dict[str, str]]] = []
        last: str | None = None
        scanned = 0
        exhausted = False
        while len(data) < limit and scanned < LIST_SCAN_BUDGET:
            rows: Any = await self._redis.xrevrange(self._keys.dlq, top, "-", count=LIST_CHUNK)
            for entry_id, fields in rows:
                if len(data) == limit:
                    break
                scanned += 1
                last = entry_id
                if (
                    owned_by(fields, tenant)
                    and (task_type is None or fields.get("task_type") == task_type)
                    and (reason is None or fields.get("reason") == reason)
                ):
                    data.append((entry_id, fields))
            if len(rows) < LIST_CHUNK and len(data) < limit:
                exhausted = True
                break
            top = f"({last}"
        await self._add_errors([fields for _, fields in data])
        items = [(entry_key(entry_id), dead_letter(fields)) for entry_id, fields in data]
        if exhausted or last is None:
            return Page(items, None, None)
        return Page(items, entry_key(last), last)

    async def _add_errors(self, entries: Sequence[dict[str, str]]) -> None:
        """Give DLQ entries their job's last error and the dead attempt's traceback, read from
        the jobs' hashes in one round trip. Entries of earlier builds carry their own (an empty
        one is looked up too: an older worker found no `last_error` on a newer job's hash)."""
        bare = [fields for fields in entries if not fields.get("last_error")]
        if not bare:
            return
        pipe = self._redis.pipeline(transaction=False)
        for fields in bare:
            pipe.hmget(self._keys.job(fields["job_id"]), "last_error", "errors")
        for fields, (old_field, raw) in zip(bare, await pipe.execute(), strict=True):
            errors = orjson.loads(raw) if raw else []
            fields["last_error"] = last_error(errors, old_field) or ""
            own = fields.get("traceback")
            fields["traceback"] = own or attempt_traceback(errors, fields.get("attempt"))

    async def retry(
        self, job_id: str, reset_attempts: bool = True, tenant: str | None = None
    ) -> None:
        """Send a dead job back to its queue, with fresh retries unless told otherwise.

        JobNotFoundError; InvalidTransitionError when the job is not dead.
        """
        stored = await self._jobs.check_tenant(job_id, tenant)
        await retry_dead(self._lib, job_id=stored, reset_failures=reset_attempts)

    async def retry_matching(
        self,
        ask: DeadLetterRetry,
        tenant: str | None = None,
        admit: Callable[[int], Awaitable[None]] | None = None,
    ) -> DeadLetterRetried:
        """Send every dead job matching the filter back (or, dry run, count them).

        With a tenant, only that tenant's dead jobs match. `admit(n)` runs before n jobs are
        sent back and may refuse them by raising (the tenant's rate limit): nothing changes.
        """
        low = f"{max(to_ms(ask.since), 0)}-0" if ask.since else "-"
        high = f"({to_ms(ask.until)}-0" if ask.until else "+"
        matched: list[str] = []
        # Nothing is dead-lettered before the epoch (and "(0-0" is no valid stream id).
        while len(matched) < ask.limit and (ask.until is None or to_ms(ask.until) > 0):
            rows: Any = await self._redis.xrange(self._keys.dlq, low, high, count=RETRY_SCAN)
            for _, f in rows:
                if (
                    (ask.task_type is None or f["task_type"] == ask.task_type)
                    and (ask.reason is None or f["reason"] == ask.reason)
                    and (tenant is None or f.get("tenant", DEFAULT_TENANT) == tenant)
                ):
                    matched.append(f["job_id"])
            if len(rows) < RETRY_SCAN:
                break
            low = f"({rows[-1][0]}"
        matched = matched[: ask.limit]
        retried = 0
        if not ask.dry_run and matched and admit is not None:
            await admit(len(matched))
        if not ask.dry_run:
            for i in range(0, len(matched), RETRY_SCAN):
                calls = [
                    retry_dead(
                        self._lib, job_id=job_id, reset_failures=ask.reset_attempts, strict=False
                    )
                    for job_id in matched[i : i + RETRY_SCAN]
                ]
                retried += sum(await run_all(self._redis, calls))
        return DeadLetterRetried(
            matched=len(matched),
            retried=retried,
            dry_run=ask.dry_run,
            job_ids=[public_id(job_id) for job_id in matched[:1000]],
        )

    async def purge(self, job_id: str, tenant: str | None = None) -> None:
        """Delete a dead job and its dead-letter entry for good."""
        stored = await self._jobs.check_tenant(job_id, tenant)
        await purge(self._lib, job_id=stored)
