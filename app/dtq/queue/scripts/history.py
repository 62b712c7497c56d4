"""The face of history.lua: sample the counters into the history streams, once per step."""

from __future__ import annotations

from dtq.queue.scripts.library import Call, Library

FINE_STEP_MS = 5_000
FINE_LENGTH = 800  # over an hour of 5 s samples
COARSE_STEP_MS = 60_000
COARSE_LENGTH = 1_500  # over 24 hours of 1 min samples


def history(lib: Library, *, gauges: str) -> Call[int]:
    """Append a sample (the stats hash and `gauges`, JSON) to each stream whose step has none;
    how many got one."""
    k = lib.keys
    return Call(
        lib.script("history"),
        [k.stats, k.history_fine, k.history_coarse],
        [FINE_STEP_MS, FINE_LENGTH, COARSE_STEP_MS, COARSE_LENGTH, gauges],
        int,
    )
