"""Recurring schedules on the wire."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    field_validator,
    model_validator,
)

from dtq.models.common import JsonNumber, Priority, QueueName, TaskType


def _cron_field(number: str) -> str:
    one = rf"(?:\*|{number}(?:-{number})?)(?:/[1-9][0-9]?)?"
    return rf"{one}(?:,{one})*"


_SECOND = r"[0-5]?[0-9]"
_FIVE = " ".join(
    _cron_field(n)
    for n in (
        _SECOND,
        r"(?:[01]?[0-9]|2[0-3])",
        r"(?:0?[1-9]|[12][0-9]|3[01])",
        r"(?:0?[1-9]|1[0-2])",
        r"[0-7]",
    )
)
_FOUR = _FIVE.split(" ", 1)[1]
# Numeric cron: minute hour day-of-month month day-of-week, then optionally seconds (croniter's
# order); each field a list of *, N or N-M, each with an optional /step. Exactly the language the
# OpenAPI schema states, so a schema-valid cron is never refused. A bare `*` for seconds goes
# only with a bare `*` for minutes (every second): `*/3 * * * * *` is how a seconds-first cron
# (the node-cron and BullMQ habit) reads, and here it would fire every second of every third
# minute, so it is refused.
CRON_PATTERN = rf"^(?:\* {_FOUR} \*|{_FIVE}(?: (?!\*$){_cron_field(_SECOND)})?)$"
_CRON = re.compile(CRON_PATTERN)
CRON_FIELDS = "minute hour day-of-month month day-of-week [second]"
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
    # The pattern is in the schema, not in the validator: its error would echo the regex.
    cron: Annotated[str, StringConstraints(max_length=200)] = Field(
        description="Numeric fields: minute hour day-of-month month day-of-week [second], seconds "
        "last; each a list of *, N or N-M with an optional /step. A cron naming no real date "
        "(February 30th) is kept with no next_run_at: it never fires.",
        json_schema_extra={"pattern": CRON_PATTERN},
    )
    task_type: TaskType
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    timezone: Annotated[str, Field(max_length=64, json_schema_extra={"enum": TIMEZONES})] = "UTC"
    misfire: Misfire = Misfire.SKIP
    max_retries: Annotated[int, Field(ge=0, le=1000), JsonNumber] | None = None
    priority: Priority = Priority.NORMAL
    queue: QueueName | None = Field(
        default=None, description="The queue of its jobs (left out: as for any submission)."
    )

    @field_validator("cron")
    @classmethod
    def _cron_fields(cls, cron: str) -> str:
        fields = cron.split(" ")
        if len(fields) == 6 and fields[5] == "*" and fields[0] != "*":
            raise ValueError(
                f"a 6-field cron has its seconds last ({CRON_FIELDS}); for every 3 seconds "
                "write '* * * * * */3' (a seconds-first cron such as '*/3 * * * * *' would "
                "fire every second)"
            )
        if not _CRON.fullmatch(cron):
            raise ValueError(
                f"cron must be 5 or 6 space-separated fields, {CRON_FIELDS}, each a list of *, "
                "N or N-M with an optional /step"
            )
        return cron

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
    warnings: list[str] = Field(
        default_factory=list,
        description="On create or replace: e.g. that no worker has ever served its task type.",
    )


class ScheduleList(BaseModel):
    data: list[Schedule]
    count: int
