"""The face of heartbeat.lua: record that a worker is alive, on the Redis clock."""

from __future__ import annotations

from collections.abc import Mapping

from redis.typing import EncodableT

from dtq.queue.scripts.library import Call, Library


def heartbeat(lib: Library, *, worker: str, ttl_s: int, info: Mapping[str, str | int]) -> Call[int]:
    """Mark `worker` alive and refresh its info hash for `ttl_s`; returns the Redis time (ms)."""
    k = lib.keys
    args: list[EncodableT] = [worker, ttl_s]
    for field, value in info.items():
        args += (field, value)
    keys = [k.workers, k.worker(worker), k.shared_readers, k.shared_entries_on]
    return Call(lib.script("heartbeat"), keys, args, int)
