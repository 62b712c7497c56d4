import pytest

from dtq.worker.registry import JobContext, TaskRegistry, load_registry


def test_decorator_registers_async_and_sync_handlers() -> None:
    reg = TaskRegistry()

    @reg.task()
    async def a(ctx: JobContext, payload: dict) -> None: ...

    @reg.task("custom.name")
    def b(ctx: JobContext, payload: dict) -> None: ...

    assert reg.names == ["a", "custom.name"]
    task_a, task_b = reg.get("a"), reg.get("custom.name")
    assert task_a is not None and task_a.is_async
    assert task_b is not None and not task_b.is_async


def test_a_name_is_registered_once() -> None:
    reg = TaskRegistry()
    reg.add(lambda ctx, p: None, "x")
    with pytest.raises(ValueError, match="twice"):
        reg.add(lambda ctx, p: None, "x")


def test_load_registry_serves_only_the_modules_given() -> None:
    assert load_registry(["tests.tasks"]).get("noop") is None  # the demo tasks are opt-in
    with pytest.raises(ValueError, match="no task modules"):
        load_registry([])
    reg = load_registry(["dtq.demo_tasks", "tests.tasks"])
    for name in ("noop", "echo", "sleep", "fail", "flaky", "cpu", "record", "sync_double"):
        assert reg.get(name) is not None


def test_a_module_without_registry_is_an_error() -> None:
    with pytest.raises(ValueError, match="no TaskRegistry"):
        load_registry(["dtq.queue.backoff"])
