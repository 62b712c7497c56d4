"""Shards: one logical queue over SHARDS hash tags, each a whole DTQ keyspace of its own.

Every key carries its shard's `{tag}`, so a shard lives in one Redis Cluster slot, on one master;
SHARDS tags spread the queue over several masters. A tenant's jobs all live on one shard (the
one with the fewest tenants when it was created, kept in its definition; `default` and names
never created live on the first), so everything that must be atomic for a tenant (ids,
idempotency keys, batches, dependencies, lanes, caps, its submission bucket) stays in one
script on one shard, and every script runs unchanged. The first shard is also the control
shard: tenants, API keys, schedules and the shard count live there. A tenant's definition is
copied to its own shard too, where the dispatch scripts read its weight and cap.

Workers read every shard; upkeep (promotion, reclaim, trimming, leases, housekeeping) runs per
shard; the operator's views (stats, queues, history, workers, the live feed) add up the shards.

The number of shards is fixed once chosen: a tenant's shard follows from it. `check_count`
refuses to run with another number than the one stored on the control shard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

from redis.asyncio import Redis
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from dtq.config import Settings
from dtq.errors import SettingsError, TenantNotFoundError
from dtq.models import DEFAULT_QUEUE, DEFAULT_TENANT, Tenant, TenantCreate, TenantLimits
from dtq.queue.engine import Engine
from dtq.queue.producer import Producer
from dtq.queue.tenant_ids import stored_id, tenant_of
from dtq.queue.tenants import Tenants

T = TypeVar("T")


def shard_tags(first: str, count: int) -> tuple[str, ...]:
    """The hash tags of `count` shards. The first is `first` (SHARD: with one shard DTQ keeps the
    names it always had); each other one is the first `<first>.<k>` whose slot falls in one of
    the `count` equal ranges of the 16,384 Cluster slots the tags before it left free, so a
    cluster whose masters split the slots evenly gets the shards evenly too."""
    if count == 1:
        return (first,)
    width = REDIS_CLUSTER_HASH_SLOTS / count
    taken = int(key_slot(f"{{{first}}}".encode()) // width)
    found: dict[int, str] = {}
    k = 0
    while len(found) < count - 1:
        tag = f"{first}.{k}"
        at = int(key_slot(f"{{{tag}}}".encode()) // width)
        if at != taken and at not in found:
            found[at] = tag
        k += 1
    return (first, *(found[at] for at in sorted(found)))


class ShardCountError(SettingsError):
    """SHARDS differs from the number of shards the data was written with."""


class Shards:
    """The engines of every shard, the first of them the control shard."""

    def __init__(self, settings: Settings, redis_for: Callable[[str], Redis]) -> None:
        self.settings = settings
        self.tags = shard_tags(settings.SHARD, settings.SHARDS)
        self.engines = tuple(Engine(redis_for(tag), settings, tag) for tag in self.tags)
        self.control = self.engines[0]
        self._placed: dict[str, int] = {}  # tenant name -> shard, as found (see locate)
        for engine in self.engines:  # a schedule's jobs go to its tenant's shard
            engine.schedules.place = self._home

    def __len__(self) -> int:
        return len(self.engines)

    def of(self, tenant: Tenant | None) -> Engine:
        """The engine of a tenant's shard (None: the first, `default`'s)."""
        if tenant is None or len(self.engines) == 1:
            return self.control
        if tenant.shard >= len(self.engines):  # cannot happen while check_count holds
            raise ShardCountError(f"tenant {tenant.name} lives on shard {tenant.shard}")
        return self.engines[tenant.shard]

    async def locate(self, tenant: str) -> Engine:
        """The engine of a tenant's shard, by its name (`default` and names never created as
        tenants: the first)."""
        if tenant == DEFAULT_TENANT or len(self.engines) == 1:
            return self.control
        index = self._placed.get(tenant)
        if index is None:
            try:
                index = (await self.control.tenants.get(tenant)).shard
            except TenantNotFoundError:
                return self.control
            self._placed[tenant] = index  # a tenant's shard never changes
        return self.of_index(index, tenant)

    async def _home(self, tenant: str) -> tuple[Producer, Tenants]:
        engine = await self.locate(tenant)
        return engine.producer, engine.tenants

    def of_index(self, index: int, tenant: str) -> Engine:
        if index >= len(self.engines):
            raise ShardCountError(f"tenant {tenant} lives on shard {index}")
        return self.engines[index]

    async def of_job(self, job_id: str, tenant: Tenant | None) -> Engine:
        """The engine of the shard a job lives on: its tenant's (a stored id, which the default
        tenant may give, names its tenant)."""
        owner = tenant_of(stored_id(tenant.name if tenant else None, job_id))
        if tenant is not None and owner == tenant.name:
            return self.of(tenant)
        return await self.locate(owner)

    async def aclose(self) -> None:
        """Close every shard's client (the control shard's last: tools may share it)."""
        for engine in reversed(self.engines):
            await engine.redis.aclose()

    async def each(self, work: Callable[[Engine], Awaitable[T]]) -> list[T]:
        """`work` on every shard at once, results in shard order."""
        return list(await asyncio.gather(*(work(e) for e in self.engines)))

    # --- setup ----------------------------------------------------------------------------

    async def check_count(self) -> None:
        """Store SHARDS on the control shard the first time; ShardCountError when it differs
        from what is stored (a tenant's jobs would be looked for on the wrong shard)."""
        control = self.control
        key = control.keys.shard_count
        found = await control.redis.get(key)  # a read first: a full Redis refuses SET
        if found is None:
            await control.redis.set(key, len(self.engines), nx=True)
            found = await control.redis.get(key)
        stored = int(found or 1)
        if stored != len(self.engines):
            raise ShardCountError(
                f"SHARDS={len(self.engines)}, but this data was written with SHARDS={stored}: "
                'the number of shards is fixed once chosen (see the README\'s "Shards")'
            )

    async def setup(self, queues: Sequence[str] = (DEFAULT_QUEUE,)) -> None:
        """check_count, then load the scripts and the streams of `queues` on every shard, and
        copy each tenant's definition to its shard."""
        await self.check_count()
        await self.each(lambda e: e.setup(queues))
        if len(self.engines) > 1:
            await self._copy_tenants(await self.control.tenants.list_tenants())

    async def load_scripts(self) -> None:
        """Load the scripts on every shard (for tools that write no streams)."""
        await self.each(lambda e: e.load_scripts())

    async def scripts_loaded(self) -> bool:
        """Whether every shard's server holds every script."""
        return all(await self.each(lambda e: e.scripts_loaded()))

    # --- tenants: defined on the control shard, copied to their own --------------------

    async def _copy_tenants(self, tenants: Iterable[Tenant]) -> None:
        by_shard: dict[int, dict[str, str]] = {}
        for t in tenants:
            if t.shard:
                by_shard.setdefault(t.shard, {})[t.name] = t.model_dump_json(exclude={"name"})
        for index, rows in by_shard.items():
            engine = self.of_index(index, next(iter(rows)))
            await engine.redis.hset(engine.keys.tenants, mapping=rows)  # type: ignore[arg-type]

    async def create_tenant(self, tenant: TenantCreate) -> Tenant:
        """Add a tenant (see Tenants.create) on the shard with the fewest tenants (the first of
        them), and copy its definition there."""
        counts = [0] * len(self.engines)
        for t in await self.control.tenants.list_tenants():
            if t.shard < len(counts):
                counts[t.shard] += 1
        created = await self.control.tenants.create(tenant, counts.index(min(counts)))
        await self._copy_tenants([created])
        return created

    async def set_tenant_limits(self, name: str, limits: TenantLimits) -> Tenant:
        """Replace a tenant's limits (see Tenants.set_limits), on its shard too."""
        updated = await self.control.tenants.set_limits(name, limits)
        await self._copy_tenants([updated])
        return updated
