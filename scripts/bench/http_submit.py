"""Single `POST /jobs` per second through real API processes, measured from outside them.

Starts Redis (embedded unless REDIS_URL is set), one API server with --api-workers processes
(API_WORKERS), one worker draining the jobs, and --clients client processes, each keeping
--connections keep-alive connections busy for --duration seconds: one request at a time per
connection, the next sent when the answer is read (a raw HTTP/1.1 client on asyncio, far cheaper
per request than the server, so it measures the server). Keys are on (one tenant with a limit
it never reaches), as in production. Reports requests/s, p50/p99 latency and any non-201.

    python scripts/bench/http_submit.py --duration 20
    python scripts/bench/http_submit.py --duration 20 --api-workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import uvloop

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "app"))

from dtq.config import Settings  # noqa: E402
from dtq.embedded_redis import EmbeddedRedis, free_port  # noqa: E402
from dtq.models import TenantCreate  # noqa: E402
from dtq.queue import Engine  # noqa: E402
from dtq.redis_client import create_redis  # noqa: E402

BODY = b'{"task_type": "noop", "payload": {"n": 1}}'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds (at most 300)")
    parser.add_argument("--api-workers", type=int, default=1, help="API processes (API_WORKERS)")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--connections", type=int, default=32, help="connections per client")
    args = parser.parse_args()
    if not 1 <= args.duration <= 300:
        parser.error("--duration must be 1..300 seconds")
    return args


async def _connection(port: int, request: bytes, until: float, out: list[float]) -> int:
    """Send requests one after another until `until`; latencies (s) into `out`; non-201s."""
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
            if not head.startswith(b"HTTP/1.1 201"):
                bad += 1
    finally:
        writer.close()
    return bad


def _client(port: int, key: str, connections: int, duration: float, queue: Any) -> None:
    """One client process: its latencies and its count of non-201 answers, onto `queue`."""
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


def _cpu_s(pid: int) -> float:
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
    with ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            server = EmbeddedRedis(tempfile.mkdtemp(prefix="dtq-http-bench-"))
            redis_url = server.start()
            stack.callback(server.stop)
        settings = Settings(
            _env_file=None,
            REDIS_URL=redis_url,  # type: ignore[call-arg]
            KEY_PREFIX=f"http{uuid.uuid4().hex[:8]}",
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
        queue: Any = multiprocessing.get_context("spawn").Queue()
        clients = [
            multiprocessing.get_context("spawn").Process(
                target=_client, args=(port, key, args.connections, args.duration, queue)
            )
            for _ in range(args.clients)
        ]
        cpu_before = _cpu_s(api.pid)
        for c in clients:
            c.start()
        results = [queue.get(timeout=args.duration + 60) for _ in clients]
        api_cpu_s = _cpu_s(api.pid) - cpu_before
        for c in clients:
            c.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    bad = sum(b for _, b in results)
    result = {
        "requests_per_s": round(len(latencies) / args.duration),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "not_201": bad,
        # The API processes' own CPU per answered request (user + system): what one submission
        # costs the server, whatever else shares the machine.
        "api_cpu_us_per_request": round(api_cpu_s / max(len(latencies), 1) * 1e6),
        "api_workers": args.api_workers,
        "clients": args.clients,
        "connections": args.clients * args.connections,
        "duration_s": args.duration,
    }
    print(
        f"POST /jobs: {result['requests_per_s']:,}/s, p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms, API CPU {result['api_cpu_us_per_request']} us each "
        f"({args.api_workers} API process(es), "
        f"{result['connections']} connections, {bad} not 201)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
