"""Redis memory per job in each state, and where it goes.

Enqueues N no-op jobs (under the default key prefix on an embedded server, a fresh one on a server
REDIS_URL names) and takes them through the states a job lives in,
as a worker would (read, start, settle in batches of 1,000): pending, running, succeeded with a
small result (kept by the default retention), then N more that end dead (failed with no retries
left). After each state it reports:

- bytes_per_job: the growth of Redis's `used_memory` since the prefix was set up, per job (for
  `dead`, the growth since the succeeded state, per dead job): what the server really holds,
  allocator rounding included;
- parts: `MEMORY USAGE` of the prefix's keys, per job, summed by what they are: hash (the job
  hashes), index (the job index's buckets and directory), stream (the job streams, their
  pending entries included), events (the events stream, capped by EVENTS_MAXLEN, so a longer
  run spreads it thinner), finished (the retention lists), dlq, lanes (fair dispatch's lists
  and running sets) and other. `MEMORY USAGE` counts a small hash or zset by its encoding's
  bytes, not its allocation, and a stream's pending entries by an estimate that overstates
  them: the parts are for comparing, bytes_per_job is what the server holds. (A negative part
  shrank: the events stream, for one, is trimmed to its cap as entries come.)

With `--tenants T`, keys are on and the jobs are spread over T tenants (they wait in lanes).
Starts an embedded Redis/Valkey server when REDIS_URL is unset; on a server REDIS_URL names, the
run's keys are removed at the end. The last line printed is one JSON object.

    python scripts/bench/job_bytes.py --jobs 10000
    python scripts/bench/job_bytes.py --jobs 10000 --tenants 10
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import uvloop
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))

from payloads import payload_of  # beside this script
from run_keys import run_server  # beside this script
from server_build import server_build  # beside this script

from dtq.config import Settings
from dtq.models import DEFAULT_TENANT, JobCreate, TenantCreate
from dtq.queue import Engine
from dtq.queue.consumer import Consumer
from dtq.queue.delivery import Delivery, Failure
from dtq.queue.keys import Keys
from dtq.redis_client import create_redis

STATES = ("pending", "running", "succeeded", "dead")
PARTS = ("hash", "index", "stream", "events", "finished", "dlq", "lanes", "other")
BATCH = 1_000
RESULT = b'{"ok":true,"n":42}'  # a small result, as most handlers return


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs (1,000..1,000,000)")
    parser.add_argument(
        "--tenants", type=int, default=0, help="spread the jobs over this many tenants (keys on)"
    )
    parser.add_argument(
        "--payload-bytes",
        type=int,
        default=2,
        help="size of each job's JSON payload (default 2: {}); the result and the dead jobs' "
        "error are the same size when larger than the defaults",
    )
    args = parser.parse_args()
    if not 1_000 <= args.jobs <= 1_000_000:
        parser.error("--jobs must be 1,000..1,000,000")
    if not 0 <= args.tenants <= 1_000:
        parser.error("--tenants must be 0..1,000")
    if not 2 <= args.payload_bytes <= 100_000:
        parser.error("--payload-bytes must be 2..100,000")
    return args


def part_of(key: str, keys: Keys) -> str:
    """What a key of the run's prefix is, for the breakdown (PARTS)."""
    if key.startswith(keys.job_prefix):
        return "hash"
    if key == keys.events:
        return "events"
    if key == keys.dlq:
        return "dlq"
    if key in keys.streams:
        return "stream"
    if key.startswith(keys.index) and key[len(keys.index) : len(keys.index) + 1] in ("", "#", ":"):
        return "index"
    if ":finished:" in key:
        return "finished"
    if key.startswith(keys.lanes):
        return "lanes"
    return "other"


async def used_memory(redis: Redis) -> int:
    """The server's used_memory."""
    return int((await redis.info("memory"))["used_memory"])


async def parts(redis: Redis, keys: Keys, prefix: str) -> dict[str, int]:
    """MEMORY USAGE of the prefix's keys, by part."""
    names = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=5_000)]
    sizes: list[int | None] = []
    for i in range(0, len(names), 1_000):
        pipe = redis.pipeline(transaction=False)
        for name in names[i : i + 1_000]:
            pipe.memory_usage(name, samples=0)
        sizes += await pipe.execute()
    total = dict.fromkeys(PARTS, 0)
    for name, size in zip(names, sizes, strict=True):
        total[part_of(name, keys)] += size or 0
    return total


