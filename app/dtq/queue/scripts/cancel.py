"""The face of cancel.lua: cancel a waiting, pending, scheduled or running job, durably."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dtq.queue.retention import retention_defaults
from dtq.queue.scripts.codes import Outcome, checked
from dtq.queue.scripts.library import Call, Library
from dtq.queue.tenant_ids import public_id


@dataclass(frozen=True, slots=True)
class Canceled:
    """A cancel's outcome (CANCELED, with release_dependents when jobs wait on it) and the job's
    hash as canceled: its queue's retention may have removed it in the same call."""

    outcome: Outcome
    record: dict[str, str]


def _canceled(reply: list[Any]) -> Canceled:
    flat = reply[1]
    return Canceled(Outcome.of(reply[0]), dict(zip(flat[::2], flat[1::2], strict=True)))


def cancel(lib: Library, *, job_id: str) -> Call[Canceled]:
    """Cancel the job (a stored id).

    Raises JobNotFoundError, or InvalidTransitionError for a finished job.
    """
    k, s = lib.keys, lib.settings
    subject = f"job {public_id(job_id)}"
    return Call(
        lib.script("cancel"),
        [
            k.job(job_id),
            k.delayed,
            k.stats,
            k.events,
            k.dependency_outbox,
            k.retention,
            k.index,
            k.gone,
        ],
        [
            s.CONSUMER_GROUP,
            job_id,
            k.job_prefix,
            s.EVENTS_MAXLEN,
            k.cancel_channel,
            k.base,
            k.stream_name,
            *retention_defaults(s),
            s.REMOVED_IDS_KEPT,
        ],
        lambda reply: _canceled(checked(reply, subject)),
    )
