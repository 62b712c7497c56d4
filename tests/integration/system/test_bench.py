"""The benchmark script still runs end to end (a tiny run): single- and multi-tenant, one queue
and several."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize(("tenants", "queues"), [(0, 0), (3, 0), (0, 4)])
def test_the_bench_runs_and_reports(redis_url: str, tenants: int, queues: int) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/bench/throughput.py",
            "--jobs",
            "300",
            "--concurrency",
            "20",
            "--latency-samples",
            "3",
            "--tenants",
            str(tenants),
            "--queues",
            str(queues),
        ],
        cwd=ROOT,
        env={"REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["process_per_s"] > 0 and report["lat_p50_ms"] > 0
    if tenants:
        assert sorted(report["tenant_done_at"]) == ["t0", "t1", "t2"]
    assert report["queues"] == queues


def test_a_short_soak_keeps_memory_flat(redis_url: str) -> None:
    """scripts/bench/soak.py, short: 20,000 jobs through a worker with KEEP_SUCCEEDED 1,000:
    Redis ends holding about the 1,000 kept jobs, not 20,000."""
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/bench/soak.py",
            "--jobs",
            "20000",
            "--backlog",
            "2000",
            "--keep-succeeded",
            "1000",
            "--max-s",
            "120",
        ],
        cwd=ROOT,
        env={"REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["jobs"] == 20000
    # 20,000 kept jobs would be ~16 MiB; 1,000 (and the capped events stream) stay well under.
    grown = report["redis_mib"]["end"] - report["redis_mib"]["start"]
    assert grown < 8, report
    assert report["redis_memory_curve"] and report["rate_by_tenth"]


def test_the_phase_bench_reports_every_phase(redis_url: str) -> None:
    """scripts/bench/phases.py, tiny: Redis CPU per job for each phase, and its keys gone."""
    proc = subprocess.run(
        [sys.executable, "scripts/bench/phases.py", "--jobs", "1000", "--rounds", "1"],
        cwd=ROOT,
        env={"REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    phases = [report[f"{p}_us"] for p in ("enqueue", "read", "start", "complete")]
    assert all(us > 0 for us in phases) and report["total_us"] >= sum(phases) - 0.5
    assert report["jobs"] == 1000
