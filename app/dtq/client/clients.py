"""DTQClient and AsyncDTQClient: the same methods, one sending with httpx.Client, the other
with httpx.AsyncClient. What each method asks is in `operations`."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any, Self, TypeVar, Unpack

import httpx

from dtq.client import operations as op
from dtq.client.errors import DTQClientError, DTQConnectionError, JobWaitTimeoutError, answer
from dtq.client.operations import Operation, SubmitOptions
from dtq.models import (
    DeadLetterList,
    DeadLetterRetried,
    DeadLetterRetry,
    Health,
    Job,
    JobCreate,
    JobCreated,
    JobList,
    JobResult,
    JobStatus,
    JobTimeline,
    QueueStats,
    Schedule,
    ScheduleCreate,
    ScheduleList,
    TenantUsage,
)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0


# wait() polls at `poll` seconds at first, then backs off by this factor up to MAX_POLL_S.
POLL_BACKOFF = 1.5
MAX_POLL_S = 1.0


def _polls(first: float) -> Iterator[float]:
    """The pauses between wait()'s polls: growing from `first` to MAX_POLL_S."""
    pause = first
    while True:
        yield pause
        pause = min(pause * POLL_BACKOFF, max(MAX_POLL_S, first))


def _retry_after(exc: DTQClientError, retries_left: int, budget_s: float) -> float | None:
    """How long to wait before sending a rate-limited request again (None: raise it)."""
    if exc.status_code != 429 or retries_left <= 0:
        return None
    delay = exc.retry_after_s if exc.retry_after_s is not None else 1.0
    return delay if delay <= budget_s else None


