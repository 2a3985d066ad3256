#!/usr/bin/env python3
"""Two applies of one spec at once, the way issue 16 found duplicates: each round starts two
`apply --yes` processes of a fresh deployment (N instances, no security group to collide on)
with their own state files, waits for both, and counts live instances. Then the same with one
shared state file and `--lock-timeout 60`, where both must succeed.

Prints, per mode, the rounds, the exit codes seen (6: refused by the lock), and duplicate and
missing instances.

  python3 bench/race.py [BINARY] [--rounds 10] [--count 5]

BINARY defaults to target/release/geusemaker, else target/debug/geusemaker.
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine as b  # noqa: E402

import boto3  # noqa: E402


def live(ec2, deployment: str) -> int:
    out = ec2.describe_instances(Filters=[
        {"Name": "tag:geusemaker:deployment", "Values": [deployment]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]},
    ])
    return sum(len(r["Instances"]) for r in out["Reservations"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary", nargs="?")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--count", type=int, default=5)
    a = p.parse_args()
    binary = Path(a.binary) if a.binary else b.ROOT / "target/release/geusemaker"
    if not binary.exists():
        binary = b.ROOT / "target/debug/geusemaker"
    work = Path(tempfile.mkdtemp(prefix="gm-race-"))
    moto = b.Moto(work)
    image = b.ami(moto)
    ec2 = boto3.client("ec2", endpoint_url=moto.url, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x")
    base = dict(os.environ, AWS_ENDPOINT_URL=moto.url, AWS_ACCESS_KEY_ID="x",
                AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1")
    try:
        for mode in ("two state files, fail fast", "one state file, --lock-timeout 60"):
            codes = collections.Counter()
            duplicates = missing = 0
            for r in range(a.rounds):
                d = work / f"{mode[:3]}-{r}"
                d.mkdir()
                name = f"race-{mode[:3]}-{r}"
                (d / "spec.yaml").write_text(
                    f"version: 1\ndeployment: {name}\ninstances:\n"
                    f"  - {{name: a, count: {a.count}, type: t3.micro, ami: {image}}}\n")
                extra = ["--lock-timeout", "60"] if "timeout" in mode else []
                procs = []
                for i in range(2):
                    state = d / ("s.db" if extra else f"s{i}.db")
                    env = dict(base, GEUSEMAKER_STATE=str(state))
                    procs.append(subprocess.Popen(
                        [str(binary), "-q", "apply", "-f", "spec.yaml", "--yes", *extra],
                        env=env, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
                for pr in procs:
                    pr.wait()
                    codes[pr.returncode] += 1
                n = live(ec2, name)
                duplicates += max(0, n - a.count)
                missing += max(0, a.count - n)
            print(f"{mode}: {a.rounds} rounds, exit codes {dict(sorted(codes.items()))}, "
                  f"{duplicates} duplicate and {missing} missing instances")
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
