"""Demo tasks for trying DTQ, tests and benchmarks: `dtq worker --tasks dtq.demo_tasks`.

noop, echo, sleep, fail, flaky and cpu. A worker serves only the task modules it is given, so
these run only where they are named (run-dev.sh, the tests, the bench).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dtq.worker.registry import JobContext, JsonPayload, TaskRegistry

tasks = TaskRegistry()


@tasks.task()
async def noop(ctx: JobContext, payload: JsonPayload) -> None:
    """Do nothing (for throughput benchmarks)."""


@tasks.task()
async def echo(ctx: JobContext, payload: JsonPayload) -> JsonPayload:
    """Return the payload as the result."""
    return payload


@tasks.task()
async def sleep(ctx: JobContext, payload: JsonPayload) -> float:
    """Sleep for payload["seconds"] (default 1)."""
    seconds = float(payload.get("seconds", 1))
    await asyncio.sleep(seconds)
    return seconds


@tasks.task()
async def fail(ctx: JobContext, payload: JsonPayload) -> None:
    """Always raise (payload["message"] is the error)."""
    raise RuntimeError(str(payload.get("message", "the fail task always fails")))


@tasks.task()
async def flaky(ctx: JobContext, payload: JsonPayload) -> dict[str, Any]:
    """Fail the first payload["failures"] attempts (default 1), then succeed."""
    failures = int(payload.get("failures", 1))
    if ctx.failures < failures:
        raise RuntimeError(f"flaky failure {ctx.failures + 1} of {failures}")
    return {"succeeded_after": ctx.failures}


@tasks.task()
def cpu(ctx: JobContext, payload: JsonPayload) -> int:
    """Busy-loop for payload["ms"] milliseconds (default 10) in the worker's thread pool."""
    deadline = time.perf_counter() + float(payload.get("ms", 10)) / 1000
    spins = 0
    while time.perf_counter() < deadline:
        spins += 1
    return spins
