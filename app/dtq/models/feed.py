"""The live event feed on the wire (GET /ws): per-job events and the feed's own messages."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# An event id: the events stream entry id, then the job's place in that entry
# ("1764097200000-0.2"); a client passes the last one it saw to resume after it.
EVENT_ID_PATTERN = r"^[0-9]{1,19}-[0-9]{1,19}\.[0-9]{1,6}$"


class FeedEvent(BaseModel):
    """One job's state transition, as the feed pushes it."""

    type: Literal["event"] = "event"
    id: str = Field(description="Pass the last id seen as `last_event_id` to resume after it.")
    job_id: str
    status: str = Field(description="A job status, or `progress`.")
    at: int = Field(description="Redis time of the transition, ms since the epoch.")
    worker: str | None = None
    attempt: int | None = None
    reason: str | None = None
    percent: float | None = None
    message: str | None = None


class FeedHello(BaseModel):
    """The first message a client sends: its key (not needed with AUTH_DISABLED) and where to
    resume."""

    key: str | None = Field(default=None, max_length=512)
    last_event_id: str | None = Field(default=None, pattern=EVENT_ID_PATTERN)


class FeedWelcome(BaseModel):
    """The server's answer to a valid hello."""

    type: Literal["welcome"] = "welcome"
    tenant: str | None = Field(description="The tenant whose events follow; null: every tenant.")
    resumed: bool = Field(description="True when events after `last_event_id` follow.")
    last_event_id: str = Field(
        description="Where live events begin: resume after this when no event has come yet."
    )


class FeedResync(BaseModel):
    """`last_event_id` is older than the oldest event kept: events were missed, so reload
    state over HTTP; live events follow."""

    type: Literal["resync"] = "resync"
    reason: str
