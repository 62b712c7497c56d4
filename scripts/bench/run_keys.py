"""A bench run's own keys: every script writes under a fresh KEY_PREFIX, and on a server the user
named (REDIS_URL) it removes them when it ends, so that a run leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from redis.asyncio import Redis

from dtq.config import Settings
from dtq.embedded_redis import EmbeddedRedis
from dtq.queue import Shards
from dtq.redis_client import create_redis

BATCH = 5_000


def _tag(key: str) -> str:
    """A key's hash tag (the part in braces that picks its cluster slot), '' without one."""
    opened = key.find("{")
    closed = key.find("}", opened + 1)
    return key[opened + 1 : closed] if 0 <= opened < closed else ""


async def _remove_on(redis: Redis, prefix: str) -> int:
    """Unlink every key named `<prefix>:...` on one server, a hash tag at a time (so that no
    UNLINK spans two cluster slots); how many."""
    by_tag: dict[str, list[str]] = defaultdict(list)
    async for key in redis.scan_iter(match=f"{prefix}:*", count=BATCH):
        by_tag[_tag(key)].append(key)
    removed = 0
    for keys in by_tag.values():
        for i in range(0, len(keys), BATCH):
            removed += await redis.unlink(*keys[i : i + BATCH])
    return removed


async def remove_run_keys(settings: Settings) -> int:
    """Remove every key under settings.KEY_PREFIX from each server holding the run's shards
    (SHARDS of them; on a cluster, their masters); how many."""
    shards = Shards(settings, lambda tag: create_redis(settings, shard=tag))
    try:
        seen: dict[str, Redis] = {}
        for engine in shards.engines:
            run_id = str((await engine.redis.info("server"))["run_id"])
            seen.setdefault(run_id, engine.redis)
        return sum([await _remove_on(redis, settings.KEY_PREFIX) for redis in seen.values()])
    finally:
        await shards.aclose()


class RunServer:
    """The server a run uses: REDIS_URL's, or an embedded one started for it (`url`). Register
    the run's settings with `owns`: on the user's server, their keys are removed at the end."""

    def __init__(self, url: str, given: bool) -> None:
        self.url = url
        self.given = given
        self._settings: Settings | None = None

    def owns(self, settings: Settings) -> Settings:
        """The run writes under settings.KEY_PREFIX; returns them."""
        self._settings = settings
        return settings

    def leave_as_found(self) -> None:
        """On the user's server, remove the keys of the settings registered with `owns`."""
        if self.given and self._settings is not None:
            asyncio.run(remove_run_keys(self._settings))


@contextmanager
def run_server(folder_prefix: str) -> Iterator[RunServer]:
    """REDIS_URL's server, else an embedded one (data in a temporary folder named
    `folder_prefix`...), stopped at the end. Open the run's own processes inside it, so that they
    have stopped when the run's keys are removed."""
    given = os.environ.get("REDIS_URL")
    embedded = None if given else EmbeddedRedis(tempfile.mkdtemp(prefix=folder_prefix))
    server = RunServer(given or embedded.start(), bool(given))  # type: ignore[union-attr]
    try:
        yield server
    finally:
        if embedded is not None:
            embedded.stop()
        server.leave_as_found()
