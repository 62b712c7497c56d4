import pytest
from pydantic import ValidationError

from dtq.config import Settings


def test_defaults() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.VISIBILITY_TIMEOUT_MS == 30_000
    assert s.RESULT_TTL_S == 86_400
    assert s.MAX_PAYLOAD_BYTES == 1_048_576
    assert s.lease_interval_s < s.VISIBILITY_TIMEOUT_MS / 1000 / 2


def test_backoff_bounds_are_checked() -> None:
    with pytest.raises(ValidationError, match="MAX_BACKOFF_MS"):
        Settings(_env_file=None, INITIAL_BACKOFF_MS=5000, MAX_BACKOFF_MS=100)  # type: ignore[call-arg]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_RETRIES", "7")
    monkeypatch.setenv("WORKER_TASK_MODULES", "a.tasks, b.tasks,")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.MAX_RETRIES == 7
    assert s.task_modules == ["a.tasks", "b.tasks"]


@pytest.mark.parametrize("prefix", ["", "a:b", "a{b}", "x" * 65, "a b"])
def test_key_prefix_cannot_break_the_key_layout(prefix: str) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, KEY_PREFIX=prefix)  # type: ignore[call-arg]


def test_env_example_lists_every_setting_with_its_default() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    listed = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, _, rest = line.partition("=")
            listed[name] = rest.split("#")[0].strip()
    defaults = Settings(_env_file=None).model_dump()  # type: ignore[call-arg]
    assert set(listed) == set(defaults)
    for name, value in defaults.items():
        expected = "" if value is None else str(value)
        assert listed[name] in (expected, expected.removesuffix(".0")), name


def test_rate_limits_parse_to_intervals() -> None:
    s = Settings(_env_file=None, RATE_LIMITS="send_email=100/m, resize=10/s,odd=7/s")  # type: ignore[call-arg]
    assert s.rate_limits == {"send_email": 600, "resize": 100, "odd": 143}


@pytest.mark.parametrize("value", ["x=10", "x=0/s", "x=10/d", "=10/s", "a b=1/s"])
def test_bad_rate_limits_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="RATE_LIMITS"):
        Settings(_env_file=None, RATE_LIMITS=value)  # type: ignore[call-arg]
