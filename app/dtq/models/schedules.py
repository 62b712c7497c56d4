"""Recurring schedules on the wire."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator

from dtq.models.common import JsonNumber, Priority, TaskType


def _cron_field(number: str) -> str:
    one = rf"(?:\*|{number}(?:-{number})?)(?:/[1-9][0-9]?)?"
    return rf"{one}(?:,{one})*"


_SECOND = r"[0-5]?[0-9]"
# Numeric cron: minute hour day-of-month month day-of-week, then optionally seconds (croniter's
# order); each field a list of *, N or N-M, each with an optional /step. Exactly the language the
# OpenAPI schema states, so a schema-valid cron is never refused.
CRON_PATTERN = (
    "^"
    + " ".join(
        _cron_field(n)
        for n in (
            _SECOND,
            r"(?:[01]?[0-9]|2[0-3])",
            r"(?:0?[1-9]|[12][0-9]|3[01])",
            r"(?:0?[1-9]|1[0-2])",
            r"[0-7]",
        )
    )
    + rf"(?: {_cron_field(_SECOND)})?$"
)
TIMEZONES = sorted(available_timezones())
_TIMEZONE_SET = frozenset(TIMEZONES)


class Misfire(StrEnum):
    """What a schedule does about ticks missed while no worker ran."""

    SKIP = "skip"
    CATCH_UP = "catch_up"


class ScheduleCreate(BaseModel):
    """A recurring job: `cron` is 5 fields, or 6 with seconds last (croniter syntax)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
    cron: Annotated[str, StringConstraints(max_length=200, pattern=CRON_PATTERN)] = Field(
        description="Numeric fields: minute hour day-of-month month day-of-week [second]; "
        "each a list of *, N or N-M with an optional /step. A cron naming no real date "
        "(February 30th) is kept with no next_run_at: it never fires."
    )
    task_type: TaskType
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    timezone: Annotated[str, Field(max_length=64, json_schema_extra={"enum": TIMEZONES})] = "UTC"
    misfire: Misfire = Misfire.SKIP
    max_retries: Annotated[int, Field(ge=0, le=1000), JsonNumber] | None = None
    priority: Priority = Priority.NORMAL

    @model_validator(mode="after")
    def _valid_cron_and_zone(self) -> Self:

        from croniter import croniter

        if not croniter.is_valid(self.cron):
            raise ValueError(f"cron {self.cron!r} is not a valid cron expression")
        if self.timezone not in _TIMEZONE_SET:
            raise ValueError(f"unknown timezone {self.timezone!r} (an IANA name, e.g. UTC)")
        return self


class Schedule(ScheduleCreate):
    """A schedule and when it fires next."""

    next_run_at: datetime | None = None


class ScheduleList(BaseModel):
    data: list[Schedule]
    count: int
