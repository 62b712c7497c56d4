"""A real Prometheus (Debian's) scrapes the API and two workers while jobs run, with the scrape
configuration and alert rules of deploy/observability: the workers' counters add up to the jobs
run, the oldest-pending-age gauge rises while no worker runs and falls when one returns, and
every Grafana panel's query is valid PromQL. promtool checks the files."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from dtq.config import Settings
from dtq.embedded_redis import free_port
from dtq.models import JobCreate, TenantCreate
from dtq.queue import Engine
from dtq.redis_client import create_redis
from tests.conftest import ROOT, Processes

OBSERVABILITY = ROOT / "deploy" / "observability"
ADMIN = "p" * 40
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


def test_promtool_checks_the_config_and_rules(tmp_path: Path) -> None:
    assert PROMTOOL, "promtool is not installed (apt-get install prometheus)"
    rules = subprocess.run([PROMTOOL, "check", "rules", str(OBSERVABILITY / "alerts.yml")],
                           capture_output=True, text=True)  # fmt: skip
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    (tmp_path / "key").write_text(ADMIN)
    config["scrape_configs"][0]["authorization"]["credentials_file"] = str(tmp_path / "key")
    config["rule_files"] = [str(OBSERVABILITY / "alerts.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = subprocess.run([PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml")],
                             capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[list[str], list[str]], str]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(apis: list[str], workers: list[str]) -> str:
        assert PROMETHEUS, "prometheus is not installed (apt-get install prometheus)"
        config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(OBSERVABILITY / "alerts.yml")]
        (tmp_path / "key").write_text(ADMIN)
        api_job, worker_job = config["scrape_configs"]
        api_job["authorization"]["credentials_file"] = str(tmp_path / "key")
        api_job["static_configs"] = [{"targets": apis}]
        worker_job["static_configs"] = [{"targets": workers}]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        procs.append(subprocess.Popen(
            [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        return url

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=20)


def wait_ready(url: str, timeout: float = 60) -> None:
    """Waits until Prometheus answers /-/ready with 200 (it says 503 while its TSDB opens)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"Prometheus at {url} not ready within {timeout} s")


def query(url: str, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5)
    if response.status_code == 503:  # not ready (yet): an HTTPError, so wait_value tries again
        response.raise_for_status()
    answer = response.json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def wait_value(url: str, promql: str, ok: Callable[[float], bool], timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        try:
            result = query(url, promql)
        except httpx.HTTPError:
            result = []
        if result:
            value = float(result[0]["value"][1])
            if ok(value):
                return value
        time.sleep(0.5)
    raise AssertionError(f"{promql} = {value} within {timeout} s")


async def test_prometheus_scrapes_api_and_workers(
    make_settings: Callable[..., Settings], processes: Processes, prometheus: Callable[..., str]
) -> None:
    settings = make_settings(AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN, METRICS_CACHE_S=1)
    redis = create_redis(settings)
    engine = Engine(redis, settings)
    await engine.setup()
    await engine.tenants.create(TenantCreate(name="acme", rate_per_s=100_000, burst=100_000))
    api = processes.api(settings).removeprefix("http://")
    ports = [free_port(), free_port()]
    workers = [processes.worker(settings.model_copy(update={"WORKER_METRICS_PORT": p}))
               for p in ports]  # fmt: skip
    url = prometheus([api], [f"127.0.0.1:{p}" for p in ports])
    try:
        await engine.producer.submit_many([JobCreate(task_type="noop") for _ in range(300)], "acme")
        wait_value(url, "sum(dtq_jobs_succeeded_total)", lambda v: v == 300)
        assert wait_value(url, "count(up{job='dtq-worker'} == 1)", lambda v: v == 2) == 2
        assert wait_value(url, "max(dtq_live_workers)", lambda v: v == 2) == 2

        for worker in workers:  # no worker: the oldest pending job ages
            worker.terminate()
            worker.wait(timeout=30)
        await engine.producer.submit_many([JobCreate(task_type="noop") for _ in range(5)], "acme")
        wait_value(url, "max(dtq_oldest_pending_age_seconds)", lambda v: v > 3)
        processes.worker(settings)  # one comes back
        wait_value(url, "max(dtq_oldest_pending_age_seconds)", lambda v: v == 0)

        dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                query(url, target["expr"])  # valid PromQL over these very metrics
    finally:
        await redis.aclose()
