"""The API's HTTP/1.1 server protocol: uvicorn's httptools protocol with two guards it lacks
(and its access lines through dtq.api.access_log's tally: submissions counted, not logged).

- Header size: the request line and headers together may be at most MAX_HEADER_BYTES, counted
  while the parser reads them; past it the request gets 431 and the connection is closed (the
  parser buffers nothing more). uvicorn's httptools protocol has no limit, and h11's limit only
  applies to a header block that has not fully arrived.
- Request deadline: a request must arrive whole (line, headers, body) within REQUEST_TIMEOUT_S
  of its first byte, and a new connection must start one within it; otherwise 408 (or, if an
  answer was already sent, nothing) and the connection is closed. Idle keep-alive connections
  between requests keep uvicorn's own timeout (HTTP_KEEPALIVE_S).

The API is safe on its own this way: Render and Kubernetes put no nginx in front of it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from dtq.api.access_log import tallied_access_log

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class ServerConfig(uvicorn.Config):
    """uvicorn's Config with the two limits the guarded protocol enforces."""

    def __init__(
        self, app: Any, *, max_header_bytes: int, request_timeout_s: float, **options: Any
    ) -> None:
        super().__init__(app, http=GuardedHttpToolsProtocol, **options)
        self.max_header_bytes = max_header_bytes
        self.request_timeout_s = request_timeout_s


class CorkedTransport:
    """A transport whose writes in one turn of the event loop go out as one: an answer's head
    and body in one send, not two (each send to a local client costs its wake-up)."""

    __slots__ = ("raw", "loop", "pending")

    def __init__(self, raw: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.raw = raw
        self.loop = loop
        self.pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self.pending is None:
            self.pending = [data]
            self.loop.call_soon(self.flush)
        else:
            self.pending.append(data)

    def flush(self) -> None:
        """Send what was written (it is sent at the end of the loop's turn anyway)."""
        pending, self.pending = self.pending, None
        if pending and not self.raw.is_closing():
            self.raw.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self.raw.close()

    def is_closing(self) -> bool:
        return self.raw.is_closing()

    def uncork(self) -> asyncio.Transport:
        """The transport itself, with what was written sent."""
        self.flush()
        return self.raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a header-size limit and a request deadline (see the module)."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.access_logger = tallied_access_log(self.access_logger)  # type: ignore[assignment]
        self.max_header_bytes: int = getattr(config, "max_header_bytes", 16 * 1024)
        self.request_timeout_s: float = getattr(config, "request_timeout_s", 30.0)
        self.header_bytes = 0
        self.reading_headers = False  # the current request has no cycle yet
        self.refused = False
        self.deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(self.request_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _refuse(self, status: int, code: str, detail: str) -> None:
        """Answer `status` (unless an answer has started) and close; parse nothing more."""
        self.refused = True
        self._disarm()
        if self.transport.is_closing():
            return
        current = None if self.reading_headers else self.cycle
        if current is None or not current.response_started:
            body = orjson.dumps({"detail": detail, "code": code})
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (status, REASONS[status], len(body), body)
            )
        self.transport.close()  # connection_lost tells a running cycle its client is gone

    def _timed_out(self) -> None:
        self.deadline = None
        self._refuse(
            408,
            "request_timeout",
            f"the request did not arrive within REQUEST_TIMEOUT_S ({self.request_timeout_s:g} s)",
        )

    def _count(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > self.max_header_bytes:
            self._refuse(
                431,
                "headers_too_large",
                f"the request line and headers are over MAX_HEADER_BYTES "
                f"({self.max_header_bytes} bytes)",
            )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CorkedTransport(transport, self.loop)  # type: ignore[assignment]
        self._arm()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            super().data_received(data)

    def on_message_begin(self) -> None:
        if self.refused:
            return
        super().on_message_begin()
        self.header_bytes = 0
        self.reading_headers = True
        self._arm()

    def on_url(self, url: bytes) -> None:
        if self.refused:
            return
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.refused:
            return
        self._count(len(name) + len(value) + 4)
        if not self.refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if not self.refused:
            self.reading_headers = False
            super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        if isinstance(self.transport, CorkedTransport):
            self.transport = self.transport.uncork()
        self._disarm()  # the WebSocket protocol takes the connection over
        super().handle_websocket_upgrade()

    def on_body(self, body: bytes) -> None:
        if not self.refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.refused:
            return
        self._disarm()
        super().on_message_complete()
