"""The development-only synthetic job generator on the wire."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from dtq.models.common import DEFAULT_TENANT, JsonNumber, TaskType, TenantName

# At most this many synthetic jobs per call.
GENERATE_MAX = 100_000


class GenerateJobs(BaseModel):
    """A request for synthetic jobs (development only)."""

    model_config = ConfigDict(extra="forbid")

    count: Annotated[int, Field(ge=1, le=GENERATE_MAX), JsonNumber]
    tenant: TenantName = Field(
        default=DEFAULT_TENANT, description="Whose jobs they are (with the admin key)."
    )
    task_type: TaskType = "noop"
    partition_key_prefix: Annotated[str, StringConstraints(max_length=128)] = "synthetic"
    payload_template: dict[str, JsonValue] = Field(default_factory=dict)


class GeneratedJobs(BaseModel):
    count: int
    batches: int
    first_id: str | None
    last_id: str | None
