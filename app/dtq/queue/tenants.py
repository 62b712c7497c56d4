"""Tenants, their API keys and their submission rate limits.

A key is `dtq_<key id>_<secret>`: 8 random bytes of public id (hex) and 32 random bytes of
secret (URL-safe base64). Only the SHA-256 of the whole key is stored, under its id; a presented
key is looked up by its id and its hash compared in constant time. Nothing is cached, so a
revoked key fails on every API instance at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import cast

import orjson

from dtq.errors import (
    ApiKeyNotFoundError,
    ReservedNameError,
    TenantExistsError,
    TenantNotFoundError,
)
from dtq.models import (
    DEFAULT_QUEUE,
    DEFAULT_TENANT,
    ApiKeyCreated,
    ApiKeyInfo,
    Tenant,
    TenantCreate,
    TenantLimits,
    TenantUsage,
)
from dtq.queue.clock import from_ms, redis_now_ms
from dtq.queue.scripts.admit import Admission, Bucket, admit
from dtq.queue.scripts.key_lookup import key_lookup
from dtq.queue.scripts.library import Library
from dtq.queue.workers import Workers

KEY_PREFIX = "dtq"
KEY_ID_BYTES = 8
SECRET_BYTES = 32
# Keys an API process remembers at most (see Tenants.authenticate); past it, it starts afresh.
KNOWN_KEYS_MAX = 10_000


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> str | None:
    """The key id of a well-formed key, else None (nothing malformed reaches Redis)."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key_id, secret = parts[1], parts[2]
    if len(key_id) != 2 * KEY_ID_BYTES or not all(c in "0123456789abcdef" for c in key_id):
        return None
    if not 32 <= len(secret) <= 64:
        return None
    return key_id


