"""deploy/ec2/rollout.py with the real AWS CLI against moto's emulator of EC2, ELBv2 and SSM
(a server on a free port): the calls in order for a 3-instance target group, the rollback and
abort when an instance's health fails, never fewer than one healthy target, the refusals, and
the dry run. The emulator is arranged with boto3; the rollout itself only runs `aws`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from dtq.embedded_redis import free_port
from tests.conftest import ROOT

ROLLOUT = ROOT / "deploy" / "ec2" / "rollout.py"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_env() -> Iterator[dict[str, str]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.1)
    # the AWS CLI comes with the test requirements, beside this interpreter
    yield {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}  # fmt: skip
    proc.terminate()
    proc.wait(timeout=10)


@dataclass
class Fleet:
    """A VPC, instances and a target group they are registered in, in the emulator."""

    env: dict[str, str]
    arn: str
    ids: list[str]
    min_healthy: int = 99
    stop: threading.Event = field(default_factory=threading.Event)

    def client(self, service: str) -> Any:
        return boto3.client(
            service, region_name=REGION, endpoint_url=self.env["AWS_ENDPOINT_URL"],
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

    def commands(self) -> list[dict[str, Any]]:
        """The SSM commands sent to this fleet's instances."""
        ssm = self.client("ssm")
        found = {
            c["CommandId"]: c for i in self.ids for c in ssm.list_commands(InstanceId=i)["Commands"]
        }
        return [c for c in found.values() if set(c["InstanceIds"]) <= set(self.ids)]

    def healthy(self) -> list[str]:
        found = self.client("elbv2").describe_target_health(TargetGroupArn=self.arn)
        return sorted(d["Target"]["Id"] for d in found["TargetHealthDescriptions"]
                      if d["TargetHealth"]["State"] == "healthy")  # fmt: skip

    def watch(self) -> threading.Thread:
        """Track the fewest healthy targets seen, until stop is set."""

        def run() -> None:
            while not self.stop.is_set():
                self.min_healthy = min(self.min_healthy, len(self.healthy()))
                time.sleep(0.02)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def rollout(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, str(ROLLOUT), "--target-group-arn", self.arn, "--release", "r2",
               "--artifact", "s3://releases/dtq-r2.tar.gz", "--poll", "0.05", *args]  # fmt: skip
        watcher = self.watch()
        try:
            return subprocess.run(cmd, env={**os.environ, **self.env}, capture_output=True,
                                  text=True, timeout=180, check=False)  # fmt: skip
        finally:
            self.stop.set()
            watcher.join()


def make_fleet(env: dict[str, str], n: int = 3, http_tokens: str = "required") -> Fleet:
    fleet = Fleet(env, "", [])
    ec2 = fleet.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    found = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=n, MaxCount=n, InstanceType="t3.small", SubnetId=subnet,
        MetadataOptions={"HttpTokens": http_tokens, "HttpEndpoint": "enabled"},
    )  # fmt: skip
    fleet.ids = sorted(i["InstanceId"] for i in found["Instances"])
    elbv2 = fleet.client("elbv2")
    fleet.arn = elbv2.create_target_group(
        Name=f"dtq-{time.time_ns() % 10**9}", Protocol="HTTP", Port=80, VpcId=vpc,
        HealthCheckPath="/api/health/ready", TargetType="instance",
    )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    elbv2.register_targets(TargetGroupArn=fleet.arn, Targets=[{"Id": i} for i in fleet.ids])
    return fleet


