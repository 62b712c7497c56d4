"""Redis CPU per job, phase by phase: enqueue, read, start and complete, each measured alone.

throughput.py's `redis_cpu_us_per_job` mixes every phase and swings with the worker's pace; this
drives the scripts from one client, without a worker process or handlers, and reads Redis's own
CPU time (`INFO cpu`) around each phase: N no-op jobs are enqueued in batches of 1,000, then read,
started and completed in batches of --batch, as a worker would. Each phase's figure is the best
of --rounds runs (a fresh key prefix each; the keys are deleted after). Steadier than a full run
on a machine whose speed drifts, so it is the measure to compare two builds' scripts with.

With `--tenants T`, keys are on and the jobs are spread over T tenants (batches in turn): they
wait in the tenants' lanes, and the read phase includes dispatching them fairly.

Starts an embedded Redis/Valkey server when REDIS_URL is unset. The last line printed is one
JSON object: microseconds of Redis CPU per job for each phase and in all.

    python scripts/bench/phases.py --jobs 30000 --rounds 3
    python scripts/bench/phases.py --jobs 30000 --rounds 3 --tenants 10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

import uvloop
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))

from dtq.config import Settings
from dtq.embedded_redis import EmbeddedRedis
from dtq.models import DEFAULT_TENANT, JobCreate, TenantCreate
from dtq.queue import Engine
from dtq.redis_client import create_redis

PHASES = ("enqueue", "read", "start", "complete")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=30_000, help="jobs a round (1,000..1,000,000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best is reported")
    parser.add_argument("--batch", type=int, default=200, help="jobs read and settled at once")
    parser.add_argument(
        "--tenants", type=int, default=0, help="spread the jobs over this many tenants (keys on)"
    )
    args = parser.parse_args()
    if not 1_000 <= args.jobs <= 1_000_000:
        parser.error("--jobs must be 1,000..1,000,000")
    if not 1 <= args.rounds <= 20 or not 1 <= args.batch <= 1_000:
        parser.error("--rounds must be 1..20 and --batch 1..1,000")
    if not 0 <= args.tenants <= 1_000:
        parser.error("--tenants must be 0..1,000")
    return args


async def _cpu_s(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def one_round(redis_url: str, jobs: int, batch: int, tenants: int) -> dict[str, float]:
    """Redis CPU seconds spent in each phase for `jobs` jobs under a fresh key prefix."""
    settings = Settings(
        REDIS_URL=redis_url,
        AUTH_DISABLED=not tenants,
        KEY_PREFIX=f"phases{uuid.uuid4().hex[:8]}",
    )
    redis = create_redis(settings)
    try:
        engine = Engine(redis, settings)
        await engine.setup()
        names = [f"t{i}" for i in range(tenants)] or [DEFAULT_TENANT]
        for name in names[:tenants]:
            await engine.tenants.create(TenantCreate(name=name, rate_per_s=1e6, burst=10_000_000))
        consumer = engine.consumer("phases")
        spent = dict.fromkeys(PHASES, 0.0)
        size = 1_000
        t = await _cpu_s(redis)
        for i, first in enumerate(range(0, jobs, size)):
            chunk = [JobCreate(task_type="noop")] * min(size, jobs - first)
            await engine.producer.submit_many(chunk, names[i % len(names)], None)
        spent["enqueue"] = await _cpu_s(redis) - t
        done = 0
        while done < jobs:
            t = await _cpu_s(redis)
            entries = await consumer.read(batch, 0)
            spent["read"] += await _cpu_s(redis) - t
            if not entries:
                raise RuntimeError(f"only {done} of {jobs} jobs could be read")
            t = await _cpu_s(redis)
            started = await consumer.start(entries)
            spent["start"] += await _cpu_s(redis) - t
            t = await _cpu_s(redis)
            await consumer.settle([(d, b"null") for d in started], [])
            spent["complete"] += await _cpu_s(redis) - t
            done += len(started)
        return spent
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{settings.KEY_PREFIX}:*", count=5_000)]
        for i in range(0, len(keys), 5_000):
            await redis.unlink(*keys[i : i + 5_000])
        await redis.aclose()


async def run(args: argparse.Namespace, redis_url: str) -> dict[str, float]:
    best = dict.fromkeys(PHASES, float("inf"))
    for _ in range(args.rounds):
        spent = await one_round(redis_url, args.jobs, args.batch, args.tenants)
        for phase in PHASES:
            best[phase] = min(best[phase], spent[phase] / args.jobs * 1e6)
    result = {f"{phase}_us": round(best[phase], 1) for phase in PHASES}
    result["total_us"] = round(sum(best.values()), 1)
    return result


def main() -> None:
    args = parse_args()
    with ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            server = EmbeddedRedis(tempfile.mkdtemp(prefix="dtq-phases-"))
            redis_url = server.start()
            stack.callback(server.stop)
        result = uvloop.run(run(args, redis_url))
    print(
        f"Redis CPU per job (best of {args.rounds}): "
        + ", ".join(f"{p} {result[f'{p}_us']} us" for p in PHASES)
        + f"; {result['total_us']} us in all"
    )
    params = {
        "jobs": args.jobs,
        "rounds": args.rounds,
        "batch": args.batch,
        "tenants": args.tenants,
    }
    print(json.dumps({**result, **params}))


if __name__ == "__main__":
    main()
