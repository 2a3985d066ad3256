"""The data-lake export as Athena would read it, with DuckDB standing in for Athena.

  lake_check.py URL bucket NAME         creates the bucket
  lake_check.py URL read NAME PREFIX    downloads every object under PREFIX and queries the
                                        Hive-partitioned tables; prints what it found as JSON
"""
import json
import os
import sys
import tempfile

import boto3
import duckdb

url, verb, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
if verb == "bucket":
    s3.create_bucket(Bucket=bucket)
    sys.exit(0)

prefix = sys.argv[4]
root = tempfile.mkdtemp()
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    for o in page.get("Contents", []):
        keys.append(o["Key"])
        if o["Key"].startswith(prefix + "/"):
            path = os.path.join(root, o["Key"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s3.download_file(bucket, o["Key"], path)
base = os.path.join(root, prefix)
db = duckdb.connect()


def rows(sql):
    cur = db.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


out = {"keys": sorted(keys)}
out["resources"] = rows(
    f"SELECT type, id, name, region, account, tags, created IS NOT NULL AS has_created, "
    f"typeof(last_seen) AS seen_type, json_extract_string(raw, '$.Name') AS raw_name "
    f"FROM read_parquet('{base}/resources/*.parquet')")
out["history"] = rows(
    f"SELECT dt, change, type, count(*) AS n FROM read_parquet('{base}/history/*/*.parquet', "
    f"hive_partitioning = true) GROUP BY ALL ORDER BY ALL")
if os.path.isdir(os.path.join(base, "raw")):
    out["raw"] = rows(
        f"SELECT dt, scan, type, id, raw FROM read_json('{base}/raw/*/*/*.json.gz', "
        f"hive_partitioning = true, format = 'newline_delimited')")
print(json.dumps(out, default=str))
