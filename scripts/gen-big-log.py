#!/usr/bin/env python3
"""Generate a large, deterministic, synthetic CloudTrail log for throughput tests.

The output is one CloudTrail document, {"Records":[...]}, gzip-compressed as several
concatenated gzip members (as some writers produce). Member boundaries fall at fixed
uncompressed byte offsets, i.e. usually in the middle of a record, so a reader must
treat the members as one continuous stream.

Records are realistic KMS traffic with some noise:
  * Decrypt whose request names no key (the key appears only in resources[]),
    often called by S3/other services on a principal's behalf;
  * GenerateDataKey and Encrypt, with keyId as ARN, key id or alias;
  * a few other KMS calls (DescribeKey, ReEncrypt, a scheduled RotateKey service event);
  * failed calls (AccessDenied, InvalidCiphertextException, DisabledException,
    KMSInvalidStateException, ThrottlingException);
  * non-KMS management events (STS, EC2, S3, IAM, Lambda).

Same arguments, same bytes (gzip mtime is 0). Python standard library only.

    scripts/gen-big-log.py [--size-mb 200] [--seed 1] [--member-mb 32] [OUTPUT]

OUTPUT defaults to ${TMPDIR:-/tmp}/keytrail-bench/cloudtrail-<size>mb-seed<seed>.json.gz.
The file is written under a temporary name and renamed at the end, so an
interrupted run never leaves a truncated file behind.
"""

import argparse
import datetime as dt
import gzip
import json
import os
import random
import sys
import time

MB = 1_000_000

ACCOUNT = "111122223333"
OTHER_ACCOUNTS = ["444455556666", "777788889999"]
REGIONS = ["us-east-1"] * 6 + ["eu-west-1"] * 3 + ["ap-southeast-2"]
START = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def hexid(rng, n):
    return "%0*x" % (n, rng.getrandbits(4 * n))


def uuid4(rng):
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def alnum_upper(rng, n):
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(n))


class World:
    """The fixed cast: keys, aliases, roles, users, buckets."""

    def __init__(self, rng):
        self.keys = []  # (region, account, key_id, alias or None)
        for i in range(40):
            region = REGIONS[i % len(REGIONS)]
            account = ACCOUNT if i < 34 else OTHER_ACCOUNTS[i % 2]
            alias = f"alias/app-{i:02d}" if i % 3 == 0 else None
            self.keys.append((region, account, uuid4(rng), alias))
        # Zipf-ish popularity: a few keys take most of the traffic.
        self.key_weights = [1.0 / (i + 1) for i in range(len(self.keys))]
        self.roles = [
            ("orders-api", ACCOUNT),
            ("billing-worker", ACCOUNT),
            ("etl-glue-job", ACCOUNT),
            ("lambda-thumbnailer", ACCOUNT),
            ("analytics-reader", OTHER_ACCOUNTS[0]),
            ("backup-operator", ACCOUNT),
            ("ci-deployer", ACCOUNT),
        ]
        self.role_ids = {name: "AROA" + alnum_upper(rng, 17) for name, _ in self.roles}
        self.users = [("alice", ACCOUNT), ("bob", ACCOUNT), ("legacy-batch", ACCOUNT)]
        self.user_ids = {name: "AIDA" + alnum_upper(rng, 17) for name, _ in self.users}
        self.buckets = [f"acme-{n}-{ACCOUNT}" for n in ("orders", "invoices", "datalake", "backups")]
        self.services = ["s3.amazonaws.com", "secretsmanager.amazonaws.com", "dynamodb.amazonaws.com",
                         "lambda.amazonaws.com", "sqs.amazonaws.com"]
        self.agents = [
            "aws-sdk-java/2.25.31 Linux/5.10.216 OpenJDK_64-Bit_Server_VM/17.0.11",
            "Boto3/1.34.100 md/Botocore#1.34.100 ua/2.0 os/linux#5.10.216 lang/python#3.12.3",
            "aws-sdk-rust/1.3.0 os/linux lang/rust/1.78.0",
            "aws-cli/2.15.40 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22",
            "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2",
        ]

    def key_arn(self, key):
        region, account, key_id, _ = key
        return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def identity(rng, w):
    r = rng.random()
    if r < 0.80:
        name, account = rng.choice(w.roles)
        session = rng.choice(["i-0" + hexid(rng, 16), "session-" + hexid(rng, 8),
                              f"{name}-{rng.randrange(1000)}"])
        role_id = w.role_ids[name]
        return {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
            "accountId": account,
            "accessKeyId": "ASIA" + alnum_upper(rng, 16),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": f"arn:aws:iam::{account}:role/{name}",
                    "accountId": account,
                    "userName": name,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": "2024-05-01T00:00:00Z", "mfaAuthenticated": "false"},
            },
        }
    name, account = rng.choice(w.users)
    return {
        "type": "IAMUser",
        "principalId": w.user_ids[name],
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": "AKIA" + alnum_upper(rng, 16),
        "userName": name,
    }


