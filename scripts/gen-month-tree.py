#!/usr/bin/env python3
"""Generate a deterministic month of CloudTrail deliveries for `keytrail search` benchmarks.

Layout (one account, one region, as CloudTrail writes it):

    OUT/AWSLogs/111122223333/CloudTrail/us-east-1/YYYY/MM/DD/
        111122223333_CloudTrail_us-east-1_YYYYMMDDTHHMMZ_<id>.json.gz

starting on 2026-09-01, FILES_PER_DAY deliveries a day at even intervals, each a
gzipped {"Records":[...]} holding RECORDS records from the minutes before its
delivery time. About 90% are KMS calls:

  * Decrypt (the key only in resources[], as CloudTrail writes it);
  * GenerateDataKey with keyId as an alias name or a key ARN;
  * Encrypt with keyId as a key ARN;

each with requestParameters.encryptionContext {"customerId": "cust-<n>",
"department": "<d>"}, n in [0, CUSTOMERS) (default 5000), so one customer appears
in a few dozen events over the month; a few calls fail. The other ~10% are non-KMS
management events (STS, S3, EC2).

Same arguments, same bytes (seeded PRNG, gzip mtime 0). Standard library only.
OUT/manifest (JSON; deliberately not named *.json, so that `keytrail search OUT`
does not try to read it as a log) records the arguments and the totals: files,
records, KMS records, compressed and uncompressed bytes. When OUT already holds the
expected number of log files and a manifest for the same arguments, nothing is
regenerated.

    scripts/gen-month-tree.py [--days 30] [--files-per-day 96] [--records 60]
                              [--customers 5000] [--seed 1] [--out DIR]

DIR defaults to ${TMPDIR:-/tmp}/keytrail-bench/month/.
"""

import argparse
import datetime as dt
import gzip
import json
import os
import random
import sys

ACCOUNT = "111122223333"
REGION = "us-east-1"
START = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
DEPARTMENTS = ["finance", "payroll", "support", "sales", "engineering", "legal"]
ROLES = ["app-server", "billing-api", "report-builder", "etl-worker", "support-portal"]
KEYS = [
    ("0f3c1a52-8b6e-4d1f-9a27-3e5b7c9d2a41", "alias/customer-data"),
    ("9b1c3e5f-7a2d-4c6e-8f1a-3b5d7f9a1c2e", "alias/billing"),
    ("7d2e9b14-5c3a-4f86-b0d1-a9e4c6f83b27", "alias/reports"),
]


def key_arn(key_id):
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def uuid4(rng):
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def identity(rng):
    role = rng.choice(ROLES)
    session = f"i-0{rng.getrandbits(48):012x}"
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE{ROLES.index(role)}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": f"AROAEXAMPLE{ROLES.index(role)}",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-09-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def base(rng, t, source, name):
    return {
        "eventVersion": "1.10",
        "userIdentity": identity(rng),
        "eventTime": ts(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": f"10.0.{rng.randrange(32)}.{rng.randrange(1, 255)}",
        "userAgent": "aws-sdk-java/2.25.0 Linux/5.10 OpenJDK_64-Bit_Server_VM/17",
        "requestID": uuid4(rng),
        "eventID": uuid4(rng),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{source.split('.')[0]}.{REGION}.amazonaws.com",
        },
    }


