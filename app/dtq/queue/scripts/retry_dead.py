"""The face of retry_dead.lua: send a dead job back to its stream (or its tenant's lane)."""

from __future__ import annotations

from dtq.queue.scripts.codes import Code, checked
from dtq.queue.scripts.library import Call, Library
from dtq.queue.tenant_ids import public_id


def retry_dead(
    lib: Library, *, job_id: str, reset_failures: bool, strict: bool = True
) -> Call[bool]:
    """Make a dead job (a stored id) pending again; with `reset_failures`, with fresh retries.

    Raises JobNotFoundError, or InvalidTransitionError when the job is not dead; with
    `strict=False` (bulk retries) such a job answers False instead.
    """
    k = lib.keys
    subject = f"job {public_id(job_id)}"

    def decode(reply: object) -> bool:
        if strict:
            checked(reply, subject)
        return reply == Code.DONE

    return Call(
        lib.script("retry_dead"),
        [k.job(job_id), k.dlq, k.stats, k.events],
        [job_id, lib.settings.EVENTS_MAXLEN, "1" if reset_failures else "0", k.base, k.stream_name],
        decode,
    )
