"""The face of ensure_groups.lua: job streams and their consumer group, created where missing."""

from __future__ import annotations

from collections.abc import Sequence

from dtq.queue.scripts.library import Call, Library


def ensure_groups(lib: Library, *, streams: Sequence[str]) -> Call[int]:
    """Create each stream and the consumer group (CONSUMER_GROUP) where missing; returns how
    many groups were created."""
    return Call(lib.script("ensure_groups"), list(streams), [lib.settings.CONSUMER_GROUP], int)
