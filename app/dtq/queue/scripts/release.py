"""The face of release.lua: settle the dependents of one finished parent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.typing import EncodableT

from dtq.queue.retention import retention_config
from dtq.queue.scripts.codes import Code
from dtq.queue.scripts.library import Call, Library


@dataclass(frozen=True, slots=True)
class Release:
    """What one release did; `changed`: the children set moved on, read it and call again."""

    changed: bool = False
    released: int = 0
    canceled: int = 0
    cascade: list[str] = field(default_factory=list)  # canceled children others wait on


def _decode(reply: list[Any]) -> Release:
    if reply[0] == Code.CHILDREN_CHANGED:
        return Release(changed=True)
    return Release(False, int(reply[1]), int(reply[2]), list(reply[3:]))


def release(lib: Library, *, parent: str, children: Sequence[str]) -> Call[Release]:
    """Release (parent succeeded) or cancel (parent dead or canceled) `children`, the members
    of the parent's children set as the caller read them."""
    k, s = lib.keys, lib.settings
    keys = [
        k.dependency_outbox,
        k.delayed,
        k.stats,
        k.events,
        k.job(parent),
        k.children(parent),
        *(k.job(c) for c in children),
        k.retention,
        k.index,
        k.gone,
    ]
    args: list[EncodableT] = [
        s.EVENTS_MAXLEN,
        retention_config(k, s),
        parent,
        len(children),
        k.base,
        k.stream_name,
        *children,
    ]
    return Call(lib.script("release"), keys, args, _decode)
