"""Redis CPU per job, phase by phase: enqueue, read, start and complete, each measured alone.

throughput.py's `redis_cpu_us_per_job` mixes every phase and swings with the worker's pace; this
drives the scripts from one client, without a worker process or handlers, and reads Redis's own
CPU time (`INFO cpu`) around each phase: N no-op jobs are enqueued in batches of 1,000, then read,
started and completed in batches of --batch, as a worker would. Each phase's figure is the best
of --rounds runs (a fresh key prefix each; the keys are deleted after). Steadier than a full run
on a machine whose speed drifts, so it is the measure to compare two builds' scripts with.

With `--outcome retried` or `--outcome dead`, every attempt fails instead (the fourth phase is
then `fail`, fail.lua's cost): retried jobs are scheduled to run again in a minute (which the run
does not wait for), dead ones (submitted with max_retries 0) go to the dead-letter queue.

With `--tenants T`, keys are on and the jobs are spread over T tenants (batches in turn): they
wait in the tenants' lanes, and the read phase includes dispatching them fairly.

With `--instructions`, it counts the instructions the server runs instead (thousands per job,
`<phase>_kinstr`): the server is started under valgrind's callgrind (about 50 times slower), and
the count is the same from run to run within a fraction of a percent, where CPU time on a
shared machine swings by 20 % or more. It is the measure to compare two builds' scripts with on
a noisy machine; CPU time is the one that says how fast they are.

Starts an embedded Redis/Valkey server when REDIS_URL is unset (always, with --instructions).
The last line printed is one JSON object: microseconds of Redis CPU (or thousands of
instructions) per job for each phase and in all, and how far the rounds' totals spread.

    python scripts/bench/phases.py --jobs 30000 --rounds 3
    python scripts/bench/phases.py --jobs 30000 --rounds 3 --tenants 10
    python scripts/bench/phases.py --jobs 3000 --rounds 1 --instructions
    python scripts/bench/phases.py --jobs 3000 --rounds 1 --instructions --outcome dead
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

import orjson
import uvloop
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))

from payloads import payload_of  # beside this script
from server_build import server_build  # beside this script

from dtq.config import Settings
from dtq.embedded_redis import EmbeddedRedis
from dtq.models import DEFAULT_TENANT, JobCreate, TenantCreate
from dtq.queue import Engine
from dtq.queue.delivery import Failure
from dtq.redis_client import create_redis

OUTCOMES = ("succeeded", "retried", "dead")
RETRY_DELAY_MS = 60_000  # a retried job waits this long: the run is over before it is due
ERROR = "ValueError: the bench's failure"


def phases_of(outcome: str) -> tuple[str, ...]:
    """The phases a run measures: the last one records the attempts' outcome."""
    return ("enqueue", "read", "start", "complete" if outcome == "succeeded" else "fail")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=30_000, help="jobs a round (1,000..1,000,000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best is reported")
    parser.add_argument("--batch", type=int, default=200, help="jobs read and settled at once")
    parser.add_argument(
        "--tenants", type=int, default=0, help="spread the jobs over this many tenants (keys on)"
    )
    parser.add_argument(
        "--payload-bytes", type=int, default=2, help="size of each job's JSON payload (2: {})"
    )
    parser.add_argument(
        "--outcome",
        choices=OUTCOMES,
        default="succeeded",
        help="how every attempt ends (retried, dead: the last phase is fail.lua's)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count the server's instructions under callgrind instead of its CPU time",
    )
    args = parser.parse_args()
    if not 1_000 <= args.jobs <= 1_000_000:
        parser.error("--jobs must be 1,000..1,000,000")
    if not 1 <= args.rounds <= 20 or not 1 <= args.batch <= 1_000:
        parser.error("--rounds must be 1..20 and --batch 1..1,000")
    if not 0 <= args.tenants <= 1_000:
        parser.error("--tenants must be 0..1,000")
    if not 2 <= args.payload_bytes <= 100_000:
        parser.error("--payload-bytes must be 2..100,000")
    if args.instructions:
        if os.environ.get("REDIS_URL"):
            parser.error(
                "--instructions starts a server of its own under callgrind: unset REDIS_URL"
            )
        if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
            parser.error("--instructions needs valgrind (Debian: apt-get install valgrind)")
    return args


class Meter(Protocol):
    """What the server spends between begin() and end(), in `unit`s."""

    unit: str

    async def begin(self) -> None: ...

    async def end(self) -> float: ...


MeterFactory = Callable[[Redis], Meter]


class CpuMeter:
    """Redis's own CPU time (INFO cpu, user + system), in microseconds."""

    unit = "us"

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._at = 0.0

    async def _cpu_s(self) -> float:
        info = await self._redis.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    async def begin(self) -> None:
        self._at = await self._cpu_s()

    async def end(self) -> float:
        return (await self._cpu_s() - self._at) * 1e6


class InstructionMeter:
    """Instructions run by a server under callgrind (all its threads), in thousands: its
    counters are zeroed at begin(), dumped and read at end()."""

    unit = "kinstr"

    def __init__(self, pid: int, out_dir: Path) -> None:
        self._pid = str(pid)
        self._out_dir = out_dir

    def _control(self, option: str) -> None:
        subprocess.run(["callgrind_control", option, self._pid], check=True, capture_output=True)

    async def begin(self) -> None:
        self._control("--zero")

    async def end(self) -> float:
        for old in self._out_dir.glob("callgrind.out.*"):
            old.unlink()
        self._control("--dump")
        for dump in self._out_dir.glob("callgrind.out.*"):
            for line in dump.read_text().splitlines():
                if line.startswith(("summary:", "totals:")):
                    return int(line.split()[1]) / 1e3
        raise RuntimeError(f"callgrind wrote no count in {self._out_dir}")


