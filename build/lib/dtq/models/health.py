"""Health answers on the wire."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str
    redis: str | None = None
    scripts_loaded: bool | None = None
    warnings: list[str] = Field(default_factory=list)
