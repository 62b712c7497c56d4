"""The AWS CLI, called as a subprocess with JSON output: the rollout's only way to AWS (so what
it does is what an operator could type, and the tests run the real CLI against an emulator)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

MUTATING = ("deregister-targets", "register-targets", "send-command")


class AwsError(RuntimeError):
    """An `aws` command failed."""


class Aws:
    """Runs `aws <service> <operation> ...`, printing the calls that change something (with
    dry_run, only printing them)."""

    def __init__(
        self, region: str | None = None, dry_run: bool = False, log: Callable[[str], None] = print
    ) -> None:
        found = shutil.which("aws")
        if found is None:
            raise AwsError("the AWS CLI (aws) is not on PATH: pip install awscli")
        self.binary = found
        self.region = region
        self.dry_run = dry_run
        self.log = log
        self.calls: list[str] = []

    def __call__(self, service: str, operation: str, *args: str) -> Any:
        """The command's JSON answer (None for a dry-run mutation or an empty answer)."""
        cmd = [self.binary, service, operation, *args, "--output", "json"]
        if self.region:
            cmd += ["--region", self.region]
        shown = " ".join(["aws", service, operation, *args])
        self.calls.append(shown)
        if operation in MUTATING:
            self.log(f"{'[dry-run] ' if self.dry_run else ''}$ {shown}")
        if self.dry_run and operation in MUTATING:
            return None
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise AwsError(f"{shown}: {done.stderr.strip() or done.returncode}")
        return json.loads(done.stdout) if done.stdout.strip() else None
