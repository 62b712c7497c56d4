"""Shared by every domain: patterns, strict JSON types, job statuses and priorities."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, StringConstraints

JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
TASK_TYPE_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"

MAX_DELAY_MS = 366 * 24 * 3600 * 1000
MAX_TIMEOUT_S = 7 * 24 * 3600
MAX_PARENTS = 100
# The longest a job may ask to be kept once succeeded (keep_for_s): 30 days.
MAX_KEEP_S = 30 * 24 * 3600


def _json_number(value: Any) -> Any:
    """Refuse what lax validation would turn into a number: booleans and strings."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _iso_text(value: Any) -> Any:
    """Refuse what lax validation would turn into a datetime: numbers (epoch seconds), also
    as text in any notation (a query parameter is always text: "-1.4e-45" too)."""
    if not isinstance(value, str | datetime) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("must be an ISO 8601 date-time string")
    return value


# Request fields take exactly the JSON types the OpenAPI schema names.
JsonNumber = BeforeValidator(_json_number)
IsoText = BeforeValidator(_iso_text)

IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,255}$")]

JobId = Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)]

# Tenant names go into key names and schedule ids: lowercase, no separators.
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
DEFAULT_TENANT = "default"
TenantName = Annotated[str, StringConstraints(pattern=TENANT_PATTERN)]
TaskType = Annotated[str, StringConstraints(pattern=TASK_TYPE_PATTERN)]

# Queue names go into key names: letters, digits, _ . - (no separators, no hash tags).
QUEUE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
DEFAULT_QUEUE = "default"
QueueName = Annotated[str, StringConstraints(pattern=QUEUE_PATTERN)]


class JobStatus(StrEnum):
    WAITING = "waiting"
    PENDING = "pending"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELED)


class Priority(StrEnum):
    """How soon a job starts relative to others: each level has its own stream."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def level(self) -> int:
        """0 for critical up to 3 for low: the index of the level's stream."""
        return PRIORITY_ORDER.index(self)


PRIORITY_ORDER = (Priority.CRITICAL, Priority.HIGH, Priority.NORMAL, Priority.LOW)


class DeadReason(StrEnum):
    RETRIES_EXHAUSTED = "retries_exhausted"
    TIMEOUT = "timeout"
    POISON = "poison"
    INVALID_RESULT = "invalid_result"  # the handler returned something that is not JSON
    INVALID_PAYLOAD = "invalid_payload"  # the payload does not fit the handler's signature


class Problem(BaseModel):
    """Every error answer: `detail` says what is wrong (for a request that fails validation, the
    list of invalid fields), `code` names the error for programs."""

    detail: str | list[dict[str, Any]]
    code: str | None = None
