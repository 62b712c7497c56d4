"""DTQ as a new user meets it: `pip install <repo>` into a fresh venv, then the README's examples,
exactly as written, from a directory outside the repo, against the installed `dtq` command."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dtq.embedded_redis import free_port
from tests.conftest import ROOT, wait_http_ready

README = (ROOT / "README.md").read_text()
COPY_IGNORE = (
    ".git",
    ".venv",
    ".dtq",
    "build",
    "*.egg-info",
    "node_modules",
    "__pycache__",
    ".*_cache",
)


# The README's two-worker scenario: 1,000 jobs of the user's task, none retried.
THOUSAND = """
from dtq.client import DTQClient
from dtq.models import JobCreate

with DTQClient("http://127.0.0.1:8000") as dtq:
    ids = dtq.submit_many([JobCreate(task_type="send_email", payload={"to": f"u{i}@example.com"},
                                     max_retries=0) for i in range(1000)])
    done = [dtq.wait(job_id, timeout=60) for job_id in ids]
    statuses = [job.status for job in done]
    print(f"succeeded={statuses.count('succeeded')} dead={statuses.count('dead')}")
"""


def readme_block(first_line: str) -> str:
    """The README's ```python block whose first line is `first_line`."""
    for block in re.findall(r"```python\n(.*?)```", README, re.DOTALL):
        if block.startswith(first_line + "\n"):
            return block
    raise AssertionError(f"README has no python block starting {first_line!r}")


def readme_lines(prefix: str) -> list[str]:
    """The README's shell lines starting with `prefix`."""
    return [line for line in README.splitlines() if line.startswith(prefix)]


def readme_command(prefix: str) -> list[str]:
    """The README's one shell line starting with `prefix`, as argv (its comment dropped)."""
    (line,) = readme_lines(prefix)
    return shlex.split(line, comments=True)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with `pip install <repo>` (no editable install, no repo on sys.path)."""
    path = tmp_path_factory.mktemp("venv")
    # A copy of the checkout, as a user's clone would be (a build writes build/ into its source).
    source = tmp_path_factory.mktemp("src") / "dtq"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*COPY_IGNORE))
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    subprocess.run(
        [path / "bin/pip", "install", "-q", "--disable-pip-version-check", str(source)],
        check=True,
        timeout=600,
    )
    return path


def _env(venv: Path, redis_url: str, port: int) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    return env | {
        "REDIS_URL": redis_url,
        "KEY_PREFIX": f"pkg{port}",
        "ENVIRONMENT": "development",
        "AUTH_DISABLED": "true",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }


def test_readme_examples_run_from_a_fresh_install(venv: Path, redis_url: str, tmp_path: Path):
    work = tmp_path / "work"  # outside the repo: nothing of it is importable from here
    (work / "mypkg").mkdir(parents=True)
    (work / "mypkg/tasks.py").write_text(readme_block("# mypkg/tasks.py"))
    port = free_port()
    # The one change to the README's text: its API address, 127.0.0.1:8000, is a free port here.
    for name in ("quickstart.py", "submit.py"):
        block = readme_block(f"# {name}")
        assert "http://127.0.0.1:8000" in block
        (work / name).write_text(block.replace(":8000", f":{port}"))
    (work / "thousand.py").write_text(THOUSAND.replace(":8000", f":{port}"))
    env = _env(venv, redis_url, port)
    python = str(venv / "bin/python")
    probe = subprocess.run(
        [python, "-c", "import dtq, sys; print(dtq.__file__)"], cwd=work, env=env, text=True,
        capture_output=True, check=True,
    )  # fmt: skip
    assert str(venv) in probe.stdout and str(ROOT) not in probe.stdout

    procs: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, cwd=work, env=env)
        procs.append(proc)
        return proc

    def run(script: str) -> str:
        done = subprocess.run(
            [python, script], cwd=work, env=env, text=True, capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        start(["dtq", "api"])
        wait_http_ready(f"http://127.0.0.1:{port}")
        # The quick start's SDK example runs against a worker serving the demo tasks, as
        # run-dev.sh starts it...
        start(["dtq", "worker", "--tasks", "dtq.demo_tasks"])
        assert "succeeded {'hello': 'world'}" in run("quickstart.py")
        # ...and the Tasks section's worker, exactly as written, starts beside it.
        assert readme_command("dtq worker")[:2] == ["dtq", "worker"]
        start(readme_command("dtq worker"))
        assert "'sent_to': 'ada@example.com'" in run("submit.py")
        # Both listen to `default`: 1,000 jobs of the user's task, no retries, all succeed.
        assert run("thousand.py").split() == ["succeeded=1000", "dead=0"]
        # The Queues and Tenants sections' `dtq admin` lines, in order (the key id from
        # create-key's output).
        # The Tenants section's `dtq admin` lines, in order (the key id from create-key's).
        key_id = ""
        for line in readme_lines("dtq admin"):
            argv = shlex.split(line.replace("<key id>", key_id), comments=True)
            done = subprocess.run(argv, cwd=work, env=env, text=True, capture_output=True)
            assert done.returncode == 0, (argv, done.stderr)
            if argv[2] == "create-key":
                key_id = done.stdout.split()[2]  # "created key <id> for tenant acme; ..."
        listed = subprocess.run(
            ["dtq", "admin", "list"], cwd=work, env=env, text=True, capture_output=True
        ).stdout
        assert "acme  rate_per_s=100 burst=200 max_concurrency=5 weight=2" in listed  # replaced
        assert key_id and key_id not in listed  # revoked
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(30)