def base(rng, w, when, source, name, region, ident):
    return {
        "eventVersion": "1.09",
        "userIdentity": ident,
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "userAgent": rng.choice(w.agents),
        "requestParameters": None,
        "responseElements": None,
        "requestID": uuid4(rng),
        "eventID": uuid4(rng),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }


def context_for(rng, w, service):
    if service == "s3.amazonaws.com":
        bucket = rng.choice(w.buckets)
        return {"aws:s3:arn": f"arn:aws:s3:::{bucket}/{hexid(rng, 4)}/{hexid(rng, 12)}.parquet"}
    if service == "secretsmanager.amazonaws.com":
        return {"SecretARN": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-{hexid(rng, 6)}",
                "SecretVersionId": uuid4(rng)}
    if service == "dynamodb.amazonaws.com":
        return {"aws:dynamodb:tableName": rng.choice(["orders", "sessions", "invoices"]),
                "aws:dynamodb:subscriberId": ACCOUNT}
    if rng.random() < 0.5:
        return {"tenant": f"t-{rng.randrange(500):04d}", "purpose": "envelope"}
    return None


def kms_record(rng, w, when):
    key = rng.choices(w.keys, weights=w.key_weights)[0]
    region, account, key_id, alias = key
    arn = w.key_arn(key)
    ident = identity(rng, w)
    r = rng.random()
    if r < 0.60:
        name = "Decrypt"
    elif r < 0.86:
        name = "GenerateDataKey"
    elif r < 0.96:
        name = "Encrypt"
    else:
        name = rng.choice(["DescribeKey", "ReEncrypt", "GenerateDataKeyWithoutPlaintext", "RotateKey"])

    rec = base(rng, w, when, "kms.amazonaws.com", name, region, ident)
    rec["resources"] = [{"accountId": account, "type": "AWS::KMS::Key", "ARN": arn}]
    if account != ACCOUNT:
        rec["sharedEventID"] = uuid4(rng)

    if name == "RotateKey":
        # Scheduled rotation: a service event, no user.
        rec["userIdentity"] = {"accountId": account, "invokedBy": "kms.amazonaws.com"}
        rec["eventType"] = "AwsServiceEvent"
        rec["sourceIPAddress"] = "kms.amazonaws.com"
        rec["userAgent"] = "kms.amazonaws.com"
        rec["readOnly"] = False
        rec["serviceEventDetails"] = {"keyId": key_id}
        del rec["requestID"]
        return rec

    service = rng.choice(w.services) if rng.random() < 0.55 else None
    if service is not None:
        rec["sourceIPAddress"] = service
        rec["userAgent"] = service
        rec["userIdentity"]["invokedBy"] = service
    ctx = context_for(rng, w, service)

    if name == "Decrypt":
        # Symmetric Decrypt: the key is read from the ciphertext, so only resources names it.
        params = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        if ctx:
            params["encryptionContext"] = ctx
    elif name in ("GenerateDataKey", "GenerateDataKeyWithoutPlaintext"):
        params = {"keyId": rng.choice([arn, key_id, alias or arn]), "keySpec": "AES_256"}
        if ctx:
            params["encryptionContext"] = ctx
        rec["readOnly"] = False
    elif name == "Encrypt":
        params = {"keyId": rng.choice([arn, alias or key_id]), "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        if ctx:
            params["encryptionContext"] = ctx
        rec["readOnly"] = False
    elif name == "ReEncrypt":
        params = {"destinationKeyId": arn, "sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                  "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        rec["readOnly"] = False
    else:  # DescribeKey
        params = {"keyId": alias or key_id}
    rec["requestParameters"] = params

    f = rng.random()
    if f < 0.05:
        code, msg = rng.choice([
            ("AccessDenied", f"User: {ident['arn']} is not authorized to perform: kms:{name} on resource: "
                             f"{arn} because no identity-based policy allows the kms:{name} action"),
            ("InvalidCiphertextException", None),
            ("DisabledException", f"{arn} is disabled."),
            ("KMSInvalidStateException", f"{arn} is pending deletion."),
            ("ThrottlingException", "Rate exceeded"),
        ])
        if code == "InvalidCiphertextException" and name != "Decrypt":
            code, msg = "ThrottlingException", "Rate exceeded"
        rec["errorCode"] = code
        if msg:
            rec["errorMessage"] = msg
        if code == "AccessDenied" and rng.random() < 0.5:
            # Denied calls sometimes record no resources at all.
            del rec["resources"]
    return rec


NON_KMS = [
    ("sts.amazonaws.com", "AssumeRole", False),
    ("ec2.amazonaws.com", "DescribeInstances", True),
    ("s3.amazonaws.com", "ListBuckets", True),
    ("s3.amazonaws.com", "GetBucketEncryption", True),
    ("iam.amazonaws.com", "GetRole", True),
    ("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", False),
    ("logs.amazonaws.com", "CreateLogStream", False),
]


def other_record(rng, w, when):
    source, name, read_only = rng.choice(NON_KMS)
    rec = base(rng, w, when, source, name, rng.choice(REGIONS), identity(rng, w))
    rec["readOnly"] = read_only
    if name == "AssumeRole":
        role, account = rng.choice(w.roles)
        rec["requestParameters"] = {"roleArn": f"arn:aws:iam::{account}:role/{role}",
                                    "roleSessionName": "session-" + hexid(rng, 8), "durationSeconds": 3600}
        rec["resources"] = [{"accountId": account, "type": "AWS::IAM::Role",
                             "ARN": f"arn:aws:iam::{account}:role/{role}"}]
    elif name == "DescribeInstances":
        rec["requestParameters"] = {"instancesSet": {}, "filterSet": {}}
    elif name == "GetBucketEncryption":
        rec["requestParameters"] = {"bucketName": rng.choice(w.buckets), "Host": "s3.amazonaws.com", "encryption": ""}
    elif name == "GetRole":
        rec["requestParameters"] = {"roleName": rng.choice(w.roles)[0]}
    elif name == "CreateLogStream":
        rec["requestParameters"] = {"logGroupName": "/aws/lambda/thumbnailer", "logStreamName": hexid(rng, 32)}
    if rng.random() < 0.03:
        rec["errorCode"] = "AccessDenied"
        rec["errorMessage"] = "Access Denied"
    return rec


def default_output(size_mb, seed):
    tmp = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(tmp, "keytrail-bench", f"cloudtrail-{size_mb}mb-seed{seed}.json.gz")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output", nargs="?", help="output .json.gz path (default: under $TMPDIR/keytrail-bench/)")
    ap.add_argument("--size-mb", type=int, default=200, help="uncompressed size in MB (10^6 bytes), default 200")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--member-mb", type=int, default=32,
                    help="uncompressed MB per gzip member (default 32; the last member is smaller)")
    ap.add_argument("--level", type=int, default=6, help="gzip compression level (default 6)")
    ap.add_argument("--kms-share", type=float, default=0.8, help="fraction of KMS records (default 0.8)")
    args = ap.parse_args(argv)
    if args.size_mb <= 0 or args.member_mb <= 0:
        ap.error("--size-mb and --member-mb must be positive")

    out = args.output or default_output(args.size_mb, args.seed)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = f"{out}.tmp{os.getpid()}"

    rng = random.Random(args.seed)
    w = World(rng)
    target = args.size_mb * MB
    member_size = args.member_mb * MB
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

    t0 = time.monotonic()
    written = 0  # uncompressed bytes
    compressed = 0
    members = 0
    records = 0
    pending = bytearray(b'{"Records":[')
    when = START.timestamp()

    def flush(data):
        nonlocal compressed, members
        blob = gzip.compress(bytes(data), compresslevel=args.level, mtime=0)
        f.write(blob)
        compressed += len(blob)
        members += 1

    try:
        with open(tmp, "wb") as f:
            while written + len(pending) < target:
                when += rng.expovariate(1 / 0.4)  # ~2.5 events per second
                stamp = dt.datetime.fromtimestamp(int(when), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                rec = kms_record(rng, w, stamp) if rng.random() < args.kms_share else other_record(rng, w, stamp)
                if records:
                    pending += b","
                pending += encode(rec).encode()
                records += 1
                # Cut members at fixed byte offsets, usually mid-record.
                while len(pending) >= member_size:
                    flush(pending[:member_size])
                    written += member_size
                    del pending[:member_size]
            pending += b"]}\n"
            written += len(pending)
            flush(pending)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

    secs = time.monotonic() - t0
    print(
        f"gen-big-log: wrote {out}: {records} records, {written} bytes uncompressed "
        f"({written / MB:.1f} MB), {compressed} bytes gzip in {members} members, {secs:.1f}s",
        file=sys.stderr,
    )
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
