#!/usr/bin/env python3
"""`inventory scan` of 10,000+ resources against moto: wall time, resources per second, AWS
requests, peak memory, and how much of what was seeded the scan found.

  python3 bench/inventory_scan.py [--per-part 150] [--binary target/release/geusemaker]

Seeds two accounts (the caller's and an organization member entered through AssumeRole) and two
regions with the same 17 list calls' types the peer's figure uses (EC2 volumes, snapshots,
security groups, key pairs, VPCs, subnets, route tables, internet gateways, launch templates,
network interfaces; SSM parameters, SQS queues, SNS topics, CloudWatch log groups, DynamoDB
tables, EventBridge rules; IAM users, global), then scans them twice: once one account in one
region, once everything, to show memory staying flat as accounts × regions grow. Requests are
counted from moto's access log; peak RSS is `/usr/bin/time -v`'s.

The peer, measured on the same moto by the issue's author (not re-run here: it is not on PyPI):
aws-auto-inventory, given 10,083 resources of 17 list calls' types in two regions, finds 5,735
(57 %: it never paginates) in 5.3 s at 318 MiB peak RSS.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine  # noqa: E402  (the shared moto harness)

ROOT = Path(__file__).resolve().parent.parent
TYPES = ["ec2:volume", "ec2:snapshot", "ec2:security-group", "ec2:key-pair", "ec2:vpc", "ec2:subnet",
         "ec2:route-table", "ec2:internet-gateway", "ec2:launch-template", "ec2:network-interface",
         "ssm:parameter", "sqs:queue", "sns:topic", "logs:log-group", "dynamodb:table", "events:rule",
         "iam:user"]


def clients(url, region, creds):
    import boto3
    kw = dict(endpoint_url=url, region_name=region, **creds)
    return {s: boto3.client(s, **kw) for s in ["ec2", "ssm", "sqs", "sns", "logs", "dynamodb", "events", "iam", "sts", "organizations"]}


def seed_part(url, region, creds, prefix, n, with_iam):
    """n resources of each regional type (IAM users once per account)."""
    c = clients(url, region, creds)
    ec2 = c["ec2"]
    seeded = {}
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    zone = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["AvailabilityZone"]
    vol0 = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    seeded["ec2:vpc"] = 1
    seeded["ec2:subnet"] = 1
    seeded["ec2:volume"] = 1
    for i in range(n):
        p = f"{prefix}-{i}"
        ec2.create_volume(Size=1, AvailabilityZone=zone)
        ec2.create_snapshot(VolumeId=vol0)
        ec2.create_security_group(GroupName=p, Description="bench", VpcId=vpc)
        ec2.create_key_pair(KeyName=p)
        ec2.create_route_table(VpcId=vpc)
        ec2.create_internet_gateway()
        ec2.create_launch_template(LaunchTemplateName=p, LaunchTemplateData={"InstanceType": "t3.micro"})
        ec2.create_network_interface(SubnetId=subnet)
        c["ssm"].put_parameter(Name=f"/{prefix}/{i}", Value="v", Type="String")
        c["sqs"].create_queue(QueueName=p)
        c["sns"].create_topic(Name=p)
        c["logs"].create_log_group(logGroupName=f"/{prefix}/{i}")
        c["dynamodb"].create_table(TableName=p, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        c["events"].put_rule(Name=p, ScheduleExpression="rate(1 day)")
        if with_iam:
            c["iam"].create_user(UserName=p)
    for t in ["ec2:volume", "ec2:snapshot", "ec2:security-group", "ec2:key-pair", "ec2:route-table", "ec2:internet-gateway",
              "ec2:launch-template", "ec2:network-interface", "ssm:parameter", "sqs:queue", "sns:topic", "logs:log-group",
              "dynamodb:table", "events:rule"]:
        seeded[t] = seeded.get(t, 0) + n
    if with_iam:
        seeded["iam:user"] = n
    return seeded


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-part", type=int, default=150, help="resources of each type per account and region")
    ap.add_argument("--binary", default=str(ROOT / "target/release/geusemaker"))
    args = ap.parse_args()
    binary = Path(args.binary)
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "geusemaker"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        moto = engine.Moto(work)
        try:
            base = dict(aws_access_key_id="bench", aws_secret_access_key="bench")
            c = clients(moto.url, "us-east-1", base)
            c["organizations"].create_organization(FeatureSet="ALL")
            member = c["organizations"].create_account(Email="m@example.org", AccountName="member")["CreateAccountStatus"]["AccountId"]
            cr = c["sts"].assume_role(RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="seed")["Credentials"]
            member_creds = dict(aws_access_key_id=cr["AccessKeyId"], aws_secret_access_key=cr["SecretAccessKey"], aws_session_token=cr["SessionToken"])
            parts = [(r, creds, i == 0) for creds in (base, member_creds) for i, r in enumerate(["us-east-1", "us-west-2"])]
            with ThreadPoolExecutor(4) as pool:
                results = list(pool.map(lambda p: seed_part(moto.url, p[0], p[1], "bench", args.per_part, p[2]), parts))
            seeded = sum(sum(r.values()) for r in results)
            print(f"seeded {seeded:,} resources of {len(TYPES)} types in 2 accounts x 2 regions", file=sys.stderr)
            env = dict(os.environ, AWS_ENDPOINT_URL=moto.url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                       AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
            types = ",".join(TYPES)
            print("| scan | resources found | of them seeded | wall (s) | resources/s | AWS requests | peak RSS (MiB) |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
            total_by_type = {}
            for r in results:
                for t, k in r.items():
                    total_by_type[t] = total_by_type.get(t, 0) + k
            for title, extra, want in [
                ("1 account x 1 region", ["--regions", "us-east-1"], results[0]),
                ("2 accounts x 2 regions", ["--accounts", "all", "--regions", "us-east-1,us-west-2"], total_by_type),
            ]:
                env["GEUSEMAKER_STATE"] = str(work / f"{len(extra)}.db")
                before = moto.requests()
                out = subprocess.run(["/usr/bin/time", "-v", str(binary), "-o", "json", "inventory", "scan", "--types", types, *extra],
                                     env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    raise SystemExit(out.stderr)
                time.sleep(0.3)
                requests = moto.requests() - before
                summary = json.loads(out.stdout)
                rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1)) / 1024
                wall = summary["duration_ms"] / 1000
                found = summary["found"]
                # What the scan found of the seeded resources (moto's defaults — default VPCs,
                # their subnets, groups — come on top and are counted in "found").
                mine = count_seeded(binary, env, "bench", want)
                print(f"| {title} | {found:,} | {mine:,} / {sum(want.values()):,} | {wall:.2f} | {found / wall:,.0f} | {requests:,} | {rss:.0f} |")
                if summary["errors"]:
                    print(f"errors: {summary['errors']}", file=sys.stderr)
        finally:
            moto.stop()


def count_seeded(binary, env, prefix, want):
    """Per type, how many of the seeded resources the scan has: exact (by the name prefix) where
    the resource carries a name we chose, else the type's count capped at what was seeded (moto's
    own resources — default VPCs, its AMIs' snapshots — come on top)."""
    named = ("ssm:parameter", "sqs:queue", "sns:topic", "logs:log-group", "dynamodb:table", "events:rule", "iam:user",
             "ec2:security-group", "ec2:key-pair", "ec2:launch-template")
    n = 0
    for t, seeded in want.items():
        q = [str(binary), "-o", "json", "inventory", "list", "--type", t, "--per-page", "25"]
        if t in named:
            q += ["--search", prefix]
        found = json.loads(subprocess.run(q, env=env, capture_output=True, text=True, check=True).stdout)["total"]
        if found < seeded:
            print(f"  {t}: {found} found of {seeded} seeded", file=sys.stderr)
        n += min(found, seeded)
    return n


if __name__ == "__main__":
    main()
