"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from redis.exceptions import RedisError, ResponseError

from dtq.api.deps import ShardsDep
from dtq.models import Health
from dtq.queue import Engine

router = APIRouter(prefix="/health", tags=["health"])

EVICTING = "maxmemory-policy {policy} evicts keys: jobs can be lost; use noeviction"
FULL = (
    "Redis is full ({used} of maxmemory {limit} bytes): submissions get 507 storage_full while "
    "workers drain the jobs stored"
)

REFUSED = (
    "Redis refused a write for want of memory {ago:.1f} s ago (507 storage_full): it is at "
    "maxmemory, or was until workers drained some jobs"
)
NO_CONFIG = "cannot read maxmemory-policy (CONFIG not permitted); check it is noeviction"
FEW_REPLICAS = (
    "REPLICA_ACKS={acks} but the master has {replicas} replica(s) connected: writes are refused "
    "with 503 not_replicated until enough replicas are back"
)


@router.get("/live")
async def live() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get("/ready", responses={503: {"model": Health, "description": "Not ready."}})
async def ready(shards: ShardsDep, request: Request, response: Response) -> Health:
    """Redis answers and every script is loaded (on every shard's master). Warns about a Redis
    that would evict keys or has fewer replicas than REPLICA_ACKS, and says `storage_full`
    (still 200: reads and running jobs go on) while Redis is at maxmemory, or this process
    refused a write for want of memory within the last few seconds."""
    try:
        checks = await shards.each(_check)
    except RedisError as exc:
        response.status_code = 503
        return Health(status="unavailable", redis=type(exc).__name__, scripts_loaded=False)
    warnings = list(dict.fromkeys(w for _, found in checks for w in found))
    refused = request.app.state.full_refusals.seconds_ago()
    if refused is not None:
        warnings.append(REFUSED.format(ago=refused))
    full = refused is not None or any(full for full, _ in checks)
    status = "storage_full" if full else "ok"
    return Health(status=status, redis="ok", scripts_loaded=True, warnings=warnings)


def full_margin(limit: int) -> int:
    """How close to maxmemory counts as full: 1 % of it, at most 1 MiB. At the edge Redis
    refuses a write once one has pushed it over, and the refused request's buffers are freed
    at once, so a reading taken right after a refusal may sit a few KiB under the limit."""
    return min(limit // 100, 1 << 20)


async def _check(engine: Engine) -> tuple[bool, list[str]]:
    """One shard's server: whether it is full, and what to warn of (RedisError if it is down)."""
    await engine.redis.ping()
    if not await engine.scripts_loaded():
        await engine.setup()
    warnings = []
    try:
        policy = (await engine.redis.config_get("maxmemory-policy")).get("maxmemory-policy")
        if policy and policy != "noeviction":
            warnings.append(EVICTING.format(policy=policy))
    except ResponseError:
        warnings.append(NO_CONFIG)
    full = False
    try:
        memory = await engine.redis.info("memory")
        used, limit = int(memory.get("used_memory", 0)), int(memory.get("maxmemory", 0))
        full = bool(limit) and used >= limit - full_margin(limit)
        if full:
            warnings.append(FULL.format(used=used, limit=limit))
        acks = engine.settings.REPLICA_ACKS
        if acks:
            replicas = int((await engine.redis.info("replication")).get("connected_slaves", 0))
            if replicas < acks:
                warnings.append(FEW_REPLICAS.format(acks=acks, replicas=replicas))
    except ResponseError:  # INFO is @dangerous: an ACL user may not have it
        pass
    return full, warnings
