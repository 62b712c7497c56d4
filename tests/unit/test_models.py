import pytest
from pydantic import ValidationError

from dtq.models import JobBatchCreate, JobCreate, JobStatus


def test_a_minimal_job() -> None:
    job = JobCreate(task_type="echo")
    assert job.payload == {}
    assert job.max_retries is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"task_type": ""},
        {"task_type": "has space"},
        {"task_type": "x" * 129},
        {"task_type": "echo", "payload": [1, 2]},
        {"task_type": "echo", "payload": "text"},
        {"task_type": "echo", "max_retries": -1},
        {"task_type": "echo", "unknown_field": 1},
        {"task_type": 5},
    ],
)
def test_bad_jobs_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        JobCreate.model_validate(body)


def test_a_batch_holds_one_to_a_thousand_jobs() -> None:
    JobBatchCreate(jobs=[JobCreate(task_type="noop")] * 1000)
    with pytest.raises(ValidationError):
        JobBatchCreate(jobs=[])
    with pytest.raises(ValidationError):
        JobBatchCreate(jobs=[JobCreate(task_type="noop")] * 1001)


def test_terminal_statuses() -> None:
    assert {s for s in JobStatus if s.is_terminal} == {"succeeded", "dead", "canceled"}
