"""The deploy tests run Debian's nginx: without it (a machine without apt) they are skipped,
saying why, unless DTQ_REQUIRE_E2E=1 (.ci/run sets it) makes them fail instead."""

from __future__ import annotations

import os

import pytest

from deploy.local.nginx import nginx_binary

NEEDS_NGINX = ("test_nginx.py", "test_rollout.py", "test_compose_services_run_natively")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if nginx_binary() or os.environ.get("DTQ_REQUIRE_E2E") == "1":
        return
    skip = pytest.mark.skip(reason="nginx not installed (apt-get install nginx)")
    for item in items:
        needs = item.path.name in NEEDS_NGINX or item.name in NEEDS_NGINX
        if "tests/deploy/" in str(item.path) and needs:
            item.add_marker(skip)
