"""Benchmark-only tasks."""

from __future__ import annotations

import time

from dtq.worker.registry import JobContext, JsonPayload, TaskRegistry

tasks = TaskRegistry()


@tasks.task()
async def probe(ctx: JobContext, payload: JsonPayload) -> float:
    """Return the wall-clock time the handler started (same machine as the benchmark)."""
    return time.time()
