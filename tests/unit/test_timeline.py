"""A job's timeline from its hash: how it began."""

from dtq.models import JobStatus
from dtq.queue.jobhash import timeline


def statuses(h: dict[str, str]) -> list[str]:
    return [e.status for e in timeline(h)]


def test_a_job_canceled_in_the_millisecond_it_was_created_was_pending_first() -> None:
    h = {"created_at": "1000", "status": "canceled", "history": "canceled,1000,,0,was pending;"}
    assert statuses(h) == [JobStatus.PENDING, JobStatus.CANCELED]


def test_a_job_born_canceled_or_delayed_has_no_pending_event() -> None:
    born = "canceled,1000,,0,dependency_failed;"
    assert statuses({"created_at": "1000", "status": "canceled", "history": born}) == [
        JobStatus.CANCELED
    ]
    delayed = "scheduled,1000,,0,delayed;canceled,1500,,0,was scheduled;"
    assert statuses({"created_at": "1000", "status": "canceled", "history": delayed}) == [
        JobStatus.SCHEDULED,
        JobStatus.CANCELED,
    ]
