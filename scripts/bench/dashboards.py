"""Dashboard load beside the throughput benchmark (`throughput.py --dashboards N`): N live-feed
WebSocket clients on an API process while the workers run, one of them never reading.

Reports the API's resident memory over the run (sampled from /proc), whether the stalled client
was dropped (its socket ended), and what the readers received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri


def rss_mb(pid: int) -> float:
    """A process's resident memory in MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def never_reading(url: str) -> socket.socket:
    """A client that says hello and then never reads its socket (a small receive window)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    protocol = ClientProtocol(parse_uri(url.replace("http://", "ws://") + "/ws"))
    protocol.send_request(protocol.connect())
    sock.sendall(b"".join(protocol.data_to_send()))
    while protocol.state is State.CONNECTING:
        protocol.receive_data(sock.recv(4096))
    protocol.send_text(b"{}")
    sock.sendall(b"".join(protocol.data_to_send()))
    return sock


@dataclass
class DashboardLoad:
    """N clients on the API at `url` (pid `api_pid`), running until stop()."""

    url: str
    api_pid: int
    clients: int
    rss: list[float] = field(default_factory=list)
    frames: int = 0
    events: int = 0
    resyncs: int = 0
    last_entry: tuple[int, int] = (0, 0)  # the stream entry of the last event the reader got
    closed_early: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stalled: socket.socket | None = None

    async def start(self) -> None:
        """Connect every client (each says hello) and start sampling the API's memory."""
        self._stalled = never_reading(self.url)
        sockets = [await connect(self.url.replace("http://", "ws://") + "/ws", max_size=None)
                   for _ in range(self.clients - 1)]  # fmt: skip
        for ws in sockets:
            await ws.send("{}")
            await ws.recv()  # the welcome: this client's feed is live
        for i, ws in enumerate(sockets):
            self._tasks.append(asyncio.create_task(self._read(ws, count=i == 0)))
        self._tasks.append(asyncio.create_task(self._sample()))

    async def _read(self, ws: ClientConnection, count: bool) -> None:
        try:
            async for message in ws:
                self.frames += 1
                if count:
                    body = json.loads(message)
                    self.events += len(body.get("events", ()))
                    self.resyncs += body.get("type") == "resync"
                    if body.get("events"):
                        entry = body["events"][-1]["id"].partition(".")[0]
                        self.last_entry = tuple(int(x) for x in entry.split("-"))  # type: ignore[assignment]
        except Exception:
            self.closed_early += 1
        finally:
            await ws.close()

    async def _sample(self) -> None:
        while True:
            self.rss.append(rss_mb(self.api_pid))
            await asyncio.sleep(0.5)

    async def settle(self, last_entry_id: str, timeout_s: float) -> float:
        """Seconds until the counting reader got the event of stream entry `last_entry_id` (the
        last one the work wrote), at most `timeout_s`: how far the feed lags behind the work."""
        target = tuple(int(x) for x in last_entry_id.split("-"))
        t0 = time.perf_counter()
        while self.last_entry < target and time.perf_counter() - t0 < timeout_s:
            await asyncio.sleep(0.1)
        return time.perf_counter() - t0

    async def stop(self) -> dict[str, object]:
        """Stop the clients; what was measured."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        dropped = False
        if self._stalled is not None:
            await asyncio.sleep(6)  # a send stuck 5 s while events wait: the server drops it
            self._stalled.settimeout(5)
            with contextlib.suppress(OSError):
                while chunk := self._stalled.recv(1 << 20):
                    del chunk
                dropped = True  # the server ended the stalled client's socket
            self._stalled.close()
        return {
            "dashboards": self.clients,
            "api_rss_mb_start": round(self.rss[0], 1) if self.rss else None,
            "api_rss_mb_max": round(max(self.rss), 1) if self.rss else None,
            "stalled_client_dropped": dropped,
            "reader_events": self.events,
            "reader_resyncs": self.resyncs,
            "readers_dropped": self.closed_early,
        }
