"""One trace from the request that submitted a job to the handler that ran it, through a worker
killed with SIGKILL and the reclaim on another worker (real API and worker processes, spans
written to a file by TRACING_FILE)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from dtq.config import Settings
from tests.conftest import Processes, wait_for


def _spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_a_jobs_attempts_join_the_submitters_trace(
    make_settings: Callable[..., Settings], processes: Processes, tmp_path: Path
) -> None:
    spans_file = tmp_path / "spans.jsonl"
    settings = make_settings(AUTH_DISABLED=True, TRACING_ENABLED=True, TRACING_FILE=str(spans_file),
                             VISIBILITY_TIMEOUT_MS=1500)  # fmt: skip
    url = processes.api(settings)
    first = processes.worker(settings)
    job = httpx.post(f"{url}/jobs", json={"task_type": "sleep", "payload": {"seconds": 1.5}}).json()
    traceparent = job["trace_id"]
    _, trace_hex, parent_hex, _ = traceparent.split("-")

    async def running() -> bool:
        return httpx.get(f"{url}/jobs/{job['id']}").json()["status"] == "running"

    await wait_for(running, timeout=15)
    first.send_signal(signal.SIGKILL)  # mid-attempt: no outcome, no span end
    first.wait()
    processes.worker(settings)  # takes the job over once its lease runs out

    async def succeeded() -> bool:
        return httpx.get(f"{url}/jobs/{job['id']}").json()["status"] == "succeeded"

    await wait_for(succeeded, timeout=30)
    time.sleep(0.5)
    spans = _spans(spans_file)
    api = [s for s in spans if s["kind"] == "SpanKind.SERVER" and s["name"] == "POST /jobs"]
    assert len(api) == 1 and api[0]["context"]["trace_id"] == f"0x{trace_hex}"
    assert api[0]["context"]["span_id"] == f"0x{parent_hex}"  # the request's own span
    runs = [s for s in spans if s["name"] == "dtq.job sleep"]
    assert [r["attributes"]["dtq.attempt"] for r in runs] == [2]  # the reclaimed attempt
    run = runs[0]
    assert run["context"]["trace_id"] == f"0x{trace_hex}"  # one trace, across the crash
    assert run["parent_id"] == f"0x{parent_hex}"
    assert run["attributes"]["dtq.job_id"] == job["id"]
    assert run["attributes"]["dtq.outcome"] == "succeeded"
    assert run["attributes"]["dtq.tenant"] == "default"
    assert run["resource"]["attributes"]["service.name"] == "dtq-worker"
