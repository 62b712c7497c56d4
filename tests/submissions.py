"""Steady submissions through the API while a test breaks something: every answer noted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from dtq.errors import JobNotFoundError
from dtq.models import JobStatus
from dtq.queue import Engine


@dataclass
class Answer:
    """One POST /jobs: when it was sent and answered, its status (0: no answer), its job."""

    sent_at: float
    answered_at: float
    status: int
    job_id: str | None
    tenant: str | None = None


def noop(n: int) -> dict[str, Any]:
    """The n-th submission's body: a no-op job."""
    return {"task_type": "noop"}


async def submit(
    url: str,
    answers: list[Answer],
    rate_per_s: int,
    run_s: float,
    job: Callable[[int], dict[str, Any]] = noop,
    keys: Sequence[str] = (),
) -> None:
    """POST /jobs at `rate_per_s` for `run_s`, each answer noted: the n-th submission sends
    `job(n)`, with the API keys in `keys` taken in turn (none: no Authorization header)."""

    async def one(client: httpx.AsyncClient, sent_at: float, n: int) -> None:
        headers = {"Authorization": f"Bearer {keys[n % len(keys)]}"} if keys else None
        try:
            response = await client.post("/jobs", json=job(n), headers=headers)
            body = response.json() if response.status_code < 300 else {}
            answers.append(Answer(sent_at, time.monotonic(), response.status_code,
                                  body.get("id"), body.get("tenant")))  # fmt: skip
        except httpx.HTTPError:
            answers.append(Answer(sent_at, time.monotonic(), 0, None))

    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:
        start = time.monotonic()
        tasks = []
        for n in range(int(rate_per_s * run_s)):
            await asyncio.sleep(max(0.0, start + n / rate_per_s - time.monotonic()))
            tasks.append(asyncio.create_task(one(client, time.monotonic(), n)))
        await asyncio.gather(*tasks)


def longest_failing_run_s(answers: list[Answer]) -> float:
    """The longest stretch (by send time) in which every submission failed (5xx or none)."""
    longest, since = 0.0, None
    for answer in sorted(answers, key=lambda a: a.sent_at):
        if answer.status == 0 or answer.status >= 500:
            since = answer.sent_at if since is None else since
            longest = max(longest, answer.sent_at - since)
        else:
            since = None
    return longest


async def outcome(engine: Engine, job_id: str, tenant: str | None = None) -> JobStatus | None:
    """A job's status, None when it is gone."""
    try:
        return (await engine.jobs.get(job_id, tenant)).status
    except JobNotFoundError:
        return None


async def unfinished(
    engine: Engine,
    job_ids: list[str],
    within_s: float = 60,
    tenants: dict[str, str] | None = None,
) -> list[str]:
    """The jobs that have not succeeded within `within_s` (AssertionError if one is gone);
    `tenants` maps a job of a tenant's to its tenant."""
    deadline = time.monotonic() + within_s
    waiting = list(job_ids)
    tenant_of = tenants or {}
    while waiting and time.monotonic() < deadline:
        statuses = [await outcome(engine, job_id, tenant_of.get(job_id)) for job_id in waiting]
        assert None not in statuses, "a job answered 2xx is gone"
        waiting = [j for j, s in zip(waiting, statuses, strict=True) if s != JobStatus.SUCCEEDED]
        if waiting:
            await asyncio.sleep(0.5)
    return waiting