def changes(stdout: str) -> list[tuple[str, str]]:
    """(operation, instance) of each mutating call the rollout printed, in order."""
    out = []
    for line in stdout.splitlines():
        m = re.search(r"\$ aws \w+ ([\w-]+) .*?(i-[0-9a-f]+)", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def test_rolls_three_instances_one_at_a_time(moto_env: dict[str, str]) -> None:
    fleet = make_fleet(moto_env)
    done = fleet.rollout("--via", "ssm")
    assert done.returncode == 0, done.stderr
    expected = []
    for i in fleet.ids:
        expected += [("deregister-targets", i), ("send-command", i), ("register-targets", i)]
    assert changes(done.stdout) == expected
    assert fleet.min_healthy == 2  # one out at a time, never fewer
    assert fleet.healthy() == fleet.ids
    commands = fleet.commands()  # the emulator received them (it runs nothing)
    assert {c["Parameters"]["commands"][0] for c in commands} == {
        "sudo /usr/local/bin/dtq-release activate r2 s3://releases/dtq-r2.tar.gz"
    }
    print(done.stdout)


def _fake_ssh(tmp_path: Path, fleet: Fleet, fails: str) -> str:
    """An ssh stand-in playing the instance: `fails` = "box" stops the instance after the
    activation (the load balancer's health check fails) and starts it on rollback; "script"
    exits 1 as dtq-release does when the release fails its readiness (it switched back)."""
    script = tmp_path / "ssh"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys, boto3
        target, command = sys.argv[-2], sys.argv[-1]
        ec2 = boto3.client("ec2", region_name="{REGION}",
                           endpoint_url="{fleet.env['AWS_ENDPOINT_URL']}",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        ip = target.split("@")[1]
        found = ec2.describe_instances(InstanceIds={fleet.ids!r},
                                       Filters=[{{"Name": "private-ip-address", "Values": [ip]}}])
        instance = found["Reservations"][0]["Instances"][0]["InstanceId"]
        with open("{tmp_path}/ssh.log", "a") as log:
            log.write(instance + " " + command + "\\n")
        if "{fails}" == "script" and " activate " in command:
            print("r2 failed readiness; back to r1", file=sys.stderr)
            sys.exit(1)
        if "{fails}" == "box" and " activate " in command:
            ec2.stop_instances(InstanceIds=[instance])
        if " rollback" in command:
            ec2.start_instances(InstanceIds=[instance])
        """))  # fmt: skip
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("fails", ["box", "script"])
def test_a_failing_instance_is_rolled_back_and_the_rollout_stops(
    moto_env: dict[str, str], tmp_path: Path, fails: str
) -> None:
    fleet = make_fleet(moto_env)
    ssh = _fake_ssh(tmp_path, fleet, fails)
    done = fleet.rollout("--via", "ssh", "--ssh-command", ssh, "--health-timeout", "2")
    assert done.returncode == 1
    assert "r2 failed on" in done.stderr and "rolled back" in done.stderr
    first = fleet.ids[0]
    again = [("register-targets", first)] if fails == "box" else []
    assert changes(done.stdout) == [
        ("deregister-targets", first), ("register-targets", first), *again]  # fmt: skip
    ran = (tmp_path / "ssh.log").read_text().splitlines()
    activate = f"{first} sudo /usr/local/bin/dtq-release activate r2 s3://releases/dtq-r2.tar.gz"
    rollback = f"{first} sudo /usr/local/bin/dtq-release rollback"
    # the instance that switched back by itself is not rolled back twice
    assert ran == ([activate, rollback] if fails == "box" else [activate])
    assert fleet.min_healthy >= 2
    assert fleet.healthy() == fleet.ids  # the others untouched, the failed one back in


def test_refuses_to_take_out_the_last_healthy_target(moto_env: dict[str, str]) -> None:
    fleet = make_fleet(moto_env, n=2)
    fleet.client("ec2").stop_instances(InstanceIds=[fleet.ids[1]])
    done = fleet.rollout()
    assert done.returncode == 1
    assert "1 healthy target(s) of 2" in done.stderr
    assert changes(done.stdout) == []


def test_refuses_instances_without_imdsv2(moto_env: dict[str, str]) -> None:
    fleet = make_fleet(moto_env, http_tokens="optional")
    done = fleet.rollout()
    assert done.returncode == 1 and "IMDSv1 is enabled" in done.stderr
    assert changes(done.stdout) == []


def test_dry_run_prints_every_step_and_changes_nothing(moto_env: dict[str, str]) -> None:
    fleet = make_fleet(moto_env)
    done = fleet.rollout("--dry-run")
    assert done.returncode == 0, done.stderr
    assert all(
        line.startswith("[dry-run] ") for line in done.stdout.splitlines() if "$ aws" in line
    )
    assert [op for op, _ in changes(done.stdout)] == [
        "deregister-targets", "send-command", "register-targets"] * 3  # fmt: skip
    assert fleet.commands() == []
    assert fleet.healthy() == fleet.ids
