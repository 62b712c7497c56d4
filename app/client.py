"""The DTQ Python SDK over HTTP (httpx), sync and async.

with DTQClient("http://127.0.0.1:8000", api_key="dtq_...") as dtq:
    job = dtq.submit("echo", {"hello": "world"})
    done = dtq.wait(job.id, timeout=10)
    print(done.status, done.result)
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import httpx

from app.models import (
    DeadLetterList,
    DeadLetterRetried,
    DeadLetterRetry,
    Job,
    JobCreate,
    JobIds,
    JobList,
    JobResult,
    JobStatus,
    JobTimeline,
    Priority,
    Schedule,
    ScheduleCreate,
    ScheduleList,
    TenantUsage,
)

DEFAULT_TIMEOUT_S = 10.0


class DTQClientError(Exception):
    """An HTTP error answer from the control plane, with its status and detail."""

    def __init__(self, status_code: int, detail: Any, retry_after_s: float | None = None) -> None:
        super().__init__(f"HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail
        self.retry_after_s = retry_after_s  # set on 429 (rate limited)


def _auth_headers(api_key: str | None) -> dict[str, str]:
    """The Authorization header for `api_key`, else for DTQ_API_KEY (none if neither is set)."""
    key = api_key or os.environ.get("DTQ_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


class JobWaitTimeoutError(TimeoutError):
    """wait() gave up before the job reached a terminal status."""


def _check(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        retry_after = response.headers.get("Retry-After")
        raise DTQClientError(
            response.status_code, detail, float(retry_after) if retry_after else None
        )
    return response


def _job_body(task_type: str, payload: dict[str, Any] | None, **options: Any) -> dict[str, Any]:
    given = {name: value for name, value in options.items() if value is not None}
    body = JobCreate(task_type=task_type, payload=payload or {}, **given)
    return body.model_dump(mode="json", exclude_none=True)


def _list_params(
    status: JobStatus | str | None, task_type: str | None, cursor: str | None, limit: int
) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = str(status)
    if task_type:
        params["task_type"] = task_type
    if cursor:
        params["cursor"] = cursor
    return params


class DTQClient:
    """Synchronous client."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`api_key`: the tenant's key (default: the DTQ_API_KEY environment variable)."""
        self._http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            headers=_auth_headers(api_key),
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(
        self,
        task_type: str,
        payload: dict[str, Any] | None = None,
        *,
        job_id: str | None = None,
        priority: Priority | str | None = None,
        depends_on: Sequence[str] | None = None,
        partition_key: str | None = None,
        max_retries: int | None = None,
        delay_ms: int | None = None,
        run_at: datetime | None = None,
        timeout_s: float | None = None,
    ) -> Job:
        """Submit one job.

        `delay_ms` or `run_at` (timezone-aware) schedule it for later; `depends_on` makes it
        wait until those jobs have succeeded; `job_id` chooses its id.
        """
        body = _job_body(
            task_type,
            payload,
            id=job_id,
            priority=priority,
            depends_on=list(depends_on) if depends_on else None,
            partition_key=partition_key,
            max_retries=max_retries,
            delay_ms=delay_ms,
            run_at=run_at,
            timeout_s=timeout_s,
        )
        return Job.model_validate(_check(self._http.post("/jobs", json=body)).json())

    def submit_many(self, jobs: Sequence[JobCreate]) -> list[str]:
        """Submit jobs in batches of 1,000; returns their ids in order."""
        ids: list[str] = []
        for i in range(0, len(jobs), 1000):
            body = {
                "jobs": [j.model_dump(mode="json", exclude_none=True) for j in jobs[i : i + 1000]]
            }
            ids += JobIds.model_validate(
                _check(self._http.post("/jobs/batch", json=body)).json()
            ).ids
        return ids

    def get(self, job_id: str) -> Job:
        """One job's state."""
        return Job.model_validate(_check(self._http.get(f"/jobs/{job_id}")).json())

    def result(self, job_id: str) -> JobResult:
        """A finished job's outcome (DTQClientError 404 until it is finished)."""
        return JobResult.model_validate(_check(self._http.get(f"/jobs/{job_id}/result")).json())

    def events(self, job_id: str) -> JobTimeline:
        """Every transition of a job."""
        return JobTimeline.model_validate(_check(self._http.get(f"/jobs/{job_id}/events")).json())

    def wait(self, job_id: str, timeout: float = 30.0, poll: float = 0.05) -> Job:
        """Poll until the job is succeeded, dead or canceled; JobWaitTimeoutError after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.status.is_terminal:
                return job
            if time.monotonic() >= deadline:
                raise JobWaitTimeoutError(f"job {job_id} is still {job.status} after {timeout} s")
            time.sleep(poll)

    def list(
        self,
        status: JobStatus | str | None = None,
        task_type: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> JobList:
        """A page of jobs, newest first."""
        params = _list_params(status, task_type, cursor, limit)
        return JobList.model_validate(_check(self._http.get("/jobs", params=params)).json())

    def cancel(self, job_id: str) -> Job:
        """Cancel a waiting, pending, scheduled or running job (and the jobs waiting on it)."""
        return Job.model_validate(_check(self._http.post(f"/jobs/{job_id}/cancel")).json())

    def create_schedule(self, schedule: ScheduleCreate) -> Schedule:
        """Create a recurring schedule, or replace the one with its name."""
        body = schedule.model_dump(mode="json", exclude_none=True)
        return Schedule.model_validate(_check(self._http.post("/schedules", json=body)).json())

    def list_schedules(self) -> ScheduleList:
        """Every schedule with its next run."""
        return ScheduleList.model_validate(_check(self._http.get("/schedules")).json())

    def get_schedule(self, name: str) -> Schedule:
        """One schedule with its next run."""
        return Schedule.model_validate(_check(self._http.get(f"/schedules/{name}")).json())

    def delete_schedule(self, name: str) -> None:
        """Delete a schedule (jobs it submitted already stay)."""
        _check(self._http.delete(f"/schedules/{name}"))

    def dlq_list(self, cursor: str | None = None, limit: int = 50) -> DeadLetterList:
        """A page of the dead-letter queue."""
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return DeadLetterList.model_validate(_check(self._http.get("/dlq", params=params)).json())

    def dlq_retry(self, job_id: str) -> Job:
        """Run a dead job again with fresh retries."""
        return Job.model_validate(_check(self._http.post(f"/dlq/{job_id}/retry")).json())

    def dlq_retry_matching(self, ask: DeadLetterRetry) -> DeadLetterRetried:
        """Retry the dead jobs matching a filter (or, with dry_run, count them)."""
        body = ask.model_dump(mode="json", exclude_none=True)
        response = _check(self._http.post("/dlq/retry", json=body))
        return DeadLetterRetried.model_validate(response.json())

    def tenant(self) -> TenantUsage:
        """The key's tenant: its limits in effect, jobs queued in its lanes and running."""
        return TenantUsage.model_validate(_check(self._http.get("/tenant")).json())


