"""Who is calling: the tenant of a Bearer API key, the admin key, and submission admission."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dtq.api.deps import EngineDep, SettingsDep, ShardsDep
from dtq.api.strict_json import excerpt
from dtq.config import Settings
from dtq.errors import (
    AuthenticationError,
    BatchOverBurstError,
    DTQError,
    ForbiddenError,
    RateLimitedError,
)
from dtq.models import DEFAULT_TENANT, Tenant
from dtq.queue import Admission, Engine, TenantShards

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A tenant's API key (`dtq admin create-key TENANT`).",
)
admin_bearer = HTTPBearer(
    auto_error=False, scheme_name="AdminKey", description="The ADMIN_API_KEY setting."
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
AdminCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)]

# The one tenant AUTH_DISABLED serves: no key, no submission limit.
DEV_TENANT = Tenant(name=DEFAULT_TENANT, created_at=datetime(1970, 1, 1, tzinfo=UTC))


# What authenticate_headers leaves in a request's state for the admin key.
ADMIN = "admin"


def _missing_key(given: str) -> AuthenticationError:
    """401 for a request without a Bearer key, saying what its Authorization header lacks."""
    if given.strip():
        scheme = given.strip().split(" ", 1)[0]
        if " " not in given.strip():
            return AuthenticationError(
                "the Authorization header has no scheme: send Authorization: Bearer <key>"
            )
        return AuthenticationError(
            f"the Authorization scheme is {excerpt(scheme, 40)}: send Authorization: Bearer <key>"
        )
    return AuthenticationError("missing API key: send Authorization: Bearer <key>")


async def current_tenant(
    credentials: Credentials, engine: EngineDep, settings: SettingsDep, request: Request
) -> Tenant:
    """The tenant of the request's API key; 401 for a missing, malformed or revoked key."""
    if settings.AUTH_DISABLED:
        return DEV_TENANT
    known = getattr(request.state, "caller", None)
    if isinstance(known, Tenant):  # authenticated before the body was read (dtq.api.limits)
        return known
    if credentials is None:
        raise _missing_key(request.headers.get("authorization", ""))
    tenant = await engine.tenants.authenticate(credentials.credentials)
    if tenant is None:
        raise AuthenticationError("invalid or revoked API key")
    return tenant


TenantDep = Annotated[Tenant, Depends(current_tenant)]


async def tenant_shards(tenant: TenantDep, shards: ShardsDep) -> TenantShards:
    """Where the caller's jobs are: its shard, or every shard for a spread tenant (see
    dtq.queue.spread)."""
    return shards.for_tenant(tenant)


TenantShardsDep = Annotated[TenantShards, Depends(tenant_shards)]


async def authenticate_headers(
    headers: dict[bytes, bytes], engine: Engine, settings: Settings
) -> Tenant | str | None:
    """Who sends a request, from its headers alone: a tenant, ADMIN, or None with
    AUTH_DISABLED. AuthenticationError for no key or a wrong one (RedisError passes through)."""
    if settings.AUTH_DISABLED:
        return None
    given = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, key = given.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _missing_key(given)
    key = key.strip()
    if is_admin_key(key, settings):
        return ADMIN
    tenant = await engine.tenants.authenticate(key)
    if tenant is None:
        raise AuthenticationError("invalid or revoked API key")
    return tenant


def is_admin_key(key: str, settings: Settings) -> bool:
    """Whether `key` is ADMIN_API_KEY (compared in constant time)."""
    if settings.ADMIN_API_KEY is None:
        return False
    expected = settings.ADMIN_API_KEY.get_secret_value().encode()
    return hmac.compare_digest(key.encode(), expected)


def _is_admin(credentials: HTTPAuthorizationCredentials | None, settings: Settings) -> bool:
    """Whether the request carries ADMIN_API_KEY."""
    return credentials is not None and is_admin_key(credentials.credentials, settings)


async def require_admin(
    credentials: AdminCredentials, settings: SettingsDep, request: Request
) -> None:
    """401 unless the request carries ADMIN_API_KEY (the admin API is off while it is unset)."""
    if settings.ADMIN_API_KEY is None:
        raise AuthenticationError("the admin API is disabled: ADMIN_API_KEY is not set")
    if credentials is None:
        raise _missing_key(request.headers.get("authorization", ""))
    if not _is_admin(credentials, settings):
        raise AuthenticationError("invalid admin key")


async def require_admin_or_open(
    credentials: AdminCredentials, settings: SettingsDep, request: Request
) -> None:
    """The admin key, or anyone with AUTH_DISABLED (no tenant key will do)."""
    if not settings.AUTH_DISABLED:
        await require_admin(credentials, settings, request)


async def require_operator(
    credentials: AdminCredentials, engine: EngineDep, settings: SettingsDep, request: Request
) -> None:
    """Queue-wide views: the admin key (or AUTH_DISABLED); a tenant's own key gets 403."""
    if settings.AUTH_DISABLED or _is_admin(credentials, settings):
        return
    await current_tenant(credentials, engine, settings, request)  # 401 for a bad key
    raise ForbiddenError("queue-wide views span every tenant: they need the admin key")


async def admit(engine: Engine, tenant: Tenant, response: Response, cost: int) -> None:
    """Take `cost` submissions from the tenant's rate limit: RateLimit-* headers, or 429.

    The limit is checked before anything is stored, so a refused request changes nothing. A
    batch counts each of its jobs; one larger than the burst could never pass, so it is 422.
    """
    if tenant is DEV_TENANT:
        return
    a = await engine.tenants.admit(tenant, cost)
    if not a.admitted:
        raise refusal(tenant, cost, a)
    response.headers.update(rate_limit_headers(a))


def rate_limit_headers(a: Admission) -> dict[str, str]:
    """The RateLimit-* headers of an admission."""
    return {
        "RateLimit-Limit": str(a.limit),
        "RateLimit-Remaining": str(a.remaining),
        "RateLimit-Reset": str(-(-a.reset_ms // 1000)),
    }


def refusal(tenant: Tenant, cost: int, a: Admission) -> DTQError:
    """The error for `cost` submissions the tenant's rate limit refused: 429 with Retry-After,
    or 422 when they are more than its burst (they could never pass)."""
    if cost > a.limit:
        return BatchOverBurstError(
            f"a batch of {cost} jobs exceeds tenant {tenant.name}'s burst of {a.limit}: "
            "split it into smaller batches"
        )
    retry_after = max(1, -(-a.retry_after_ms // 1000))
    return RateLimitedError(
        f"tenant {tenant.name} is over its submission rate limit; retry in {retry_after} s",
        retry_after,
        rate_limit_headers(a),
        tenant.name,
    )
