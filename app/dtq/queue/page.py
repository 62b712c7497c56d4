"""A page of a listing, newest first, with what orders it: what listings over several shards
merge by (see dtq.queue.spread)."""

from __future__ import annotations

from typing import Any, Generic, NamedTuple, TypeVar

T = TypeVar("T")


class Page(NamedTuple, Generic[T]):
    """Items, newest first, each with its order key (an index score, a stream id as a tuple);
    `last`: the key of the last item the scan examined when it stopped before the end (None:
    nothing older is left), and `next_cursor` the same as the client passes it back."""

    items: list[tuple[Any, T]]
    last: Any
    next_cursor: str | None
