"""What a request with a body must pass before a route sees it, in this order:

1. the caller is authenticated from its headers (401 before a byte of the body is read);
2. the body fits the route's limit: a body announced larger is refused unread (413), one sent
   without a length is read only up to the limit. A single job, a schedule or an admin call
   fits in MAX_PAYLOAD_BYTES plus an envelope; only a batch may use MAX_REQUEST_BYTES;
3. a non-empty body is JSON (415 for another media type, any case of application/json is JSON);
4. the strict JSON reader accepts it (dtq.api.strict_json: depth, duplicates, numbers).

The authenticated caller is left in the request's state for the route's dependencies, so a key
is looked up once per request.
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dtq.api.auth import authenticate_headers
from dtq.api.strict_json import StrictJsonError, is_json_media_type, read_json
from dtq.config import Settings
from dtq.errors import AuthenticationError
from dtq.models import Tenant

WITH_BODY = {"POST", "PUT", "PATCH"}
# Room for a job's fields around its payload (task type, ids, queue, dependencies...).
ENVELOPE_BYTES = 64 * 1024
BATCH_PATHS = {"/jobs/batch"}


class Refusal(Exception):
    """An answer given instead of the route's: status, code, detail and extra headers."""

    def __init__(
        self, status: int, code: str, detail: str, headers: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers

    async def send_to(self, send: Send) -> None:
        """Answer with JSON and close the connection (the unread rest of the body is unwanted)."""
        body = orjson.dumps({"detail": self.detail, "code": self.code})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
            (b"connection", b"close"),
            *self.headers,
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class ClientGone(Exception):
    """The client disconnected while its body was being read."""


class RequestLimits:
    """ASGI middleware: authentication, body size, media type and strict JSON, before routes."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.batch_bytes = settings.MAX_REQUEST_BYTES
        self.single_bytes = min(
            settings.MAX_REQUEST_BYTES, settings.MAX_PAYLOAD_BYTES + ENVELOPE_BYTES
        )

    def limit_for(self, path: str) -> tuple[int, str]:
        """The body limit of a route and the setting it comes from."""
        if path in BATCH_PATHS:
            return self.batch_bytes, "MAX_REQUEST_BYTES"
        return self.single_bytes, "MAX_PAYLOAD_BYTES + 64 KiB"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        try:
            caller = await self.authenticate(scope, headers)
            body = await self.read_body(scope["path"], headers, receive)
            self.parse_body(body, headers)
        except Refusal as refusal:
            await refusal.send_to(send)
            return
        except ClientGone:
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, replaying(body, receive), send)

    async def authenticate(self, scope: Scope, headers: dict[bytes, bytes]) -> Tenant | str | None:
        """Step 1: the caller (see authenticate_headers), else Refusal (401, or 503)."""
        try:
            return await authenticate_headers(headers, scope["app"].state.engine, self.settings)
        except AuthenticationError as exc:
            www = ((b"www-authenticate", b'Bearer realm="dtq"'),)
            raise Refusal(401, exc.code, str(exc), www) from None
        except RedisError:  # the same answer the routes give (key_lookup runs when Redis is full)
            raise Refusal(503, "storage_unavailable", "Redis is unreachable") from None

    async def read_body(self, path: str, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        """Step 2: the whole body within the route's limit, else Refusal (413) or ClientGone."""
        limit, setting = self.limit_for(path)
        too_large = Refusal(
            413,
            "request_too_large",
            f"the request body is over {setting} ({limit} bytes) for this route",
        )
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                raise Refusal(400, "bad_request", "Content-Length is not a number")
            if int(length) > limit:
                raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def parse_body(self, body: bytes, headers: dict[bytes, bytes]) -> Any:
        """Steps 3 and 4: the parsed JSON body (None when empty), else Refusal (415, 400, 422)."""
        if not body:
            return None
        content_type = headers.get(b"content-type")
        if content_type is not None and not is_json_media_type(content_type):
            detail = "the body must be JSON: send Content-Type: application/json"
            raise Refusal(415, "unsupported_media_type", detail)
        try:
            return read_json(body, self.settings.MAX_JSON_DEPTH)
        except StrictJsonError as exc:
            raise Refusal(exc.status, exc.code, exc.detail) from None


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app a body already read, whole, then defers to `receive`."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
