"""Recurring schedules: create or replace, list, read, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from dtq.api.auth import DEV_TENANT, TenantDep, admit
from dtq.api.deps import EngineDep, SettingsDep
from dtq.api.errors import ERROR_RESPONSES
from dtq.models import Schedule, ScheduleCreate, ScheduleList

router = APIRouter(prefix="/schedules", tags=["schedules"], responses=ERROR_RESPONSES)

NamePath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": Schedule, "description": "Replaced."},
        429: {"description": "Over the tenant's submission rate limit."},
    },
)
async def put_schedule(
    body: ScheduleCreate,
    engine: EngineDep,
    settings: SettingsDep,
    tenant: TenantDep,
    response: Response,
) -> Schedule:
    """Create a schedule (201), or replace the one with this name (200). Each tick of `cron`
    submits one job, exactly once however many workers and API instances run.

    With keys on, the call takes one submission from the tenant's rate limit; a tenant has at
    most SCHEDULES_PER_TENANT schedules, which together may not fire more often than its
    submission rate (each counted at its busiest hour: 422 `schedule_limit`), and each firing
    takes its job from the rate limit (a refused firing is skipped)."""
    await admit(engine, tenant, response, 1)
    most, most_per_hour = -1, -1
    if tenant is not DEV_TENANT:
        most = settings.SCHEDULES_PER_TENANT
        most_per_hour = int((tenant.rate_per_s or settings.RATE_LIMIT_PER_SECOND) * 3600)
    schedule, created = await engine.schedules.put(body, tenant.name, most, most_per_hour)
    if not created:
        response.status_code = status.HTTP_200_OK
    schedule.warnings = await engine.producer.warnings_for([body.task_type])
    return schedule


@router.get("")
async def list_schedules(engine: EngineDep, tenant: TenantDep) -> ScheduleList:
    """Every schedule with its next run."""
    return await engine.schedules.list(tenant.name)


@router.get("/{name}", responses={404: {"description": "No such schedule."}})
async def get_schedule(name: NamePath, engine: EngineDep, tenant: TenantDep) -> Schedule:
    """One schedule with its next run."""
    return await engine.schedules.get(name, tenant.name)


@router.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such schedule."}},
)
async def delete_schedule(name: NamePath, engine: EngineDep, tenant: TenantDep) -> Response:
    """Delete a schedule (its jobs already submitted stay)."""
    await engine.schedules.delete(name, tenant.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
