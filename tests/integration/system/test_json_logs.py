"""JSON logs from a full run (API and worker processes, keys on, tracing on, LOG_FORMAT=json):
every line parses and has time, level and event; the worker's lines name the worker; a line
logged inside an attempt carries that attempt's trace id; and no planted secret (the admin key,
a tenant's key, a payload value) appears anywhere."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from dtq.config import Settings
from tests.conftest import Processes, wait_for

ADMIN = "ADMIN-SECRET-" + "a" * 32
PLANTED = "PAYLOAD-SECRET-4f1d"


async def test_json_logs_parse_carry_trace_ids_and_no_secrets(
    make_settings: Callable[..., Settings], processes: Processes, tmp_path: Path
) -> None:
    spans = str(tmp_path / "spans.jsonl")
    settings = make_settings(AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN, LOG_FORMAT="json",
                             TRACING_ENABLED=True, TRACING_FILE=spans)  # fmt: skip
    api_log, worker_log = tmp_path / "api.log", tmp_path / "worker.log"
    url = processes.api(settings, log=api_log)
    processes.worker(settings.model_copy(update={"LOG_LEVEL": "DEBUG"}), log=worker_log)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.post("/admin/tenants", json={"name": "acme"}, headers=admin).is_success
        key = http.post("/admin/tenants/acme/keys", headers=admin).json()["key"]
        tenant = {"Authorization": f"Bearer {key}"}
        logged = http.post("/jobs", json={"task_type": "logs", "payload": {"card": PLANTED}},
                           headers=tenant).json()  # fmt: skip
        body = {"task_type": "fail", "max_retries": 0, "payload": {"card": PLANTED}}
        failing = http.post("/jobs", json=body, headers=tenant).json()
        assert http.get("/jobs/nope", headers=tenant).status_code == 404
        assert (
            http.post(
                "/jobs", json={"task_type": "noop"}, headers={"Authorization": "Bearer wrong-key"}
            ).status_code
            == 401
        )

        async def settled() -> bool:
            states = [http.get(f"/jobs/{j['id']}", headers=tenant).json()["status"]
                      for j in (logged, failing)]  # fmt: skip
            return states == ["succeeded", "dead"]

        await wait_for(settled, timeout=20)
    time.sleep(0.3)
    lines = api_log.read_text().splitlines() + worker_log.read_text().splitlines()
    assert len(lines) > 10
    parsed = [json.loads(line) for line in lines]  # every line is JSON
    assert all({"time", "level", "logger", "event"} <= set(p) for p in parsed)
    worker_lines = [p for p in parsed if p.get("service") == "dtq-worker"]
    assert worker_lines and all(p.get("worker") for p in worker_lines)
    started = [p for p in worker_lines if p["event"] == "job started"]
    assert {p["job_id"] for p in started} >= {logged["id"], failing["id"]}
    assert any(p["task_type"] == "logs" and p["attempt"] == "1" for p in started)
    working = [p for p in parsed if p["event"] == "working"]
    assert len(working) == 1
    assert working[0]["trace_id"] == logged["trace_id"].split("-")[1]  # the attempt's trace
    text = api_log.read_text() + worker_log.read_text()
    for secret in (ADMIN, key, PLANTED, "wrong-key"):
        assert secret not in text
