"""The face of admit.lua: a tenant's submission token bucket, on the Redis clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dtq.queue.scripts.library import Call, Library


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of a submission against a tenant's rate limit (for RateLimit-* headers)."""

    admitted: bool
    limit: int  # the bucket size
    remaining: int
    retry_after_ms: int  # 0 when admitted
    reset_ms: int  # until the bucket is full again


def admit(
    lib: Library, *, tenant: str, rate_per_s: float, burst: int, cost: int
) -> Call[Admission]:
    """Take `cost` tokens from the tenant's bucket, or none when they are not all there."""

    def decode(reply: list[Any]) -> Admission:
        admitted, remaining, wait_ms, reset_ms = reply
        return Admission(bool(admitted), burst, int(remaining), int(wait_ms), int(reset_ms))

    return Call(
        lib.script("admit"),
        [lib.keys.submit_bucket(tenant)],
        [repr(rate_per_s), burst, cost],
        decode,
    )
