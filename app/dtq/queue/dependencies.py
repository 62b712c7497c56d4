"""Job dependencies: release the dependents of finished parents, and read parents' results.

A job that finishes while others wait on it is put in the dependency outbox by the same script
that finished it. `release` then settles its dependents with release.lua: they run once every
parent succeeded, and are canceled (`dependency_failed`) when one ends dead or canceled, level
after level down the graph. Whoever finished the parent releases at once; `sweep` picks up
parents left in the outbox when that did not happen (a worker died in between).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson

from dtq.queue.clock import ms_of
from dtq.queue.scripts.library import Library, run_all
from dtq.queue.scripts.release import Release, release
from dtq.queue.tenant_ids import public_id

logger = logging.getLogger(__name__)

# Parents per pipelined round trip, and tries per parent when its children set keeps changing.
RELEASE_BATCH = 100
RELEASE_TRIES = 5
# A parent this long in the outbox is swept: whoever finished it did not release it.
STRANDED_AFTER_MS = 1000


@dataclass(slots=True)
class Released:
    """What releasing some parents did to their dependents."""

    released: int = 0
    canceled: int = 0


class Dependencies:
    """Settles dependents of finished jobs. Every change is one release.lua call per parent."""

    def __init__(self, lib: Library) -> None:
        self._lib = lib
        self._redis = lib.redis
        self._keys = lib.keys

    async def release(self, parent_ids: Sequence[str]) -> Released:
        """Settle the dependents of these finished parents (stored ids), and of any dependents
        canceled on the way."""
        out = Released()
        todo = list(dict.fromkeys(parent_ids))
        tries: dict[str, int] = {}
        while todo:
            batch, todo = todo[:RELEASE_BATCH], todo[RELEASE_BATCH:]
            for parent, done in zip(batch, await self._release_batch(batch), strict=True):
                if done.changed:
                    tries[parent] = tries.get(parent, 0) + 1
                    if tries[parent] < RELEASE_TRIES:
                        todo.append(parent)
                    else:  # left in the outbox for the next sweep
                        logger.warning(
                            "children kept changing, release later job_id=%s", public_id(parent)
                        )
                    continue
                out.released += done.released
                out.canceled += done.canceled
                todo += done.cascade  # canceled children that others wait on: the next level
        return out

    async def _release_batch(self, parents: list[str]) -> list[Release]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for parent in parents:
                pipe.smembers(self._keys.children(parent))
            children_sets = cast(list[set[str]], await pipe.execute())
        calls = [
            release(self._lib, parent=parent, children=sorted(children))
            for parent, children in zip(parents, children_sets, strict=True)
        ]
        return await run_all(self._redis, calls)

    async def sweep(self, limit: int = RELEASE_BATCH) -> Released:
        """Release parents that sat in the outbox for over STRANDED_AFTER_MS."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.zrange(self._keys.dependency_outbox, 0, limit - 1, withscores=True)
            now, rows = cast(tuple[list[int], list[tuple[str, float]]], await pipe.execute())
        horizon = ms_of(now) - STRANDED_AFTER_MS
        stranded = [parent for parent, finished in rows if finished <= horizon]
        if not stranded:
            return Released()
        logger.info("releasing stranded dependents parents=%d", len(stranded))
        return await self.release(stranded)

    async def parent_results(self, parent_ids: Sequence[str]) -> dict[str, Any]:
        """The results of these parents (stored ids) by the ids their tenant knows them by
        (None for one whose record has expired)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for parent in parent_ids:
                pipe.hget(self._keys.job(parent), "result")
            results = await pipe.execute()
        return {
            public_id(parent): orjson.loads(result) if result else None
            for parent, result in zip(parent_ids, results, strict=True)
        }
