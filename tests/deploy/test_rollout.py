"""The rollout under load, shortened (scripts/load/rollout_proof.py --short): nginx, two APIs,
two workers, Locust's mixed scenario throughout; every API and worker replaced by a new release,
then a bad release rolled back. 0 failed requests, every idempotency key one succeeded job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_rollout_under_load_loses_nothing(redis_url: str, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "scripts/load/rollout_proof.py", "--short",
         "--out", str(tmp_path / "locust"), "--report", str(report_path)],
        cwd=ROOT, env={**os.environ, "REDIS_URL": redis_url}, capture_output=True, text=True,
        timeout=400, check=False,
    )  # fmt: skip
    assert report_path.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(report_path.read_text())
    print(json.dumps({k: report[k] for k in ("requests", "phases", "jobs", "steps")}, indent=1))
    assert report["ok"], proc.stderr[-3000:]
    assert proc.returncode == 0
    assert report["failures"] == [] and report["requests"]["failures"] == 0
    assert report["requests"]["requests"] > 3000
    assert report["nginx_upstream_errors"] == []  # the drains were real, not masked by retries
    assert report["keys_with_two_jobs"] == 0
    assert report["jobs"] > 1000 and report["jobs_by_status"] == {"succeeded": report["jobs"]}
    assert report["succeeded_total"] == report["jobs"]
    assert report["bad_release_rolled_back"]
    steps = report["steps"]
    # one instance at a time: drained before stopped, ready before back in, APIs then workers
    expected = ["api0: drained", "api0: stopped", "api0: r2 ready", "api1: drained",
                "api1: stopped", "api1: r2 ready", "worker0: drained", "worker0: r2 started",
                "worker1: drained", "worker1: r2 started", "rollout to r2: done",
                "api0: r-bad failed readiness", "api0: r2 again, back in nginx"]  # fmt: skip
    found = [next(i for i, s in enumerate(steps) if s.startswith(e)) for e in expected]
    assert found == sorted(found), steps
    assert set(report["phases"]) == {"before", "during", "after"}
    assert all(p["requests"] > 100 for p in report["phases"].values())
