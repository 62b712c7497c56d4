"""Releases side by side, as on an EC2 instance: releases/<name>/app (the code) and
releases/<name>/release.env (its settings), with a `current` link to the one that runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def make_release(base: Path, name: str, env: dict[str, str] | None = None) -> Path:
    """Copy this checkout's app/ into base/releases/<name> with its settings; the release's
    directory."""
    root = base / "releases" / name
    if root.exists():
        raise FileExistsError(f"release {name} already exists at {root}")
    shutil.copytree(REPO / "app", root / "app", ignore=shutil.ignore_patterns("__pycache__"))
    lines = [f"{k}={v}" for k, v in sorted((env or {}).items())]
    (root / "release.env").write_text("".join(line + "\n" for line in lines))
    return root


def release_env(root: Path) -> dict[str, str]:
    """The release's settings (release.env) and PYTHONPATH pointing at its code."""
    env = {"PYTHONPATH": str(root / "app")}
    for line in (root / "release.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def activate(base: Path, root: Path) -> Path | None:
    """Point base/current at this release (atomically); the release it pointed at before."""
    current = base / "current"
    previous = current.resolve() if current.is_symlink() else None
    tmp = base / "current.new"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(root)
    os.replace(tmp, current)
    return previous
