"""The face of trim.lua: trim acknowledged entries from the job streams."""

from __future__ import annotations

from dtq.queue.keys import QueueKeys
from dtq.queue.scripts.library import Call, Library


def trim(lib: Library, *, queue: QueueKeys) -> Call[int]:
    """Trim each of `queue`'s job streams below its oldest unacknowledged or undelivered entry;
    how many entries went."""
    return Call(lib.script("trim"), queue.streams, [lib.settings.CONSUMER_GROUP], int)
