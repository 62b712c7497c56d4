"""Single `POST /jobs` per second through real API processes, measured from outside them.

Starts Redis (embedded unless REDIS_URL is set; on that server, the run's keys are removed at
the end), one API server with --api-workers processes (API_WORKERS), one worker draining the
jobs, and a load tool keeping --clients x --connections
keep-alive connections busy for --duration seconds, one request at a time per connection, the
next sent when the answer is read: wrk (C; --tool wrk, the default where it is installed) with
--clients threads, or --clients processes of a raw HTTP/1.1 client on asyncio (--tool client).
Keys are on (one tenant with a limit it never reaches), as in production. Reports requests/s,
p50/p99 latency, any answer not 2xx, and the CPU each request cost the API processes, the
worker and Redis (what decides the rate where they share a machine).

    python scripts/bench/http_submit.py --duration 20
    python scripts/bench/http_submit.py --duration 20 --api-workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import redis
import uvloop
from redis.cluster import RedisCluster

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "app"))

from run_keys import run_server  # noqa: E402  (beside this script)

from dtq.config import Settings  # noqa: E402
from dtq.embedded_redis import free_port  # noqa: E402
from dtq.models import TenantCreate  # noqa: E402
from dtq.queue import Engine  # noqa: E402
from dtq.redis_client import create_redis  # noqa: E402

BODY = b'{"task_type": "noop", "payload": {"n": 1}}'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds (at most 300)")
    parser.add_argument("--api-workers", type=int, default=1, help="API processes (API_WORKERS)")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--connections", type=int, default=32, help="connections per client")
    parser.add_argument(
        "--tool",
        choices=("auto", "wrk", "client"),
        default="auto",
        help="the load tool (auto: wrk where installed, else the built-in client)",
    )
    args = parser.parse_args()
    if args.tool == "auto":
        args.tool = "wrk" if shutil.which("wrk") else "client"
    elif args.tool == "wrk" and not shutil.which("wrk"):
        parser.error("--tool wrk: wrk is not installed (apt-get install wrk)")
    if not 1 <= args.duration <= 300:
        parser.error("--duration must be 1..300 seconds")
    return args


async def _connection(port: int, request: bytes, until: float, out: list[float]) -> int:
    """Send requests one after another until `until`; latencies (s) into `out`; not 2xx."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    bad = 0
    try:
        while time.monotonic() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
            await reader.readexactly(length)
            out.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 2"):
                bad += 1
    finally:
        writer.close()
    return bad


def _client(port: int, key: str, connections: int, duration: float, queue: Any) -> None:
    """One client process: its latencies and its count of answers not 2xx, onto `queue`."""
    request = (
        b"POST /jobs HTTP/1.1\r\nHost: dtq\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n"
        b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY
    )

    async def run() -> tuple[list[float], int]:
        until = time.monotonic() + duration
        out: list[float] = []
        bad = await asyncio.gather(
            *(_connection(port, request, until, out) for _ in range(connections))
        )
        return out, sum(bad)

    queue.put(uvloop.run(run()))