def _auth_headers(api_key: str | None) -> dict[str, str]:
    """The Authorization header for `api_key`, else for DTQ_API_KEY (none if neither is set)."""
    key = api_key or os.environ.get("DTQ_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def _wait_over(job: Job, job_id: str, deadline: float, timeout: float) -> bool:
    """True when the job is finished; JobWaitTimeoutError once the deadline has passed."""
    if job.status.is_terminal:
        return True
    if time.monotonic() >= deadline:
        raise JobWaitTimeoutError(f"job {job_id} is still {job.status} after {timeout} s")
    return False


class DTQClient:
    """Synchronous client. `api_key`: the tenant's key (default: DTQ_API_KEY).

    Every failure raises a DTQError: DTQClientError (an error answer), InvalidRequestError
    (refused before sending), DTQConnectionError, JobWaitTimeoutError. With
    `rate_limit_retries=N`, a request answered 429 is sent again after its Retry-After, up to N
    times and as long as each wait is under `max_retry_wait_s`; otherwise the 429 is raised with
    its `retry_after_s`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
        rate_limit_retries: int = 0,
        max_retry_wait_s: float = 30.0,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, transport=transport, headers=_auth_headers(api_key)
        )
        self._retries = rate_limit_retries
        self._max_wait_s = max_retry_wait_s

    def _send(self, operation: Operation[T]) -> T:
        retries_left = self._retries
        while True:
            try:
                response = self._http.request(
                    operation.method, operation.path, json=operation.json, params=operation.params
                )
                return answer(operation, response)
            except httpx.TransportError as exc:
                raise DTQConnectionError(f"{self._http.base_url}: {exc}") from exc
            except DTQClientError as exc:
                delay = _retry_after(exc, retries_left, self._max_wait_s)
                if delay is None:
                    raise
                retries_left -= 1
                time.sleep(delay)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def submit(
        self, task_type: str, payload: dict[str, Any] | None = None, **opts: Unpack[SubmitOptions]
    ) -> JobCreated:
        """Submit one job (options: SubmitOptions); returns its state, with `warnings`."""
        return self._send(op.submit(op.job_create(task_type, payload, opts)))

    def submit_job(self, job: JobCreate) -> JobCreated:
        """Submit one job described as a JobCreate (e.g. by a task's `job()`)."""
        return self._send(op.submit(job))

    def submit_many(self, jobs: Sequence[JobCreate]) -> list[str]:
        """Submit jobs in batches of 1,000; returns their ids in order."""
        return [i for batch in op.submit_batches(jobs) for i in self._send(batch).ids]

    def get_job(self, job_id: str) -> Job:
        """One job's state."""
        return self._send(op.get_job(job_id))

    def result(self, job_id: str) -> JobResult:
        """A finished job's outcome (DTQClientError 404 `result_not_ready` until then)."""
        return self._send(op.result(job_id))

    def timeline(self, job_id: str) -> JobTimeline:
        """Every transition of a job."""
        return self._send(op.timeline(job_id))

    def wait(self, job_id: str, timeout: float = 30.0, poll: float = 0.05) -> Job:
        """Poll until the job is succeeded, dead or canceled (every `poll` seconds at first,
        backing off to once a second); JobWaitTimeoutError after timeout."""
        deadline = time.monotonic() + timeout
        pauses = _polls(poll)
        while not _wait_over(job := self.get_job(job_id), job_id, deadline, timeout):
            time.sleep(min(next(pauses), max(deadline - time.monotonic(), 0.001)))
        return job

    def list_jobs(
        self,
        status: JobStatus | str | None = None,
        task_type: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> JobList:
        """A page of jobs, newest first (pass `next_cursor` back as `cursor`)."""
        return self._send(op.list_jobs(status, task_type, cursor, limit))

    def cancel(self, job_id: str) -> Job:
        """Cancel a waiting, pending, scheduled or running job (and the jobs waiting on it)."""
        return self._send(op.cancel(job_id))

    def put_schedule(self, schedule: ScheduleCreate) -> Schedule:
        """Create a recurring schedule, or replace the one with its name."""
        return self._send(op.put_schedule(schedule))

    def list_schedules(self) -> ScheduleList:
        """Every schedule with its next run."""
        return self._send(op.list_schedules())

    def get_schedule(self, name: str) -> Schedule:
        """One schedule with its next run."""
        return self._send(op.get_schedule(name))

    def delete_schedule(self, name: str) -> None:
        """Delete a schedule (jobs it submitted already stay)."""
        self._send(op.delete_schedule(name))

    def list_dead(self, cursor: str | None = None, limit: int = 50) -> DeadLetterList:
        """A page of the dead-letter queue, newest first."""
        return self._send(op.list_dead(cursor, limit))

    def retry_dead(self, job_id: str) -> Job:
        """Run a dead job again with fresh retries."""
        return self._send(op.retry_dead(job_id))

    def retry_dead_matching(self, ask: DeadLetterRetry) -> DeadLetterRetried:
        """Retry the dead jobs matching a filter (or, with dry_run, count them)."""
        return self._send(op.retry_dead_matching(ask))

    def delete_dead(self, job_id: str) -> None:
        """Delete a dead job for good."""
        self._send(op.delete_dead(job_id))

    def tenant(self) -> TenantUsage:
        """The key's tenant: its limits in effect, jobs queued in its lanes and running."""
        return self._send(op.tenant())

    def stats(self) -> QueueStats:
        """Queue-wide statistics (the admin key, as api_key)."""
        return self._send(op.stats())

    def health(self) -> Health:
        """Whether the control plane is ready (DTQClientError 503 when not)."""
        return self._send(op.health())


class AsyncDTQClient:
    """Asynchronous client with DTQClient's methods and options. `api_key`: default
    DTQ_API_KEY."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        rate_limit_retries: int = 0,
        max_retry_wait_s: float = 30.0,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport, headers=_auth_headers(api_key)
        )
        self._retries = rate_limit_retries
        self._max_wait_s = max_retry_wait_s

    async def _send(self, operation: Operation[T]) -> T:
        retries_left = self._retries
        while True:
            try:
                response = await self._http.request(
                    operation.method, operation.path, json=operation.json, params=operation.params
                )
                return answer(operation, response)
            except httpx.TransportError as exc:
                raise DTQConnectionError(f"{self._http.base_url}: {exc}") from exc
            except DTQClientError as exc:
                delay = _retry_after(exc, retries_left, self._max_wait_s)
                if delay is None:
                    raise
                retries_left -= 1
                await asyncio.sleep(delay)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def submit(
        self, task_type: str, payload: dict[str, Any] | None = None, **opts: Unpack[SubmitOptions]
    ) -> JobCreated:
        """Submit one job (options: SubmitOptions); returns its state, with `warnings`."""
        return await self._send(op.submit(op.job_create(task_type, payload, opts)))

    async def submit_job(self, job: JobCreate) -> JobCreated:
        """Submit one job described as a JobCreate (e.g. by a task's `job()`)."""
        return await self._send(op.submit(job))

    async def submit_many(self, jobs: Sequence[JobCreate]) -> list[str]:
        """Submit jobs in batches of 1,000; returns their ids in order."""
        return [i for batch in op.submit_batches(jobs) for i in (await self._send(batch)).ids]

    async def get_job(self, job_id: str) -> Job:
        """One job's state."""
        return await self._send(op.get_job(job_id))

    async def result(self, job_id: str) -> JobResult:
        """A finished job's outcome (DTQClientError 404 `result_not_ready` until then)."""
        return await self._send(op.result(job_id))

    async def timeline(self, job_id: str) -> JobTimeline:
        """Every transition of a job."""
        return await self._send(op.timeline(job_id))

    async def wait(self, job_id: str, timeout: float = 30.0, poll: float = 0.05) -> Job:
        """Poll until the job is succeeded, dead or canceled (every `poll` seconds at first,
        backing off to once a second); JobWaitTimeoutError after timeout."""
        deadline = time.monotonic() + timeout
        pauses = _polls(poll)
        while not _wait_over(job := await self.get_job(job_id), job_id, deadline, timeout):
            await asyncio.sleep(min(next(pauses), max(deadline - time.monotonic(), 0.001)))
        return job

    async def list_jobs(
        self,
        status: JobStatus | str | None = None,
        task_type: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> JobList:
        """A page of jobs, newest first (pass `next_cursor` back as `cursor`)."""
        return await self._send(op.list_jobs(status, task_type, cursor, limit))

    async def cancel(self, job_id: str) -> Job:
        """Cancel a waiting, pending, scheduled or running job (and the jobs waiting on it)."""
        return await self._send(op.cancel(job_id))

    async def put_schedule(self, schedule: ScheduleCreate) -> Schedule:
        """Create a recurring schedule, or replace the one with its name."""
        return await self._send(op.put_schedule(schedule))

    async def list_schedules(self) -> ScheduleList:
        """Every schedule with its next run."""
        return await self._send(op.list_schedules())

    async def get_schedule(self, name: str) -> Schedule:
        """One schedule with its next run."""
        return await self._send(op.get_schedule(name))

    async def delete_schedule(self, name: str) -> None:
        """Delete a schedule (jobs it submitted already stay)."""
        await self._send(op.delete_schedule(name))

    async def list_dead(self, cursor: str | None = None, limit: int = 50) -> DeadLetterList:
        """A page of the dead-letter queue, newest first."""
        return await self._send(op.list_dead(cursor, limit))

    async def retry_dead(self, job_id: str) -> Job:
        """Run a dead job again with fresh retries."""
        return await self._send(op.retry_dead(job_id))

    async def retry_dead_matching(self, ask: DeadLetterRetry) -> DeadLetterRetried:
        """Retry the dead jobs matching a filter (or, with dry_run, count them)."""
        return await self._send(op.retry_dead_matching(ask))

    async def delete_dead(self, job_id: str) -> None:
        """Delete a dead job for good."""
        await self._send(op.delete_dead(job_id))

    async def tenant(self) -> TenantUsage:
        """The key's tenant: its limits in effect, jobs queued in its lanes and running."""
        return await self._send(op.tenant())

    async def stats(self) -> QueueStats:
        """Queue-wide statistics (the admin key, as api_key)."""
        return await self._send(op.stats())

    async def health(self) -> Health:
        """Whether the control plane is ready (DTQClientError 503 when not)."""
        return await self._send(op.health())
