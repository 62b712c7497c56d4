"""The fast path of `POST /jobs`: a single submission answered without the framework's routing,
dependency injection and response machinery, which cost more CPU than the submission itself.

It does what RequestLimits and the create_job route do, in the same order and with the same
code: authenticate from the headers, read the body within its limit, parse it strictly,
validate it as JobCreate, then `submit_job` (admit, store) and answer 201 (200 for a replay)
with the same JSON. Whatever it does not serve itself it hands to the full stack with the body
replayed, before anything is stored, so those answers are the route's own: a body that fails
validation, an empty body, a bad Idempotency-Key header, the admin key, and browser requests
(an Origin header: CORS). With tracing on it is not installed at all.

It runs ahead of the framework's own layers too (FastPathApp): FastAPI's per-request telemetry
check, Starlette's error middleware and body limit, RequestMetrics. It counts its own answers
in the same metrics, and answers an unexpected error as the app's handler does.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from dtq.api.auth import DEV_TENANT
from dtq.api.errors import dtq_error_handler, redis_error_handler, unexpected_error_handler
from dtq.api.limits import ClientGone, Refusal, RequestLimits, replaying
from dtq.api.metrics import ApiMetrics, RequestMetrics
from dtq.api.routes.jobs import submit_job
from dtq.config import Settings
from dtq.errors import DTQError
from dtq.models import IdempotencyKey, JobCreate, Tenant

PATH = "/jobs"
_idempotency_key: TypeAdapter[str] = TypeAdapter(IdempotencyKey)


class FastSubmit:
    """Serves plain `POST /jobs` itself (see the module's docstring); `app` answers the rest."""

    def __init__(
        self, app: ASGIApp, settings: Settings, route: APIRoute, metrics: ApiMetrics
    ) -> None:
        self.app = app
        self.limits = RequestLimits(app, settings)  # its steps (not its app) are used here
        self.route = route  # the create_job route: what metrics name the request by
        self.counted = RequestMetrics(self._answer, metrics)  # what is handed on counts there

    @staticmethod
    def serves(scope: Scope) -> bool:
        """Whether the request is a plain `POST /jobs` (no Origin: not a browser's)."""
        return (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == PATH
            and not any(name == b"origin" for name, _ in scope["headers"])
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.counted(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await self._serve(scope, receive, send)
        except Exception as exc:  # as the app's own handler answers it (and logs it)
            await (await unexpected_error_handler(Request(scope), exc))(scope, receive, send)
            return
        if body is not None:  # the route answers (the app handles its own errors)
            del scope["route"]  # the app routes it
            await self.app(scope, replaying(body, receive), send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """Answer the submission; or the body read, for the app to answer instead."""
        scope["route"] = self.route
        headers = dict(scope["headers"])
        try:
            caller = await self.limits.authenticate(scope, headers)
            body = await self.limits.read_body(PATH, headers, receive)
            parsed = self.limits.parse_body(body, headers)
        except Refusal as refusal:
            await refusal.send_to(send)
            return None
        except ClientGone:
            return None
        job, key = _valid(parsed, headers)
        if job is None or not (caller is None or isinstance(caller, Tenant)):
            return body
        tenant = caller or DEV_TENANT
        where = scope["app"].state.shards.for_tenant(tenant)
        try:
            created, status, extra = await submit_job(where, tenant, job, key)
        except DTQError as exc:
            await (await dtq_error_handler(Request(scope), exc))(scope, receive, send)
            return None
        except RedisError as exc:
            await (await redis_error_handler(Request(scope), exc))(scope, receive, send)
            return None
        body = created.model_dump_json().encode()
        answer = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
            *((name.lower().encode(), value.encode()) for name, value in extra.items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": answer})
        await send({"type": "http.response.body", "body": body})
        return None


class FastPathApp(FastAPI):
    """FastAPI that hands plain `POST /jobs` to its fast path, when one is installed, before
    any of the framework's layers."""

    fast_submit: FastSubmit | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_submit
        if fast is not None and fast.serves(scope):
            scope["app"] = self
            await fast(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app with every layer: what the fast path hands on."""
        await super().__call__(scope, receive, send)


def _valid(parsed: Any, headers: dict[bytes, bytes]) -> tuple[JobCreate | None, str | None]:
    """The job and Idempotency-Key header, or (None, None) when either is invalid (or the body
    is empty): the route then answers with its own 422."""
    if parsed is None:
        return None, None
    try:
        job = JobCreate.model_validate(parsed)
        raw = headers.get(b"idempotency-key")
        key = _idempotency_key.validate_python(raw.decode("latin-1")) if raw is not None else None
    except ValidationError:
        return None, None
    return job, key
