#!/usr/bin/env python3
"""Deploy and destroy of the dev-tier AI stack against moto: wall time and AWS requests.

  python3 bench/stack.py [--runs 3]

Requests are counted from moto's access log. The peer figure (from the stack issue): the Python
tool the requirements describe needs 3.7 s and 68 requests to deploy its dev tier against moto,
and its destroy leaves the VPC behind.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine  # noqa: E402  (the shared moto harness)

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    binary = ROOT / "target/release/geusemaker"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "geusemaker"], cwd=ROOT, check=True)
    print("| run | phase | wall time (s) | AWS requests | left in AWS after destroy |")
    print("| ---: | --- | ---: | ---: | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        moto = engine.Moto(work)
        try:
            for run in range(1, args.runs + 1):
                env = dict(os.environ, AWS_ENDPOINT_URL=moto.url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                           AWS_REGION="us-east-1", GEUSEMAKER_STATE=str(work / f"state-{run}.db"), AWS_EC2_METADATA_DISABLED="true")
                name = f"bench-dev-{run}"
                gm = [str(binary), "-q"]
                t, n = engine.timed(gm + ["deploy", "--tier", "dev", "--name", name, "--ssh-cidr", "203.0.113.7/32", "--yes"], env, work, moto)
                print(f"| {run} | deploy | {t:.2f} | {n} | |")
                t, n = engine.timed(gm + ["destroy", name, "--yes"], env, work, moto)
                left = leftovers(moto, name)
                print(f"| {run} | destroy | {t:.2f} | {n} | {left or 'nothing'} |")
        finally:
            moto.stop()


def leftovers(moto, name):
    import boto3

    kw = dict(endpoint_url=moto.url, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
    ec2 = boto3.client("ec2", **kw)
    tag = [{"Name": "tag:geusemaker:deployment", "Values": [name]}]
    live = [i for r in ec2.describe_instances(Filters=tag)["Reservations"] for i in r["Instances"] if i["State"]["Name"] != "terminated"]
    vols = ec2.describe_volumes(Filters=tag)["Volumes"]
    sgs = ec2.describe_security_groups(Filters=tag)["SecurityGroups"]
    roles = boto3.client("iam", **kw).list_roles(PathPrefix=f"/geusemaker/{name}/")["Roles"]
    params = boto3.client("ssm", **kw).get_parameters_by_path(Path=f"/geusemaker/{name}")["Parameters"]
    out = []
    for what, items in [("instances", live), ("volumes", vols), ("groups", sgs), ("roles", roles), ("secrets", params)]:
        if items:
            out.append(f"{len(items)} {what}")
    return ", ".join(out)


if __name__ == "__main__":
    main()