async def enqueue(engine: Engine, jobs: int, tenants: Sequence[str], job: JobCreate) -> None:
    """`jobs` copies of `job`, a batch of 1,000 to each tenant in turn."""
    for i, first in enumerate(range(0, jobs, BATCH)):
        chunk = [job] * min(BATCH, jobs - first)
        await engine.producer.submit_many(chunk, tenants[i % len(tenants)], None)


async def start_all(engine: Engine, consumer: Consumer, jobs: int) -> list[Delivery]:
    """Read and start `jobs` jobs (each delivery running, none settled)."""
    started: list[Delivery] = []
    while len(started) < jobs:
        # as a live worker of this build does: runs go out as shared entries (heartbeat.lua)
        await engine.heartbeat(consumer.name, {})
        entries = await consumer.read(BATCH, 0)
        if not entries:
            raise RuntimeError(f"only {len(started)} of {jobs} jobs could be read")
        started += await consumer.start(entries)
    return started


async def measure(
    settings: Settings, jobs: int, tenant_count: int, payload_bytes: int
) -> tuple[dict[str, dict[str, Any]], str]:
    """Each state's bytes per job and its parts, for `jobs` jobs under settings.KEY_PREFIX (a
    fresh one on the user's server: the run's keys are removed by run_keys); and the server's
    build (its allocator rounds every allocation its own way)."""
    redis = create_redis(settings)
    try:
        engine = Engine(redis, settings)
        await engine.setup()
        tenants = [f"t{i}" for i in range(tenant_count)] or [DEFAULT_TENANT]
        for name in tenants[:tenant_count]:
            await engine.tenants.create(TenantCreate(name=name, rate_per_s=1e6, burst=10_000_000))
        keys = engine.keys
        consumer = engine.consumer("jobbytes")
        out: dict[str, dict[str, Any]] = {}

        zero = dict.fromkeys(PARTS, 0)

        async def record(state: str, since: tuple[int, dict[str, int]]) -> None:
            grown = await used_memory(redis) - since[0]
            now = await parts(redis, keys, settings.KEY_PREFIX)
            out[state] = {
                "bytes_per_job": round(grown / jobs),
                "parts": {p: round((now[p] - since[1][p]) / jobs, 1) for p in PARTS},
            }

        payload = payload_of(payload_bytes)
        result = orjson.dumps(payload) if payload else RESULT
        error = "ValueError: " + "x" * max(payload_bytes - 12, 4)
        base = (await used_memory(redis), zero)
        await enqueue(engine, jobs, tenants, JobCreate(task_type="noop", payload=payload))
        await record("pending", base)
        started = await start_all(engine, consumer, jobs)
        await record("running", base)
        for i in range(0, jobs, BATCH):
            await consumer.settle([(d, result) for d in started[i : i + BATCH]], [])
        await record("succeeded", base)
        settled = (await used_memory(redis), await parts(redis, keys, settings.KEY_PREFIX))
        doomed_job = JobCreate(task_type="noop", payload=payload, max_retries=0)
        await enqueue(engine, jobs, tenants, doomed_job)
        doomed = await start_all(engine, consumer, jobs)
        for i in range(0, jobs, BATCH):
            failures = [Failure(d, error, 0) for d in doomed[i : i + BATCH]]
            await consumer.settle([], failures)
        await record("dead", settled)
        return out, await server_build(redis)
    finally:
        await redis.aclose()


def main() -> None:
    args = parse_args()
    with run_server("dtq-job-bytes-") as server:
        # On its own server the run uses the default prefix, as a deployment does: a job's key
        # holds it, so a longer one would count bytes that a default deployment never pays.
        prefix = f"jobbytes{uuid.uuid4().hex[:8]}" if server.given else Settings().KEY_PREFIX
        settings = server.owns(
            Settings(REDIS_URL=server.url, AUTH_DISABLED=not args.tenants, KEY_PREFIX=prefix)
        )
        result, build = uvloop.run(measure(settings, args.jobs, args.tenants, args.payload_bytes))
    print(
        f"bytes per job ({args.jobs:,} jobs, tenants {args.tenants}, "
        f"payload {args.payload_bytes} bytes, key prefix {prefix!r}, {build}):"
    )
    print(f"{'state':<10} {'total':>6}  " + " ".join(f"{p:>8}" for p in PARTS))
    for state in STATES:
        row = result[state]
        print(
            f"{state:<10} {row['bytes_per_job']:>6}  "
            + " ".join(f"{row['parts'][p]:>8}" for p in PARTS)
        )
    params = {
        "jobs": args.jobs,
        "tenants": args.tenants,
        "payload_bytes": args.payload_bytes,
        "key_prefix": prefix,
        "server": build,
    }
    print(json.dumps({"states": result, **params}))


if __name__ == "__main__":
    main()