async def one_round(
    redis_url: str, args: argparse.Namespace, meter_of: MeterFactory
) -> dict[str, float]:
    """What the server spent (in the meter's unit) in each phase for `args.jobs` jobs under a
    fresh key prefix; a job's result is as large as its payload."""
    jobs, batch, tenants = args.jobs, args.batch, args.tenants
    settings = Settings(
        REDIS_URL=redis_url,
        AUTH_DISABLED=not tenants,
        KEY_PREFIX=f"phases{uuid.uuid4().hex[:8]}",
    )
    redis = create_redis(settings)
    meter = meter_of(redis)
    try:
        engine = Engine(redis, settings)
        await engine.setup()
        names = [f"t{i}" for i in range(tenants)] or [DEFAULT_TENANT]
        for name in names[:tenants]:
            await engine.tenants.create(TenantCreate(name=name, rate_per_s=1e6, burst=10_000_000))
        consumer = engine.consumer("phases")
        phases = phases_of(args.outcome)
        spent = dict.fromkeys(phases, 0.0)
        size = 1_000
        payload = payload_of(args.payload_bytes)
        result = orjson.dumps(payload) if payload else b"null"
        retries = 0 if args.outcome == "dead" else None  # None: the default MAX_RETRIES
        job = JobCreate(task_type="noop", payload=payload, max_retries=retries)
        await meter.begin()
        for i, first in enumerate(range(0, jobs, size)):
            chunk = [job] * min(size, jobs - first)
            await engine.producer.submit_many(chunk, names[i % len(names)], None)
        spent["enqueue"] = await meter.end()
        done = 0
        while done < jobs:
            # as a live worker of this build does: runs go out as shared entries (heartbeat.lua)
            await engine.heartbeat(consumer.name, {})
            await meter.begin()
            entries = await consumer.read(batch, 0)
            spent["read"] += await meter.end()
            if not entries:
                raise RuntimeError(f"only {done} of {jobs} jobs could be read")
            await meter.begin()
            started = await consumer.start(entries)
            spent["start"] += await meter.end()
            await meter.begin()
            if args.outcome == "succeeded":
                await consumer.settle([(d, result) for d in started], [])
            else:
                await consumer.settle([], [Failure(d, ERROR, RETRY_DELAY_MS) for d in started])
            spent[phases[3]] += await meter.end()
            done += len(started)
        return spent
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{settings.KEY_PREFIX}:*", count=5_000)]
        for i in range(0, len(keys), 5_000):
            await redis.unlink(*keys[i : i + 5_000])
        await redis.aclose()


async def run(
    args: argparse.Namespace, redis_url: str, meter_of: MeterFactory, unit: str
) -> dict[str, float | str]:
    """Each phase's best round, per job, in the meter's unit; and how far the rounds' totals
    spread (how much the largest exceeds the smallest, in %); and the server's build."""
    phases = phases_of(args.outcome)
    best = dict.fromkeys(phases, float("inf"))
    totals: list[float] = []
    for _ in range(args.rounds):
        spent = await one_round(redis_url, args, meter_of)
        totals.append(sum(spent.values()))
        for phase in phases:
            best[phase] = min(best[phase], spent[phase] / args.jobs)
    result: dict[str, float | str] = {f"{phase}_{unit}": round(best[phase], 1) for phase in phases}
    result[f"total_{unit}"] = round(sum(best.values()), 1)
    result["spread_pct"] = round((max(totals) / min(totals) - 1) * 100, 2)
    redis = create_redis(Settings(REDIS_URL=redis_url))
    try:
        build = await server_build(redis)
    finally:
        await redis.aclose()
    result["server"] = build
    return result


def main() -> None:
    args = parse_args()
    with ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL")
        meter_of: MeterFactory = CpuMeter
        if not redis_url:
            data = Path(tempfile.mkdtemp(prefix="dtq-phases-"))
            stack.callback(shutil.rmtree, data, ignore_errors=True)
            wrapper: list[str] = []
            if args.instructions:
                out = data / "callgrind.out"
                wrapper = ["valgrind", "-q", "--tool=callgrind", f"--callgrind-out-file={out}"]
            server = EmbeddedRedis(data / "server", wrapper=wrapper)
            redis_url = server.start(timeout_s=60 if args.instructions else 10)
            stack.callback(server.stop)
            if args.instructions:
                meter = InstructionMeter(server.pid or 0, data)
                meter_of = lambda _redis: meter  # noqa: E731
        unit = InstructionMeter.unit if args.instructions else CpuMeter.unit
        result = uvloop.run(run(args, redis_url, meter_of, unit))
    said = "thousand instructions" if args.instructions else "us of Redis CPU"
    print(
        f"per job, in {said} (best of {args.rounds}): "
        + ", ".join(
            f"{p} {v}"
            for p, v in zip(phases_of(args.outcome), list(result.values())[:4], strict=True)
        )
        + f"; {list(result.values())[4]} in all"
    )
    params = {
        "jobs": args.jobs,
        "rounds": args.rounds,
        "batch": args.batch,
        "tenants": args.tenants,
        "payload_bytes": args.payload_bytes,
        "outcome": args.outcome,
    }
    print(json.dumps({**result, **params}))


if __name__ == "__main__":
    main()
