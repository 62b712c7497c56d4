"""DTQError and Redis failures mapped to HTTP answers, in one place. No stack trace is ever sent."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dtq.api.strict_json import excerpt
from dtq.errors import (
    ApiKeyNotFoundError,
    AuthenticationError,
    BatchOverBurstError,
    ConfirmationRequiredError,
    DependencyCycleError,
    DTQError,
    DuplicateJobError,
    ForbiddenError,
    IdempotencyConflictError,
    InvalidPayloadError,
    InvalidTransitionError,
    JobNotFoundError,
    JobRemovedError,
    PayloadTooLargeError,
    QueueNotFoundError,
    RateLimitedError,
    ReservedNameError,
    ScheduleLimitError,
    ScheduleNotFoundError,
    ShardPlacementError,
    TenantExistsError,
    TenantNotFoundError,
    UnknownParentError,
)
from dtq.models import Problem
from dtq.queue import NotReplicatedError

logger = logging.getLogger(__name__)


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


# Answers any route may give, documented on every router (with its own 404/409 descriptions).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("The body is not valid JSON text (e.g. not UTF-8)."),
    401: _problem("No API key, a malformed one, or an unknown or revoked one."),
    413: _problem(
        "The body is over the route's limit (MAX_PAYLOAD_BYTES + 64 KiB; a batch: "
        "MAX_REQUEST_BYTES), or a payload over MAX_PAYLOAD_BYTES."
    ),
    415: _problem("A body that is not JSON."),
    422: _problem("Invalid input: `detail` names the fields (nothing was changed)."),
    503: _problem("Redis is unreachable or refused the operation."),
    507: _problem("Redis is full (maxmemory): nothing was stored; retry after Retry-After."),
}

STATUS_BY_ERROR: dict[type[DTQError], int] = {
    AuthenticationError: 401,
    ForbiddenError: 403,
    JobNotFoundError: 404,
    JobRemovedError: 410,
    TenantNotFoundError: 404,
    ApiKeyNotFoundError: 404,
    TenantExistsError: 409,
    RateLimitedError: 429,
    ScheduleNotFoundError: 404,
    QueueNotFoundError: 404,
    ConfirmationRequiredError: 409,
    InvalidTransitionError: 409,
    DuplicateJobError: 409,
    PayloadTooLargeError: 413,
    IdempotencyConflictError: 422,
    UnknownParentError: 422,
    ShardPlacementError: 422,
    DependencyCycleError: 422,
    BatchOverBurstError: 422,
    InvalidPayloadError: 422,
    ReservedNameError: 422,
    ScheduleLimitError: 422,
}


def _status_for(exc: DTQError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


async def dtq_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DTQError)
    headers: dict[str, str] = {}
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="dtq"'
    elif isinstance(exc, RateLimitedError):
        headers = exc.headers | {"Retry-After": str(exc.retry_after_s)}
        request.app.state.metrics.rate_limited.labels(exc.tenant).inc()
    return JSONResponse(
        {"detail": str(exc), "code": exc.code}, status_code=_status_for(exc), headers=headers
    )


# How long a client refused because Redis is full should wait: workers free memory as jobs
# finish (and retention removes the finished ones).
STORAGE_FULL_RETRY_S = 5


class FullRefusals:
    """When this API process last refused a write because Redis was full: /health/ready says
    storage_full for STORAGE_FULL_RETRY_S after it, whatever the memory reading (which dips
    under maxmemory as soon as the refused request's buffers are freed)."""

    def __init__(self) -> None:
        self._last: float | None = None

    def note(self) -> None:
        """A write was just refused (507 storage_full)."""
        self._last = time.monotonic()

    def seconds_ago(self) -> float | None:
        """Seconds since the last refusal, if within STORAGE_FULL_RETRY_S."""
        if self._last is None:
            return None
        ago = time.monotonic() - self._last
        return ago if ago < STORAGE_FULL_RETRY_S else None


def is_storage_full(exc: BaseException) -> bool:
    """Whether Redis refused a write because it is at maxmemory (noeviction)."""
    return isinstance(exc, OutOfMemoryError) or "OOM command not allowed" in str(exc)


async def redis_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if is_storage_full(exc):
        logger.warning("redis is full path=%s", request.url.path)
        request.app.state.full_refusals.note()
        return JSONResponse(
            {
                "detail": "Redis is full (maxmemory): nothing was stored; retry once workers "
                "have drained jobs",
                "code": "storage_full",
            },
            status_code=507,
            headers={"Retry-After": str(STORAGE_FULL_RETRY_S)},
        )
    if isinstance(exc, NotReplicatedError):
        logger.warning("write not replicated path=%s error=%s", request.url.path, exc)
        return JSONResponse(
            {
                "detail": f"stored on the Redis master, not yet on enough replicas: {exc}; "
                "retry with the same Idempotency-Key",
                "code": "not_replicated",
            },
            status_code=503,
            headers={"Retry-After": "1"},
        )
    unreachable = isinstance(exc, RedisConnectionError | RedisTimeoutError)
    logger.warning("redis error path=%s error=%s", request.url.path, type(exc).__name__)
    detail = "Redis is unreachable" if unreachable else "Redis refused the operation"
    return JSONResponse({"detail": detail, "code": "storage_unavailable"}, status_code=503)


# An error may quote this much of the input it refuses (a 422 never echoes a whole body).
MAX_QUOTED_INPUT = 200


def _quoted(value: Any) -> Any:
    """The input as sent when it is short, else an excerpt of it."""
    try:
        if len(orjson.dumps(value, default=str)) <= MAX_QUOTED_INPUT:
            return value
    except TypeError:
        pass
    return excerpt(value, MAX_QUOTED_INPUT)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        error = dict(error)
        if "input" in error:
            error["input"] = _quoted(error["input"])
        errors.append(error)
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error path=%s", request.url.path)
    return JSONResponse({"detail": "internal error", "code": "internal"}, status_code=500)


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the OpenAPI document lists for the path (Starlette's 405 names only the
    methods of the first route whose path matched)."""
    table: list[tuple[re.Pattern[str], list[str]]] | None = getattr(app.state, "allow_table", None)
    if table is None:
        table = [
            (
                re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"),
                [m.upper() for m in methods],
            )
            for template, methods in app.openapi()["paths"].items()
        ]
        app.state.allow_table = table
    matches = [(pattern, ms) for pattern, ms in table if pattern.match(path)]
    exact = [ms for pattern, ms in matches if "[^/]+" not in pattern.pattern]
    return sorted({m for ms in (exact or [ms for _, ms in matches]) for m in ms})


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allowed = _allowed_methods(request.app, request.url.path)
        return JSONResponse(
            {"detail": "Method Not Allowed", "code": "method_not_allowed"},
            status_code=405,
            headers={"Allow": ", ".join(allowed)},
        )
    return await http_exception_handler(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on the app."""
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(DTQError, dtq_error_handler)
    app.add_exception_handler(RedisError, redis_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
