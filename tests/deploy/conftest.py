"""Some deploy tests run Debian's nginx or prometheus: without them (a machine without apt) those
are skipped, saying why, unless DTQ_REQUIRE_E2E=1 (.ci/run sets it) makes them fail instead."""

from __future__ import annotations

import os
import shutil

import pytest

from deploy.local.nginx import nginx_binary

NEEDS_NGINX = ("test_nginx.py", "test_rollout.py", "test_compose_services_run_natively")


NEEDS_PROMETHEUS = ("test_prometheus.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("DTQ_REQUIRE_E2E") == "1":
        return
    missing = {
        "nginx": (NEEDS_NGINX, nginx_binary() is None),
        "prometheus": (NEEDS_PROMETHEUS, shutil.which("prometheus") is None),
    }
    for item in items:
        if "tests/deploy/" not in str(item.path):
            continue
        for name, (needs, absent) in missing.items():
            if absent and (item.path.name in needs or item.name in needs):
                item.add_marker(pytest.mark.skip(reason=f"{name} not installed (apt-get install)"))
