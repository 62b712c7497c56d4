"""The benchmark scripts still run end to end (tiny runs): throughput.py single- and
multi-tenant, one queue and several; soak.py; phases.py; job_bytes.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest
import redis

from dtq.embedded_redis import EmbeddedRedis
from dtq.local_cluster import LocalCluster
from tests.conftest import ROOT

# Each script's key prefix (a fresh one per run, e.g. bench1a2b3c4d).
PREFIX = {
    "throughput.py": "bench",
    "soak.py": "soak",
    "http_submit.py": "http",
    "phases.py": "phases",
    "job_bytes.py": "jobbytes",
}


def _left_behind(server: EmbeddedRedis | LocalCluster, script: str) -> list[str]:
    """Keys a script's runs left on the test server (on a cluster, on any master)."""
    urls = [n.url for n in server.nodes] if isinstance(server, LocalCluster) else [server.url]
    keys: list[str] = []
    for url in urls:
        with redis.Redis.from_url(url, decode_responses=True) as client:
            if client.info("replication")["role"] == "master":
                keys += client.scan_iter(match=f"{PREFIX[script]}*", count=5000)
    return keys


def _report(
    script: str, args: list[str], url: str, server: EmbeddedRedis | LocalCluster, timeout: float
) -> dict[str, Any]:
    """Run a bench script against the test server; the JSON object it prints last. The run
    must leave none of its keys behind (the server is the user's: REDIS_URL names it)."""
    proc = subprocess.run(
        [sys.executable, f"scripts/bench/{script}", *args],
        cwd=ROOT,
        env={"REDIS_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    left = _left_behind(server, script)
    assert not left, f"{len(left)} keys left behind, e.g. {left[:3]}"
    return report


def _build(url: str) -> str:
    """What the benches report of the test server's build: name, version, allocator."""
    with redis.Redis.from_url(url, decode_responses=True) as client:
        server, memory = client.info("server"), client.info("memory")
    name = "valkey" if "valkey_version" in server else "redis"
    return (
        f"{name} {server.get('valkey_version', server['redis_version'])} {memory['mem_allocator']}"
    )


@pytest.mark.parametrize(("tenants", "queues"), [(0, 0), (3, 0), (0, 4)])
def test_the_bench_runs_and_reports(
    redis_url: str, redis_server: EmbeddedRedis | LocalCluster, tenants: int, queues: int
) -> None:
    args = ["--jobs", "300", "--concurrency", "20", "--latency-samples", "3"]
    args += ["--tenants", str(tenants), "--queues", str(queues), "--payload-bytes", "300"]
    report = _report("throughput.py", args, redis_url, redis_server, timeout=60)
    assert report["process_per_s"] > 0 and report["lat_p50_ms"] > 0
    assert report["payload_bytes"] == 300 and report["bytes_per_pending_job"] > 300
    assert report["redis_cpu_us_per_job"] > 0
    pending, finished = report["events_bytes_per_job"]
    assert 0 < pending < report["bytes_per_pending_job"] and finished > pending
    assert report["worker_cpu_us_per_job"] is None or report["worker_cpu_us_per_job"] > 0
    if tenants:
        assert sorted(report["tenant_done_at"]) == ["t0", "t1", "t2"]
    assert report["queues"] == queues
    assert report["server"] == _build(redis_url)


def test_the_bench_measures_the_workers_cpu(
    redis_url: str, redis_server: EmbeddedRedis | LocalCluster
) -> None:
    """20,000 jobs take the worker a few tenths of a second of CPU: enough for /proc's 10 ms
    ticks, so the figure is there (a 300-job run reports None rather than 0)."""
    args = ["--jobs", "20000", "--concurrency", "50", "--latency-samples", "3"]
    report = _report("throughput.py", args, redis_url, redis_server, timeout=120)
    assert report["worker_cpu_us_per_job"] is not None and report["worker_cpu_us_per_job"] > 0


def test_a_short_soak_keeps_memory_flat(
    redis_url: str, redis_server: EmbeddedRedis | LocalCluster
) -> None:
    """scripts/bench/soak.py, short: 20,000 jobs through a worker with KEEP_SUCCEEDED 1,000:
    Redis ends holding about the 1,000 kept jobs, not 20,000."""
    args = ["--jobs", "20000", "--backlog", "2000", "--keep-succeeded", "1000", "--max-s", "120"]
    report = _report("soak.py", args, redis_url, redis_server, timeout=180)
    assert report["jobs"] == 20000
    # 20,000 kept jobs would be ~16 MiB; 1,000 (and the capped events stream) stay well under.
    grown = report["redis_mib"]["end"] - report["redis_mib"]["start"]
    assert grown < 8, report
    assert report["redis_memory_curve"] and report["rate_by_tenth"]


@pytest.mark.parametrize("tenants", [0, 3])
def test_the_phase_bench_reports_every_phase(
    redis_url: str, redis_server: EmbeddedRedis | LocalCluster, tenants: int
) -> None:
    """scripts/bench/phases.py, tiny: Redis CPU per job for each phase (with --tenants, the
    jobs wait in lanes and the read phase dispatches them)."""
    args = ["--jobs", "3000", "--rounds", "1", "--tenants", str(tenants)]  # 1,000 a batch
    report = _report("phases.py", args, redis_url, redis_server, timeout=60)
    phases = [report[f"{p}_us"] for p in ("enqueue", "read", "start", "complete")]
    assert all(us > 0 for us in phases) and report["total_us"] >= sum(phases) - 0.5
    assert (report["jobs"], report["tenants"]) == (3000, tenants)
    assert report["server"] == _build(redis_url)


@pytest.mark.parametrize("outcome", ["retried", "dead"])
def test_the_phase_bench_measures_failures(
    redis_url: str, redis_server: EmbeddedRedis | LocalCluster, outcome: str
) -> None:
    """phases.py --outcome retried|dead: every attempt fails, and the last phase is fail.lua's
    (`fail_us`, no `complete_us`)."""
    args = ["--jobs", "1000", "--rounds", "1", "--outcome", outcome]
    report = _report("phases.py", args, redis_url, redis_server, timeout=60)
    phases = [report[f"{p}_us"] for p in ("enqueue", "read", "start", "fail")]
    assert all(us > 0 for us in phases) and "complete_us" not in report
    assert report["outcome"] == outcome


@pytest.mark.parametrize("tenants", [0, 3])
def test_the_memory_bench_reports_bytes_per_job_in_each_state(
    redis_url: str, redis_server: EmbeddedRedis | LocalCluster, tenants: int
) -> None:
    """scripts/bench/job_bytes.py, tiny: bytes per job pending, running, succeeded and dead,
    and the parts they go to (a job's hash, its index entry, its stream entry ...)."""
    args = ["--jobs", "1000", "--tenants", str(tenants), "--payload-bytes", "200"]
    report = _report("job_bytes.py", args, redis_url, redis_server, timeout=60)
    states = report["states"]
    assert list(states) == ["pending", "running", "succeeded", "dead"]
    for state, row in states.items():
        parts = row["parts"]
        assert parts["hash"] > 200 and parts["index"] > 0, (state, row)  # a 200-byte payload
    assert states["succeeded"]["parts"]["finished"] > 0  # kept by retention: in its list
    assert states["dead"]["parts"]["dlq"] > 0 and states["pending"]["parts"]["dlq"] == 0
    assert (report["jobs"], report["tenants"], report["payload_bytes"]) == (1000, tenants, 200)
    assert report["server"] == _build(redis_url)


@pytest.mark.skipif(
    shutil.which("valgrind") is None and os.environ.get("DTQ_REQUIRE_E2E") != "1",
    reason="valgrind not installed (apt-get install valgrind)",
)
def test_the_phase_bench_counts_instructions_the_same_each_round() -> None:
    """scripts/bench/phases.py --instructions, tiny: the server it starts under callgrind runs
    the same number of instructions per job round after round (the measure for comparing
    builds on a machine whose speed drifts), and every phase's count is there."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    proc = subprocess.run(
        [sys.executable, "scripts/bench/phases.py", "--jobs", "1000", "--rounds", "2"]
        + ["--instructions"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    counts = [report[f"{p}_kinstr"] for p in ("enqueue", "read", "start", "complete")]
    assert all(k > 1 for k in counts) and report["total_kinstr"] >= sum(counts) - 0.5, report
    assert report["spread_pct"] < 3, report


def test_the_phase_bench_refuses_instructions_on_a_server_of_the_users(redis_url: str) -> None:
    """--instructions needs a server of its own (under callgrind): with REDIS_URL set it says
    so and exits 2, touching nothing."""
    proc = subprocess.run(
        [sys.executable, "scripts/bench/phases.py", "--instructions"],
        cwd=ROOT,
        env={**os.environ, "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and "unset REDIS_URL" in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    "tool",
    [
        "client",
        pytest.param(
            "wrk", marks=pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed")
        ),
    ],
)
def test_the_http_bench_reports_rate_latency_and_cpu(
    redis_url: str, redis_server: EmbeddedRedis | LocalCluster, tool: str
) -> None:
    """scripts/bench/http_submit.py, short: single POST /jobs through a real API process."""
    args = ["--duration", "2", "--connections", "4", "--tool", tool]
    report = _report("http_submit.py", args, redis_url, redis_server, timeout=120)
    assert report["tool"] == tool and report["requests_per_s"] > 0
    assert report["not_2xx"] == 0 and 0 < report["p50_ms"] <= report["p99_ms"]
    for part in ("api", "worker", "redis"):
        assert report[f"{part}_cpu_us_per_request"] > 0, report
