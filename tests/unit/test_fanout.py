"""gather_all(): the fan-out over shards lets no call outlive its caller, whether a sibling
failed (the others run to their end first) or the caller was canceled (asyncio.gather leaves
the others running in both cases)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from dtq.queue.fanout import gather_all


async def _slow(log: list[str]) -> str:
    try:
        await asyncio.sleep(0.2)
        log.append("finished")
        return "slow"
    except asyncio.CancelledError:
        log.append("canceled")
        raise


async def _failing() -> str:
    await asyncio.sleep(0)
    raise ValueError("shard down")


async def test_results_come_in_order() -> None:
    async def value(n: int) -> int:
        await asyncio.sleep(0.01 * (3 - n))
        return n

    assert await gather_all(value(n) for n in range(3)) == [0, 1, 2]
    assert await gather_all([]) == []


async def test_an_exception_returned_is_a_result() -> None:
    async def found() -> Exception:
        return LookupError("not on this shard")

    (result,) = await gather_all([found()])
    assert isinstance(result, LookupError)


@pytest.mark.parametrize("fan_out", [gather_all, lambda aws: asyncio.gather(*aws)])
async def test_a_failure_is_raised_once_the_others_have_ended(
    fan_out: Callable[[list[Awaitable[str]]], Awaitable[list[str]]],
) -> None:
    log: list[str] = []
    with pytest.raises(ValueError):
        await fan_out([_slow(log), _failing()])
    # asyncio.gather (the second case) shows what this guards against: still running
    assert log == (["finished"] if fan_out is gather_all else [])
    await asyncio.sleep(0.3)


async def test_a_canceled_caller_waits_for_every_call_to_end() -> None:
    """Even a call that swallows its cancellation (as redis-py 8.1 sometimes does) has ended
    by the time the caller's cancellation is raised."""
    log: list[str] = []

    async def stubborn() -> str:
        try:
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                await asyncio.sleep(0.1)  # swallowed: goes on with its call
            return "stubborn"
        finally:
            log.append("stubborn ended")

    async def caller() -> list[str]:
        return await gather_all([_slow(log), stubborn()])

    task = asyncio.create_task(caller())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(log) == ["canceled", "stubborn ended"]
