#!/usr/bin/env python3
"""GeuseMaker vs Terraform on the same work against one moto server.

For each N: N instances (t3.micro) each with a 10 GiB gp3 data volume on /dev/sdf.
Phases: apply, no-op apply, destroy. Reports wall time and AWS requests per phase (requests
are counted from moto's access log, so both tools are measured the same way), and the ratios.

  python3 bench/engine.py                 # N = 4, 20, 100 (Terraform at N=100 takes ~15 min)
  python3 bench/engine.py --sizes 4,20    # quicker
  python3 bench/engine.py --no-terraform  # GeuseMaker only

Needs: moto[server] (scripts/test.sh installs it), terraform with the AWS provider in a local
mirror (default /opt/tf-plugins), and a release build (built here if missing).
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUEST_LINE = re.compile(r'"(GET|POST|PUT|DELETE|HEAD) ')


class Moto:
    """moto on a free loopback port; its access log counts requests."""

    def __init__(self, workdir: Path):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.log = workdir / "moto.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts/moto_launcher.py"), str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.log, "w"),
            text=True,
        )
        line = ""
        while line is not None and not line.startswith("ready"):
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("moto did not start (is moto[server] installed?)")
        self.url = f"http://127.0.0.1:{self.port}"

    def requests(self) -> int:
        with open(self.log) as f:
            return sum(1 for line in f if REQUEST_LINE.search(line))

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def timed(cmd, env, cwd, moto: Moto):
    before = moto.requests()
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    time.sleep(0.2)  # let the access log flush
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return elapsed, moto.requests() - before


def ami(moto: Moto) -> str:
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=moto.url, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
    images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023*x86_64"]}])["Images"]
    return sorted(images, key=lambda i: i["Name"])[-1]["ImageId"]


def geusemaker(n: int, image: str, moto: Moto, work: Path, binary: Path):
    d = work / f"gm-{n}"
    d.mkdir()
    (d / "spec.yaml").write_text(
        f"""version: 1
deployment: bench-{n}
tags: {{bench: "true"}}
instances:
  - name: web
    count: {n}
    type: t3.micro
    ami: {image}
    volumes:
      - {{device: /dev/sdf, size: 10, type: gp3}}
"""
    )
    env = dict(os.environ, AWS_ENDPOINT_URL=moto.url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
               AWS_REGION="us-east-1", GEUSEMAKER_STATE=str(d / "state.db"), AWS_EC2_METADATA_DISABLED="true")
    gm = [str(binary), "-q"]
    return {
        "apply": timed(gm + ["apply", "-f", "spec.yaml", "--yes"], env, d, moto),
        "no-op apply": timed(gm + ["apply", "-f", "spec.yaml", "--yes"], env, d, moto),
        "destroy": timed(gm + ["destroy", "-f", "spec.yaml", "--yes"], env, d, moto),
    }


TF_MAIN = """
terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws" }}
  }}
}}
provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "bench"
  secret_key                  = "bench"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {{
    ec2 = "{url}"
    sts = "{url}"
  }}
}}
resource "aws_instance" "web" {{
  count         = {n}
  ami           = "{ami}"
  instance_type = "t3.micro"
  tags          = {{ Name = "tf-bench-{n}-${{count.index}}", bench = "true" }}
}}
resource "aws_ebs_volume" "data" {{
  count             = {n}
  availability_zone = aws_instance.web[count.index].availability_zone
  size              = 10
  type              = "gp3"
  tags              = {{ bench = "true" }}
}}
resource "aws_volume_attachment" "data" {{
  count       = {n}
  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.data[count.index].id
  instance_id = aws_instance.web[count.index].id
}}
"""


def terraform(n: int, image: str, moto: Moto, work: Path, mirror: str, parallelism=None):
    d = work / f"tf-{n}-{parallelism or 'default'}"
    d.mkdir()
    (d / "main.tf").write_text(TF_MAIN.format(url=moto.url, n=n, ami=image))
    rc = d / "terraformrc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }}\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n'
    )
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    subprocess.run(["terraform", "init", "-input=false", "-no-color"], env=env, cwd=d, check=True, capture_output=True)
    par = [f"-parallelism={parallelism}"] if parallelism else []
    tf = ["terraform"]
    return {
        "apply": timed(tf + ["apply", "-auto-approve", "-input=false", "-no-color"] + par, env, d, moto),
        "no-op apply": timed(tf + ["apply", "-auto-approve", "-input=false", "-no-color"] + par, env, d, moto),
        "destroy": timed(tf + ["destroy", "-auto-approve", "-input=false", "-no-color"] + par, env, d, moto),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="4,20,100")
    ap.add_argument("--no-terraform", action="store_true")
    ap.add_argument("--tf-parallelism-at", type=int, default=100, help="also run Terraform at -parallelism=50 for this N (0: never)")
    ap.add_argument("--mirror", default="/opt/tf-plugins")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    binary = ROOT / "target/release/geusemaker"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "geusemaker"], cwd=ROOT, check=True)
    use_tf = not args.no_terraform and shutil.which("terraform") is not None

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        moto = Moto(work)
        try:
            image = ami(moto)
            for n in sizes:
                print(f"N={n}: geusemaker …", file=sys.stderr, flush=True)
                results[f"geusemaker N={n}"] = geusemaker(n, image, moto, work, binary)
                if use_tf:
                    print(f"N={n}: terraform …", file=sys.stderr, flush=True)
                    results[f"terraform N={n}"] = terraform(n, image, moto, work, args.mirror)
                    if n == args.tf_parallelism_at:
                        print(f"N={n}: terraform -parallelism=50 …", file=sys.stderr, flush=True)
                        results[f"terraform -parallelism=50 N={n}"] = terraform(n, image, moto, work, args.mirror, 50)
        finally:
            moto.stop()

    print("| tool | N | phase | wall time (s) | AWS requests |")
    print("| --- | ---: | --- | ---: | ---: |")
    for key, phases in results.items():
        tool, n = key.rsplit(" N=", 1)
        for phase, (secs, reqs) in phases.items():
            print(f"| {tool} | {n} | {phase} | {secs:.2f} | {reqs} |")
    if use_tf:
        print()
        print("| N | phase | Terraform ÷ GeuseMaker (time) | Terraform -parallelism=50 ÷ GeuseMaker | requests GM / TF |")
        print("| ---: | --- | ---: | ---: | ---: |")
        for n in sizes:
            gm = results[f"geusemaker N={n}"]
            tf = results[f"terraform N={n}"]
            tf50 = results.get(f"terraform -parallelism=50 N={n}")
            for phase in gm:
                ratio = tf[phase][0] / max(gm[phase][0], 1e-9)
                r50 = f"{tf50[phase][0] / max(gm[phase][0], 1e-9):.0f}×" if tf50 else "-"
                print(f"| {n} | {phase} | {ratio:.0f}× | {r50} | {gm[phase][1]} / {tf[phase][1]} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
