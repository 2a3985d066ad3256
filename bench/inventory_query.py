#!/usr/bin/env python3
"""`inventory list` over 1,000,000 synthetic rows: filtered, sorted pages, timed in the store.

  python3 bench/inventory_query.py [--rows 1000000] [--binary target/release/geusemaker]
                                   [--store sqlite|postgres] [--db FILE] [--url postgres://…]

The rows are written straight into the inventory tables (the schema comes from the binary
itself), spread over 60 types, 20 accounts, 8 regions and 5 statuses, with realistic names, ARNs,
tags and a small raw document. Each query is run 5 times; the table shows the median of the
store's own time (`query_ms`: the COUNT for the pager plus the page) and the process wall time.

`--store postgres` starts a throwaway PostgreSQL (scripts/pg_launcher.py, as the tests do), loads
the same rows with `\copy` (its triggers and indexes, the trigram one included, maintained as
they go) and runs the same pages against `--store postgres://…`; `--url` runs them against a
database a previous run left loaded instead. The server asks for huge pages (`huge_pages=try`):
with `vm.nr_hugepages` reserved, a new connection's first queries skip most of their page
faults on the 1 GB of shared buffers.
"""
import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

QUERIES = [
    ("first page, default sort", []),
    ("one type", ["--type", "ec2:instance"]),
    ("one type, sort by name, page 40", ["--type", "ec2:volume", "--sort", "name", "--page", "40"]),
    ("account + region", ["--account", "100000000007", "--region", "eu-west-1"]),
    ("type + status, newest first", ["--type", "ec2:instance", "--status", "stopped", "--sort", "created"]),
    ("region, sort by last seen", ["--region", "us-west-2", "--sort", "last-seen", "--per-page", "100"]),
    ("search text", ["--search", "payments-7"]),
    ("search + type", ["--search", "web-12", "--type", "ec2:instance"]),
    ("dense search", ["--search", "ec2"]),
    ("dense search, matches sorted last", ["--search", "web", "--sort", "name"]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--binary", default=str(ROOT / "target/release/geusemaker"))
    ap.add_argument("--db", help="keep the filled database here (and reuse it if it exists)")
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--url", help="with --store postgres: an already loaded database")
    args = ap.parse_args()
    binary = Path(args.binary)
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "geusemaker"], cwd=ROOT, check=True)
    if args.store == "postgres" and args.url:
        return run_queries(binary, dict(os.environ), ["--store", args.url], args.rows)
    if args.store == "postgres":
        return postgres(binary, args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "state.db"
        env = dict(os.environ, GEUSEMAKER_STATE=str(db))
        if not db.exists():
            subprocess.run([str(binary), "-q", "inventory", "stats"], env=env, check=True)
            t0 = time.time()
            fill(db, args.rows)
            print(f"{args.rows} rows written in {time.time() - t0:.1f} s; database {db.stat().st_size / 2**20:.0f} MiB", file=sys.stderr)
        # The first open indexes the rows for text search (they were written around the binary).
        t0 = time.time()
        subprocess.run([str(binary), "-q", "inventory", "stats"], env=env, check=True)
        print(f"search index built in {time.time() - t0:.1f} s", file=sys.stderr)
        run_queries(binary, env, [], args.rows)


def run_queries(binary, env, store_args, rows):
    print(f"| query ({rows:,} rows) | matches | store time, median (ms) | process wall, median (ms) |")
    print("| --- | ---: | ---: | ---: |")
    for title, q in QUERIES:
        store_ms, wall_ms, total = [], [], 0
        for _ in range(5):
            t = time.perf_counter()
            out = subprocess.run([str(binary), "-o", "json", "inventory", *store_args, "list", *q], env=env,
                                 check=True, capture_output=True, text=True).stdout
            wall_ms.append((time.perf_counter() - t) * 1000)
            page = json.loads(out)
            store_ms.append(page["query_ms"])
            total = page["total"]
        print(f"| {title} | {total:,} | {statistics.median(store_ms):.1f} | {statistics.median(wall_ms):.1f} |")


def postgres(binary, rows):
    import csv
    port = free_port()
    # shared_buffers as a server for a team would have it (a quarter of a 4 GiB machine), not
    # the 128 MB default, which cannot hold the 1M-row table's pages that a broad search visits.
    launcher = subprocess.Popen([sys.executable, str(ROOT / "scripts/pg_launcher.py"), str(port),
                                 "shared_buffers=1GB", "huge_pages=try"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = launcher.stdout.readline()
        assert line.startswith("ready"), line
        psql = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "gm", "-v", "ON_ERROR_STOP=1"]
        subprocess.run([*psql, "-d", "postgres", "-c", "CREATE DATABASE bench"], check=True, capture_output=True)
        url = f"postgres://gm@127.0.0.1:{port}/bench"
        env = dict(os.environ)
        subprocess.run([str(binary), "-q", "inventory", "--store", url, "stats"], env=env, check=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "rows.csv"
            os.chmod(tmp, 0o755)
            t0 = time.time()
            with open(path, "w", newline="") as f:
                w = csv.writer(f)
                for row in generate(rows):
                    w.writerow(["" if v is None else v for v in row])
            cols = "key, account, region, rtype, id, arn, name, status, created, tags, raw, digest, first_seen, last_seen, last_scan"
            # Empty CSV fields are NULL (status).
            subprocess.run([*psql, "-d", "bench", "-c", f"\\copy inv_resources ({cols}) FROM '{path}' CSV"],
                           check=True, capture_output=True)
            subprocess.run([*psql, "-d", "bench", "-c", "VACUUM ANALYZE inv_resources"], check=True, capture_output=True)
            print(f"{rows} rows loaded in {time.time() - t0:.1f} s", file=sys.stderr)
        run_queries(binary, env, ["--store", url], rows)
    finally:
        launcher.stdin.close()
        launcher.wait(timeout=60)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def generate(rows):
    """The synthetic rows, as `inv_resources` columns (the same seed every run)."""
    rnd = random.Random(42)
    types = [f"svc{i // 6}:kind{i % 6}" for i in range(58)] + ["ec2:instance", "ec2:volume"]
    accounts = [f"1000000000{i:02d}" for i in range(20)]
    regions = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "global"]
    statuses = ["running", "stopped", "available", "in-use", None]
    words = ["web", "api", "payments", "search", "etl", "batch", "ml", "db"]
    for n in range(rows):
        t = types[n % len(types)] if n % 3 else rnd.choice(["ec2:instance", "ec2:volume"])
        a, r = rnd.choice(accounts), rnd.choice(regions)
        rid = f"r-{n:09x}"
        name = f"{rnd.choice(words)}-{rnd.randrange(100)}-{n % 997}"
        created = f"2026-{rnd.randrange(1, 12):02d}-{rnd.randrange(1, 28):02d}T{rnd.randrange(24):02d}:00:00Z"
        seen = f"2026-11-{rnd.randrange(1, 30):02d}T00:00:00.000Z"
        tags = json.dumps({"Name": name, "team": rnd.choice(words)})
        raw = json.dumps({"id": rid, "name": name, "state": {"name": "running"}})
        yield (f"{a}|{r}|{t}|{rid}", a, r, t, rid, f"arn:aws:{t.split(':')[0]}:{r}:{a}:{rid}", name,
               rnd.choice(statuses), created, tags, raw, "d", seen, seen, 1)


def fill(db, rows):
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    batch = []
    for row in generate(rows):
        batch.append(row)
        if len(batch) == 50_000:
            insert(con, batch)
            batch = []
    insert(con, batch)
    con.commit()
    con.execute("ANALYZE")
    con.close()


def insert(con, batch):
    con.executemany(
        "INSERT INTO inv_resources (key, account, region, rtype, id, arn, name, status, created, tags, raw, digest, first_seen, last_seen, last_scan)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)


if __name__ == "__main__":
    main()
