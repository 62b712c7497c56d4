"""The rolling update of deploy/ec2, as local processes: for each API in turn, drain it from
nginx's upstream (reload, old workers finish), stop it, start the new release, wait for
/health/ready, put it back; then SIGTERM-drain each worker and start it from the new release.
A release whose API never gets ready is stopped and the previous one started again."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from deploy.local.stack import LocalStack, NotReady


class RolledBack(RuntimeError):
    """The new release failed its readiness on an API; that API runs the previous one again."""


class LocalRollout:
    """Rolls a LocalStack from release to release, one instance at a time."""

    def __init__(
        self, stack: LocalStack, log: Callable[[str], None] = print, ready_timeout: float = 20
    ) -> None:
        self.stack = stack
        self.log = log
        self.ready_timeout = ready_timeout
        self.steps: list[tuple[float, str]] = []

    def _step(self, what: str) -> None:
        self.steps.append((time.time(), what))
        self.log(what)

    def _others_ready(self, index: int) -> None:
        """Never take an API out unless another one is ready to take its traffic."""
        for other, service in self.stack.apis.items():
            if other == index:
                continue
            try:
                url = f"http://{service.address}/health/ready"
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                continue
        raise RuntimeError(f"refusing to drain API {index}: no other API instance is ready")

    def roll_api(self, index: int, release: Path) -> None:
        """Replace API `index` with `release`; RolledBack when that release is not ready."""
        nginx = self.stack.nginx
        assert nginx is not None
        address = self.stack.addresses[index]
        previous = self.stack.apis[index].release
        self._others_ready(index)
        old = nginx.reload(self.stack.addresses, down=frozenset({address}))
        waited = nginx.wait_gone(old)
        self._step(f"api{index}: drained from nginx ({waited:.1f} s for old nginx workers)")
        took = self.stack.stop_api(index)
        self._step(f"api{index}: stopped ({took:.1f} s)")
        try:
            self.stack.start_api(index, release, timeout=self.ready_timeout)
        except NotReady as exc:
            self._step(f"api{index}: {release.name} failed readiness ({exc}); rolling back")
            self.stack.stop_api(index)
            self.stack.start_api(index, previous, timeout=self.ready_timeout)
            nginx.reload(self.stack.addresses)
            self._step(f"api{index}: {previous.name} again, back in nginx")
            raise RolledBack(f"{release.name} failed readiness on api{index}") from exc
        nginx.reload(self.stack.addresses)
        self._step(f"api{index}: {release.name} ready, back in nginx")

    def roll_worker(self, index: int, release: Path) -> None:
        """SIGTERM worker `index` (it finishes or hands back its jobs), start `release`."""
        took = self.stack.stop_worker(index)
        self._step(f"worker{index}: drained and stopped ({took:.1f} s)")
        self.stack.start_worker(index, release)
        self._step(f"worker{index}: {release.name} started")

    def roll(self, release: Path) -> None:
        """Every API, then every worker, one at a time; stops at the first RolledBack."""
        self._step(f"rollout to {release.name}: begin")
        for index in sorted(self.stack.apis):
            self.roll_api(index, release)
        for index in sorted(self.stack.workers):
            self.roll_worker(index, release)
        self._step(f"rollout to {release.name}: done")
