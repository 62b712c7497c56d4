"""Tenants, their limits and API keys on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from dtq.models.common import JsonNumber, TenantName


class TenantLimits(BaseModel):
    """A tenant's own limits; unset ones follow the settings (RATE_LIMIT_*, TENANT_*)."""

    model_config = ConfigDict(extra="forbid")

    rate_per_s: Annotated[float, Field(gt=0, le=1_000_000), JsonNumber] | None = Field(
        default=None, description="Submissions per second (token refill rate)."
    )
    burst: Annotated[int, Field(ge=1, le=10_000_000), JsonNumber] | None = Field(
        default=None, description="Submissions allowed at once (bucket size)."
    )
    max_concurrency: Annotated[int, Field(ge=1, le=1_000_000), JsonNumber] | None = Field(
        default=None, description="Jobs running at once across all workers."
    )
    weight: Annotated[int, Field(ge=1, le=1000), JsonNumber] | None = Field(
        default=None, description="Share of the workers against other busy tenants (default 1)."
    )


class TenantCreate(TenantLimits):
    """A new tenant."""

    name: TenantName = Field(description="1-32 of a-z, 0-9, _ and -, starting alphanumeric.")
    spread: StrictBool = Field(
        default=False,
        description="Spread the tenant's jobs over every shard there is when it is created "
        "(SHARDS > 1), each on the shard its id hashes to, instead of keeping them on one: for a "
        "tenant too large for one master. Fixed when the tenant is created (see `spread_over`).",
    )


class Tenant(TenantCreate):
    """A tenant and its limits."""

    created_at: datetime
    shard: int = Field(
        default=0,
        ge=0,
        description="The shard holding the tenant's jobs: chosen when it is created (the one "
        "with the fewest tenants), fixed for good; always 0 with one shard (SHARDS).",
    )
    spread_over: int = Field(
        default=0,
        ge=0,
        description="A spread tenant's jobs live on the first `spread_over` shards: SHARDS when "
        "it was created, fixed for good (a job id or idempotency key keeps its shard when SHARDS "
        "grows). 0 when it is not spread (or was created with one shard).",
    )


class TenantUsage(BaseModel):
    """A tenant's effective execution limits and its live load (keys on: jobs go through lanes)."""

    name: str
    rate_per_s: float
    burst: int
    max_concurrency: int | None = Field(description="Its cap across all workers; null: none.")
    weight: int
    queued: int = Field(
        description="Jobs waiting in its lanes to be dispatched (a canceled one counts until the "
        "dispatcher reaches it)."
    )
    running: int = Field(
        description="Jobs dispatched to the workers and not settled yet: exact for a capped "
        "tenant (its slots); for an uncapped one, what the live workers reported in their last "
        "heartbeats (up to HEARTBEAT_INTERVAL_S old)."
    )


class TenantList(BaseModel):
    data: list[Tenant]
    count: int


class ApiKeyInfo(BaseModel):
    """An API key as stored: never the key itself, only its id and hash."""

    key_id: str = Field(description="The public part of the key (its second field).")
    tenant: str
    created_at: datetime


class ApiKeyCreated(ApiKeyInfo):
    """A new API key. `key` is shown this once; DTQ keeps only its SHA-256."""

    key: str


class ApiKeyList(BaseModel):
    data: list[ApiKeyInfo]
    count: int
