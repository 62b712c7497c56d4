"""The API on the wire, on its own (no nginx in front, as on Render and Kubernetes): header size,
slow requests, and memory while unauthenticated clients send 16 MiB bodies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import websockets

from dtq.config import Settings
from tests.conftest import Processes


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


async def _raw(url: str, request: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes; everything the server answers until it closes (or `timeout`)."""
    reader, writer = await asyncio.open_connection(*_address(url))
    writer.write(request)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(-1), timeout)
    finally:
        writer.close()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_headers_over_max_header_bytes_get_431(
    make_settings: Callable[..., Settings], processes: Processes
) -> None:
    url = processes.api(make_settings(MAX_HEADER_BYTES=16 * 1024))
    for size, expected in (
        (15_000, b"HTTP/1.1 200"),
        (17_000, b"HTTP/1.1 431"),
        (70_000, b"HTTP/1.1 431"),
    ):
        request = (
            b"GET /health/live HTTP/1.1\r\nHost: dtq\r\nConnection: close\r\nX-Pad: %s\r\n\r\n"
            % (b"p" * size)
        )
        answer = await _raw(url, request)
        assert answer.startswith(expected), (size, answer[:80])
        if expected.endswith(b"431"):
            assert b'"code":"headers_too_large"' in answer
    # Many small headers count the same as one large one; so does a long URL.
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(200))
    answer = await _raw(url, b"GET /health/live HTTP/1.1\r\nHost: dtq\r\n" + many + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431")
    answer = await _raw(url, b"GET /health/live?%s HTTP/1.1\r\nHost: dtq\r\n\r\n" % (b"q" * 20_000))
    assert answer.startswith(b"HTTP/1.1 431")
    # The server is unharmed.
    assert httpx.get(f"{url}/health/live").status_code == 200


async def test_slow_requests_are_timed_out(
    make_settings: Callable[..., Settings], processes: Processes
) -> None:
    url = processes.api(make_settings(REQUEST_TIMEOUT_S=1.0, HTTP_KEEPALIVE_S=30))
    host, port = _address(url)
    slow = []
    for i in range(100):  # headers that never finish, a body that never finishes, nothing at all
        reader, writer = await asyncio.open_connection(host, port)
        if i % 3 == 0:
            writer.write(b"GET /health/live HTTP/1.1\r\nHost: dtq\r\nX-Slow: ")
        elif i % 3 == 1:
            writer.write(
                b"POST /jobs HTTP/1.1\r\nHost: dtq\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"task_type": '
            )
        slow.append((reader, writer))
    started = time.monotonic()
    answers = await asyncio.gather(*(asyncio.wait_for(r.read(-1), 10) for r, _ in slow))
    elapsed = time.monotonic() - started
    for _, writer in slow:
        writer.close()
    assert elapsed < 5, elapsed
    # Each was told why and closed.
    for i, answer in enumerate(answers):
        assert answer.startswith(b"HTTP/1.1 408"), (i, answer[:80])
        assert b'"code":"request_timeout"' in answer
    # A keep-alive connection idle between requests is not a slow request: it outlives the
    # request timeout (HTTP_KEEPALIVE_S governs it), and a client trickling a request within
    # the timeout is served.
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/health/live")).status_code == 200
        await asyncio.sleep(1.5)
        assert (await client.get("/health/live")).status_code == 200
    reader, writer = await asyncio.open_connection(host, port)
    for part in (b"GET /health/live HTTP/1.1\r\n", b"Host: dtq\r\n", b"Connection: close\r\n\r\n"):
        writer.write(part)
        await asyncio.sleep(0.2)
    assert (await asyncio.wait_for(reader.read(-1), 5)).startswith(b"HTTP/1.1 200")
    writer.close()


async def test_the_live_feed_outlives_the_request_timeout(
    make_settings: Callable[..., Settings], processes: Processes
) -> None:
    url = processes.api(make_settings(REQUEST_TIMEOUT_S=1.0))
    async with websockets.connect(url.replace("http", "ws") + "/ws") as ws:
        await asyncio.sleep(2)  # twice the timeout, before the feed's hello
        await ws.send("{}")
        welcome = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        assert welcome["type"] == "welcome", welcome


async def test_memory_stays_bounded_under_16_mib_bodies_without_a_key(
    make_settings: Callable[..., Settings], processes: Processes
) -> None:
    settings = make_settings(AUTH_DISABLED=False, ADMIN_API_KEY="m" * 40)
    url = processes.api(settings)
    pid = processes.procs[-1].pid
    host, port = _address(url)
    baseline = _rss_kib(pid)
    body = b"[" + b"1," * (8 * 1024 * 1024 - 1) + b"1]"  # 16 MiB of JSON array
    peak = baseline

    async def client() -> int:
        statuses = 0
        for _ in range(3):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(
                b"POST /jobs/batch HTTP/1.1\r\nHost: dtq\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body[: 1024 * 1024]
            )
            # The answer comes before the body is all sent; the rest is refused with the
            # connection.
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 401"), head[:80]
            try:
                writer.write(body[1024 * 1024 :])
                await writer.drain()
            except ConnectionError:
                pass
            statuses += 1
            writer.close()
        return statuses

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, _rss_kib(pid))
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    answered = await asyncio.gather(*(client() for _ in range(20)))
    sampler.cancel()
    assert sum(answered) == 60
    # The bound: 32 MiB over the idle process, i.e. not one body's worth per client (20 x 16 MiB
    # would be 320 MiB; parsing them was ~200 MiB each).
    grown_mib = (peak - baseline) / 1024
    print(f"API RSS: {baseline / 1024:.0f} MiB idle, peak +{grown_mib:.1f} MiB")
    assert grown_mib < 32, (grown_mib, time.monotonic() - started)


def _children(pid: int) -> set[int]:
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.add(int(status.parent.name))
    return found


async def test_several_api_processes_share_the_port_and_the_guards(
    make_settings: Callable[..., Settings], processes: Processes
) -> None:
    url = processes.api(make_settings(REQUEST_TIMEOUT_S=1.0), API_WORKERS="2")
    supervisor = processes.procs[-1]
    workers = _children(supervisor.pid) - {supervisor.pid}
    assert (
        len([p for p in workers if "multiprocessing" in Path(f"/proc/{p}/cmdline").read_text()])
        >= 2
    )
    async with httpx.AsyncClient(base_url=url) as client:
        answers = [await client.post("/jobs", json={"task_type": "noop"}) for _ in range(20)]
    assert {a.status_code for a in answers} == {201}
    # The guards hold in every process (their settings travel to the spawned ones).
    for _ in range(4):
        request = b"GET /health/live HTTP/1.1\r\nHost: dtq\r\nX-Pad: %s\r\n\r\n" % (b"p" * 20_000)
        assert (await _raw(url, request)).startswith(b"HTTP/1.1 431")
        assert (await _raw(url, b"GET /health/live HTTP/1.1\r\n")).startswith(b"HTTP/1.1 408")
    # SIGTERM to the supervisor stops them all (each finishes its graceful shutdown first).
    supervisor.terminate()
    supervisor.wait(timeout=20)

    def running(pid: int) -> bool:
        try:
            return "zombie" not in Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False

    deadline = time.monotonic() + 15
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not [pid for pid in workers if running(pid)]
