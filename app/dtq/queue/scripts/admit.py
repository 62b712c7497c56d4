"""The face of admit.lua: a tenant's submission token bucket, on the Redis clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.typing import EncodableT

from dtq.queue.scripts.library import Call, Library


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of a submission against a tenant's rate limit (for RateLimit-* headers)."""

    admitted: bool
    limit: int  # the bucket size
    remaining: int
    retry_after_ms: int  # 0 when admitted
    reset_ms: int  # until the bucket is full again

    @staticmethod
    def of(bucket: Bucket, reply: list[Any]) -> Admission:
        """An admission from take_tokens's answer (_lib.lua)."""
        admitted, remaining, wait_ms, reset_ms = reply
        return Admission(bool(admitted), bucket.burst, int(remaining), int(wait_ms), int(reset_ms))


@dataclass(frozen=True, slots=True)
class Bucket:
    """`cost` submissions to take from a tenant's token bucket (its Redis key) at its rate."""

    key: str
    rate_per_s: float
    burst: int
    cost: int

    def args(self) -> list[EncodableT]:
        """The script arguments: cost, rate and burst."""
        return [self.cost, repr(self.rate_per_s), self.burst]


class NotAdmitted(Exception):
    """The tenant's rate limit refused a submission; nothing was stored."""

    def __init__(self, admission: Admission) -> None:
        super().__init__("over the submission rate limit")
        self.admission = admission


def admit(lib: Library, bucket: Bucket) -> Call[Admission]:
    """Take the bucket's cost in tokens, or none when they are not all there."""
    return Call(
        lib.script("admit"),
        [bucket.key],
        [repr(bucket.rate_per_s), bucket.burst, bucket.cost],
        lambda reply: Admission.of(bucket, reply),
    )
