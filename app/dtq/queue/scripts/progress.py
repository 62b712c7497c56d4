"""The face of progress.lua: record a running job's progress, fenced by owner and attempt."""

from __future__ import annotations

from dtq.queue.delivery import Delivery
from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.library import Call, Library

MAX_PROGRESS_MESSAGE = 500


def progress(
    lib: Library, *, consumer: str, delivery: Delivery, percent: float, message: str
) -> Call[bool]:
    """Record `percent` (clamped to 0-100) and `message`; False if the job moved on."""
    k = lib.keys
    d = delivery
    return Call(
        lib.script("progress"),
        [k.job(d.job_id), k.events],
        [
            d.job_id,
            consumer,
            d.attempt,
            f"{min(max(percent, 0.0), 100.0):g}",
            message[:MAX_PROGRESS_MESSAGE],
            lib.settings.EVENTS_MAXLEN,
        ],
        lambda reply: reply == Code.DONE,
    )
