"""GET /ws, the live feed, against a real uvicorn: per-job events, tenant isolation at the
socket, resuming after the last event id (or resync once it was trimmed), slow clients dropped,
refused hellos."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.uri import parse_uri

from dtq.api.feed import STALLED_S
from dtq.config import Settings
from dtq.models import TenantCreate
from dtq.queue import Engine
from dtq.redis_client import create_redis
from tests.conftest import Processes

ADMIN = "f" * 40


class Stack:
    """A real API server with two tenants and a key each, and an engine on the same Redis."""

    def __init__(self, url: str, engine: Engine, keys: dict[str, str]) -> None:
        self.url = url
        self.ws_url = url.replace("http://", "ws://") + "/ws"
        self.engine = engine
        self.keys = keys

    async def submit(self, who: str, n: int, prefix: str) -> list[str]:
        async with httpx.AsyncClient(base_url=self.url) as http:
            jobs = [{"id": f"{prefix}-{i}", "task_type": "noop"} for i in range(n)]
            r = await http.post(
                "/jobs/batch",
                json={"jobs": jobs},
                headers={"Authorization": f"Bearer {self.keys[who]}"},
            )
            assert r.status_code == 201, r.text
            return [j["id"] for j in jobs]


@pytest.fixture
async def stack(
    make_settings: Callable[..., Settings], processes: Processes
) -> AsyncIterator[Stack]:
    settings = make_settings(
        AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN, FEED_BUFFER_BYTES=4 * 1024 * 1024
    )
    redis = create_redis(settings)
    engine = Engine(redis, settings)
    await engine.setup()
    keys = {"admin": ADMIN}
    for name in ("acme", "globex"):
        await engine.tenants.create(TenantCreate(name=name))
        keys[name] = (await engine.tenants.create_key(name)).key
    url = processes.api(settings)
    yield Stack(url, engine, keys)
    await redis.aclose()


async def hello(ws: ClientConnection, **fields: Any) -> dict[str, Any]:
    await ws.send(json.dumps(fields))
    welcome: dict[str, Any] = json.loads(await ws.recv())
    return welcome


async def collect(
    ws: ClientConnection, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 5
) -> list[Any]:
    """Messages until `until(messages)` holds."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not until(got):
            got.append(json.loads(await ws.recv()))
    return got


def events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-job events of `events` messages, in order."""
    return [e for m in messages if m["type"] == "events" for e in m["events"]]


async def test_a_tenant_sees_its_own_jobs_one_event_each_and_the_admin_sees_all(
    stack: Stack,
) -> None:
    async with (
        connect(stack.ws_url) as acme,
        connect(stack.ws_url) as globex,
        connect(stack.ws_url) as admin,
    ):
        assert (await hello(acme, key=stack.keys["acme"]))["tenant"] == "acme"
        assert (await hello(globex, key=stack.keys["globex"]))["tenant"] == "globex"
        assert (await hello(admin, key=ADMIN))["tenant"] is None
        acme_ids = await stack.submit("acme", 5, "a")
        globex_ids = await stack.submit("globex", 3, "g")

        got = events(await collect(acme, lambda m: len(events(m)) >= 5))
        assert [(e["job_id"], e["status"]) for e in got] == [(i, "pending") for i in acme_ids]
        assert len({e["id"] for e in got}) == 5  # one event, one id per job of the batch
        got = events(await collect(globex, lambda m: len(events(m)) >= 3))
        assert [e["job_id"] for e in got] == globex_ids
        got = events(await collect(admin, lambda m: len(events(m)) >= 8))
        assert sorted(e["job_id"] for e in got) == sorted(acme_ids + globex_ids)

        # nothing of globex's ever reaches acme's socket
        await stack.submit("globex", 2, "g2")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                message = json.loads(await acme.recv())
                assert message["type"] == "ping", message


async def test_a_client_resumes_after_its_last_event_without_a_gap(stack: Stack) -> None:
    async with connect(stack.ws_url) as ws:
        await hello(ws, key=stack.keys["acme"])
        await stack.submit("acme", 3, "before")
        seen = events(await collect(ws, lambda m: len(events(m)) >= 3))
    missed = await stack.submit("acme", 4, "while-away")
    async with connect(stack.ws_url) as ws:
        welcome = await hello(ws, key=stack.keys["acme"], last_event_id=seen[-1]["id"])
        assert welcome["resumed"] is True
        live = await stack.submit("acme", 2, "after")
        got = events(await collect(ws, lambda m: len(events(m)) >= 6))
        assert [e["job_id"] for e in got] == missed + live


async def test_a_trimmed_last_event_id_gets_resync(stack: Stack) -> None:
    await stack.submit("acme", 1, "x")  # the stream's oldest event is newer than 1-0
    async with connect(stack.ws_url) as ws:
        welcome = await hello(ws, key=stack.keys["acme"], last_event_id="1-0.0")
        assert welcome["resumed"] is False
        assert json.loads(await ws.recv())["type"] == "resync"


def never_reading_client(url: str, key: str) -> socket.socket:
    """A WebSocket client that says hello and then never reads its socket again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small receive window
    sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    protocol = ClientProtocol(parse_uri(url.replace("http://", "ws://") + "/ws"))
    protocol.send_request(protocol.connect())
    sock.sendall(b"".join(protocol.data_to_send()))
    while protocol.state is State.CONNECTING:
        protocol.receive_data(sock.recv(4096))
    protocol.send_text(json.dumps({"key": key}).encode())
    sock.sendall(b"".join(protocol.data_to_send()))
    return sock


