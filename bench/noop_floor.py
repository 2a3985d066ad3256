#!/usr/bin/env python3
"""How much of a no-op apply at N=100 is moto's own time: applies 100 instances with data volumes,
then times the three describes GeuseMaker sends (with boto3, directly) and GeuseMaker's no-op.

  python3 bench/noop_floor.py target/release/geusemaker
"""
import os, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine as b
from pathlib import Path
work = Path(tempfile.mkdtemp())
m = b.Moto(work)
img = b.ami(m)
d = work / "gm"; d.mkdir()
(d/"spec.yaml").write_text(f"version: 1\ndeployment: nb\ninstances:\n  - name: web\n    count: 100\n    type: t3.micro\n    ami: {img}\n    volumes:\n      - {{device: /dev/sdf, size: 10, type: gp3}}\n")
env = dict(os.environ, AWS_ENDPOINT_URL=m.url, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1", GEUSEMAKER_STATE=str(d/"s.db"))
binary = sys.argv[1]
subprocess.run([binary, "-q", "apply", "-f", "spec.yaml", "--yes"], env=env, cwd=d, check=True)
import boto3
ec2 = boto3.client("ec2", endpoint_url=m.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
for name, f in [("instances", lambda: ec2.describe_instances(Filters=[{"Name":"tag:geusemaker:deployment","Values":["nb"]},{"Name":"instance-state-name","Values":["pending","running","stopping","stopped"]}], MaxResults=1000)),
                ("instances-nofilter-state", lambda: ec2.describe_instances(Filters=[{"Name":"tag:geusemaker:deployment","Values":["nb"]}])),
                ("volumes", lambda: ec2.describe_volumes(Filters=[{"Name":"tag:geusemaker:deployment","Values":["nb"]}], MaxResults=500)),
                ("sgs", lambda: ec2.describe_security_groups(Filters=[{"Name":"tag:geusemaker:deployment","Values":["nb"]}]))]:
    t=time.perf_counter(); f(); print(name, round(time.perf_counter()-t,3))
for i in range(3):
    t=time.perf_counter(); subprocess.run([binary, "-q", "apply", "-f", "spec.yaml", "--yes"], env=env, cwd=d, check=True); print("gm noop", round(time.perf_counter()-t,3))
t=time.perf_counter(); subprocess.run([binary, "-q", "list"], env=env, cwd=d, check=True); print("gm list (no AWS)", round(time.perf_counter()-t,3))
m.stop()
