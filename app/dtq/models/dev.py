"""The development-only synthetic job generator on the wire."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from dtq.models.common import JsonNumber, TaskType


class GenerateJobs(BaseModel):
    """A request for synthetic jobs (development only)."""

    model_config = ConfigDict(extra="forbid")

    count: Annotated[int, Field(ge=1, le=1_000_000), JsonNumber]
    task_type: TaskType = "noop"
    partition_key_prefix: Annotated[str, StringConstraints(max_length=128)] = "synthetic"
    payload_template: dict[str, JsonValue] = Field(default_factory=dict)


class GeneratedJobs(BaseModel):
    count: int
    batches: int
    first_id: str | None
    last_id: str | None
