"""repeat(): Redis errors are retried; other errors end the loop, or with carry_on are logged
with their traceback and retried (a loop nobody awaits never dies quietly)."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from dtq.queue import repeat


def failing(*errors: Exception) -> tuple[list[int], object]:
    turns: list[int] = []

    async def step() -> float | None:
        turns.append(1)
        if len(turns) <= len(errors):
            raise errors[len(turns) - 1]
        return None

    return turns, step


async def test_a_redis_error_is_retried_and_another_error_ends_the_loop() -> None:
    turns, step = failing(RedisConnectionError("down"), ValueError("bug"))
    with pytest.raises(ValueError):
        await repeat("probe", step, retry_after_s=0)
    assert len(turns) == 2


async def test_uvloops_closed_socket_error_while_reconnecting_is_a_redis_failure() -> None:
    """redis-py, reconnecting as it handles a ConnectionError, can meet uvloop's RuntimeError
    for a closed transport (a worker's cancel listener died of it as a Sentinel failed over)."""
    try:
        try:
            raise RedisConnectionError("Connection closed by server.")
        except RedisConnectionError:
            raise RuntimeError("unable to perform operation on <TCPTransport closed=True>")  # noqa: B904
    except RuntimeError as exc:
        reconnecting = exc
    turns, step = failing(reconnecting, RuntimeError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):
        await repeat("probe", step, retry_after_s=0)
    assert len(turns) == 2  # retried the first, ended on the second


async def test_carry_on_logs_any_error_with_its_traceback_and_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    turns, step = failing(ValueError("bug"), KeyError("missing"))
    with caplog.at_level(logging.ERROR, logger="dtq.queue.resilience"):
        await repeat("probe", step, retry_after_s=0, carry_on=True)
    assert len(turns) == 3  # two failures, then the step ended the loop itself
    failures = [r for r in caplog.records if "probe failed unexpectedly" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info for r in failures)
