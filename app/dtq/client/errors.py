"""What the SDK raises: every failure is a DTQError (see also operations.InvalidRequestError)."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx

from dtq.client.operations import Operation
from dtq.errors import DTQError

T = TypeVar("T")


class DTQClientError(DTQError):
    """An error answer from the control plane: its HTTP status, `code` and `detail`."""

    def __init__(
        self,
        status_code: int,
        detail: Any,
        code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"HTTP {status_code} {code or ''}: {detail}".replace("  ", " "))
        self.status_code = status_code
        self.detail = detail
        self.code = code or "http_error"  # the server's code, e.g. "job_not_found"
        self.retry_after_s = retry_after_s  # set on 429 (rate limited)


class JobWaitTimeoutError(DTQError, TimeoutError):
    """wait() gave up before the job reached a terminal status."""

    code = "wait_timeout"


class DTQConnectionError(DTQError, ConnectionError):
    """The control plane could not be reached (or did not answer in time)."""

    code = "connection_failed"


def answer(operation: Operation[T], response: httpx.Response) -> T:
    """The operation's result from the response, or its DTQClientError."""
    if response.is_error:
        try:
            body = response.json()
            detail, code = body.get("detail"), body.get("code")
        except (ValueError, AttributeError):
            detail, code = response.text, None
        retry_after = response.headers.get("Retry-After")
        raise DTQClientError(
            response.status_code, detail, code, float(retry_after) if retry_after else None
        )
    return operation.decode(response.json() if operation.response is not None else None)
