"""DTQError and Redis failures mapped to HTTP answers, in one place. No stack trace is ever sent."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.errors import (
    ApiKeyNotFoundError,
    AuthenticationError,
    BatchOverBurstError,
    DependencyCycleError,
    DTQError,
    DuplicateJobError,
    ForbiddenError,
    IdempotencyConflictError,
    InvalidTransitionError,
    JobNotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    RequestTooLargeError,
    ScheduleNotFoundError,
    StaleOwnerError,
    TenantExistsError,
    TenantNotFoundError,
    UnknownParentError,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[DTQError], int] = {
    AuthenticationError: 401,
    ForbiddenError: 403,
    JobNotFoundError: 404,
    TenantNotFoundError: 404,
    ApiKeyNotFoundError: 404,
    TenantExistsError: 409,
    RequestTooLargeError: 413,
    RateLimitedError: 429,
    ScheduleNotFoundError: 404,
    InvalidTransitionError: 409,
    StaleOwnerError: 409,
    DuplicateJobError: 409,
    PayloadTooLargeError: 413,
    IdempotencyConflictError: 422,
    UnknownParentError: 422,
    DependencyCycleError: 422,
    BatchOverBurstError: 422,
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
    return JSONResponse(
        {"detail": str(exc), "code": exc.code}, status_code=_status_for(exc), headers=headers
    )


async def redis_error_handler(request: Request, exc: Exception) -> JSONResponse:
    unreachable = isinstance(exc, RedisConnectionError | RedisTimeoutError)
    logger.warning("redis error path=%s error=%s", request.url.path, type(exc).__name__)
    detail = "Redis is unreachable" if unreachable else "Redis refused the operation"
    return JSONResponse({"detail": detail, "code": "storage_unavailable"}, status_code=503)


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error path=%s", request.url.path)
    return JSONResponse({"detail": "internal error", "code": "internal"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on the app."""
    app.add_exception_handler(DTQError, dtq_error_handler)
    app.add_exception_handler(RedisError, redis_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
