"""Shards: one logical queue over SHARDS hash tags, each a whole DTQ keyspace of its own.

Every key carries its shard's `{tag}`, so a shard lives in one Redis Cluster slot, on one master;
SHARDS tags spread the queue over several masters. A tenant's jobs all live on one shard (the
one with the fewest tenants when it was created, kept in its definition; `default` and names
never created live on the first), so everything that must be atomic for a tenant (ids,
idempotency keys, batches, dependencies, lanes, caps, its submission bucket) stays in one
script on one shard, and every script runs unchanged. The first shard is also the control
shard: tenants, API keys, schedules and the shard count live there. A tenant's definition is
copied to its own shard too, where the dispatch scripts read its weight and cap. A tenant
created with `spread` (and `default` with SPREAD_DEFAULT) has its jobs on every shard there was
when it was spread (`spread_over`, fixed), each where its id hashes to (see dtq.queue.spread);
its definition is on each of them.

Workers read every shard; upkeep (promotion, reclaim, trimming, leases, housekeeping) runs per
shard; the operator's views (stats, queues, history, workers, the live feed) add up the shards.

SHARDS can grow (the first n tags of a larger number are the same, and new tenants fill the new
shards first; a spread tenant keeps the shards it was spread over, so that its ids, idempotency
keys and partition keys keep theirs) but never shrink: `check_count` refuses a number smaller
than the one stored on the control shard, and SPREAD_DEFAULT off once `default` was spread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TypeVar

from redis.asyncio import Redis
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from dtq.config import Settings
from dtq.errors import SettingsError, TenantNotFoundError
from dtq.models import (
    DEFAULT_QUEUE,
    DEFAULT_TENANT,
    JobCreate,
    Tenant,
    TenantCreate,
    TenantLimits,
)
from dtq.queue.engine import Engine
from dtq.queue.fanout import gather_all
from dtq.queue.schedules import Placed
from dtq.queue.spread import TenantShards

T = TypeVar("T")

# The creation time of a tenant never created (`default`, names of internal callers).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# How many `<SHARD>.<k>` tags shard_tags looks among for each shard's (enough to land within a
# few slots of where it aims).
CANDIDATES = 1024


def _van_der_corput(i: int) -> float:
    """The i-th number of the base-2 van der Corput sequence: 1/2, 1/4, 3/4, 1/8, 5/8, ..."""
    x, scale = 0.0, 1.0
    while i:
        scale /= 2
        x += (i & 1) * scale
        i >>= 1
    return x


@lru_cache(maxsize=8)
def shard_tags(first: str, count: int) -> tuple[str, ...]:
    """The hash tags of `count` shards. The first is `first` (SHARD: with one shard DTQ keeps the
    names it always had); shard i is the `<first>.<k>` tag whose slot is nearest to the i-th
    point of the van der Corput sequence around the 16,384 Cluster slots from the first's
    (1/2 of the way round, then 1/4, 3/4, 1/8 ...). So the tags of n shards spread evenly over
    the slots (a cluster whose masters split the slots evenly gets them evenly: 8 shards on 3
    masters, 2, 3 and 3), and the first n tags of a larger number are the same: SHARDS can
    grow."""

    def slot(tag: str) -> int:
        return key_slot(f"{{{tag}}}".encode())

    origin = slot(first)
    candidates = {f"{first}.{k}": slot(f"{first}.{k}") for k in range(CANDIDATES)}
    tags = [first]
    for i in range(1, count):
        aim = (origin + _van_der_corput(i) * REDIS_CLUSTER_HASH_SLOTS) % REDIS_CLUSTER_HASH_SLOTS

        def distance(tag: str, aim: float = aim) -> float:
            gap = abs(candidates[tag] - aim)
            return min(gap, REDIS_CLUSTER_HASH_SLOTS - gap)

        nearest = min(candidates, key=distance)
        del candidates[nearest]
        tags.append(nearest)
    return tuple(tags)


class ShardCountError(SettingsError):
    """SHARDS is smaller than the number of shards the data has (tenants may live on any)."""


class Shards:
    """The engines of every shard, the first of them the control shard."""

    def __init__(self, settings: Settings, redis_for: Callable[[str], Redis]) -> None:
        self.settings = settings
        self.tags = shard_tags(settings.SHARD, settings.SHARDS)
        self.engines = tuple(Engine(redis_for(tag), settings, tag) for tag in self.tags)
        self.control = self.engines[0]
        self._placed: dict[str, Tenant] = {}  # tenants as found by name (see locate)
        # the shards `default` is spread over: SHARDS until check_count reads the stored number
        self._default_over = len(self.engines) if settings.SPREAD_DEFAULT else 0
        for engine in self.engines:  # a schedule's jobs go to its tenant's shard
            engine.schedules.place = self._home

    def __len__(self) -> int:
        return len(self.engines)

    def of(self, tenant: Tenant | None) -> Engine:
        """The engine of a tenant's shard (None: the first, `default`'s); for a spread tenant,
        the control shard, where its submission bucket lives."""
        if tenant is None or len(self.engines) == 1:
            return self.control
        return self._of_index(tenant.shard, tenant.name)

    def spread_over(self, tenant: Tenant) -> int:
        """How many shards (the first ones) the tenant's jobs are spread over: 0 or 1 when they
        are on one (see dtq.queue.spread)."""
        if len(self.engines) == 1:
            return 0
        if tenant.name == DEFAULT_TENANT:
            return self._default_over
        return tenant.spread_over

    def for_tenant(self, tenant: Tenant) -> TenantShards:
        """Where the tenant's jobs are: its shard, or the shards it is spread over."""
        home = self.of(tenant)
        over = self.spread_over(tenant)
        return TenantShards(tenant, self.engines[:over] if over > 1 else (home,), home)

    async def locate(self, tenant: str) -> TenantShards:
        """for_tenant, by the tenant's name (`default` and names never created as tenants: the
        first shard, or every shard for `default` with SPREAD_DEFAULT)."""
        known = self._placed.get(tenant)
        if known is None and tenant != DEFAULT_TENANT and len(self.engines) > 1:
            try:
                known = await self.control.tenants.get(tenant)
            except TenantNotFoundError:
                known = None
            else:
                self._placed[tenant] = known  # its shard and spread never change
        return self.for_tenant(known or Tenant(name=tenant, created_at=EPOCH))

    async def _home(self, tenant: str, jobs: Sequence[JobCreate]) -> Placed:
        where = await self.locate(tenant)
        engine, new_ids = await where.place_many(jobs)
        return Placed(engine.producer, where.home.tenants, new_ids)

    def _of_index(self, index: int, tenant: str) -> Engine:
        if index >= len(self.engines):  # cannot happen while check_count holds
            raise ShardCountError(f"tenant {tenant} lives on shard {index}")
        return self.engines[index]

    async def aclose(self) -> None:
        """Close every shard's client (the control shard's last: tools may share it)."""
        for engine in reversed(self.engines):
            await engine.redis.aclose()

    async def each(self, work: Callable[[Engine], Awaitable[T]]) -> list[T]:
        """`work` on every shard at once, results in shard order."""
        return await gather_all(work(e) for e in self.engines)

    # --- setup ----------------------------------------------------------------------------

    async def check_count(self) -> None:
        """Store SHARDS on the control shard, the first time and whenever it grows, and the
        number of shards `default` is spread over once it is (SHARDS then, fixed);
        ShardCountError when SHARDS is smaller than the number stored (tenants may live on the
        shards it would leave out) or `default` was spread and is no longer."""
        control = self.control
        key, spread_key = control.keys.shard_count, control.keys.spread_default
        # Reads first: a full Redis refuses SET.
        count, spread = await control.redis.mget(key, spread_key)
        stored = int(count or 0)
        if stored > len(self.engines):
            raise ShardCountError(
                f"SHARDS={len(self.engines)}, but this data has SHARDS={stored}: tenants may live "
                'on any of them, so SHARDS can grow but never shrink (see the README\'s "Shards")'
            )
        spreading = len(self.engines) > 1 and self.settings.SPREAD_DEFAULT
        if spread and not spreading:
            raise ShardCountError(
                "SPREAD_DEFAULT is off (or SHARDS=1), but this data's default tenant was spread "
                f"over {int(spread)} shards: its jobs may live on any of them, so SPREAD_DEFAULT "
                'can be turned on but never off (see the README\'s "Shards")'
            )
        if stored < len(self.engines):
            await control.redis.set(key, len(self.engines))
        if spreading and not spread:
            await control.redis.set(spread_key, len(self.engines))
        self._default_over = int(spread) if spread else (len(self.engines) if spreading else 0)

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
            body = t.model_dump_json(exclude={"name"})
            over = self.spread_over(t)
            for index in range(1, over) if over > 1 else [t.shard] if t.shard else []:
                by_shard.setdefault(index, {})[t.name] = body
        for index, rows in by_shard.items():
            engine = self._of_index(index, next(iter(rows)))
            await engine.redis.hset(engine.keys.tenants, mapping=rows)  # type: ignore[arg-type]

    async def create_tenant(self, tenant: TenantCreate) -> Tenant:
        """Add a tenant (see Tenants.create) on the shard with the fewest tenants (the first of
        them), and copy its definition there; a spread one on every shard there is now (its
        bucket on the first)."""
        counts = [0] * len(self.engines)
        for t in await self.control.tenants.list_tenants():
            if t.shard < len(counts) and not t.spread_over:
                counts[t.shard] += 1
        over = len(self.engines) if tenant.spread and len(self.engines) > 1 else 0
        shard = 0 if over else counts.index(min(counts))
        created = await self.control.tenants.create(tenant, shard, over)
        await self._copy_tenants([created])
        return created

    async def set_tenant_limits(self, name: str, limits: TenantLimits) -> Tenant:
        """Replace a tenant's limits (see Tenants.set_limits), on its shard too."""
        updated = await self.control.tenants.set_limits(name, limits)
        await self._copy_tenants([updated])
        return updated
