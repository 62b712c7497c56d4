"""Merging the pages of one listing from several shards (dtq.queue.spread.merge), and the ids
a spread tenant's jobs get (they hash to the shard they live on)."""

from __future__ import annotations

import re
from itertools import islice

from dtq.queue.page import Page
from dtq.queue.spread import cursor_text, id_shard, ids_on, merge, split_cursor


def page(keys: list[int], last: int | None) -> Page[str]:
    return Page([(k, f"j{k}") for k in keys], last, None if last is None else str(last))


def test_pages_merge_newest_first_and_the_cursor_is_the_last_taken() -> None:
    items, cursor = merge([page([9, 5, 3], 3), page([8, 7, 1], 1)], 3)
    assert (items, cursor) == (["j9", "j8", "j7"], (7, 1))


def test_ties_between_shards_are_ordered_by_shard_and_none_is_lost() -> None:
    # the same key on two shards (two entries in one millisecond): shard 1's comes first, and
    # a page ending between them resumes at the key on shard 0 (cursor "5.1")
    items, cursor = merge([page([5, 2], None), page([5, 1], None)], 1)
    assert (items, cursor) == (["j5"], (5, 1))
    assert (split_cursor(cursor_text("5", 1)), split_cursor("5")) == (("5", 1), ("5", 0))
    rest, _ = merge([page([5, 2], None), page([1], None)], 5)  # shard 0 from 5, shard 1 below
    assert rest == ["j5", "j2", "j1"]


def test_nothing_below_a_shard_that_stopped_early_is_taken() -> None:
    # the first shard's scan stopped at 6 (its budget): the second's 4 and 2 may not come yet,
    # since the first may hold 5 below its frontier
    items, cursor = merge([page([9], 6), page([8, 4, 2], None)], 10)
    assert (items, cursor) == (["j9", "j8"], (6, 0))


def test_exhausted_shards_end_the_listing() -> None:
    assert merge([page([4], None), page([5, 1], None)], 10) == (["j5", "j4", "j1"], None)
    assert merge([page([], None), page([], None)], 10) == ([], None)


def test_new_ids_hash_to_their_shard_and_are_unique() -> None:
    for count in (1, 2, 8, 64):
        for shard in {0, count // 2, count - 1}:
            ids = list(islice(ids_on(shard, count), 200))
            assert len(set(ids)) == 200
            assert {id_shard(i, count) for i in ids} == {shard}
            assert all(re.fullmatch(r"[0-9A-Za-z]{16}", i) for i in ids)
