"""Soak: N no-op jobs (default 1,000,000) at full rate with the default retention, watching
Redis's memory, the worker's memory and the rate, to show both stay flat.

A producer keeps a backlog of about --backlog jobs queued (batches of 1,000) while one worker
process drains them; four times a second it samples Redis's used memory, the worker's RSS and
the jobs finished. The report: memory at start, peak and end, the rate in each tenth of the
run, and a sparkline of Redis memory over time. Starts an embedded Redis/Valkey unless
REDIS_URL is set (on that server, the run's keys are removed at the end). Bounded: it stops
after N jobs or --max-s seconds, whichever comes first.

    python scripts/bench/soak.py                       # 1,000,000 jobs
    python scripts/bench/soak.py --jobs 20000 --keep-succeeded 2000   # a short one
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "app"))

from run_keys import run_server  # noqa: E402  (beside this script)

from dtq.config import Settings  # noqa: E402
from dtq.models import JobCreate  # noqa: E402
from dtq.queue import Engine  # noqa: E402
from dtq.redis_client import create_redis  # noqa: E402

BATCH = 1000
SAMPLE_S = 0.25
SPARKS = "▁▂▃▄▅▆▇█"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--backlog", type=int, default=20_000, help="jobs kept queued")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument(
        "--keep-succeeded", type=int, default=None, help="KEEP_SUCCEEDED (default: the setting's)"
    )
    parser.add_argument("--max-s", type=float, default=1800, help="stop after this long")
    return parser.parse_args()


def rss_mib(pid: int) -> float:
    """A process's resident memory in MiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def sparkline(values: list[float], width: int = 60) -> str:
    """The values drawn as one line of blocks, `width` wide (each block the max of its span)."""
    if not values:
        return ""
    step = max(1, len(values) // width)
    spans = [max(values[i : i + step]) for i in range(0, len(values), step)]
    low, high = min(spans), max(spans)
    scale = (high - low) or 1
    return "".join(SPARKS[int((v - low) / scale * (len(SPARKS) - 1))] for v in spans)


async def soak(args: argparse.Namespace, settings: Settings, stack: ExitStack) -> dict[str, Any]:
    redis = create_redis(settings)
    engine = Engine(redis, settings)
    await engine.setup()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "app"),
        "REDIS_URL": settings.REDIS_URL or "",
        "KEY_PREFIX": settings.KEY_PREFIX,
        "AUTH_DISABLED": "true",
        "LOG_LEVEL": "WARNING",
        **({"KEEP_SUCCEEDED": str(args.keep_succeeded)} if args.keep_succeeded is not None else {}),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dtq.worker",
            "-c",
            str(args.concurrency),
            "--tasks",
            "dtq.demo_tasks",
        ],
        env=env,
    )
    stack.callback(worker.kill)

    async def done() -> int:
        return int(await redis.hget(engine.keys.stats, "completed_total") or 0)

    async def memory() -> int:
        return int((await redis.info("memory"))["used_memory"])

    start_memory = await memory()
    samples: list[dict[str, float]] = []
    enqueued = 0
    started = time.monotonic()
    jobs = [JobCreate(task_type="noop")] * BATCH
    bar = tqdm(total=args.jobs, unit="job", unit_scale=True, desc="soak")
    last_sample = 0.0
    finished = 0
    while finished < args.jobs and time.monotonic() - started < args.max_s:
        finished = await done()
        while enqueued < args.jobs and enqueued - finished < args.backlog:
            count = min(BATCH, args.jobs - enqueued)
            await engine.producer.enqueue_many(jobs[:count], "default")
            enqueued += count
        now = time.monotonic()
        if now - last_sample >= SAMPLE_S:
            last_sample = now
            samples.append(
                {
                    "t": now - started,
                    "done": finished,
                    "redis_mib": await memory() / 2**20,
                    "worker_mib": rss_mib(worker.pid),
                }
            )
            bar.update(finished - bar.n)
        await asyncio.sleep(0.05)
    bar.update(finished - bar.n)
    bar.close()
    elapsed = time.monotonic() - started
    tenths = []
    for i in range(10):
        low, high = args.jobs * i // 10, args.jobs * (i + 1) // 10
        inside = [s for s in samples if low <= s["done"] <= high]
        if len(inside) >= 2 and inside[-1]["t"] > inside[0]["t"]:
            rate = (inside[-1]["done"] - inside[0]["done"]) / (inside[-1]["t"] - inside[0]["t"])
            tenths.append(round(rate))
    redis_mib = [s["redis_mib"] for s in samples]
    worker_mib = [s["worker_mib"] for s in samples]
    await redis.aclose()
    return {
        "jobs": finished,
        "seconds": round(elapsed, 1),
        "rate_per_s": round(finished / elapsed),
        "rate_by_tenth": tenths,
        "redis_mib": {
            "start": round(start_memory / 2**20, 1),
            "peak": round(max(redis_mib, default=0), 1),
            "end": round(redis_mib[-1] if redis_mib else 0, 1),
        },
        "worker_rss_mib": {
            "start": round(worker_mib[0] if worker_mib else 0, 1),
            "peak": round(max(worker_mib, default=0), 1),
            "end": round(worker_mib[-1] if worker_mib else 0, 1),
        },
        "redis_memory_curve": sparkline(redis_mib),
        "keep_succeeded": settings.KEEP_SUCCEEDED
        if args.keep_succeeded is None
        else args.keep_succeeded,
    }


def main() -> None:
    args = parse_args()
    with run_server("dtq-soak-") as server, ExitStack() as stack:  # the worker stops first
        settings = server.owns(
            Settings(
                _env_file=None,
                REDIS_URL=server.url,  # type: ignore[call-arg]
                KEY_PREFIX=f"soak{uuid.uuid4().hex[:8]}",
                AUTH_DISABLED=True,
                **(
                    {"KEEP_SUCCEEDED": args.keep_succeeded}
                    if args.keep_succeeded is not None
                    else {}
                ),
            )
        )
        result = asyncio.run(soak(args, settings, stack))
    print(
        f"{result['jobs']:,} jobs in {result['seconds']} s ({result['rate_per_s']:,}/s); "
        f"rate by tenth {result['rate_by_tenth']}; Redis MiB start/peak/end "
        f"{result['redis_mib']['start']}/{result['redis_mib']['peak']}/"
        f"{result['redis_mib']['end']}; "
        f"worker RSS MiB {result['worker_rss_mib']['start']}/{result['worker_rss_mib']['peak']}/"
        f"{result['worker_rss_mib']['end']}"
    )
    print(f"Redis memory: {result['redis_memory_curve']}")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
