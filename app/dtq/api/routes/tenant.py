"""The caller's own tenant: its limits and live load."""

from __future__ import annotations

from fastapi import APIRouter

from dtq.api.auth import TenantShardsDep
from dtq.api.errors import ERROR_RESPONSES
from dtq.models import TenantUsage

router = APIRouter(prefix="/tenant", tags=["tenant"], responses=ERROR_RESPONSES)


@router.get("")
async def get_tenant(where: TenantShardsDep) -> TenantUsage:
    """The key's tenant: its rate limit, concurrency cap and weight in effect, the jobs waiting
    in its lanes and the jobs it has running (across all workers)."""
    return await where.usage()
