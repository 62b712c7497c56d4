"""Run one load scenario against a local stack it starts itself (scripts/load.sh).

    scripts/load.sh steady                      # submit + poll through nginx, 10 users, 30 s
    scripts/load.sh burst                       # a 10x spike (burst_shape.py)
    scripts/load.sh replay | tenants | dashboard | mixed
    scripts/load.sh submit --target api --apis 1 --users 32 --rate 1000   # single POST /jobs

Starts Redis (embedded unless REDIS_URL is set), --apis API processes and --workers workers
from this checkout, nginx in front (deploy/nginx), with keys on; tenants scenario: three tenants
limited to 5 submissions/s (their 429s are expected, not failures). Locust runs headless for
--duration seconds (at most 600) and writes CSV and HTML reports to --out. Exit status 1 on any
unexpected failure or when the p99 of all requests is over --p99-ms. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from harness import ROOT, failures, locust, start, stats

SCENARIOS = {
    "steady": ["SubmitPollUser"],
    "burst": ["SubmitPollUser"],
    "replay": ["ReplayUser"],
    "tenants": ["TenantUser"],
    "dashboard": ["FeedUser", "ReaderUser"],
    "mixed": ["SubmitPollUser", "BatchUser", "ReplayUser", "ReaderUser", "FeedUser"],
    "submit": ["SubmitUser"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--rate", type=float, default=2.0, help="tasks/s per user")
    parser.add_argument("--duration", type=int, default=30, help="seconds (at most 600)")
    parser.add_argument("--target", choices=["nginx", "api"], default="nginx")
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--p99-ms", type=float, default=1000.0)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="servers on CPU 0, Locust on CPU 1 (the split the README's figures state)",
    )
    args = parser.parse_args()
    if not 1 <= args.duration <= 600:
        parser.error("--duration must be 1..600 seconds")
    out = args.out or ROOT / "load-reports" / f"{args.scenario}-{time.strftime('%Y%m%d-%H%M%S')}"
    server_cpus, load_cpus = ({0}, {1}) if args.pin and (os.cpu_count() or 1) >= 2 else (None, None)
    if server_cpus:
        os.sched_setaffinity(0, server_cpus)  # everything started from here inherits it
    with ExitStack() as resources:
        h = start(resources, apis=args.apis, workers=args.workers)
        env = {"DTQ_API_KEY": h.api_key, "DTQ_USER_RATE": str(args.rate)}
        if args.scenario == "tenants":
            keys = [h.make_tenant(f"t{i}", rate_per_s=5, burst=10) for i in range(3)]
            env["DTQ_TENANT_KEYS"] = ",".join(keys)
        assert h.stack.nginx is not None
        host = (
            h.stack.nginx.url + "/api"
            if args.target == "nginx"
            else "http://" + h.stack.addresses[0]
        )
        print(f"{args.scenario}: {args.users} users for {args.duration} s -> {host}", flush=True)
        proc = locust(
            host, SCENARIOS[args.scenario], args.users, args.duration, out, env,
            shape=args.scenario == "burst", cpus=load_cpus,
        )  # fmt: skip
        code = proc.wait(timeout=args.duration + 120)
    table = stats(out)
    total = table.get("Aggregated", {})
    print(json.dumps({"scenario": args.scenario, "target": args.target, **total}))
    for row in failures(out):
        print(f"failure: {row['Method']} {row['Name']}: {row['Error']} x{row['Occurrences']}")
    if code != 0:
        print(f"error: Locust reported failures (exit status {code}); see {out}", file=sys.stderr)
        return 1
    if total.get("p99_ms", 0) > args.p99_ms:
        print(f"error: p99 {total['p99_ms']} ms is over {args.p99_ms} ms", file=sys.stderr)
        return 1
    print(f"ok: reports in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
