"""Handlers' payload shapes: submissions are checked against the signature before sending."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from dtq import JobContext, TaskRegistry
from dtq.errors import InvalidPayloadError
from dtq.worker.signatures import PayloadShape

tasks = TaskRegistry()


class Point(BaseModel):
    x: int
    y: int = 0


@tasks.task()
async def as_dict(ctx: JobContext, payload: dict[str, Any]) -> None: ...


@tasks.task(queue="geo")
async def as_model(ctx: JobContext, point: Point) -> None: ...


@tasks.task()
def as_kwargs(ctx: JobContext, name: str, times: int = 1) -> None: ...


def test_a_dict_handler_takes_keywords_or_one_dict() -> None:
    assert as_dict.job(a=1).payload == {"a": 1}
    assert as_dict.job({"a": 1}).payload == {"a": 1}
    assert PayloadShape.of(as_dict.__wrapped__).arguments({"a": 1}) == (({"a": 1},), {})


def test_a_model_handler_takes_the_model_or_its_fields() -> None:
    job = as_model.job(Point(x=1))
    assert (job.payload, job.queue, job.task_type) == ({"x": 1, "y": 0}, "geo", "as_model")
    assert as_model.job(x=2, y=3).payload == {"x": 2, "y": 3}
    with pytest.raises(InvalidPayloadError, match="x: Input should be a valid integer"):
        as_model.job(x="not a number")
    (point,), _ = as_model.task.shape.arguments({"x": 5})
    assert point == Point(x=5)


def test_a_keyword_handler_is_checked_against_its_signature() -> None:
    assert as_kwargs.job(name="a").payload == {"name": "a", "times": 1}
    with pytest.raises(InvalidPayloadError, match="name: Field required"):
        as_kwargs.job(times=2)
    with pytest.raises(InvalidPayloadError, match="extra: Extra inputs are not permitted"):
        as_kwargs.job(name="a", extra=1)
    with pytest.raises(InvalidPayloadError, match="by name"):
        as_kwargs.job("a")
    assert as_kwargs.task.shape.arguments({"name": "b", "times": 3}) == (
        (),
        {"name": "b", "times": 3},
    )
    with pytest.raises(InvalidPayloadError, match="does not fit"):
        as_kwargs.task.shape.arguments({"times": 3})


def test_options_apply_to_the_job_and_bad_options_are_refused() -> None:
    job = as_kwargs.options(priority="high", queue="slow", delay_ms=10).job(name="a")
    assert (job.priority, job.queue, job.delay_ms) == ("high", "slow", 10)
    with pytest.raises(InvalidPayloadError, match="invalid job options"):
        as_kwargs.options(max_retries=-1).job(name="a")


def test_a_task_is_still_its_function() -> None:
    assert as_kwargs.__name__ == "as_kwargs" and as_kwargs(None, name="x") is None
    with pytest.raises(TypeError, match="DTQClient"):
        as_kwargs.enqueue(object(), name="x")
