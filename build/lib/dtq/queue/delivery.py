"""What a consumer holds: stream entries it was handed, the jobs it started, their outcomes."""

from __future__ import annotations

from dataclasses import dataclass

from dtq.queue.tenant_ids import public_id

# (stream level: 0 critical .. 3 low, stream entry id, stored job id)
Entry = tuple[int, str, str]


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

    @property
    def public_id(self) -> str:
        """The id the job's tenant knows it by (job_id is the stored id)."""
        return public_id(self.job_id)

    @property
    def entry(self) -> tuple[int, str]:
        """Where the job's stream entry is: (level, entry id). Entry ids repeat across levels."""
        return (self.level, self.entry_id)


@dataclass(slots=True)
class Failure:
    """A failed attempt to record: the error text, the delay before the retry and why."""

    delivery: Delivery
    error: str
    delay_ms: int
    reason: str = "error"  # or "timeout"