class AsyncDTQClient:
    """Asynchronous client with the same methods as DTQClient."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`api_key`: the tenant's key (default: the DTQ_API_KEY environment variable)."""
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            headers=_auth_headers(api_key),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def submit(
        self,
        task_type: str,
        payload: dict[str, Any] | None = None,
        *,
        job_id: str | None = None,
        priority: Priority | str | None = None,
        depends_on: Sequence[str] | None = None,
        partition_key: str | None = None,
        max_retries: int | None = None,
        delay_ms: int | None = None,
        run_at: datetime | None = None,
        timeout_s: float | None = None,
    ) -> Job:
        """Submit one job.

        `delay_ms` or `run_at` (timezone-aware) schedule it for later; `depends_on` makes it
        wait until those jobs have succeeded; `job_id` chooses its id.
        """
        body = _job_body(
            task_type,
            payload,
            id=job_id,
            priority=priority,
            depends_on=list(depends_on) if depends_on else None,
            partition_key=partition_key,
            max_retries=max_retries,
            delay_ms=delay_ms,
            run_at=run_at,
            timeout_s=timeout_s,
        )
        return Job.model_validate(_check(await self._http.post("/jobs", json=body)).json())

    async def submit_many(self, jobs: Sequence[JobCreate]) -> list[str]:
        """Submit jobs in batches of 1,000; returns their ids in order."""
        ids: list[str] = []
        for i in range(0, len(jobs), 1000):
            body = {
                "jobs": [j.model_dump(mode="json", exclude_none=True) for j in jobs[i : i + 1000]]
            }
            response = _check(await self._http.post("/jobs/batch", json=body))
            ids += JobIds.model_validate(response.json()).ids
        return ids

    async def get(self, job_id: str) -> Job:
        """One job's state."""
        return Job.model_validate(_check(await self._http.get(f"/jobs/{job_id}")).json())

    async def result(self, job_id: str) -> JobResult:
        """A finished job's outcome (DTQClientError 404 until it is finished)."""
        response = _check(await self._http.get(f"/jobs/{job_id}/result"))
        return JobResult.model_validate(response.json())

    async def events(self, job_id: str) -> JobTimeline:
        """Every transition of a job."""
        response = _check(await self._http.get(f"/jobs/{job_id}/events"))
        return JobTimeline.model_validate(response.json())

    async def wait(self, job_id: str, timeout: float = 30.0, poll: float = 0.05) -> Job:
        """Poll until the job is terminal; JobWaitTimeoutError after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            job = await self.get(job_id)
            if job.status.is_terminal:
                return job
            if time.monotonic() >= deadline:
                raise JobWaitTimeoutError(f"job {job_id} is still {job.status} after {timeout} s")
            await asyncio.sleep(poll)

    async def list(
        self,
        status: JobStatus | str | None = None,
        task_type: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> JobList:
        """A page of jobs, newest first."""
        params = _list_params(status, task_type, cursor, limit)
        return JobList.model_validate(_check(await self._http.get("/jobs", params=params)).json())

    async def cancel(self, job_id: str) -> Job:
        """Cancel a waiting, pending, scheduled or running job (and the jobs waiting on it)."""
        return Job.model_validate(_check(await self._http.post(f"/jobs/{job_id}/cancel")).json())

    async def create_schedule(self, schedule: ScheduleCreate) -> Schedule:
        """Create a recurring schedule, or replace the one with its name."""
        body = schedule.model_dump(mode="json", exclude_none=True)
        response = await self._http.post("/schedules", json=body)
        return Schedule.model_validate(_check(response).json())

    async def list_schedules(self) -> ScheduleList:
        """Every schedule with its next run."""
        return ScheduleList.model_validate(_check(await self._http.get("/schedules")).json())

    async def get_schedule(self, name: str) -> Schedule:
        """One schedule with its next run."""
        response = await self._http.get(f"/schedules/{name}")
        return Schedule.model_validate(_check(response).json())

    async def delete_schedule(self, name: str) -> None:
        """Delete a schedule (jobs it submitted already stay)."""
        _check(await self._http.delete(f"/schedules/{name}"))

    async def dlq_list(self, cursor: str | None = None, limit: int = 50) -> DeadLetterList:
        """A page of the dead-letter queue."""
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = _check(await self._http.get("/dlq", params=params))
        return DeadLetterList.model_validate(response.json())

    async def dlq_retry(self, job_id: str) -> Job:
        """Run a dead job again with fresh retries."""
        return Job.model_validate(_check(await self._http.post(f"/dlq/{job_id}/retry")).json())

    async def dlq_retry_matching(self, ask: DeadLetterRetry) -> DeadLetterRetried:
        """Retry the dead jobs matching a filter (or, with dry_run, count them)."""
        body = ask.model_dump(mode="json", exclude_none=True)
        response = _check(await self._http.post("/dlq/retry", json=body))
        return DeadLetterRetried.model_validate(response.json())

    async def tenant(self) -> TenantUsage:
        """The key's tenant: its limits in effect, jobs queued in its lanes and running."""
        return TenantUsage.model_validate(_check(await self._http.get("/tenant")).json())
