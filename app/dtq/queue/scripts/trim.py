"""The face of trim.lua: trim acknowledged entries from the job streams."""

from __future__ import annotations

from dtq.queue.scripts.library import Call, Library


def trim(lib: Library) -> Call[int]:
    """Trim each job stream below its oldest unacknowledged or undelivered entry; how many."""
    return Call(lib.script("trim"), lib.keys.streams, [lib.settings.CONSUMER_GROUP], int)
