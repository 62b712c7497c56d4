"""A production-shaped stack as local processes: nginx (deploy/nginx) in front of N API
processes and M workers, each run from a release directory, on one Redis. The local rollout and
the load scripts use it; everything listens on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.local.nginx import LocalNginx
from deploy.local.releases import release_env
from dtq.embedded_redis import free_port

TASKS = "dtq.demo_tasks"


class NotReady(RuntimeError):
    """An API process did not answer /health/ready in time."""


@dataclass
class Service:
    """One API or worker process and the release it runs."""

    kind: str
    index: int
    release: Path
    proc: subprocess.Popen[bytes]
    port: int | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class LocalStack:
    """The processes of one stack; `env` holds the settings common to all (REDIS_URL...)."""

    workdir: Path
    env: dict[str, str]
    ui_root: Path
    api_ports: list[int] = field(default_factory=list)
    apis: dict[int, Service] = field(default_factory=dict)
    workers: dict[int, Service] = field(default_factory=dict)
    nginx: LocalNginx | None = None
    worker_args: tuple[str, ...] = ("--concurrency", "50")

    def _spawn(self, kind: str, index: int, release: Path, extra: dict[str, str]) -> Service:
        env = {**os.environ, **self.env, **release_env(release), **extra}
        log = (self.workdir / "logs" / f"{kind}{index}.log").open("ab")
        module = ["-m", "dtq.api"] if kind == "api" else ["-m", "dtq.worker", "--tasks", TASKS]
        args = (
            []
            if kind == "api"
            else [*self.worker_args, "--name", f"worker{index}-{time.time_ns()}"]
        )
        proc = subprocess.Popen([sys.executable, *module, *args], env=env, stdout=log, stderr=log)
        log.close()
        return Service(kind, index, release, proc)

    def start(self, release: Path, apis: int = 2, workers: int = 2, nginx_port: int = 0) -> None:
        """Start every process from `release`, then nginx in front of the APIs."""
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self.api_ports = [free_port() for _ in range(apis)]
        for i in range(apis):
            self.start_api(i, release)
        for i in range(workers):
            self.start_worker(i, release)
        self.nginx = LocalNginx(
            self.workdir / "nginx",
            nginx_port or free_port(),
            self.addresses,
            self.ui_root,
            max_body_bytes=int(self.env.get("MAX_REQUEST_BYTES", 16 * 1024 * 1024)),
        )
        self.nginx.start()

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port in self.api_ports]

    def start_api(self, index: int, release: Path, timeout: float = 20) -> Service:
        """Start API `index` on its port from `release`; NotReady when /health/ready does not
        answer 200 within `timeout` (the process is left running for the caller to stop)."""
        port = self.api_ports[index]
        service = self._spawn("api", index, release, {"HOST": "127.0.0.1", "PORT": str(port)})
        service.port = port
        self.apis[index] = service
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if service.proc.poll() is not None:
                raise NotReady(
                    f"API {index} ({release.name}) exited with {service.proc.returncode}"
                )
            try:
                if (
                    httpx.get(f"http://{service.address}/health/ready", timeout=1).status_code
                    == 200
                ):
                    return service
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise NotReady(f"API {index} ({release.name}) not ready within {timeout} s")

    def start_worker(self, index: int, release: Path) -> Service:
        """Start worker `index` from `release`."""
        service = self._spawn("worker", index, release, {})
        self.workers[index] = service
        return service

    @staticmethod
    def _stop(service: Service, timeout: float) -> float:
        """SIGTERM and wait (SIGKILL after `timeout`); the seconds the drain took."""
        start = time.monotonic()
        if service.proc.poll() is None:
            service.proc.send_signal(signal.SIGTERM)
            try:
                service.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                service.proc.kill()
                service.proc.wait()
                raise TimeoutError(
                    f"{service.kind} {service.index} ignored SIGTERM for {timeout} s"
                ) from exc
        return time.monotonic() - start

    def stop_api(self, index: int, timeout: float = 30) -> float:
        """Stop API `index` gracefully (in-flight requests finish)."""
        return self._stop(self.apis[index], timeout)

    def stop_worker(self, index: int, timeout: float = 60) -> float:
        """Stop worker `index` gracefully (running jobs finish or go back to the stream)."""
        return self._stop(self.workers[index], timeout)

    def close(self) -> None:
        """Stop nginx, then every process (kill what does not stop in time)."""
        if self.nginx:
            self.nginx.stop()
        for service in [*self.apis.values(), *self.workers.values()]:
            if service.proc.poll() is None:
                service.proc.send_signal(signal.SIGTERM)
        for service in [*self.apis.values(), *self.workers.values()]:
            try:
                service.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.proc.kill()
                service.proc.wait()