async def _tenant_key(settings: Settings) -> str:
    redis = create_redis(settings)
    engine = Engine(redis, settings)
    await engine.setup()
    await engine.tenants.create(TenantCreate(name="bench", rate_per_s=1_000_000, burst=10_000_000))
    key = (await engine.tenants.create_key("bench")).key
    await redis.aclose()
    return key


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children, from /proc (Linux)."""
    total = 0.0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{p}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    args = parse_args()
    # The API and the worker stop first.
    with run_server("dtq-http-bench-") as server, ExitStack() as stack:
        redis_url = server.url
        settings = server.owns(
            Settings(
                _env_file=None,
                REDIS_URL=redis_url,  # type: ignore[call-arg]
                KEY_PREFIX=f"http{uuid.uuid4().hex[:8]}",
            )
        )
        key = asyncio.run(_tenant_key(settings))
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "app"),
            "REDIS_URL": redis_url,
            "KEY_PREFIX": settings.KEY_PREFIX,
            "ADMIN_API_KEY": "b" * 40,
            "LOG_LEVEL": "WARNING",
        }
        api = subprocess.Popen(
            [sys.executable, "-m", "dtq.api"],
            env=env | {"PORT": str(port), "API_WORKERS": str(args.api_workers)},
        )
        stack.callback(_stop, api)  # SIGTERM: uvicorn's supervisor stops its API processes
        worker = subprocess.Popen(
            [sys.executable, "-m", "dtq.worker", "--tasks", "dtq.demo_tasks"], env=env
        )
        stack.callback(_stop, worker)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the API did not become ready")
            time.sleep(0.1)
        before = cpu_seconds(api.pid), cpu_seconds(worker.pid), _redis_cpu_s(redis_url)
        load = _wrk(port, key, args) if args.tool == "wrk" else _clients(port, key, args)
        after = cpu_seconds(api.pid), cpu_seconds(worker.pid), _redis_cpu_s(redis_url)
    api_us, worker_us, redis_us = (
        round((b - a) / max(load.requests, 1) * 1e6) for a, b in zip(before, after, strict=True)
    )
    result = {
        "requests_per_s": round(load.requests / args.duration),
        "p50_ms": load.p50_ms,
        "p99_ms": load.p99_ms,
        "not_2xx": load.not_2xx,
        # CPU (user + system) per answered request: the API processes' own, the figure that
        # does not depend on what else shares the machine; and the worker's and Redis's.
        "api_cpu_us_per_request": api_us,
        "worker_cpu_us_per_request": worker_us,
        "redis_cpu_us_per_request": redis_us,
        "api_workers": args.api_workers,
        "tool": args.tool,
        "clients": args.clients,
        "connections": args.clients * args.connections,
        "duration_s": args.duration,
    }
    print(
        f"POST /jobs: {result['requests_per_s']:,}/s, p50 {load.p50_ms} ms, p99 {load.p99_ms} ms, "
        f"CPU per request: API {api_us} us, worker {worker_us} us, Redis {redis_us} us "
        f"({args.api_workers} API process(es), {args.tool}, {result['connections']} connections, "
        f"{load.not_2xx} not 2xx)"
    )
    print(json.dumps(result))


class Load(NamedTuple):
    """What the load tool saw."""

    requests: int
    p50_ms: float
    p99_ms: float
    not_2xx: int


def _clients(port: int, key: str, args: argparse.Namespace) -> Load:
    """The load from --clients processes of the built-in client."""
    spawn = multiprocessing.get_context("spawn")
    queue: Any = spawn.Queue()
    clients = [
        spawn.Process(target=_client, args=(port, key, args.connections, args.duration, queue))
        for _ in range(args.clients)
    ]
    for c in clients:
        c.start()
    results = [queue.get(timeout=args.duration + 60) for _ in clients]
    for c in clients:
        c.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    return Load(
        len(latencies),
        round(statistics.median(latencies) * 1000, 2),
        round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        sum(b for _, b in results),
    )


WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""
WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk(port: int, key: str, args: argparse.Namespace) -> Load:
    """The load from wrk: --clients threads, --clients x --connections connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % (BODY.decode(), key))
        script.flush()
        command = ["wrk", "-t", str(args.clients), "-c", str(args.clients * args.connections)]
        command += ["-d", f"{args.duration}s", "--latency", "-s", script.name]
        out = subprocess.run(
            [*command, f"http://127.0.0.1:{port}/jobs"],
            capture_output=True,
            text=True,
            check=True,
            timeout=args.duration + 60,
        ).stdout
    requests = re.search(r"(\d+) requests in", out)
    latency: dict[str, float] = {}
    for pct, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        latency[pct] = round(float(value) * WRK_UNITS[unit], 2)
    not_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if requests is None or set(latency) != {"50", "99"}:
        raise SystemExit(f"could not read wrk's report:\n{out}")
    bad = int(not_2xx.group(1)) if not_2xx else 0
    return Load(int(requests.group(1)), latency["50"], latency["99"], bad)


def _redis_cpu_s(redis_url: str) -> float:
    """Redis's CPU seconds (user + system), from INFO: on a cluster, every master's (the node
    REDIS_URL names may hold none of the shards the load reaches)."""
    with redis.Redis.from_url(redis_url) as client:
        if client.info("cluster").get("cluster_enabled") != 1:
            return _cpu_s(client.info("cpu"))
    with RedisCluster.from_url(redis_url) as cluster:
        per_master = cluster.info("cpu", target_nodes=RedisCluster.PRIMARIES)
    return sum(_cpu_s(cpu) for cpu in per_master.values())


def _cpu_s(cpu: dict[str, float]) -> float:
    """One server's CPU seconds (user + system), from its INFO cpu."""
    return cpu["used_cpu_user"] + cpu["used_cpu_sys"]


if __name__ == "__main__":
    main()
