#!/usr/bin/env python3
"""Rolling update of DTQ on EC2 instances behind an ALB/NLB target group.

    python deploy/ec2/rollout.py --target-group-arn arn:aws:elasticloadbalancing:... \\
        --release 2026-11-25.1 --artifact s3://my-bucket/dtq-2026-11-25.1.tar.gz [--batch 1] \\
        [--via ssm|ssh] [--dry-run]

For each instance in turn (--batch at a time): deregister it from the target group and wait
until it has drained; stop its workers gracefully, install and start the release, wait for
/health/ready on the instance (all by `dtq-release activate` there, through SSM or SSH); register
it again and wait until the target group says healthy (TargetHealth.State); then the next. When
the release fails there, the instance is rolled back (`dtq-release rollback`), registered again,
and the rollout stops with exit status 1. It never takes out the last healthy targets: a batch
goes only while at least one other target is healthy. Every instance must require IMDSv2
(MetadataOptions.HttpTokens=required). --dry-run reads the target group and prints each step
without changing anything. Uses the AWS CLI (its credentials, region and AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `deploy` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from deploy.ec2.aws import Aws, AwsError

TERMINAL_SSM = {"Success", "Failed", "Cancelled", "TimedOut", "Cancelling"}


class RolloutError(RuntimeError):
    """The rollout stopped; what and where is in the message."""


@dataclass
class Options:
    target_group_arn: str
    release: str
    artifact: str
    batch: int = 1
    via: str = "ssm"
    ssh_user: str = "ubuntu"
    ssh_command: str = "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
    drain_timeout: float = 600
    health_timeout: float = 300
    command_timeout: float = 600
    poll_s: float = 5


class Rollout:
    """One rollout of `options.release` over the target group's instances."""

    def __init__(self, aws: Aws, options: Options, log: Callable[[str], None] = print) -> None:
        self.aws = aws
        self.o = options
        self.log = log

    # --- reading the target group -------------------------------------------------------

    def health(self, ids: list[str] | None = None) -> dict[str, str]:
        """Target id -> TargetHealth.State (healthy, initial, draining, unused, unhealthy...)."""
        args = ["--target-group-arn", self.o.target_group_arn]
        if ids:
            args += ["--targets", *(f"Id={i}" for i in ids)]
        answer = self.aws("elbv2", "describe-target-health", *args)
        return {
            d["Target"]["Id"]: d["TargetHealth"]["State"]
            for d in answer["TargetHealthDescriptions"]
        }

    def instances(self, ids: list[str]) -> dict[str, dict[str, str]]:
        """Instance id -> its private IP and IMDS token setting."""
        answer = self.aws("ec2", "describe-instances", "--instance-ids", *ids)
        found = {}
        for reservation in answer["Reservations"]:
            for inst in reservation["Instances"]:
                found[inst["InstanceId"]] = {
                    "ip": inst.get("PrivateIpAddress", ""),
                    "http_tokens": inst.get("MetadataOptions", {}).get("HttpTokens", "optional"),
                }
        return found

    def _wait(self, what: str, timeout: float, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self.aws.dry_run:
                return
            if time.monotonic() > deadline:
                raise RolloutError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(self.o.poll_s)

    # --- on the instance ----------------------------------------------------------------

    def on_instance(self, instance: str, ip: str, *args: str) -> None:
        """Run `dtq-release <args>` on the instance (SSM Run Command or SSH); RolloutError when
        it fails."""
        command = "sudo /usr/local/bin/dtq-release " + " ".join(shlex.quote(a) for a in args)
        if self.o.via == "ssh":
            cmd = [*shlex.split(self.o.ssh_command), f"{self.o.ssh_user}@{ip}", command]
            self.log(f"{instance}: ssh {self.o.ssh_user}@{ip} {command}")
            if self.aws.dry_run:
                return
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RolloutError(f"{instance}: `{command}` failed: {done.stderr.strip()[-500:]}")
            return
        params = json.dumps({"commands": [command]})
        sent = self.aws(
            "ssm", "send-command", "--instance-ids", instance,
            "--document-name", "AWS-RunShellScript", "--parameters", params,
            "--timeout-seconds", str(int(self.o.command_timeout)),
            "--comment", f"dtq rollout {self.o.release}"[:100],
        )  # fmt: skip
        if sent is None:  # dry run
            return
        command_id = sent["Command"]["CommandId"]
        status = {"Status": "Pending"}

        def finished() -> bool:
            nonlocal status
            try:
                status = self.aws(
                    "ssm", "get-command-invocation",
                    "--command-id", command_id, "--instance-id", instance,
                )  # fmt: skip
            except AwsError as exc:  # not yet delivered
                if "InvocationDoesNotExist" not in str(exc):
                    raise
                return False
            return status["Status"] in TERMINAL_SSM

        self._wait(f"{instance}: {command}", self.o.command_timeout, finished)
        if status["Status"] != "Success":
            detail = status.get("StandardErrorContent", "")[-500:]
            raise RolloutError(f"{instance}: `{command}` ended {status['Status']}: {detail}")

    # --- the procedure ------------------------------------------------------------------

    def preflight(self) -> tuple[list[str], dict[str, dict[str, str]]]:
        """The instances to roll, in order; refuses what would break the guarantees."""
        states = self.health()
        ids = sorted(states)
        if not ids:
            raise RolloutError("the target group has no targets")
        if not all(i.startswith("i-") for i in ids):
            raise RolloutError("the target group's targets must be EC2 instances (type instance)")
        info = self.instances(ids)
        imdsv1 = [i for i in ids if info[i]["http_tokens"] != "required"]
        if imdsv1:
            raise RolloutError(
                f"IMDSv1 is enabled on {', '.join(imdsv1)}: require IMDSv2 first "
                "(aws ec2 modify-instance-metadata-options --http-tokens required ...)"
            )
        healthy = [i for i in ids if states[i] == "healthy"]
        if len(healthy) <= self.o.batch:
            raise RolloutError(
                f"{len(healthy)} healthy target(s) of {len(ids)}: a batch of {self.o.batch} "
                "would leave none to serve; add instances or fix them first"
            )
        self.log(f"{len(ids)} targets, {len(healthy)} healthy: {', '.join(ids)}")
        return ids, info

    def _keep_one_healthy(self, batch: list[str]) -> None:
        states = self.health()
        others = [i for i, s in states.items() if s == "healthy" and i not in batch]
        if not others:
            raise RolloutError(f"refusing to take out {', '.join(batch)}: no other healthy target")

    def _register_and_wait(self, batch: list[str]) -> None:
        targets = [f"Id={i}" for i in batch]
        self.aws("elbv2", "register-targets", "--target-group-arn", self.o.target_group_arn,
                 "--targets", *targets)  # fmt: skip
        self._wait(
            f"{', '.join(batch)} to be healthy",
            self.o.health_timeout,
            lambda: all(s == "healthy" for s in self.health(batch).values()),
        )

    def roll_batch(self, batch: list[str], info: dict[str, dict[str, str]]) -> None:
        """Out, new release, in; on failure roll these instances back and raise."""
        self._keep_one_healthy(batch)
        names = ", ".join(batch)
        self.aws("elbv2", "deregister-targets", "--target-group-arn", self.o.target_group_arn,
                 "--targets", *(f"Id={i}" for i in batch))  # fmt: skip
        self._wait(
            f"{names} to drain",
            self.o.drain_timeout,
            lambda: all(s in ("unused", "unavailable") for s in self.health(batch).values()),
        )
        self.log(f"{names}: drained")
        activated: list[str] = []
        try:
            for i in batch:
                self.on_instance(i, info[i]["ip"], "activate", self.o.release, self.o.artifact)
                activated.append(i)
            self._register_and_wait(batch)
        except (RolloutError, AwsError) as exc:
            # an instance whose `activate` failed has switched back by itself; the others
            # run the new release and go back to the previous one
            self.log(f"{names}: {exc}; rolling back")
            for i in activated:
                self.on_instance(i, info[i]["ip"], "rollback")
            self._register_and_wait(batch)
            raise RolloutError(f"{self.o.release} failed on {names} (rolled back): {exc}") from exc
        self.log(f"{names}: {self.o.release} in service")

    def run(self) -> None:
        """The whole rollout; RolloutError when it stopped."""
        ids, info = self.preflight()
        for start in range(0, len(ids), self.o.batch):
            self.roll_batch(ids[start : start + self.o.batch], info)
        self.log(f"done: {len(ids)} instance(s) on {self.o.release}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog="Exit status: 0 done, 1 stopped, 2 usage."
    )
    parser.add_argument("--target-group-arn", required=True)
    parser.add_argument("--release", required=True, help="a name: [A-Za-z0-9._-]+")
    parser.add_argument("--artifact", required=True, help="s3:// or https:// URL of the tarball")
    parser.add_argument("--batch", type=int, default=1, help="instances at a time (default 1)")
    parser.add_argument("--via", choices=["ssm", "ssh"], default="ssm")
    parser.add_argument("--ssh-user", default="ubuntu")
    parser.add_argument("--ssh-command", default=Options.ssh_command)
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument("--health-timeout", type=float, default=300)
    parser.add_argument("--poll", type=float, default=5, help="seconds between checks")
    parser.add_argument("--region")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.batch < 1 or not all(c.isalnum() or c in "._-" for c in args.release):
        parser.error("--batch must be >= 1 and --release only letters, digits and ._-")
    options = Options(
        args.target_group_arn, args.release, args.artifact, args.batch, args.via,
        args.ssh_user, args.ssh_command, args.drain_timeout, args.health_timeout,
        poll_s=args.poll,
    )  # fmt: skip
    try:
        Rollout(Aws(args.region, args.dry_run), options).run()
    except (RolloutError, AwsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
