"""Retention of finished jobs: how many succeeded and canceled jobs each queue keeps, and for
how long. The policy is enforced by the scripts that finish jobs (_lib.lua's retain), never by
a sweeper that could fall behind: as jobs finish, the queue's oldest finished jobs beyond the
count or past the age go in the same script (from the head of the queue's finished list; a job
gets an expiry of its own only for its own keep_for_s). Housekeeping applies the age to queues
where nothing finishes any more (retire.lua). A removed job's id goes into a capped set of
tombstones, so that reading it says it was removed rather than that it never existed (a job
kept for its own time gets its tombstone as it succeeds, dated when its expiry removes it).

A queue's own policy is stored as "succeeded count,succeeded s,canceled count,canceled s" in
one hash (UNSET, -2, in a place: the setting's value; a count of -1 keeps any number).
"""

from __future__ import annotations

import functools
import json
from typing import cast

from redis.typing import EncodableT

from dtq.config import Settings
from dtq.models import QueueRetention, RetentionPolicy
from dtq.queue.keys import Keys, QueueKeys
from dtq.queue.scripts.library import Library

FIELDS = ("succeeded_count", "succeeded_s", "canceled_count", "canceled_s")
UNSET = -2


def retention_keys(keys: Keys, queue: QueueKeys, kind: str) -> list[str]:
    """The keys a finishing script needs for retention, in _lib.lua's order."""
    return [queue.finished(kind), keys.retention, keys.index, keys.gone]


def retention_defaults(settings: Settings) -> list[EncodableT]:
    """The settings' policy as a script's four ARGV values (retention_defaults in _lib.lua)."""
    return [
        settings.KEEP_SUCCEEDED,
        settings.RESULT_TTL_S,
        settings.KEEP_CANCELED,
        settings.RESULT_TTL_S,
    ]


def retention_config(keys: Keys, settings: Settings) -> str:
    """What a script that may cancel jobs in any queue needs for retention, as one ARGV value
    (retention_config in _lib.lua): the job key prefix, the settings' policy, the most
    tombstones."""
    return _config(keys.job_prefix, tuple(retention_defaults(settings)), settings.REMOVED_IDS_KEPT)


@functools.cache
def _config(job_prefix: str, defaults: tuple[EncodableT, ...], gone_max: int) -> str:
    return json.dumps({"job_prefix": job_prefix, "defaults": defaults, "gone_max": gone_max})


class Retention:
    """Read and set queues' retention policies; tell whether a job was removed by one."""

    def __init__(self, lib: Library) -> None:
        self._redis = lib.redis
        self._keys = lib.keys
        self._settings = lib.settings

    def _defaults(self) -> RetentionPolicy:
        values = retention_defaults(self._settings)
        return RetentionPolicy.model_validate(
            {f: int(v) for f, v in zip(FIELDS, values, strict=True)}
        )

    async def get(self, queue: str) -> QueueRetention:
        """A queue's own policy and the one in force."""
        raw = cast(str | None, await self._redis.hget(self._keys.retention, queue))
        values = [int(v) for v in raw.split(",")] if raw else [UNSET] * len(FIELDS)
        own = RetentionPolicy.model_validate(
            {f: v for f, v in zip(FIELDS, values, strict=True) if v != UNSET}
        )
        defaults = self._defaults()
        effective = RetentionPolicy(
            **{
                f: getattr(defaults, f) if getattr(own, f) is None else getattr(own, f)
                for f in FIELDS
            }
        )
        return QueueRetention(name=queue, own=own, effective=effective)

    async def put(self, queue: str, policy: RetentionPolicy) -> QueueRetention:
        """Replace a queue's own policy (unset fields follow the settings)."""
        await self._redis.hset(self._keys.retention, queue, _encode(policy))
        return await self.get(queue)

    async def removed_at(self, stored_id: str) -> int | None:
        """When retention removed this job (ms), if it is among the tombstones kept."""
        score = await self._redis.zscore(self._keys.gone, stored_id)
        return int(score) if score is not None else None


def _encode(policy: RetentionPolicy) -> str:
    """The stored CSV (UNSET for a field the policy leaves to the settings)."""
    return ",".join(
        str(UNSET if getattr(policy, f) is None else getattr(policy, f)) for f in FIELDS
    )
