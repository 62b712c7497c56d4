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
from redis.asyncio import Redis
from redis.typing import EncodableT

from app.config import Settings
from app.queue.job_ids import public_id
from app.queue.keys import Keys
from app.queue.scripts import CHILDREN_CHANGED, Scripts

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

    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts, settings: Settings) -> None:
        self._redis = redis
        self._keys = keys
        self._scripts = scripts
        self._settings = settings

    async def release(self, parent_ids: Sequence[str]) -> Released:
        """Settle the dependents of these finished parents, and of any dependents canceled."""
        out = Released()
        todo = list(dict.fromkeys(parent_ids))
        tries: dict[str, int] = {}
        while todo:
            batch, todo = todo[:RELEASE_BATCH], todo[RELEASE_BATCH:]
            replies = await self._release_batch(batch)
            for parent, reply in zip(batch, replies, strict=True):
                if reply[0] == CHILDREN_CHANGED:
                    tries[parent] = tries.get(parent, 0) + 1
                    if tries[parent] < RELEASE_TRIES:
                        todo.append(parent)
                    else:  # left in the outbox for the next sweep
                        logger.warning("children kept changing, release later job_id=%s", parent)
                    continue
                out.released += int(reply[0])
                out.canceled += int(reply[1])
                todo += reply[2:]  # canceled children that others wait on: the next level
        return out

    async def _release_batch(self, parents: list[str]) -> list[list[Any]]:
        k = self._keys
        async with self._redis.pipeline(transaction=False) as pipe:
            for parent in parents:
                pipe.smembers(k.children(parent))
            children_sets = cast(list[set[str]], await pipe.execute())
        script = self._scripts["release"]
        async with self._redis.pipeline(transaction=False) as pipe:
            for parent, children in zip(parents, children_sets, strict=True):
                ids = sorted(children)
                keys = [
                    k.dependency_outbox,
                    *k.streams,
                    k.delayed,
                    k.stats,
                    k.events,
                    k.job(parent),
                    k.children(parent),
                    k.lanes,
                    *(k.job(c) for c in ids),
                ]
                args: list[EncodableT] = [
                    self._settings.EVENTS_MAXLEN,
                    self._settings.RESULT_TTL_S,
                    parent,
                    len(ids),
                    *ids,
                ]
                await script(keys, args, client=pipe)
            return cast(list[list[Any]], await pipe.execute())

    async def sweep(self, limit: int = RELEASE_BATCH) -> Released:
        """Release parents that sat in the outbox for over STRANDED_AFTER_MS."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.zrange(self._keys.dependency_outbox, 0, limit - 1, withscores=True)
            (seconds, micros), rows = cast(
                tuple[tuple[int, int], list[tuple[str, float]]], await pipe.execute()
            )
        horizon = seconds * 1000 + micros // 1000 - STRANDED_AFTER_MS
        stranded = [parent for parent, finished in rows if finished <= horizon]
        if not stranded:
            return Released()
        logger.info("releasing stranded dependents parents=%d", len(stranded))
        return await self.release(stranded)

    async def parent_results(self, parent_ids: Sequence[str]) -> dict[str, Any]:
        """The results of these parents by the ids their tenant knows them by (None for one
        whose record has expired)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for parent in parent_ids:
                pipe.hget(self._keys.job(parent), "result")
            results = await pipe.execute()
        return {
            public_id(parent): orjson.loads(result) if result else None
            for parent, result in zip(parent_ids, results, strict=True)
        }
