"""A worker's default name is unique in its process even when its random part repeats: two
consumers sharing a name would share one pending-entries list (a CI run lost that 1 in 65,536
draw: two in-process workers counted as one)."""

from __future__ import annotations

import os
import socket

import pytest

from dtq.worker.runner import default_worker_name


def test_names_in_one_process_differ_even_when_the_random_part_repeats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "urandom", lambda n: b"\x00" * n)
    names = {default_worker_name() for _ in range(100)}
    assert len(names) == 100
    assert all(n.startswith(f"{socket.gethostname()}-{os.getpid()}-0000") for n in names)
