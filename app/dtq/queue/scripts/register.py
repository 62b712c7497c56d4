"""The face of register.lua: a worker's queues and its task types' own queues."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redis.typing import EncodableT

from dtq.queue.scripts.library import Call, Library


def register(lib: Library, *, queues: Sequence[str], tasks: Mapping[str, str]) -> Call[None]:
    """Add the named `queues` to the known ones and record each task type's queue."""
    k = lib.keys
    args: list[EncodableT] = [len(queues), *queues]
    for task_type, queue in tasks.items():
        args += (task_type, queue)
    return Call(lib.script("register"), [k.queues, k.tasks], args, lambda reply: None)