async def test_a_client_that_never_reads_is_dropped_and_others_keep_going(stack: Stack) -> None:
    stalled = never_reading_client(stack.url, ADMIN)
    async with connect(stack.ws_url) as reader:
        await hello(reader, key=ADMIN)
        # 400 entries of 250 jobs with long ids (~15 MB of events, more than socket buffers
        # hold), 10 entries every 50 ms
        for chunk in range(40):
            async with stack.engine.redis.pipeline(transaction=False) as pipe:
                for batch in range(chunk * 10, chunk * 10 + 10):
                    ids = ",".join(f"acme/{batch:03d}-{i:03d}-{'x' * 50}" for i in range(250))
                    pipe.xadd(stack.engine.keys.events, {"job_ids": ids, "status": "pending"})
                await pipe.execute()
            await asyncio.sleep(0.05)
        got = events(await collect(reader, lambda m: len(events(m)) >= 100_000, timeout=30))
        assert len(got) == 100_000
    # the server gives up on the stalled client (a send stuck 5 s while events wait): its
    # socket ends after what was buffered (reading before then would unstick it)
    await asyncio.sleep(STALLED_S + 1.5)
    stalled.settimeout(10)
    received = 0
    while chunk := await asyncio.to_thread(stalled.recv, 1 << 20):
        received += len(chunk)
    stalled.close()
    assert received < 10_000_000  # far less than the 15 MB sent to the reader


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({}, "missing API key"),
        ({"key": "dtq_wrong"}, "invalid or revoked API key"),
        ({"key": ADMIN, "last_event_id": "nope"}, "invalid hello: last_event_id"),
    ],
)
async def test_a_bad_hello_is_refused_with_a_reason(
    stack: Stack, message: dict[str, Any], reason: str
) -> None:
    async with connect(stack.ws_url) as ws:
        await ws.send(json.dumps(message))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert reason in closed.value.rcvd.reason


async def test_an_unreadable_event_is_skipped_and_the_feed_goes_on(stack: Stack) -> None:
    """An entry this build cannot read (another version's, or a hand-made one) is logged and
    skipped; the reader does not die quietly with the clients still connected."""
    async with connect(stack.ws_url) as acme:
        await hello(acme, key=stack.keys["acme"])
        await stack.engine.redis.xadd(
            stack.engine.keys.events, {"job_ids": "acme/x", "status": "pending", "at": "soon"}
        )
        ids = await stack.submit("acme", 2, "after")
        got = events(await collect(acme, lambda m: len(events(m)) >= 2))
        assert [e["job_id"] for e in got] == ids
