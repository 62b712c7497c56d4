"""The codes the Lua scripts return: one table, one meaning per value.

Negative codes are errors: each maps to exactly one DTQError (ERRORS), raised by the script's
Python face. The others are outcomes, which the faces turn into typed results. `_lib.lua`
holds the same table as `C`; tests/integration/queue/scripts/test_codes.py checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from dtq.errors import (
    DTQError,
    DuplicateJobError,
    IdempotencyConflictError,
    InvalidTransitionError,
    JobNotFoundError,
    RateLimitedError,
    ScheduleNotFoundError,
    SchedulesTooFrequentError,
    TooManySchedulesError,
    UnknownParentError,
)


class Code(IntEnum):
    """Every code a DTQ script returns."""

    # Errors: the script changed nothing.
    NOT_FOUND = -1  # no such job
    WRONG_STATUS = -2  # the job's status does not allow the change (the status follows)
    DUPLICATE = -3  # a job id exists already
    IDEMPOTENCY_CONFLICT = -4  # an idempotency key was used with another body
    UNKNOWN_PARENT = -5  # depends_on names a job that does not exist (or is another tenant's)
    SCHEDULE_NOT_FOUND = -6  # no such schedule
    SCHEDULE_LIMIT = -7  # the tenant has as many schedules as it may (the count follows)
    SCHEDULE_RATE = -8  # the tenant's schedules would fire too often (firings an hour follow)
    OVER_RATE = -9  # enqueue: the tenant's rate limit refused the jobs (the admission follows)

    # Outcomes.
    NOTHING = 0  # nothing to do (requeue, schedule_advance): the state had moved on
    DONE = 1  # the change asked for was made (cancel, retry_dead, purge, progress, lease, ...)
    PENDING = 10  # enqueued onto a stream or into its tenant's lane
    SCHEDULED = 11  # in the delayed set until a due time (which follows)
    WAITING = 12  # enqueued waiting on parents
    CANCELED = 13  # canceled (at birth: a parent had failed)
    REPLAYED = 14  # an idempotency key seen before with this body (the original id follows)
    SKIPPED = 21  # nothing to run: the entry was acknowledged
    RATE_LIMITED = 22  # scheduled for its reserved start slot
    POISONED = 23  # dead-lettered as poison (delivered too often without an outcome)
    HANDED_BACK = 24  # a task type this consumer does not serve: back on the stream, uncounted
    HELD = 25  # the queue is paused: held until it is resumed
    PARKED = 26  # others of its partition key go first: parked until its turn
    SUCCEEDED = 30  # recorded as succeeded
    RETRYING = 31  # failed; a retry is scheduled (its due time follows)
    DEAD = 32  # failed for the last time: dead-lettered
    STALE = 33  # refused: another owner or attempt holds the job (fencing)
    CHILDREN_CHANGED = 40  # release: the children set changed since it was read; read again
    CREATED = 50  # schedule_put: a new schedule
    REPLACED = 51  # schedule_put: an existing schedule replaced
    # Added to SUCCEEDED, DEAD or CANCELED when jobs wait on the job: release its dependents.
    WITH_DEPENDENTS = 100


# Code(value) goes through the enum machinery (about 1 us); batch decoders look codes up here.
CODES: dict[int, Code] = {c.value: c for c in Code}

ERRORS: dict[Code, type[DTQError]] = {
    Code.NOT_FOUND: JobNotFoundError,
    Code.WRONG_STATUS: InvalidTransitionError,
    Code.DUPLICATE: DuplicateJobError,
    Code.IDEMPOTENCY_CONFLICT: IdempotencyConflictError,
    Code.UNKNOWN_PARENT: UnknownParentError,
    Code.SCHEDULE_NOT_FOUND: ScheduleNotFoundError,
    Code.SCHEDULE_LIMIT: TooManySchedulesError,
    Code.SCHEDULE_RATE: SchedulesTooFrequentError,
    Code.OVER_RATE: RateLimitedError,
}


def error_for(code: int, message: str) -> DTQError:
    """The DTQError a negative code stands for, with a message naming what it concerns."""
    return ERRORS.get(Code(code), DTQError)(message)


def checked(reply: Any, subject: str) -> Any:
    """The reply, unless it is an error code ({code, status} or a bare code): then its error."""
    code, detail = (reply[0], reply[1:]) if isinstance(reply, list) else (reply, [])
    if isinstance(code, int) and code < 0:
        message = f"{subject}: {Code(code).name.lower().replace('_', ' ')}"
        if code == Code.WRONG_STATUS and detail:
            message = f"{subject} is {detail[0]}"
        elif code in (Code.NOT_FOUND, Code.SCHEDULE_NOT_FOUND):
            message = f"{subject} not found"
        raise error_for(code, message)
    return reply


@dataclass(frozen=True, slots=True)
class Outcome:
    """One job's outcome in a settle script: its code, and whether jobs wait on it."""

    code: Code
    release_dependents: bool = False

    @classmethod
    def of(cls, raw: int) -> Outcome:
        """Decode a code that may carry WITH_DEPENDENTS (one shared instance per code: the
        settle scripts return one per job)."""
        outcome = _OUTCOMES.get(raw)
        if outcome is None:
            with_dependents = raw >= Code.WITH_DEPENDENTS
            code = CODES[raw - Code.WITH_DEPENDENTS if with_dependents else raw]
            outcome = _OUTCOMES[raw] = cls(code, with_dependents)
        return outcome


_OUTCOMES: dict[int, Outcome] = {}
