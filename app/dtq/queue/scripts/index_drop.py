"""The face of index_drop.lua: take ids out of a job index's bucket, and an empty bucket out of
its directory."""

from __future__ import annotations

from collections.abc import Sequence

from dtq.queue.scripts.library import Call, Library


def index_drop(
    lib: Library, *, bucket: str, directory: str, number: str, job_ids: Sequence[str]
) -> Call[int]:
    """Remove `job_ids` from the bucket `bucket` (numbered `number` in `directory`); how many
    were in it."""
    return Call(lib.script("index_drop"), [bucket, directory], [number, *job_ids], int)
