"""The face of purge.lua: delete a dead job and its dead-letter entry for good."""

from __future__ import annotations

from dtq.queue.scripts.codes import checked
from dtq.queue.scripts.library import Call, Library
from dtq.queue.tenant_ids import public_id


def purge(lib: Library, *, job_id: str) -> Call[None]:
    """Delete a dead job (a stored id); JobNotFoundError, or InvalidTransitionError if not dead."""
    k = lib.keys
    subject = f"job {public_id(job_id)}"

    def decode(reply: object) -> None:
        checked(reply, subject)

    return Call(
        lib.script("purge"),
        [k.job(job_id), k.dlq, k.stats, k.events],
        [job_id, lib.settings.EVENTS_MAXLEN],
        decode,
    )
