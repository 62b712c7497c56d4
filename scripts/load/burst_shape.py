"""The burst scenario's shape (scripts/load.sh burst): a steady base, a spike of 10x the users
for 10 s, the base again, then stop. Scaled by DTQ_BURST_USERS (the base, default 10)."""

from __future__ import annotations

import os

from locust import LoadTestShape

BASE = int(os.environ.get("DTQ_BURST_USERS", "10"))
# (until second, users, spawn rate per second)
STAGES = [(15, BASE, BASE), (25, BASE * 10, BASE * 10), (40, BASE, BASE * 10)]


class BurstShape(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        for until, users, rate in STAGES:
            if elapsed < until:
                return users, rate
        return None