class Tenants:
    """Create tenants and keys, authenticate keys, admit submissions."""

    def __init__(self, lib: Library) -> None:
        self._lib = lib
        self._redis = lib.redis
        self._keys = lib.keys
        self._settings = lib.settings
        # Keys found valid lately (AUTH_CACHE_S): their digest -> (monotonic expiry, tenant).
        self._known: dict[str, tuple[float, Tenant]] = {}

    async def create(self, tenant: TenantCreate, shard: int = 0, spread_over: int = 0) -> Tenant:
        """Add a tenant (its jobs on `shard`, or on the first `spread_over` shards, see
        dtq.queue.shards); TenantExistsError if the name is taken, ReservedNameError for
        `default` (AUTH_DISABLED's tenant: keys for it would reach development data)."""
        if tenant.name == DEFAULT_TENANT:
            raise ReservedNameError(
                f"the tenant name {DEFAULT_TENANT!r} is reserved (AUTH_DISABLED serves it)"
            )
        now = await redis_now_ms(self._redis)
        created = from_ms(now - now % 1000)
        record = Tenant(
            **tenant.model_dump(), created_at=created, shard=shard, spread_over=spread_over
        )
        body = record.model_dump_json(exclude={"name"})
        if not await self._redis.hsetnx(self._keys.tenants, tenant.name, body):
            raise TenantExistsError(f"tenant {tenant.name} exists already")
        return record

    async def get(self, name: str) -> Tenant:
        """One tenant; TenantNotFoundError if there is none of that name."""
        raw = await self._redis.hget(self._keys.tenants, name)
        if raw is None:
            raise TenantNotFoundError(f"tenant {name} not found")
        return Tenant(name=name, **orjson.loads(raw))

    async def list_tenants(self) -> list[Tenant]:
        """Every tenant, by name."""
        rows = cast(dict[str, str], await self._redis.hgetall(self._keys.tenants))
        return [Tenant(name=n, **orjson.loads(v)) for n, v in sorted(rows.items())]

    async def set_limits(self, name: str, limits: TenantLimits) -> Tenant:
        """Replace a tenant's own limits (unset ones follow the settings)."""
        tenant = await self.get(name)
        updated = tenant.model_copy(update=limits.model_dump())
        await self._redis.hset(self._keys.tenants, name, updated.model_dump_json(exclude={"name"}))
        self._known.clear()
        return updated

    async def create_key(self, tenant: str) -> ApiKeyCreated:
        """A new key for an existing tenant. The key is in the answer only: store it now."""
        await self.get(tenant)
        key_id = secrets.token_hex(KEY_ID_BYTES)
        key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
        now = await redis_now_ms(self._redis)
        created = from_ms(now - now % 1000)
        record = {"tenant": tenant, "sha256": _digest(key), "created_at": created.isoformat()}
        await self._redis.hset(self._keys.api_keys, key_id, orjson.dumps(record))
        return ApiKeyCreated(key_id=key_id, tenant=tenant, created_at=created, key=key)

    async def revoke_key(self, key_id: str) -> None:
        """Delete a key: this process refuses it from the next request on, every other API
        process within AUTH_CACHE_S."""
        deleted = await self._redis.hdel(self._keys.api_keys, key_id)
        self._known.clear()  # after the delete: a lookup racing it cannot be remembered
        if not deleted:
            raise ApiKeyNotFoundError(f"API key {key_id} not found")

    async def list_keys(self, tenant: str | None = None) -> list[ApiKeyInfo]:
        """The ids of live keys (of one tenant, or all), never the keys."""
        rows = cast(dict[str, str], await self._redis.hgetall(self._keys.api_keys))
        infos = [
            ApiKeyInfo(key_id=key_id, tenant=r["tenant"], created_at=r["created_at"])
            for key_id, raw in rows.items()
            for r in [orjson.loads(raw)]
        ]
        return sorted(
            (i for i in infos if tenant is None or i.tenant == tenant),
            key=lambda i: (i.tenant, i.created_at, i.key_id),
        )

    async def authenticate(self, key: str) -> Tenant | None:
        """The tenant a presented key belongs to; None for a malformed, unknown or revoked key.

        A key found valid is remembered for AUTH_CACHE_S (unknown keys are always looked up);
        revoke_key and set_limits on this object forget every key at once.
        """
        key_id = split_key(key)
        if key_id is None:
            return None
        digest = _digest(key)
        known = self._known.get(digest)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        found = await key_lookup(self._lib, key_id=key_id)
        raw, body = found.record, found.tenant
        if raw is None:
            hmac.compare_digest(digest, "0" * 64)  # the same work as a known id
            return None
        record = orjson.loads(raw)
        if not hmac.compare_digest(digest, record["sha256"]) or not body:
            return None
        tenant = Tenant(name=record["tenant"], **orjson.loads(body))
        if self._settings.AUTH_CACHE_S > 0:
            if len(self._known) >= KNOWN_KEYS_MAX:
                self._known.clear()
            self._known[digest] = (time.monotonic() + self._settings.AUTH_CACHE_S, tenant)
        return tenant

    async def usage(self, tenant: Tenant) -> TenantUsage:
        """A tenant's effective limits, the jobs in its lanes and the slots it holds."""
        (usage,) = await self.usages([tenant])
        return usage

    async def usages(self, tenants: list[Tenant]) -> list[TenantUsage]:
        """usage() of each of these tenants (over every queue), in two round trips (four with
        an uncapped tenant among them).

        A capped tenant's running jobs are its slots, exact. An uncapped tenant's take no slot
        (nothing in Redis counts them as they dispatch and settle, which keeps fair dispatch
        cheap): the live workers report them in their heartbeats, so the figure is up to one
        HEARTBEAT_INTERVAL_S old.
        """
        k = self._keys
        s = self._settings
        caps = [tenant.max_concurrency or s.TENANT_MAX_CONCURRENCY or None for tenant in tenants]
        reported = await Workers(self._lib).running_by_tenant() if None in caps else {}
        known = cast(set[str], await self._redis.smembers(k.queues))
        queues = [k.queue(q) for q in sorted({DEFAULT_QUEUE, *known})]
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant in tenants:
                for q in queues:
                    for level in range(4):
                        pipe.llen(q.lane(tenant.name, level))
                    pipe.scard(q.running(tenant.name))
            replies = await pipe.execute()
        width = 5 * len(queues)  # per queue: four lane lengths, then the running set's size
        rows = [replies[first : first + width] for first in range(0, len(replies), width)]
        counts = [(sum(row) - sum(row[4::5]), sum(row[4::5])) for row in rows]
        return [
            TenantUsage(
                name=tenant.name,
                rate_per_s=tenant.rate_per_s or s.RATE_LIMIT_PER_SECOND,
                burst=tenant.burst or s.RATE_LIMIT_BURST,
                max_concurrency=caps[i],
                weight=tenant.weight or 1,
                queued=counts[i][0],
                running=counts[i][1] if caps[i] else reported.get(tenant.name, 0),
            )
            for i, tenant in enumerate(tenants)
        ]

    def bucket(self, tenant: Tenant, cost: int) -> Bucket:
        """`cost` submissions of the tenant's, at its rate limit (its own, else the settings')."""
        s = self._settings
        rate = tenant.rate_per_s or s.RATE_LIMIT_PER_SECOND
        burst = tenant.burst or s.RATE_LIMIT_BURST
        return Bucket(self._keys.submit_bucket(tenant.name), rate, burst, cost)

    async def admit(self, tenant: Tenant, cost: int) -> Admission:
        """Take `cost` submissions from the tenant's bucket, or none if they are not all there."""
        return await admit(self._lib, self.bucket(tenant, cost))
