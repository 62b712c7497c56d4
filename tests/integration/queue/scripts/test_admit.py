"""admit.lua: a tenant's submission token bucket on the Redis clock, all or nothing."""

from dtq.queue import Engine
from dtq.queue.scripts.admit import admit


async def test_takes_whole_requests_or_none(engine: Engine) -> None:
    lib = engine.lib
    first = await admit(lib, tenant="acme", rate_per_s=1.0, burst=3, cost=2)
    assert (first.admitted, first.limit, first.remaining, first.retry_after_ms) == (True, 3, 1, 0)
    refused = await admit(lib, tenant="acme", rate_per_s=1.0, burst=3, cost=2)
    assert not refused.admitted and 0 < refused.retry_after_ms <= 1000
    assert refused.remaining == 1  # a refused request takes nothing
    assert (await admit(lib, tenant="acme", rate_per_s=1.0, burst=3, cost=1)).admitted
    # Another tenant has a bucket of its own.
    assert (await admit(lib, tenant="globex", rate_per_s=1.0, burst=3, cost=3)).admitted
    assert 0 < await engine.redis.pttl(engine.keys.submit_bucket("acme")) <= 4000
