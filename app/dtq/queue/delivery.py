"""What a consumer holds: stream entries it was handed, the jobs it started, their outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from dtq.models import DEFAULT_QUEUE
from dtq.queue.tenant_ids import public_id, tenant_of


class Entry(NamedTuple):
    """A stream entry handed to a consumer: where it is and the job it names."""

    level: int  # 0 critical .. 3 low
    entry_id: str
    job_id: str  # stored id ('' for a bell)
    queue: str = DEFAULT_QUEUE


@dataclass(slots=True)
class Delivery:
    """A job this consumer has started: everything needed to run it and to fence its outcome."""

    job_id: str
    entry_id: str
    attempt: int
    failures: int
    max_retries: int
    task_type: str
    payload: str
    timeout_s: float | None = None
    level: int = 2
    depends_on: tuple[str, ...] = ()
    queue: str = DEFAULT_QUEUE
    trace_id: str | None = None  # the submitter's traceparent when tracing was on
    wait_ms: int | None = None  # ready -> started (None: a redelivery)

    @property
    def tenant(self) -> str:
        """The tenant the job belongs to."""
        return tenant_of(self.job_id)

    @property
    def entry(self) -> Entry:
        """The job's stream entry, as read (e.g. to start it again)."""
        return Entry(self.level, self.entry_id, self.job_id, self.queue)

    @property
    def key(self) -> tuple[str, int, str]:
        """What names the job's entry among a worker's: entry ids repeat across levels and
        queues (a plain tuple: the worker looks it up three times per job)."""
        return (self.queue, self.level, self.entry_id)

    @property
    def public_id(self) -> str:
        """The id the job's tenant knows it by (job_id is the stored id)."""
        return public_id(self.job_id)


@dataclass(slots=True)
class Failure:
    """A failed attempt to record: the error text, the delay before the retry and why."""

    delivery: Delivery
    error: str
    delay_ms: int
    reason: str = "error"  # "timeout", or "invalid_result" (dead at once: never retried)
    traceback: str = ""  # the handler's frames, size-capped