def kms_record(rng, t, customers):
    key_id, alias = rng.choice(KEYS)
    arn = key_arn(key_id)
    context = {
        "customerId": f"cust-{rng.randrange(customers)}",
        "department": rng.choice(DEPARTMENTS),
    }
    roll = rng.random()
    if roll < 0.6:
        r = base(rng, t, "kms.amazonaws.com", "Decrypt")
        r["requestParameters"] = {
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": context,
        }
    elif roll < 0.85:
        r = base(rng, t, "kms.amazonaws.com", "GenerateDataKey")
        r["readOnly"] = False
        r["requestParameters"] = {
            "keyId": alias if rng.random() < 0.5 else arn,
            "keySpec": "AES_256",
            "encryptionContext": context,
        }
    else:
        r = base(rng, t, "kms.amazonaws.com", "Encrypt")
        r["readOnly"] = False
        r["requestParameters"] = {
            "keyId": arn,
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": context,
        }
    r["responseElements"] = None
    r["resources"] = [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": arn}]
    if rng.random() < 0.01:
        r["errorCode"] = "InvalidCiphertextException" if r["eventName"] == "Decrypt" else "AccessDeniedException"
        r["errorMessage"] = "The request failed."
    return r


def other_record(rng, t):
    kind = rng.randrange(3)
    if kind == 0:
        r = base(rng, t, "sts.amazonaws.com", "AssumeRole")
        r["requestParameters"] = {
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{rng.choice(ROLES)}",
            "roleSessionName": f"session-{rng.randrange(1000)}",
        }
        r["responseElements"] = {"assumedRoleUser": {"assumedRoleId": "AROAEXAMPLE:session"}}
    elif kind == 1:
        r = base(rng, t, "s3.amazonaws.com", "GetBucketEncryption")
        r["requestParameters"] = {"bucketName": "customer-exports", "Host": "customer-exports.s3.amazonaws.com"}
        r["responseElements"] = None
    else:
        r = base(rng, t, "ec2.amazonaws.com", "DescribeInstances")
        r["requestParameters"] = {"instancesSet": {}, "filterSet": {}}
        r["responseElements"] = None
    return r


def delivery_name(at, rng):
    return (
        f"{ACCOUNT}_CloudTrail_{REGION}_{at.strftime('%Y%m%dT%H%MZ')}_"
        f"{''.join(rng.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789') for _ in range(16))}"
        ".json.gz"
    )


def count_logs(out):
    n = 0
    for _dirpath, _dirs, files in os.walk(os.path.join(out, "AWSLogs")):
        n += sum(1 for f in files if f.endswith(".json.gz"))
    return n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--files-per-day", type=int, default=96)
    p.add_argument("--records", type=int, default=60, help="records per file")
    p.add_argument("--customers", type=int, default=5000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--out",
        default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "keytrail-bench", "month"),
    )
    a = p.parse_args()
    for name in ("days", "files_per_day", "records", "customers"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if a.files_per_day > 1440:
        p.error("--files-per-day must be at most 1440 (one a minute)")

    params = {
        "days": a.days,
        "files_per_day": a.files_per_day,
        "records": a.records,
        "customers": a.customers,
        "seed": a.seed,
        "start": ts(START),
    }
    expected = a.days * a.files_per_day
    manifest_path = os.path.join(a.out, "manifest")
    previous = None
    try:
        with open(manifest_path) as f:
            previous = json.load(f)
    except (OSError, ValueError):
        pass
    existing = count_logs(a.out)
    same = isinstance(previous, dict) and previous.get("params") == params
    if same and previous.get("complete") and existing == expected:
        print(f"gen-month-tree: {a.out} already holds {expected} files; not regenerated", file=sys.stderr)
        return 0
    if existing > 0 and not same:
        # Not ours, or made with other arguments: refuse rather than mix two trees.
        print(
            f"gen-month-tree: {a.out} already holds {existing} log files not made with these "
            f"arguments (expected {expected}); delete it or choose another --out",
            file=sys.stderr,
        )
        return 1

    def write_manifest(doc):
        os.makedirs(a.out, exist_ok=True)
        with open(manifest_path + ".tmp", "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        os.replace(manifest_path + ".tmp", manifest_path)

    # An interrupted run leaves "complete": false; the next run rewrites the same files.
    write_manifest({"params": params, "complete": False})

    rng = random.Random(a.seed)
    step = dt.timedelta(seconds=86400 // a.files_per_day)
    totals = {"files": 0, "records": 0, "kms_records": 0, "compressed_bytes": 0, "uncompressed_bytes": 0}
    for d in range(a.days):
        day = START + dt.timedelta(days=d)
        folder = os.path.join(
            a.out, "AWSLogs", ACCOUNT, "CloudTrail", REGION, day.strftime("%Y"), day.strftime("%m"), day.strftime("%d")
        )
        os.makedirs(folder, exist_ok=True)
        for f in range(a.files_per_day):
            at = day + step * f
            # Events from the interval that ends about 5 minutes before delivery.
            first = at - step - dt.timedelta(minutes=5)
            times = sorted(first + dt.timedelta(seconds=rng.uniform(0, step.total_seconds())) for _ in range(a.records))
            records = []
            for t in times:
                if rng.random() < 0.1:
                    records.append(other_record(rng, t))
                else:
                    records.append(kms_record(rng, t, a.customers))
                    totals["kms_records"] += 1
            text = json.dumps({"Records": records}, separators=(",", ":")).encode()
            data = gzip.compress(text, compresslevel=6, mtime=0)
            path = os.path.join(folder, delivery_name(at, rng))
            tmp = path + ".tmp"
            with open(tmp, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
            totals["files"] += 1
            totals["records"] += len(records)
            totals["compressed_bytes"] += len(data)
            totals["uncompressed_bytes"] += len(text)
    write_manifest({"params": params, "complete": True, **totals})
    print(
        f"gen-month-tree: wrote {totals['files']} files, {totals['records']} records "
        f"({totals['uncompressed_bytes'] / 1e6:.1f} MB uncompressed) to {a.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
