"""The dashboard end to end: Redis, the API and a worker as real processes, the built UI
(ui/dist) behind a real nginx with the production configuration (deploy/nginx), driven in
Debian's chromium by Playwright.

The pages run under nginx's Content-Security-Policy (no string eval: waits use `expect`).
`./scripts/test.sh` builds ui/dist first (scripts/ui.sh). Screenshots go to ui/screenshots/.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from deploy.local.nginx import LocalNginx, nginx_binary
from dtq.config import Settings
from dtq.embedded_redis import free_port
from dtq.queue import Engine
from dtq.redis_client import create_redis
from tests.conftest import ROOT, Processes

CHROMIUM = os.environ.get("DTQ_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_DIST = ROOT / "ui" / "dist"
NGINX = nginx_binary()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without Debian's nginx and chromium (a machine without apt) these tests are skipped,
    saying why; DTQ_REQUIRE_E2E=1 (.ci/run sets it) makes them fail instead."""
    missing = [name for name, found in (("nginx", NGINX), ("chromium", Path(CHROMIUM).exists()))
               if not found]  # fmt: skip
    if not missing or os.environ.get("DTQ_REQUIRE_E2E") == "1":
        return
    skip = pytest.mark.skip(reason=f"{' and '.join(missing)} not installed (apt-get install)")
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(skip)


SCREENSHOTS = ROOT / "ui" / "screenshots"


def _nginx(tmp: Path, api_port: int) -> LocalNginx:
    if not (UI_DIST / "index.html").exists():
        raise RuntimeError(
            "ui/dist is missing: build it (./scripts/ui.sh or cd ui && npm run build)"
        )
    nginx = LocalNginx(tmp, free_port(), [f"127.0.0.1:{api_port}"], UI_DIST)
    nginx.start()
    return nginx


class Stack:
    """Redis, an API (restartable on its port), a worker, nginx serving the built UI."""

    def __init__(self, settings: Settings, processes: Processes, engine: Engine, tmp: Path) -> None:
        self.settings = settings
        self.processes = processes
        self.engine = engine
        self.api_port = free_port()
        self.api_url = processes.api(settings, port=self.api_port)
        self.api_proc = processes.procs[-1]
        processes.worker(settings, "--concurrency", "20")
        self.nginx = _nginx(tmp, self.api_port)
        self.url = self.nginx.url

    def stop_api(self) -> None:
        """Stop the API process (nginx and the worker keep running)."""
        self.api_proc.send_signal(signal.SIGTERM)
        self.api_proc.wait(timeout=15)

    def start_api(self) -> None:
        """Start the API again on its port."""
        self.processes.api(self.settings, port=self.api_port)
        self.api_proc = self.processes.procs[-1]

    def close(self) -> None:
        self.nginx.stop()


@pytest.fixture
async def stack_factory(
    make_settings: Callable[..., Settings], processes: Processes, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    made: list[tuple[Stack, Any]] = []

    async def make(**overrides: Any) -> Stack:
        settings = make_settings(**{"AUTH_DISABLED": True, **overrides})
        redis = create_redis(settings)
        engine = Engine(redis, settings)
        await engine.setup()
        stack = Stack(settings, processes, engine, tmp_path / f"nginx{len(made)}")
        made.append((stack, redis))
        return stack

    yield make
    for stack, redis in made:
        stack.close()
        await redis.aclose()


@pytest.fixture
async def stack(stack_factory: Callable[..., Any]) -> Stack:
    s: Stack = await stack_factory()
    return s


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        await b.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    p = await context.new_page()
    yield p
    await context.close()


async def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot as ui/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
