"""Submission rate limits across two real API processes, and the body-size limit on the wire."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

import orjson

from dtq.config import Settings
from dtq.models import TenantCreate
from dtq.queue import Engine
from dtq.redis_client import create_redis
from tests.conftest import Processes

BODY = orjson.dumps({"task_type": "noop"})


def _request(key: str) -> bytes:
    return (
        b"POST /jobs HTTP/1.1\r\nHost: dtq\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n"
        b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY
    )


async def _pipelined(url: str, key: str, n: int) -> list[tuple[int, dict[str, str]]]:
    """Send n POST /jobs on one connection, pipelined (a client this cheap can send 1,000 a
    second from one core); returns each answer's status and headers."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(_request(key) * n)
    await writer.drain()
    answers = []
    for _ in range(n):
        head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in head[1:] if line)
        headers = {k.lower(): v for k, v in headers.items()}
        await reader.readexactly(int(headers["content-length"]))
        answers.append((int(head[0].split()[1]), headers))
    writer.close()
    await writer.wait_closed()
    return answers


async def test_a_tenant_limit_holds_across_two_api_processes(
    make_settings: Callable[..., Settings], processes: Processes
) -> None:
    settings = make_settings(AUTH_DISABLED=False)
    redis = create_redis(settings)
    engine = Engine(redis, settings)
    await engine.setup()
    await engine.tenants.create(TenantCreate(name="acme", rate_per_s=50, burst=100))
    await engine.tenants.create(TenantCreate(name="globex", rate_per_s=50, burst=100))
    acme = (await engine.tenants.create_key("acme")).key
    globex = (await engine.tenants.create_key("globex")).key
    urls = [processes.api(settings), processes.api(settings)]
    started = time.monotonic()
    # 1,000 submissions from acme: 10 connections of 50 requests to each API process.
    batches = await asyncio.gather(
        *(_pipelined(url, acme, 50) for url in urls for _ in range(10)),
        _pipelined(urls[1], globex, 20),
    )
    elapsed = time.monotonic() - started
    answers = [a for batch in batches[:-1] for a in batch]
    statuses = Counter(status for status, _ in answers)
    # The bound below counts the refill of the whole run; a slow machine only loosens it, and
    # the limit must still have refused most of the 1,000 (1,000 at 50/s would take 18 s).
    assert elapsed < 5, elapsed
    assert set(statuses) == {201, 429}
    # The burst, plus at most the refill of the time it took (50/s).
    assert 100 <= statuses[201] <= 100 + 50 * elapsed + 1, (statuses, elapsed)
    for status, headers in answers:
        if status == 429:
            assert int(headers["retry-after"]) >= 1
            assert headers["ratelimit-limit"] == "100"
        else:
            assert "ratelimit-remaining" in headers
    assert [s for s, _ in batches[-1]] == [201] * 20  # globex is unaffected
    stored = await redis.hlen(engine.keys.stats)
    created = int(await redis.hget(engine.keys.stats, "created_total") or 0)
    assert stored and created == statuses[201] + 20  # a refused request stored nothing
    await redis.aclose()


async def test_a_50_mib_body_is_refused_before_it_is_read(
    make_settings: Callable[..., Settings], processes: Processes
) -> None:
    url = processes.api(make_settings())
    host, port = urlsplit(url).hostname, urlsplit(url).port
    reader, writer = await asyncio.open_connection(host, port)
    # Announce 50 MiB and send only the first kilobyte: the answer must come anyway.
    writer.write(
        b"POST /jobs HTTP/1.1\r\nHost: dtq\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % (50 * 1024 * 1024) + b'{"payload": "' + b"x" * 1000
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    assert head.startswith(b"HTTP/1.1 413")
    writer.close()
