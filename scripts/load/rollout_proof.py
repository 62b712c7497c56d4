"""The rollout under load: nginx in front of two API processes and two workers on one Redis,
Locust running the mixed scenario the whole time (single and batch submissions with
Idempotency-Keys, replays, polling, listing, DLQ reads, live-feed readers), while every API and
worker is replaced by a new release (twice; once with --short), then a bad release (its API
never gets ready) is tried and rolled back.

    python scripts/load/rollout_proof.py            # full length: two rollouts, ~3 minutes
    python scripts/load/rollout_proof.py --short    # what CI runs (tests/deploy)

Passes (exit 0) when Locust counted 0 failed requests, nginx logged no upstream error (no
request reached a stopping API, not even one it could retry elsewhere), every idempotency key
names one job and that job succeeded, the stats count each of those jobs succeeded once, and the
bad release was rolled back. Prints p50/p99 before, during and after the rollouts, and writes
--report (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from harness import ROOT, Harness, failures, locust, start, stats
from redis.asyncio import Redis

from deploy.local.releases import make_release
from deploy.local.rollout import LocalRollout, RolledBack
from dtq.config import Settings
from dtq.queue import Keys
from dtq.queue.tenant_ids import stored_id

USERS = ["SubmitPollUser", "BatchUser", "ReplayUser", "ReaderUser", "FeedUser"]


def _phase_latency(
    record: Path, phases: dict[str, tuple[float, float]]
) -> dict[str, dict[str, float]]:
    """p50/p99 (ms) and requests/s of the HTTP requests in each phase."""
    samples: dict[str, list[float]] = {name: [] for name in phases}
    for path in record.glob("requests-*.csv"):
        for line in path.read_text().splitlines():
            t, name, ms, _ok = line.split(",")
            if name.startswith("WS"):
                continue
            for phase, (a, b) in phases.items():
                if a <= float(t) < b:
                    samples[phase].append(float(ms))
    out: dict[str, dict[str, float]] = {}
    for phase, values in samples.items():
        a, b = phases[phase]
        if len(values) < 2:
            out[phase] = {"requests": len(values)}
            continue
        q = statistics.quantiles(values, n=100)
        out[phase] = {"requests": len(values), "rps": round(len(values) / (b - a), 1),
                      "p50_ms": round(q[49], 1), "p99_ms": round(q[98], 1)}  # fmt: skip
    return out


async def _check_jobs(h: Harness, ledger: dict[str, set[str]], timeout: float) -> dict[str, Any]:
    """Every key -> one job, each job succeeded (waiting for the last ones to finish); read
    from Redis in pipelines (tens of thousands of jobs)."""
    keys = Keys.from_settings(Settings(REDIS_URL=h.redis_url, KEY_PREFIX=h.stack.env["KEY_PREFIX"]))
    ids = sorted({i for found in ledger.values() for i in found})
    statuses: dict[str, str] = {}
    redis = Redis.from_url(h.redis_url, decode_responses=True)
    deadline = time.monotonic() + timeout
    try:
        todo = ids
        while todo:
            for chunk in (todo[i : i + 2000] for i in range(0, len(todo), 2000)):
                async with redis.pipeline(transaction=False) as pipe:
                    for job_id in chunk:
                        pipe.hget(keys.job(stored_id("load", job_id)), "status")
                    for job_id, status in zip(chunk, await pipe.execute(), strict=True):
                        statuses[job_id] = status or "missing"
            todo = [i for i in ids if statuses[i] in ("pending", "scheduled", "running")]
            if not todo or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        await redis.aclose()
    with h.admin() as admin:
        totals = admin.get("/stats").json()
    by_status: dict[str, int] = {}
    for s in statuses.values():
        by_status[s] = by_status.get(s, 0) + 1
    return {
        "keys": len(ledger),
        "keys_with_two_jobs": sum(1 for found in ledger.values() if len(found) > 1),
        "jobs": len(ids),
        "jobs_by_status": by_status,
        "succeeded_total": totals["jobs_completed_total"],
        "dead_total": totals["jobs_dead_total"],
    }


def _read_ledger(record: Path) -> dict[str, set[str]]:
    ledger: dict[str, set[str]] = {}
    for path in record.glob("ledger-*.txt"):
        for line in path.read_text().splitlines():
            key, job_id = line.split()
            ledger.setdefault(key, set()).add(job_id)
    return ledger


def run(args: argparse.Namespace) -> dict[str, Any]:
    rounds = 1 if args.short else 2
    with ExitStack() as resources:
        h = start(resources, apis=2, workers=2)
        record = h.workdir / "record"
        record.mkdir()
        releases = [make_release(h.workdir, f"r{n}") for n in range(2, 2 + rounds)]
        bad = make_release(h.workdir, "r-bad", {"REDIS_URL": "redis://127.0.0.1:1/0"})
        rollout = LocalRollout(h.stack, log=lambda s: print(f"  {s}", flush=True), ready_timeout=5)
        env = {"DTQ_API_KEY": h.api_key, "DTQ_USER_RATE": str(args.rate),
               "DTQ_LOAD_RECORD": str(record)}  # fmt: skip
        assert h.stack.nginx is not None
        budget = args.before + args.after + 90 * rounds + 60  # Locust stops itself by then
        t0 = time.time()
        proc = locust(h.stack.nginx.url + "/api", USERS, args.users, budget, args.out, env)
        time.sleep(args.before)
        t_roll = time.time()
        for release in releases:
            rollout.roll(release)
        rolled_back = False
        try:
            rollout.roll(bad)
        except RolledBack as exc:
            rolled_back = True
            print(f"  bad release: {exc}", flush=True)
        t_after = time.time()
        time.sleep(args.after)
        t_end = time.time()
        proc.terminate()  # SIGTERM: Locust stops its users and writes its reports
        code = proc.wait(timeout=60)
        ledger = _read_ledger(record)
        jobs = asyncio.run(_check_jobs(h, ledger, timeout=60))
        phases = {
            "before": (t0 + 2, t_roll),
            "during": (t_roll, t_after),
            "after": (t_after, t_end),
        }
        table = stats(args.out)
        latency = _phase_latency(record, phases)
        upstream_errors = h.stack.nginx.upstream_errors()
    return {
        "locust_exit": code,
        "requests": table.get("Aggregated", {}),
        "failures": failures(args.out),
        "phases": latency,
        "rollouts": rounds,
        "steps": [what for _, what in rollout.steps],
        "bad_release_rolled_back": rolled_back,
        "ws_closes": table.get("WS closed by server", {}).get("requests", 0),
        "nginx_upstream_errors": upstream_errors,
        **jobs,
    }


def verdict(report: dict[str, Any]) -> list[str]:
    """What is wrong with this run (empty: it proves the rollout)."""
    wrong = []
    if report["requests"].get("failures", 1) != 0 or report["failures"]:
        wrong.append(f"failed requests: {report['failures']}")
    if report["keys_with_two_jobs"]:
        wrong.append(f"{report['keys_with_two_jobs']} idempotency keys named two jobs")
    if report["jobs_by_status"] != {"succeeded": report["jobs"]}:
        wrong.append(f"jobs not all succeeded: {report['jobs_by_status']}")
    if report["succeeded_total"] != report["jobs"]:
        wrong.append(f"{report['succeeded_total']} successes counted for {report['jobs']} jobs")
    if report["nginx_upstream_errors"]:  # a request reached a stopping API (nginx retried it)
        wrong.append(f"nginx saw upstream errors: {report['nginx_upstream_errors'][:3]}")
    if not report["bad_release_rolled_back"]:
        wrong.append("the bad release was not rolled back")
    return wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="one rollout, shorter phases (CI)")
    parser.add_argument("--users", type=int)
    parser.add_argument("--rate", type=float, default=4.0, help="tasks/s per Locust user")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    args.users = args.users or (40 if args.short else 60)
    args.before = args.after = 10 if args.short else 30
    args.out = args.out or ROOT / "load-reports" / f"rollout-{time.strftime('%Y%m%d-%H%M%S')}"
    print(f"rollout under load: {args.users} Locust users, reports in {args.out}", flush=True)
    report = run(args)
    wrong = verdict(report)
    report["ok"] = not wrong
    if args.report:
        args.report.write_text(json.dumps(report, indent=2))
    r = report["requests"]
    print(
        f"requests {r.get('requests', 0):.0f}, failed {r.get('failures', '?')}, "
        f"{r.get('rps', 0)} req/s; jobs {report['jobs']} for {report['keys']} keys: "
        f"{report['jobs_by_status']}; feed closes by the rollout {report['ws_closes']:.0f}"
    )
    for phase, p in report["phases"].items():
        print(f"  {phase:7} {p}")
    for line in wrong:
        print(f"error: {line}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
