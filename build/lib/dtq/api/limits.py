"""Request limits checked before a route sees the request: body size (413) and JSON depth (422).

A body announced larger than MAX_REQUEST_BYTES is refused before a byte of it is read; a body
sent without a length is read only up to the limit. JSON bodies nested deeper than
MAX_JSON_DEPTH are refused before they are parsed.
"""

from __future__ import annotations

import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
WITH_BODY = {"POST", "PUT", "PATCH"}


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays/objects deeper than `limit` (strings are skipped)."""
    brackets = JSON_STRING.sub(b"", body).translate(None, NOT_BRACKETS)
    depth = 0
    for c in brackets:
        if c in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


async def _answer(send: Send, status: int, code: str, detail: str) -> None:
    body = orjson.dumps({"detail": detail, "code": code})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """ASGI middleware enforcing the body size and JSON depth limits."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        too_large = f"the request body is over MAX_REQUEST_BYTES ({self.max_bytes} bytes)"
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await _answer(send, 400, "bad_request", "Content-Length is not a number")
                return
            if int(length) > self.max_bytes:
                await _answer(send, 413, "request_too_large", too_large)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _answer(send, 413, "request_too_large", too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"")
        if b"json" in content_type and json_depth_exceeds(body, self.max_depth):
            detail = f"the JSON body nests deeper than MAX_JSON_DEPTH ({self.max_depth})"
            await _answer(send, 422, "json_too_deep", detail)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
