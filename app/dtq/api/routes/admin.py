"""Tenants and API keys, behind ADMIN_API_KEY (the same operations as `dtq admin`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from dtq.api.auth import require_admin
from dtq.api.deps import EngineDep, ShardsDep
from dtq.api.errors import ERROR_RESPONSES
from dtq.models import (
    TENANT_PATTERN,
    ApiKeyCreated,
    ApiKeyList,
    Tenant,
    TenantCreate,
    TenantLimits,
    TenantList,
)

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=ERROR_RESPONSES,
)

TenantPath = Annotated[str, Path(pattern=TENANT_PATTERN, description="A tenant's name.")]
KeyIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="A key's id.")]
NO_TENANT: dict[int | str, dict[str, Any]] = {404: {"description": "No such tenant."}}


@router.post(
    "/tenants",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "The tenant exists already."}},
)
async def create_tenant(body: TenantCreate, shards: ShardsDep) -> Tenant:
    """Add a tenant, optionally with its own submission rate limit. Its jobs live on the shard
    with the fewest tenants (`shard`; always 0 with one shard)."""
    return await shards.create_tenant(body)


@router.get("/tenants")
async def list_tenants(engine: EngineDep) -> TenantList:
    """Every tenant, by name."""
    data = await engine.tenants.list_tenants()
    return TenantList(data=data, count=len(data))


@router.get("/tenants/{name}", responses=NO_TENANT)
async def get_tenant(name: TenantPath, engine: EngineDep) -> Tenant:
    """One tenant and its limits."""
    return await engine.tenants.get(name)


@router.post("/tenants/{name}/limits", responses=NO_TENANT)
async def set_tenant_limits(name: TenantPath, body: TenantLimits, shards: ShardsDep) -> Tenant:
    """Replace the tenant's own limits (an unset one follows the RATE_LIMIT_* settings)."""
    return await shards.set_tenant_limits(name, body)


@router.post("/tenants/{name}/keys", status_code=status.HTTP_201_CREATED, responses=NO_TENANT)
async def create_key(name: TenantPath, engine: EngineDep) -> ApiKeyCreated:
    """A new API key for the tenant. The key is in this answer only; DTQ keeps its hash."""
    return await engine.tenants.create_key(name)


@router.get("/keys")
async def list_keys(
    engine: EngineDep,
    tenant: Annotated[str | None, Query(pattern=TENANT_PATTERN)] = None,
) -> ApiKeyList:
    """The ids of live keys, of one tenant or all (never the keys themselves)."""
    data = await engine.tenants.list_keys(tenant)
    return ApiKeyList(data=data, count=len(data))


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such key."}},
)
async def revoke_key(key_id: KeyIdPath, engine: EngineDep) -> Response:
    """Revoke a key: every API instance refuses it from the next request on."""
    await engine.tenants.revoke_key(key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
