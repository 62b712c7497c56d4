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

    @property
    def shared(self) -> bool:
        """Whether the entry names other jobs too (see SharedEntry)."""
        return False

    @property
    def entry_key(self) -> tuple[str, int, str]:
        """What names the stream entry among a consumer's (queue, level, entry id)."""
        return (self.queue, self.level, self.entry_id)


class SharedEntry(Entry):
    """One job of a shared stream entry: a tenant's run that read.lua dispatched as one entry,
    acknowledged once none of its jobs runs on the consumer (an Entry per job)."""

    __slots__ = ()

    @property
    def shared(self) -> bool:
        """Always: the entry names other jobs too."""
        return True


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
    shared: bool = False  # its entry names other jobs too (see Entry)
    # Whether settling it acknowledges its entry: always for an entry of its own; for a shared
    # one, only when no other job of the entry is still live on this worker (the Worker says).
    acks_entry: bool = True

    @property
    def tenant(self) -> str:
        """The tenant the job belongs to."""
        return tenant_of(self.job_id)

    @property
    def entry(self) -> Entry:
        """The job's stream entry, as read (e.g. to start it again)."""
        kind = SharedEntry if self.shared else Entry
        return kind(self.level, self.entry_id, self.job_id, self.queue)

    @property
    def key(self) -> tuple[str, int, str, str]:
        """What names the job among a worker's: entry ids repeat across levels and queues, and
        a shared entry names several jobs (a plain tuple: the worker looks it up three times
        per job)."""
        return (self.queue, self.level, self.entry_id, self.job_id)

    @property
    def level_arg(self) -> int:
        """Its level as the settle scripts take it: 1-4, negated when settling it must leave its
        entry unacknowledged (other jobs of a shared entry still run here)."""
        return self.level + 1 if self.acks_entry else -(self.level + 1)

    @property
    def entry_key(self) -> tuple[str, int, str]:
        """What names the job's stream entry among a worker's."""
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
