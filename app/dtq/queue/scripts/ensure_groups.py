"""The face of ensure_groups.lua: job streams and their consumer group, created where missing."""

from __future__ import annotations

from collections.abc import Sequence

from dtq.queue.scripts.library import Call, Library


def ensure_groups(lib: Library, *, streams: Sequence[str]) -> Call[int]:
    """Create each stream (four per queue, critical to low) and the consumer group
    (CONSUMER_GROUP) where missing, and each queue's count of running jobs; returns how many
    groups were created."""
    keys = [lib.keys.stats, *streams]
    return Call(lib.script("ensure_groups"), keys, [lib.settings.CONSUMER_GROUP], int)
