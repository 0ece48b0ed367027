#!/usr/bin/env python3
"""Generate keytrail's deterministic sample CloudTrail delivery tree.

Usage:  scripts/gen-sample-logs.py [REPO_ROOT]

Python 3.11 stdlib only.  Fixed random seed, no wall-clock use: running it twice
produces byte-identical output (gzip mtime 0, no file name in the gzip header).

Writes (relative to the repository root):
  events/logs/AWSLogs/...                      CloudTrail log files (.json.gz) and one digest
  events/EXPECTED-sample-logs.md                   human-readable table of what the tree holds
  events/expected-sample-logs.json             the same numbers, machine-readable
  events/s3-put.json, events/s3-put-url-encoded.json, events/s3-put-url-encoded-colon.json,
  events/s3-put-digest.json, events/eventbridge-object-created.json, events/s3-test-event.json
                                               Lambda invoke payloads pointing at files of the tree

The records are modelled on real KMS CloudTrail records (see
shared/tests/fixtures/corpus/kms-records.jsonl).  The per-rule counts are computed
here by re-implementing the predicates of shared/src/catalog.rs over the generated
records, and printed.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import string
import sys
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote_plus

SEED = 20261004
rng = random.Random(SEED)

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
LOGS = EVENTS / "logs"

MAIN = "111122223333"
MEMBER = "444455556666"
EXTERNAL = "999988887777"
ORG = "o-a1b2c3d4e5"
REGION = "us-east-1"
MEMBER_REGION = "eu-west-1"
BUCKET = "keytrail-test-trail"
TRAIL = "kms-audit-trail"
DAY = datetime(2026, 10, 4, tzinfo=timezone.utc)


def T(hhmmss: str) -> datetime:
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return DAY.replace(hour=h, minute=m, second=s)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def uid() -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def alnum(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def upper_id(prefix: str, n: int) -> str:
    return prefix + alnum(n, string.ascii_uppercase + "234567")


def hexs(n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def human_date(t: datetime) -> str:
    """KMS responseElements date style, e.g. 'Oct 11, 2026, 3:05:12 AM'."""
    hour12 = t.hour % 12 or 12
    return f"{t.strftime('%b')} {t.day}, {t.year}, {hour12}:{t.strftime('%M:%S')} {'AM' if t.hour < 12 else 'PM'}"


# --------------------------------------------------------------------------- #
# Keys
# --------------------------------------------------------------------------- #

def key_arn(key_id: str, acct: str = MAIN, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{acct}:key/{key_id}"


KEYS = {
    "app-data": "0f3c1a52-8b6e-4d1f-9a27-3e5b7c9d2a41",
    "payments": "7d2e9b14-5c3a-4f86-b0d1-a9e4c6f83b27",
    "legacy": "c81f4e3a-2d97-4b5c-8e06-f1a3b7d9e254",          # deletion scheduled
    "batch-export": "4a6b8c0d-1e3f-4a5b-9c7d-2e4f6a8b0c1d",    # disabled
    "byok-hsm": "e5d7f9a1-3b4c-4d6e-8f0a-1b2c3d4e5f60",        # imported material deleted
}
NEW_KEY = "9b1c3e5f-7a2d-4c6e-8f1a-3b5d7f9a1c2e"                  # created during the window
MEMBER_KEY = "2c4e6a8b-0d1f-4e3a-9b5c-7d9e1f3a5b6c"               # 444455556666 eu-west-1


def res(arn: str) -> dict:
    acct = arn.split(":")[4]
    return {"accountId": acct, "type": "AWS::KMS::Key", "ARN": arn}


# --------------------------------------------------------------------------- #
# Identities
# --------------------------------------------------------------------------- #

class Role:
    def __init__(self, acct: str, name: str, session: str, ip: str, ua: str, ec2: bool = False):
        self.acct, self.name, self.session, self.ip, self.ua, self.ec2 = acct, name, session, ip, ua, ec2
        self.role_id = upper_id("AROA", 17)
        self.akid = upper_id("ASIA", 16)
        self.created = None
        self.refresh_minute = rng.randrange(60)

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.acct}:role/{self.name}"

    @property
    def session_arn(self) -> str:
        return f"arn:aws:sts::{self.acct}:assumed-role/{self.name}/{self.session}"

    def identity(self, t: datetime, invoked_by: str | None = None) -> dict:
        if self.created and self.created <= t:
            created = self.created
        else:
            # sessions are refreshed hourly at a fixed minute per role
            created = t.replace(minute=self.refresh_minute, second=7)
            if created > t:
                created -= timedelta(hours=1)
        ctx = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": self.role_id,
                "arn": self.role_arn,
                "accountId": self.acct,
                "userName": self.name,
            },
            "attributes": {"creationDate": iso(created), "mfaAuthenticated": "false"},
        }
        if self.ec2:
            ctx["ec2RoleDelivery"] = "2.0"
        ui = {
            "type": "AssumedRole",
            "principalId": f"{self.role_id}:{self.session}",
            "arn": self.session_arn,
            "accountId": self.acct,
            "accessKeyId": self.akid,
            "sessionContext": ctx,
        }
        if invoked_by:
            ui["invokedBy"] = invoked_by
        return ui

    def as_foreign(self) -> dict:
        """How the key owner's trail sees this caller: type AWSAccount, no arn."""
        return {"type": "AWSAccount", "principalId": f"{self.role_id}:{self.session}", "accountId": self.acct}


class User:
    def __init__(self, acct: str, name: str, ip: str, ua: str):
        self.acct, self.name, self.ip, self.ua = acct, name, ip, ua
        self.uid = upper_id("AIDA", 17)
        self.akid = upper_id("AKIA", 16)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.acct}:user/{self.name}"

    def identity(self, t: datetime, invoked_by: str | None = None) -> dict:
        ui = {
            "type": "IAMUser",
            "principalId": self.uid,
            "arn": self.arn,
            "accountId": self.acct,
            "accessKeyId": self.akid,
            "userName": self.name,
        }
        if invoked_by:
            ui["invokedBy"] = invoked_by
        return ui


UA_JAVA = ("aws-sdk-java/2.25.60 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS "
           "Java/17.0.11 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_EC2 io/sync http/Apache cfg/retry-mode/legacy")
UA_BOTO_LAMBDA = ("Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.219-229.866.amzn2.x86_64 md/arch#x86_64 "
                  "lang/python#3.12.4 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.144")
UA_GO = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/kms#1.35.3"
UA_CLI = ("aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 "
          "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#kms.{cmd}")
UA_TF = ("APN/1.0 HashiCorp/1.0 Terraform/1.9.3 (+https://www.terraform.io) terraform-provider-aws/5.61.0 "
         "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.3 ua/2.0 os/linux "
         "lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/kms#1.35.3")
UA_NODE = "aws-sdk-js/3.621.0 ua/2.1 os/linux#5.10.219 lang/js md/nodejs#20.15.1 api/kms#3.621.0"

APP = Role(MAIN, "app-server", "i-0a1b2c3d4e5f67890", "10.0.3.41", UA_JAVA, ec2=True)
APP2 = Role(MAIN, "app-server", "i-0f9e8d7c6b5a43210", "10.0.7.118", UA_JAVA, ec2=True)
APP2.role_id = APP.role_id
REPORT = Role(MAIN, "reporting-service", "report-gen-7", "10.0.12.34", UA_GO)
PIPELINE = Role(MAIN, "data-pipeline", "etl-run-20261004", "203.0.113.50", UA_BOTO_LAMBDA)
PIPELINE_NIGHTLY = Role(MAIN, "data-pipeline", "etl-nightly", "203.0.113.51", UA_BOTO_LAMBDA)
PIPELINE_NIGHTLY.role_id = PIPELINE.role_id
CI = Role(MAIN, "ci-deployer", "gha-run-10293847", "198.51.100.77", UA_NODE)
LEGACY = Role(MAIN, "legacy-importer", "legacy-import-cron", "10.0.21.9", UA_JAVA)
BATCH = Role(MAIN, "batch-export", "batch-export-fn", "198.51.100.140", UA_BOTO_LAMBDA)
ALICE = User(MAIN, "alice", "192.0.2.10", UA_CLI)
DEPLOY = User(MAIN, "deploy-bot", "203.0.113.77", UA_TF)
ANALYTICS = Role(MEMBER, "eu-analytics", "analytics-job-42", "198.51.100.23", UA_JAVA)
MEMBER_APP = Role(MEMBER, "eu-web", "i-0123456789abcdef0", "10.20.1.15", UA_JAVA, ec2=True)

VPCE = "vpce-0a1b2c3d4e5f60718"
VPCE_MEMBER = "vpce-0fedcba9876543210"


def tls(host: str, v13: bool = True) -> dict:
    if v13:
        return {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}
    return {"tlsVersion": "TLSv1.2", "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256", "clientProvidedHostHeader": host}


# --------------------------------------------------------------------------- #
# Record builders
# --------------------------------------------------------------------------- #

RECORDS: list[dict] = []          # every generated record, main + member, with routing info


def emit(rec: dict, account: str, region: str) -> dict:
    rec["_route"] = (account, region)
    RECORDS.append(rec)
    return rec


READONLY_KMS = {"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt",
                "DescribeKey", "ListAliases", "ListGrants", "GetKeyPolicy", "GetKeyRotationStatus", "ListKeys"}


def kms(t: datetime, name: str, who, *, req: dict | None, resp=None, resources: list[str] | None,
        error: tuple[str, str | None] | None = None, invoked_by: str | None = None, service_ip: str | None = None,
        region: str = REGION, recipient: str = MAIN, identity: dict | None = None, version: str = "1.10",
        vpce: str | None = None, shared: str | None = None, request_id: str | None = None,
        extra: dict | None = None) -> dict:
    if identity is None:
        identity = who.identity(t, invoked_by)
    via_service = invoked_by is not None or service_ip is not None
    src_ip = service_ip or (invoked_by if invoked_by else who.ip)
    ua = (invoked_by or "AWS Internal") if via_service else (who.ua.format(cmd=cli_cmd(name)) if who else "AWS Internal")
    r = {
        "eventVersion": version,
        "userIdentity": identity,
        "eventTime": iso(t),
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": src_ip,
        "userAgent": ua,
    }
    if error:
        r["errorCode"] = error[0]
        if error[1] is not None:
            r["errorMessage"] = error[1]
    r["requestParameters"] = req
    r["responseElements"] = None if error else resp
    if extra:
        r.update(extra)
    r["requestID"] = request_id or uid()
    r["eventID"] = uid()
    r["readOnly"] = name in READONLY_KMS
    if resources is not None:
        r["resources"] = [res(a) for a in resources]
    r["eventType"] = "AwsApiCall"
    r["managementEvent"] = True
    r["recipientAccountId"] = recipient
    if shared:
        r["sharedEventID"] = shared
    if vpce:
        r["vpcEndpointId"] = vpce
        r["vpcEndpointAccountId"] = recipient
    r["eventCategory"] = "Management"
    if not via_service and identity.get("type") != "AWSService":
        r["tlsDetails"] = tls(f"kms.{region}.amazonaws.com", v13=name != "Decrypt" or who is not LEGACY)
    return r


def cli_cmd(name: str) -> str:
    out = []
    for ch in name:
        if ch.isupper() and out:
            out.append("-")
        out.append(ch.lower())
    return "".join(out)


def deny_msg(who, action: str, arn: str) -> str:
    caller = who.session_arn if isinstance(who, Role) else who.arn
    return (f"User: {caller} is not authorized to perform: kms:{action} on resource: {arn} "
            f"because no identity-based policy allows the kms:{action} action")


SYM = "SYMMETRIC_DEFAULT"


def ctx_app(n: int) -> dict:
    return {"tenant": f"t-{1000 + n % 37}", "purpose": "customer-record"}


# --------------------------------------------------------------------------- #
# Scenario
# --------------------------------------------------------------------------- #

START, END = T("02:00:00"), T("04:58:00")
FAILURE_BURST = (T("02:41:05"), T("02:44:50"))   # decrypt_failures
DK_BURST = (T("03:20:10"), T("03:24:40"))        # data_key_volume
TAG: dict[str, str] = {}                         # eventID -> scenario tag (for EXPECTED only)


def tag(rec: dict, name: str) -> dict:
    TAG[rec["eventID"]] = name
    return rec


def spread(a: datetime, b: datetime, n: int) -> list[datetime]:
    span = (b - a).total_seconds()
    return sorted(a + timedelta(seconds=rng.uniform(0, span)) for _ in range(n))


def rand_times(n: int, a: datetime = START, b: datetime = END) -> list[datetime]:
    return [t.replace(microsecond=0) for t in spread(a, b, n)]


def build_background() -> None:
    # app-server: steady envelope decryption (no keyId) and encryption via VPC endpoint.
    for i, t in enumerate(rand_times(70)):
        who = APP if i % 3 else APP2
        emit(kms(t, "Decrypt", who, req={"encryptionAlgorithm": SYM, "encryptionContext": ctx_app(i)},
                 resources=[key_arn(KEYS["app-data"])], vpce=VPCE, version="1.10"), MAIN, REGION)
    for i, t in enumerate(rand_times(24)):
        who = APP if i % 2 else APP2
        kid = [f"alias/app-data", KEYS["app-data"], key_arn(KEYS["app-data"])][i % 3]
        emit(kms(t, "GenerateDataKey", who, req={"keyId": kid, "keySpec": "AES_256", "encryptionContext": ctx_app(i)},
                 resources=[key_arn(KEYS["app-data"])], vpce=VPCE), MAIN, REGION)
    for i, t in enumerate(rand_times(10)):
        kid = ["alias/payments", key_arn(KEYS["payments"])][i % 2]
        emit(kms(t, "Encrypt", APP, req={"keyId": kid, "encryptionAlgorithm": SYM,
                                          "encryptionContext": {"payment-batch": f"pb-{7700 + i}"}},
                 resources=[key_arn(KEYS["payments"])], vpce=VPCE), MAIN, REGION)
    # S3 SSE-KMS on behalf of roles: invokedBy s3.amazonaws.com
    for i, t in enumerate(rand_times(30)):
        obj = f"arn:aws:s3:::acme-customer-exports/exports/2026/10/04/part-{i:05d}.parquet"
        if i % 3 == 0:
            emit(kms(t, "GenerateDataKey", BATCH, invoked_by="s3.amazonaws.com", version="1.09",
                     req={"keyId": key_arn(KEYS["app-data"]), "keySpec": "AES_256",
                          "encryptionContext": {"aws:s3:arn": obj}},
                     resources=[key_arn(KEYS["app-data"])]), MAIN, REGION)
        else:
            emit(kms(t, "Decrypt", REPORT if i % 2 else APP, invoked_by="s3.amazonaws.com", version="1.09",
                     req={"encryptionAlgorithm": SYM, "encryptionContext": {"aws:s3:arn": obj}},
                     resources=[key_arn(KEYS["app-data"])]), MAIN, REGION)
    # Lambda environment variables decrypted by the function role: "AWS Internal"
    for i, t in enumerate(rand_times(8)):
        emit(kms(t, "Decrypt", BATCH, service_ip="AWS Internal", version="1.08",
                 req={"encryptionAlgorithm": SYM, "encryptionContext": {
                     "aws:lambda:FunctionArn": f"arn:aws:lambda:{REGION}:{MAIN}:function:batch-export-fn"}},
                 resources=[key_arn(KEYS["payments"])]), MAIN, REGION)
    # Secrets Manager reads (GetSecretValue -> Decrypt invoked by secretsmanager)
    for i, t in enumerate(rand_times(6)):
        emit(kms(t, "Decrypt", CI if i % 2 else APP, invoked_by="secretsmanager.amazonaws.com", version="1.08",
                 req={"encryptionAlgorithm": SYM, "encryptionContext": {
                     "SecretARN": f"arn:aws:secretsmanager:{REGION}:{MAIN}:secret:prod/db-credentials-Ab12Cd",
                     "SecretVersionId": "8f2c1b0e-5d4a-4c3b-9a2f-1e0d9c8b7a65"}},
                 resources=[key_arn(KEYS["payments"])]), MAIN, REGION)
    # nightly pipeline, ordinary rate (data keys, but well under the volume threshold)
    for i, t in enumerate(rand_times(12, T("02:05:00"), T("04:50:00"))):
        emit(kms(t, "GenerateDataKeyWithoutPlaintext" if i % 4 == 0 else "GenerateDataKey", PIPELINE_NIGHTLY,
                 req={"keyId": "alias/app-data", "keySpec": "AES_256",
                      "encryptionContext": {"pipeline": "nightly", "batch": str(i)}},
                 resources=[key_arn(KEYS["app-data"])]), MAIN, REGION)
    # read-only management noise
    for i, t in enumerate(rand_times(6)):
        name = ["DescribeKey", "ListAliases", "GetKeyRotationStatus"][i % 3]
        req = {"keyId": ["alias/payments", KEYS["legacy"], key_arn(KEYS["app-data"])][i % 3]} if name != "ListAliases" else None
        resources = None if name == "ListAliases" else [key_arn([KEYS["payments"], KEYS["legacy"], KEYS["app-data"]][i % 3])]
        emit(kms(t, name, ALICE if i % 2 else CI, req=req, resources=resources), MAIN, REGION)
    # same-account grant (must NOT match grant_to_external)
    t = T("02:22:41")
    emit(tag(kms(t, "CreateGrant", DEPLOY, version="1.10",
                 req={"keyId": key_arn(KEYS["payments"]), "granteePrincipal": APP.role_arn,
                      "operations": ["Decrypt", "Encrypt"], "retiringPrincipal": f"arn:aws:iam::{MAIN}:role/ci-deployer"},
                 resp={"grantId": hexs(64), "keyId": key_arn(KEYS["payments"])},
                 resources=[key_arn(KEYS["payments"])]), "same_account_grant"), MAIN, REGION)

    # ---- non-KMS noise (main account) ----
    for t in rand_times(40):
        i = rng.randrange(1_000_000)
        choice = i % 5
        if choice == 0:
            emit(sts_assume(t, "ec2.amazonaws.com", APP), MAIN, REGION)
        elif choice == 1:
            emit(sts_assume(t, "lambda.amazonaws.com", BATCH), MAIN, REGION)
        elif choice == 2:
            emit(ec2_describe(t, CI, ["DescribeInstances", "DescribeSecurityGroups", "DescribeVolumes"][i % 3]), MAIN, REGION)
        elif choice == 3:
            emit(s3_event(t, ALICE, ["ListBuckets", "GetBucketEncryption", "GetBucketPolicy"][i % 3]), MAIN, REGION)
        else:
            emit(ec2_describe(t, APP, "DescribeTags"), MAIN, REGION)
    # the trail itself: GetBucketAcl by CloudTrail, AWSService identity
    for t in rand_times(4):
        emit(s3_cloudtrail_acl(t), MAIN, REGION)


def sts_assume(t: datetime, principal_service: str, role: Role) -> dict:
    session = role.session
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "AWSService", "invokedBy": principal_service},
        "eventTime": iso(t),
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": REGION,
        "sourceIPAddress": principal_service,
        "userAgent": principal_service,
        "requestParameters": {"roleArn": role.role_arn, "roleSessionName": session, "durationSeconds": 3600},
        "responseElements": {
            "credentials": {"accessKeyId": upper_id("ASIA", 16), "sessionToken": alnum(64) + "==",
                            "expiration": human_date(t + timedelta(hours=1))},
            "assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{session}", "arn": role.session_arn},
        },
        "requestID": uid(),
        "eventID": uid(),
        "readOnly": True,
        "resources": [{"accountId": role.acct, "type": "AWS::IAM::Role", "ARN": role.role_arn}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": role.acct,
        "sharedEventID": uid(),
        "eventCategory": "Management",
    }


def ec2_describe(t: datetime, who, name: str, region: str = REGION, recipient: str = MAIN) -> dict:
    req = {"DescribeInstances": {"instancesSet": {}, "filterSet": {}},
           "DescribeSecurityGroups": {"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}},
           "DescribeVolumes": {"volumeSet": {}, "filterSet": {}, "maxResults": 500},
           "DescribeTags": {"filterSet": {"items": [{"name": "resource-id", "valueSet": {"items": [
               {"value": "i-0a1b2c3d4e5f67890"}]}}]}}}[name]
    return {
        "eventVersion": "1.09",
        "userIdentity": who.identity(t),
        "eventTime": iso(t),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": who.ip,
        "userAgent": who.ua.format(cmd="describe"),
        "requestParameters": req,
        "responseElements": None,
        "requestID": uid(),
        "eventID": uid(),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": recipient,
        "eventCategory": "Management",
        "tlsDetails": tls(f"ec2.{region}.amazonaws.com", v13=False),
    }


def s3_event(t: datetime, who, name: str) -> dict:
    bucket = "acme-customer-exports"
    req = {"Host": "s3.amazonaws.com"} if name == "ListBuckets" else {"bucketName": bucket, "Host": f"{bucket}.s3.us-east-1.amazonaws.com", name.replace("GetBucket", "").lower(): ""}
    r = {
        "eventVersion": "1.09",
        "userIdentity": who.identity(t),
        "eventTime": iso(t),
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": who.ip,
        "userAgent": "[" + who.ua.format(cmd="s3api") + "]",
        "requestParameters": req,
        "responseElements": None,
        "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                                "x-amz-id-2": alnum(76) + "=", "bytesTransferredOut": rng.randrange(200, 4000)},
        "requestID": hexs(16).upper(),
        "eventID": uid(),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": MAIN,
        "eventCategory": "Management",
        "tlsDetails": tls("s3.amazonaws.com" if name == "ListBuckets" else f"{bucket}.s3.us-east-1.amazonaws.com"),
    }
    if name != "ListBuckets":
        r["resources"] = [{"accountId": MAIN, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}]
    return r


def s3_cloudtrail_acl(t: datetime) -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
        "eventTime": iso(t),
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetBucketAcl",
        "awsRegion": REGION,
        "sourceIPAddress": "cloudtrail.amazonaws.com",
        "userAgent": "cloudtrail.amazonaws.com",
        "requestParameters": {"bucketName": BUCKET, "Host": f"{BUCKET}.s3.amazonaws.com", "acl": ""},
        "responseElements": None,
        "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                                "x-amz-id-2": alnum(76) + "=", "bytesTransferredOut": 540},
        "requestID": hexs(16).upper(),
        "eventID": uid(),
        "readOnly": True,
        "resources": [{"accountId": MAIN, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{BUCKET}"}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": MAIN,
        "sharedEventID": uid(),
        "eventCategory": "Management",
    }


def build_scenarios() -> None:
    # ---- ReEncrypt: migrate ciphertexts from legacy to app-data (before the deletion) ----
    for i, t in enumerate(rand_times(1, T("02:50:10"), T("02:50:20"))):
        emit(tag(kms(t, "ReEncrypt", ALICE, version="1.10",
                     req={"sourceKeyId": key_arn(KEYS["legacy"]), "sourceEncryptionAlgorithm": SYM,
                          "sourceEncryptionContext": {"app": "legacy-import"},
                          "destinationKeyId": "alias/app-data", "destinationEncryptionAlgorithm": SYM,
                          "destinationEncryptionContext": {"app": "legacy-import"}},
                     resources=[key_arn(KEYS["legacy"]), key_arn(KEYS["app-data"])]), "reencrypt"), MAIN, REGION)

    # ---- decrypt_failures: 14 failing Decrypts by reporting-service within 02:41:05-02:44:50 ----
    codes = (["InvalidCiphertextException"] * 6 + ["IncorrectKeyException"] * 5 + ["AccessDeniedException"] * 3)
    rng.shuffle(codes)
    for t, code in zip(rand_times(len(codes), *FAILURE_BURST), codes):
        arn = key_arn(KEYS["payments"] if code == "AccessDeniedException" else KEYS["app-data"])
        if code == "InvalidCiphertextException":
            err = (code, None)   # as in AWS's own example: no errorMessage for InvalidCiphertextException
            req = {"encryptionAlgorithm": SYM, "encryptionContext": {"report": "monthly-billing"}}
        elif code == "IncorrectKeyException":
            err = (code, "The key ID in the request does not identify a CMK that can perform this operation.")
            req = {"keyId": key_arn(KEYS["payments"]), "encryptionAlgorithm": SYM,
                   "encryptionContext": {"report": "monthly-billing"}}
        else:
            err = (code, deny_msg(REPORT, "Decrypt", arn))
            req = {"encryptionAlgorithm": SYM, "encryptionContext": {"report": "monthly-billing"}}
        emit(tag(kms(t, "Decrypt", REPORT, req=req, resources=[arn], error=err, vpce=VPCE), "decrypt_burst"),
             MAIN, REGION)

    # ---- access_denied: ci-deployer probing keys it may not use ----
    for t, (action, target) in zip(rand_times(6, T("02:31:00"), T("02:33:30")),
                                   [("Decrypt", "payments"), ("GenerateDataKey", "payments"),
                                    ("DescribeKey", "legacy"), ("Decrypt", "byok-hsm"),
                                    ("Encrypt", "payments"), ("Decrypt", "payments")]):
        arn = key_arn(KEYS[target])
        req = ({"encryptionAlgorithm": SYM, "encryptionContext": {"stage": "prod"}} if action == "Decrypt"
               else {"keyId": arn, "keySpec": "AES_256"} if action == "GenerateDataKey"
               else {"keyId": "alias/payments", "encryptionAlgorithm": SYM} if action == "Encrypt" else {"keyId": arn})
        emit(tag(kms(t, action, CI, req=req, resources=[arn],
                     error=("AccessDeniedException", deny_msg(CI, action, arn))), "access_denied_ci"), MAIN, REGION)

    # ---- key_deletion_scheduled (legacy), then pending_deletion_use ----
    t_sched = T("03:05:12")
    arn = key_arn(KEYS["legacy"])
    emit(tag(kms(t_sched, "ScheduleKeyDeletion", ALICE,
                 req={"keyId": KEYS["legacy"], "pendingWindowInDays": 7},
                 resp={"keyId": arn, "deletionDate": human_date(t_sched + timedelta(days=7)),
                       "keyState": "PendingDeletion", "pendingWindowInDays": 7},
                 resources=[arn]), "schedule_deletion"), MAIN, REGION)
    for t in rand_times(5, T("03:41:00"), T("03:52:00")):
        emit(tag(kms(t, "Decrypt", LEGACY, req={"encryptionAlgorithm": SYM,
                                                "encryptionContext": {"app": "legacy-import"}},
                     resources=[arn], error=("KMSInvalidStateException", f"{arn} is pending deletion."),
                     vpce=VPCE), "pending_deletion_use"), MAIN, REGION)

    # ---- key_disabled (batch-export), then disabled_key_use ----
    arn_b = key_arn(KEYS["batch-export"])
    emit(tag(kms(T("03:14:37"), "DisableKey", ALICE, req={"keyId": "alias/batch-export"}, resources=[arn_b]),
             "disable_key"), MAIN, REGION)
    for t, name in zip(rand_times(3, T("03:31:00"), T("03:34:00")), ["GenerateDataKey", "Encrypt", "GenerateDataKey"]):
        req = ({"keyId": "alias/batch-export", "keySpec": "AES_256", "encryptionContext": {"job": "nightly-export"}}
               if name == "GenerateDataKey" else
               {"keyId": "alias/batch-export", "encryptionAlgorithm": SYM, "encryptionContext": {"job": "nightly-export"}})
        emit(tag(kms(t, name, BATCH, req=req, resources=[arn_b], error=("DisabledException", f"{arn_b} is disabled.")),
                 "disabled_key_use"), MAIN, REGION)

    # ---- key_created + key_policy_changed (public) by deploy-bot ----
    t_create = T("03:52:10")
    new_arn = key_arn(NEW_KEY)
    emit(tag(kms(t_create, "CreateKey", DEPLOY,
                 req={"description": "scratch key for data migration", "keyUsage": "ENCRYPT_DECRYPT",
                      "keySpec": SYM, "customerMasterKeySpec": SYM, "origin": "AWS_KMS",
                      "bypassPolicyLockoutSafetyCheck": False, "multiRegion": False,
                      "tags": [{"tagKey": "owner", "tagValue": "data-migration"}]},
                 resp={"keyMetadata": {"aWSAccountId": MAIN, "keyId": NEW_KEY, "arn": new_arn,
                                       "creationDate": human_date(t_create), "enabled": True,
                                       "description": "scratch key for data migration", "keyUsage": "ENCRYPT_DECRYPT",
                                       "keyState": "Enabled", "origin": "AWS_KMS", "keyManager": "CUSTOMER",
                                       "customerMasterKeySpec": SYM, "keySpec": SYM,
                                       "encryptionAlgorithms": [SYM], "multiRegion": False}},
                 resources=[new_arn]), "create_key"), MAIN, REGION)
    public_policy = {
        "Version": "2012-10-17",
        "Id": "key-consolepolicy-3",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{MAIN}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Allow use of the key", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
             "Resource": "*"},
        ],
    }
    emit(tag(kms(T("03:53:02"), "PutKeyPolicy", DEPLOY,
                 req={"keyId": NEW_KEY, "policyName": "default", "policy": json.dumps(public_policy, indent=4),
                      "bypassPolicyLockoutSafetyCheck": False},
                 resources=[new_arn]), "put_key_policy_public"), MAIN, REGION)
    org_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{MAIN}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Allow org members to decrypt", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}},
        ],
    }
    emit(tag(kms(T("02:12:44"), "PutKeyPolicy", DEPLOY,
                 req={"keyId": key_arn(KEYS["app-data"]), "policyName": "default",
                      "policy": json.dumps(org_policy, indent=4), "bypassPolicyLockoutSafetyCheck": False},
                 resources=[key_arn(KEYS["app-data"])]), "put_key_policy_org"), MAIN, REGION)

    # ---- grant_to_external ----
    emit(tag(kms(T("04:07:33"), "CreateGrant", DEPLOY,
                 req={"keyId": "alias/payments",
                      "granteePrincipal": f"arn:aws:iam::{EXTERNAL}:role/partner-batch-processor",
                      "operations": ["Decrypt", "DescribeKey"]},
                 resp={"grantId": hexs(64), "keyId": key_arn(KEYS["payments"])},
                 resources=[key_arn(KEYS["payments"])]), "grant_external"), MAIN, REGION)

    # ---- rotation_disabled and imported_material_deleted ----
    emit(tag(kms(T("04:15:48"), "DisableKeyRotation", DEPLOY, req={"keyId": key_arn(KEYS["payments"])},
                 resources=[key_arn(KEYS["payments"])]), "rotation_disabled"), MAIN, REGION)
    emit(tag(kms(T("04:21:09"), "DeleteImportedKeyMaterial", ALICE, req={"keyId": KEYS["byok-hsm"]},
                 resources=[key_arn(KEYS["byok-hsm"])]), "imported_material_deleted"), MAIN, REGION)

    # ---- data_key_volume: 130 GenerateDataKey by data-pipeline from 203.0.113.50 ----
    PIPELINE.created = DK_BURST[0] - timedelta(minutes=1)
    for i, t in enumerate(rand_times(130, *DK_BURST)):
        emit(tag(kms(t, "GenerateDataKey", PIPELINE,
                     req={"keyId": "alias/app-data", "keySpec": "AES_256",
                          "encryptionContext": {"pipeline": "etl", "chunk": f"{i:04d}"}},
                     resources=[key_arn(KEYS["app-data"])]), "data_key_burst"), MAIN, REGION)

    # ---- cross_account_use: 444455556666's eu-analytics uses alias/app-data's key in 111122223333 ----
    # Each call yields two records with the same requestID and sharedEventID: the key
    # owner's (userIdentity.type AWSAccount, no arn) and the caller's own (full AssumedRole).
    ANALYTICS.created = T("03:35:40")
    app_arn = key_arn(KEYS["app-data"])
    for i, t in enumerate(rand_times(8, T("03:36:00"), T("03:48:00"))):
        name = "GenerateDataKey" if i % 2 == 0 else "Decrypt"
        req = ({"keyId": app_arn, "keySpec": "AES_256", "encryptionContext": {"dataset": "eu-sales", "part": str(i)}}
               if name == "GenerateDataKey" else
               {"encryptionAlgorithm": SYM, "encryptionContext": {"dataset": "eu-sales", "part": str(i)}})
        shared, rid = uid(), uid()
        emit(tag(kms(t, name, ANALYTICS, identity=ANALYTICS.as_foreign(), req=req, resources=[app_arn],
                     recipient=MAIN, shared=shared, request_id=rid, version="1.08"),
                 "cross_account_owner_view"), MAIN, REGION)
        emit(tag(kms(t, name, ANALYTICS, req=req, resources=[app_arn], recipient=MEMBER, shared=shared,
                     request_id=rid, version="1.08"), "cross_account_caller_view"), MEMBER, REGION)

    # ---- member account's own eu-west-1 activity (not cross-account) ----
    m_arn = key_arn(MEMBER_KEY, MEMBER, MEMBER_REGION)
    for i, t in enumerate(rand_times(14, T("02:30:00"), T("04:40:00"))):
        if i % 2:
            emit(kms(t, "Decrypt", MEMBER_APP, region=MEMBER_REGION, recipient=MEMBER, vpce=VPCE_MEMBER,
                     req={"encryptionAlgorithm": SYM, "encryptionContext": {"app": "eu-web"}}, resources=[m_arn]),
                 MEMBER, MEMBER_REGION)
        else:
            emit(kms(t, "GenerateDataKey", MEMBER_APP, region=MEMBER_REGION, recipient=MEMBER, vpce=VPCE_MEMBER,
                     req={"keyId": "alias/eu-web", "keySpec": "AES_256", "encryptionContext": {"app": "eu-web"}},
                     resources=[m_arn]), MEMBER, MEMBER_REGION)
    for i, t in enumerate(rand_times(10, T("02:30:00"), T("04:40:00"))):
        if i % 2:
            emit(ec2_describe(t, MEMBER_APP, "DescribeInstances", region=MEMBER_REGION, recipient=MEMBER),
                 MEMBER, MEMBER_REGION)
        else:
            r = sts_assume(t, "ec2.amazonaws.com", MEMBER_APP)
            r["awsRegion"] = MEMBER_REGION
            emit(r, MEMBER, MEMBER_REGION)


# --------------------------------------------------------------------------- #
# Delivery
# --------------------------------------------------------------------------- #

def delivery_times(first: datetime, last: datetime, lo: int, hi: int) -> list[datetime]:
    out, t = [], first
    while t <= last:
        out.append(t)
        t = t + timedelta(minutes=5 * rng.randint(lo // 5, hi // 5))
    if out[-1] < last:
        out.append(last)
    return out


def log_key(acct: str, region: str, t: datetime, org: bool) -> str:
    prefix = f"AWSLogs/{ORG}/{acct}" if org else f"AWSLogs/{acct}"
    name = f"{acct}_CloudTrail_{region}_{t.strftime('%Y%m%dT%H%MZ')}_{alnum(16)}.json.gz"
    return f"{prefix}/CloudTrail/{region}/{t:%Y/%m/%d}/{name}"


LAG = timedelta(minutes=2)   # a file named T holds events older than T - LAG


def pack(records: list[dict], deliveries: list[datetime], acct: str, region: str, org: bool) -> list[dict]:
    files = []
    recs = sorted(records, key=lambda r: r["eventTime"])
    prev = None
    for d in deliveries:
        cutoff = d - LAG
        chunk = [r for r in recs if (prev is None or iso(prev) <= r["eventTime"]) and r["eventTime"] < iso(cutoff)]
        prev = cutoff
        if not chunk:
            continue
        files.append({"key": log_key(acct, region, d, org), "delivered": d, "records": chunk,
                      "account": acct, "region": region})
    leftover = [r for r in recs if r["eventTime"] >= iso(prev)]
    assert not leftover, f"{len(leftover)} records after last delivery"
    return files


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as fh:
        fh.write(data)
    return buf.getvalue()


def strip(r: dict) -> dict:
    return {k: v for k, v in r.items() if not k.startswith("_")}


# --------------------------------------------------------------------------- #
# Rule predicates (mirror shared/src/catalog.rs)
# --------------------------------------------------------------------------- #

def acct_of_arn(arn: str | None) -> str | None:
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def is_acct(s) -> bool:
    return isinstance(s, str) and len(s) == 12 and s.isdigit()


def key_account(r: dict) -> str | None:
    for x in r.get("resources") or []:
        a = x.get("ARN") or x.get("arn")
        if x.get("type") in (None, "AWS::KMS::Key") and a and ":key/" in a:
            return acct_of_arn(a)
    kid = (r.get("requestParameters") or {}).get("keyId")
    if isinstance(kid, str) and kid.startswith("arn:") and ":key/" in kid:
        return acct_of_arn(kid)
    return None


def error_class(r: dict) -> str | None:
    code = r.get("errorCode")
    if not code:
        return None
    msg = (r.get("errorMessage") or "").lower()
    if "pending deletion" in msg:
        return "PendingDeletion"
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Client.UnauthorizedOperation"):
        return "AccessDenied"
    if code == "DisabledException" or (code == "KMSInvalidStateException" and "is disabled" in msg):
        return "Disabled"
    return {"IncorrectKeyException": "IncorrectKey", "InvalidCiphertextException": "InvalidCiphertext",
            "KMSInvalidStateException": "InvalidState", "NotFoundException": "NotFound"}.get(code, "Other")


def policy_is_public(r: dict) -> bool:
    pol = (r.get("requestParameters") or {}).get("policy")
    doc = json.loads(pol) if isinstance(pol, str) else pol
    sts = doc.get("Statement") if isinstance(doc, dict) else None
    sts = [sts] if isinstance(sts, dict) else (sts or [])
    for s in sts:
        p = s.get("Principal")
        star = p == "*" or (isinstance(p, dict) and (p.get("AWS") == "*" or
                                                      (isinstance(p.get("AWS"), list) and "*" in p["AWS"])))
        if s.get("Effect") == "Allow" and not s.get("Condition") and star:
            return True
    return False


def caller_account(r: dict) -> str | None:
    ui = r.get("userIdentity") or {}
    return ui.get("accountId") or acct_of_arn(ui.get("arn"))


def principal_id(r: dict) -> str:
    ui = r.get("userIdentity") or {}
    if ui.get("type") == "AssumedRole":
        return (ui.get("sessionContext") or {}).get("sessionIssuer", {}).get("arn") or ui.get("arn")
    if ui.get("type") == "AWSAccount" and not ui.get("arn"):
        return f"account:{ui.get('accountId')}"
    return ui.get("arn") or ui.get("invokedBy") or "unknown"


RULES = {
    "decrypt_failures": lambda r: r["eventName"] == "Decrypt" and error_class(r) is not None,
    "access_denied": lambda r: r.get("errorCode") in ("AccessDenied", "AccessDeniedException"),
    "pending_deletion_use": lambda r: error_class(r) == "PendingDeletion",
    "disabled_key_use": lambda r: error_class(r) == "Disabled",
    "key_deletion_scheduled": lambda r: r["eventName"] == "ScheduleKeyDeletion" and not r.get("errorCode"),
    "key_disabled": lambda r: r["eventName"] == "DisableKey" and not r.get("errorCode"),
    "key_created": lambda r: r["eventName"] == "CreateKey" and not r.get("errorCode"),
    "key_policy_changed": lambda r: r["eventName"] == "PutKeyPolicy" and not r.get("errorCode"),
    "grant_to_external": lambda r: (r["eventName"] == "CreateGrant" and not r.get("errorCode") and
                                    is_acct(acct_of_arn((r.get("requestParameters") or {}).get("granteePrincipal")))
                                    and acct_of_arn(r["requestParameters"]["granteePrincipal"])
                                    != (key_account(r) or r.get("recipientAccountId"))),
    "cross_account_use": lambda r: (is_acct(caller_account(r)) and is_acct(key_account(r))
                                    and caller_account(r) != key_account(r)),
    "data_key_volume": lambda r: r["eventName"].startswith("GenerateDataKey"),
    "imported_material_deleted": lambda r: r["eventName"] == "DeleteImportedKeyMaterial" and not r.get("errorCode"),
    "rotation_disabled": lambda r: r["eventName"] == "DisableKeyRotation" and not r.get("errorCode"),
}


def bucket5(t: str) -> str:
    dt = datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ")
    return dt.replace(minute=dt.minute - dt.minute % 5, second=0).strftime("%H:%M")


# --------------------------------------------------------------------------- #
# main
# --------------------------------------------------------------------------- #

def main() -> None:
    build_background()
    build_scenarios()

    main_recs = [r for r in RECORDS if r["_route"] == (MAIN, REGION)]
    mem_eu = [r for r in RECORDS if r["_route"] == (MEMBER, MEMBER_REGION)]
    mem_us = [r for r in RECORDS if r["_route"] == (MEMBER, REGION)]

    files = []
    files += pack(main_recs, delivery_times(T("02:05:00"), T("05:00:00"), 5, 15), MAIN, REGION, org=False)
    files += pack(mem_eu, [T("03:15:00"), T("04:05:00"), T("04:45:00")], MEMBER, MEMBER_REGION, org=True)
    files += pack(mem_us, [T("03:55:00")], MEMBER, REGION, org=True)

    # One duplicate delivery: a plain successful Encrypt repeated (same eventID) at the end of one file.
    dup_file = next(f for f in files if f["account"] == MAIN and any(
        r["eventName"] == "Encrypt" and not r.get("errorCode") for r in f["records"]))
    dup = next(r for r in dup_file["records"] if r["eventName"] == "Encrypt" and not r.get("errorCode"))
    dup_file["records"] = dup_file["records"] + [dup]

    # Light realistic disorder: CloudTrail files are not strictly time-ordered.
    for f in files:
        recs = f["records"]
        for _ in range(len(recs) // 6):
            i = rng.randrange(len(recs) - 1)
            recs[i], recs[i + 1] = recs[i + 1], recs[i]

    # ---- write ----
    if LOGS.exists():
        for p in sorted(LOGS.rglob("*"), reverse=True):
            if p.is_file() and p.suffix == ".gz":
                p.unlink()
            elif p.is_dir() and not any(p.iterdir()):
                p.rmdir()
    meta = []
    for f in files:
        raw = compact({"Records": [strip(r) for r in f["records"]]})
        data = gz(raw)
        path = LOGS / f["key"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        times = [r["eventTime"] for r in f["records"]]
        meta.append({**f, "raw": raw, "gz": data, "oldest": min(times), "newest": max(times)})

    # ---- digest (us-east-1, 03:00-04:00) ----
    d_end = T("04:00:00")
    d_start = T("03:00:00")
    covered = [m for m in meta if m["account"] == MAIN and d_start < m["delivered"] <= d_end]
    digest_key = (f"AWSLogs/{MAIN}/CloudTrail-Digest/{REGION}/2026/10/04/"
                  f"{MAIN}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_{d_end:%Y%m%dT%H%M%SZ}.json.gz")
    prev_digest_key = digest_key.replace("20261004T040000Z", "20261004T030000Z")
    digest = {
        "awsAccountId": MAIN,
        "digestStartTime": iso(d_start),
        "digestEndTime": iso(d_end),
        "digestS3Bucket": BUCKET,
        "digestS3Object": digest_key,
        "digestPublicKeyFingerprint": hexs(32),
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": max(m["newest"] for m in covered),
        "oldestEventTime": min(m["oldest"] for m in covered),
        "previousDigestS3Bucket": BUCKET,
        "previousDigestS3Object": prev_digest_key,
        "previousDigestHashValue": hexs(64),
        "previousDigestHashAlgorithm": "SHA-256",
        "previousDigestSignature": hexs(512),
        "logFiles": [{"s3Bucket": BUCKET, "s3Object": m["key"],
                      "hashValue": hashlib.sha256(m["raw"]).hexdigest(), "hashAlgorithm": "SHA-256",
                      "newestEventTime": m["newest"], "oldestEventTime": m["oldest"]} for m in covered],
    }
    digest_gz = gz(compact(digest))
    (LOGS / digest_key).parent.mkdir(parents=True, exist_ok=True)
    (LOGS / digest_key).write_bytes(digest_gz)

    # ---- statistics ----
    all_delivered = [r for m in meta for r in m["records"]]
    seen, unique = set(), []
    for r in all_delivered:
        if r["eventID"] in seen:
            continue
        seen.add(r["eventID"])
        unique.append(r)
    kms_unique = [r for r in unique if r["eventSource"] == "kms.amazonaws.com"]
    kms_delivered = [r for r in all_delivered if r["eventSource"] == "kms.amazonaws.com"]

    def files_of(acct, region, org):
        return [m for m in meta if m["account"] == acct and m["region"] == region]

    per_rule = {}
    for rid, pred in RULES.items():
        hits = [r for r in kms_unique if pred(r)]
        hits_raw = [r for r in kms_delivered if pred(r)]
        by_acct = Counter(r["recipientAccountId"] for r in hits)
        buckets = Counter(bucket5(r["eventTime"]) for r in hits)
        entry = {
            "records": len(hits),
            "records_before_dedup": len(hits_raw),
            "by_recipient_account": dict(sorted(by_acct.items())),
            "first": min((r["eventTime"] for r in hits), default=None),
            "last": max((r["eventTime"] for r in hits), default=None),
            "max_in_aligned_5min": max(buckets.values(), default=0),
            "max_5min_bucket_start": (max(buckets.items(), key=lambda kv: (kv[1], kv[0]))[0] if buckets else None),
        }
        per_rule[rid] = entry
    # rule-specific detail
    pub = [r for r in kms_unique if RULES["key_policy_changed"](r) and policy_is_public(r)]
    per_rule["key_policy_changed"]["public_policy_records"] = len(pub)
    per_rule["key_policy_changed"]["public_policy_key"] = key_arn(NEW_KEY)
    burst = [r for r in kms_unique if TAG.get(r["eventID"]) == "decrypt_burst"]
    per_rule["decrypt_failures"]["burst"] = {
        "principal": REPORT.role_arn, "session": REPORT.session_arn, "sourceIPAddress": REPORT.ip,
        "records": len(burst), "first": min(r["eventTime"] for r in burst), "last": max(r["eventTime"] for r in burst),
        "errorCodes": dict(sorted(Counter(r["errorCode"] for r in burst).items())),
    }
    dk = [r for r in kms_unique if TAG.get(r["eventID"]) == "data_key_burst"]
    groups = Counter((principal_id(r), r["sourceIPAddress"]) for r in kms_unique if RULES["data_key_volume"](r))
    per_rule["data_key_volume"]["burst"] = {
        "principal": PIPELINE.role_arn, "sourceIPAddress": PIPELINE.ip, "records": len(dk),
        "first": min(r["eventTime"] for r in dk), "last": max(r["eventTime"] for r in dk),
        "max_in_aligned_5min_for_source": max(Counter(bucket5(r["eventTime"]) for r in dk).values()),
    }
    per_rule["data_key_volume"]["by_source"] = [
        {"principal": p, "sourceIPAddress": ip, "records": n} for (p, ip), n in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))]
    per_rule["access_denied"]["by_errorCode_eventName"] = dict(sorted(Counter(
        f"{r['errorCode']}/{r['eventName']}" for r in kms_unique if RULES["access_denied"](r)).items()))
    per_rule["decrypt_failures"]["by_errorCode"] = dict(sorted(Counter(
        r["errorCode"] for r in kms_unique if RULES["decrypt_failures"](r)).items()))
    per_rule["pending_deletion_use"]["key"] = key_arn(KEYS["legacy"])
    per_rule["key_deletion_scheduled"]["key"] = key_arn(KEYS["legacy"])
    per_rule["disabled_key_use"]["key"] = key_arn(KEYS["batch-export"])
    per_rule["key_disabled"]["key"] = key_arn(KEYS["batch-export"])
    per_rule["key_created"]["key"] = key_arn(NEW_KEY)
    per_rule["grant_to_external"]["grantee"] = f"arn:aws:iam::{EXTERNAL}:role/partner-batch-processor"
    per_rule["grant_to_external"]["same_account_grants_not_matching"] = sum(
        1 for r in kms_unique if r["eventName"] == "CreateGrant") - per_rule["grant_to_external"]["records"]
    per_rule["cross_account_use"]["caller_account"] = MEMBER
    per_rule["cross_account_use"]["key"] = key_arn(KEYS["app-data"])
    per_rule["cross_account_use"]["by_userIdentity_type"] = dict(sorted(Counter(
        r["userIdentity"]["type"] for r in kms_unique if RULES["cross_account_use"](r)).items()))
    per_rule["rotation_disabled"]["key"] = key_arn(KEYS["payments"])
    per_rule["imported_material_deleted"]["key"] = key_arn(KEYS["byok-hsm"])

    reenc = [r for r in kms_unique if r["eventName"] == "ReEncrypt"]
    file_groups = defaultdict(list)
    for m in meta:
        file_groups[f"{m['account']}/{m['region']}"].append(m)
    expected = {
        "generator": "scripts/gen-sample-logs.py",
        "seed": SEED,
        "bucket": BUCKET,
        "trail": TRAIL,
        "time_range": {"first_event": min(r["eventTime"] for r in unique),
                       "last_event": max(r["eventTime"] for r in unique),
                       "first_delivery": iso(min(m["delivered"] for m in meta)),
                       "last_delivery": iso(max(m["delivered"] for m in meta))},
        "files": {
            "log_files": len(meta),
            "digest_files": 1,
            "by_account_region": {k: len(v) for k, v in sorted(file_groups.items())},
            "list": [{"key": m["key"], "account": m["account"], "region": m["region"],
                      "organization_trail": m["key"].startswith(f"AWSLogs/{ORG}/"),
                      "records": len(m["records"]),
                      "kms_records": sum(r["eventSource"] == "kms.amazonaws.com" for r in m["records"]),
                      "oldest_event": m["oldest"], "newest_event": m["newest"],
                      "bytes": len(m["gz"]), "sha256_uncompressed": hashlib.sha256(m["raw"]).hexdigest()}
                     for m in meta],
            "digest": {"key": digest_key, "digestStartTime": digest["digestStartTime"],
                       "digestEndTime": digest["digestEndTime"], "log_files_listed": len(covered)},
        },
        "records": {
            "total_delivered": len(all_delivered),
            "unique_event_ids": len(unique),
            "duplicates": len(all_delivered) - len(unique),
            "duplicate_event_id": dup["eventID"],
            "duplicate_in_file": dup_file["key"],
            "kms_delivered": len(kms_delivered),
            "kms_unique": len(kms_unique),
            "non_kms_unique": len(unique) - len(kms_unique),
            "by_recipient_account": dict(sorted(Counter(r["recipientAccountId"] for r in unique).items())),
            "by_eventSource": dict(sorted(Counter(r["eventSource"] for r in unique).items())),
            "kms_by_eventName": dict(sorted(Counter(r["eventName"] for r in kms_unique).items())),
            "kms_failed": sum(1 for r in kms_unique if r.get("errorCode")),
            "kms_decrypt_without_keyId": sum(1 for r in kms_unique if r["eventName"] == "Decrypt"
                                             and "keyId" not in (r.get("requestParameters") or {})),
            "kms_with_invokedBy": sum(1 for r in kms_unique if (r.get("userIdentity") or {}).get("invokedBy")),
            "eventVersions": dict(sorted(Counter(r["eventVersion"] for r in unique).items())),
        },
        "reencrypt": {"records": len(reenc), "sourceKeyId": key_arn(KEYS["legacy"]), "destinationKeyId": "alias/app-data"},
        "keys": {**{f"alias/{a}": key_arn(k) for a, k in KEYS.items()},
                 "created": key_arn(NEW_KEY), "member:alias/eu-web": m_arn_global()},
        "rules": per_rule,
        "notes": [
            "Rule counts are per record, after deduplication by eventID (records_before_dedup counts the duplicate too).",
            "Rule predicates mirror shared/src/catalog.rs; decrypt_failures also counts the pending-deletion Decrypt failures.",
            "cross_account_use counts both views of each call: the key owner's (111122223333, userIdentity.type AWSAccount) "
            "and the caller's own (444455556666 organization trail, AssumedRole).",
            "The caller's view of the cross-account calls is in a us-east-1 file under the organization prefix, "
            "because KMS records an event in the key's region.",
            "InvalidCiphertextException records carry no errorMessage, as in AWS's documentation example.",
        ],
    }
    out_json = EVENTS / "expected-sample-logs.json"
    out_json.write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    write_expected_md(expected)
    write_invoke_payloads(meta, digest_key, digest_gz)

    # ---- print ----
    print(f"log files: {len(meta)} + 1 digest; by account/region: {expected['files']['by_account_region']}")
    rc = expected["records"]
    print(f"records delivered: {rc['total_delivered']}, unique: {rc['unique_event_ids']}, duplicates: {rc['duplicates']}, "
          f"KMS unique: {rc['kms_unique']}")
    for rid, e in per_rule.items():
        print(f"  {rid:26s} {e['records']:4d}  {e['first']} .. {e['last']}  max/5min {e['max_in_aligned_5min']}")


def m_arn_global() -> str:
    return key_arn(MEMBER_KEY, MEMBER, MEMBER_REGION)


RULE_TEXT = {
    "decrypt_failures": "Decrypt with any errorCode",
    "access_denied": "errorCode AccessDenied / AccessDeniedException",
    "pending_deletion_use": "errorMessage contains \"pending deletion\"",
    "disabled_key_use": "DisabledException (or KMSInvalidStateException \"is disabled\")",
    "key_deletion_scheduled": "successful ScheduleKeyDeletion",
    "key_disabled": "successful DisableKey",
    "key_created": "successful CreateKey",
    "key_policy_changed": "successful PutKeyPolicy",
    "grant_to_external": "successful CreateGrant, grantee account != key account",
    "cross_account_use": "caller account != key account",
    "data_key_volume": "GenerateDataKey* (threshold > 100 per source per 5 min)",
    "imported_material_deleted": "successful DeleteImportedKeyMaterial",
    "rotation_disabled": "successful DisableKeyRotation",
}


def write_expected_md(x: dict) -> None:
    f, rc, rules = x["files"], x["records"], x["rules"]
    L = [
        "# Sample CloudTrail tree: what it contains",
        "",
        f"Generated by `{x['generator']}` (seed {x['seed']}); do not edit by hand. The same numbers are in "
        "`events/expected-sample-logs.json`. Bucket `" + x["bucket"] + "`, trail `" + x["trail"] + "`.",
        "",
        f"Events {x['time_range']['first_event']} .. {x['time_range']['last_event']}; deliveries "
        f"{x['time_range']['first_delivery']} .. {x['time_range']['last_delivery']}. Every log file is "
        "gzip of compact `{\"Records\":[...]}` with no trailing newline; each file's name time is at least "
        "2 minutes after its newest event. Records inside a file are not strictly time-ordered.",
        "",
        "## Files",
        "",
        "| account / region | prefix | log files |",
        "|---|---|---|",
    ]
    for k, n in f["by_account_region"].items():
        acct, region = k.split("/")
        prefix = f"AWSLogs/{acct}/CloudTrail/{region}/" if acct == MAIN else f"AWSLogs/{ORG}/{acct}/CloudTrail/{region}/"
        L.append(f"| {acct} / {region} | `{prefix}` | {n} |")
    L += [
        f"| **total** | | **{f['log_files']}** |",
        "",
        f"Digest: 1 file, `{f['digest']['key']}` ({f['digest']['digestStartTime']} .. {f['digest']['digestEndTime']}, "
        f"lists {f['digest']['log_files_listed']} log files with SHA-256 of their uncompressed content; no `Records`). "
        "Its `previousDigestS3Object` names the 03:00 digest, which is not in the tree.",
        "",
        "| file | records | KMS | oldest | newest |",
        "|---|---|---|---|---|",
    ]
    for m in f["list"]:
        L.append(f"| `{m['key'].split('/')[-1]}` | {m['records']} | {m['kms_records']} | {m['oldest_event'][11:]} | {m['newest_event'][11:]} |")
    L += [
        "",
        "## Records",
        "",
        "| what | count |",
        "|---|---|",
        f"| records delivered (all files) | {rc['total_delivered']} |",
        f"| duplicates (same eventID delivered twice) | {rc['duplicates']} (`{rc['duplicate_event_id']}`, a successful Encrypt, in `{rc['duplicate_in_file'].split('/')[-1]}`) |",
        f"| unique records | {rc['unique_event_ids']} |",
        f"| KMS records (unique) | {rc['kms_unique']} |",
        f"| KMS records (delivered, incl. duplicate) | {rc['kms_delivered']} |",
        f"| non-KMS records (unique) | {rc['non_kms_unique']} |",
        f"| KMS records that failed (errorCode) | {rc['kms_failed']} |",
        f"| Decrypt records with no `requestParameters.keyId` | {rc['kms_decrypt_without_keyId']} |",
        f"| KMS records with `userIdentity.invokedBy` | {rc['kms_with_invokedBy']} |",
        f"| ReEncrypt (sourceKeyId + destinationKeyId) | {x['reencrypt']['records']} |",
        "",
        "By recipient account: " + ", ".join(f"{k}: {v}" for k, v in rc["by_recipient_account"].items()) + ".  ",
        "By eventSource: " + ", ".join(f"{k}: {v}" for k, v in rc["by_eventSource"].items()) + ".  ",
        "KMS by eventName: " + ", ".join(f"{k}: {v}" for k, v in rc["kms_by_eventName"].items()) + ".  ",
        "eventVersion: " + ", ".join(f"{k}: {v}" for k, v in rc["eventVersions"].items()) + ".",
        "",
        "## Rules",
        "",
        "Counts are matching records after deduplication (the duplicate matches no rule, so counts before "
        "deduplication are the same). \"max / 5 min\" is the largest count in one clock-aligned 5-minute period.",
        "",
        "| rule | matches | records | first | last | max / 5 min (period) |",
        "|---|---|---|---|---|---|",
    ]
    for rid, e in rules.items():
        L.append(f"| `{rid}` | {RULE_TEXT[rid]} | {e['records']} | {(e['first'] or '')[11:]} | {(e['last'] or '')[11:]} | "
                 f"{e['max_in_aligned_5min']} ({e['max_5min_bucket_start']}) |")
    b = rules["decrypt_failures"]["burst"]
    d = rules["data_key_volume"]["burst"]
    L += [
        "",
        "Details:",
        "",
        f"- `decrypt_failures`: the burst is {b['records']} failed Decrypts by `{b['session']}` from {b['sourceIPAddress']} "
        f"between {b['first'][11:]} and {b['last'][11:]} (" + ", ".join(f"{k} {v}" for k, v in b["errorCodes"].items()) +
        "); the other matches are the pending-deletion Decrypts and ci-deployer's denied Decrypts. All: "
        + ", ".join(f"{k} {v}" for k, v in rules["decrypt_failures"]["by_errorCode"].items()) + ".",
        "- `access_denied`: " + ", ".join(f"{k} {v}" for k, v in rules["access_denied"]["by_errorCode_eventName"].items())
        + " (ci-deployer 02:31-02:34 and the AccessDenied part of the Decrypt burst).",
        f"- `key_deletion_scheduled` / `pending_deletion_use`: key `{rules['pending_deletion_use']['key']}` "
        "(alias/legacy), pendingWindowInDays 7; the failing Decrypts are KMSInvalidStateException \"... is pending deletion.\".",
        f"- `key_disabled` / `disabled_key_use`: key `{rules['disabled_key_use']['key']}` (alias/batch-export), "
        "DisabledException \"... is disabled.\" on GenerateDataKey/Encrypt.",
        f"- `key_created`: `{rules['key_created']['key']}`; `key_policy_changed`: {rules['key_policy_changed']['records']} "
        f"PutKeyPolicy, of which {rules['key_policy_changed']['public_policy_records']} grants `\"Principal\": {{\"AWS\": \"*\"}}` "
        "with no Condition (on the new key); the other grants `*` only with an `aws:PrincipalOrgID` condition.",
        f"- `grant_to_external`: grantee `{rules['grant_to_external']['grantee']}` on alias/payments; "
        f"{rules['grant_to_external']['same_account_grants_not_matching']} same-account CreateGrant does not match.",
        f"- `cross_account_use`: 8 calls (4 GenerateDataKey, 4 Decrypt) by `arn:aws:iam::{MEMBER}:role/eu-analytics` on "
        f"`{rules['cross_account_use']['key']}`, each recorded twice (same requestID and sharedEventID): "
        + ", ".join(f"{k} {v}" for k, v in rules["cross_account_use"]["by_userIdentity_type"].items())
        + f"; by recipient account " + ", ".join(f"{k} {v}" for k, v in rules["cross_account_use"]["by_recipient_account"].items()) + ".",
        f"- `data_key_volume`: the burst is {d['records']} GenerateDataKey by `{d['principal']}` from {d['sourceIPAddress']} "
        f"between {d['first'][11:]} and {d['last'][11:]} (max {d['max_in_aligned_5min_for_source']} in one aligned 5-minute period). "
        "Per source: " + "; ".join(f"`{g['principal']}` @ {g['sourceIPAddress']}: {g['records']}" for g in rules["data_key_volume"]["by_source"]) + ".",
        f"- `rotation_disabled`: `{rules['rotation_disabled']['key']}`; `imported_material_deleted`: `{rules['imported_material_deleted']['key']}`.",
        "",
        "## Keys",
        "",
    ]
    for a, k in x["keys"].items():
        L.append(f"- {a}: `{k}`")
    L.append("")
    (LOGS.parent / "EXPECTED-sample-logs.md").write_text("\n".join(L), encoding="utf-8")


# --------------------------------------------------------------------------- #
# Lambda invoke payloads
# --------------------------------------------------------------------------- #

def s3_record(key: str, size: int, etag: str, t: datetime) -> dict:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randrange(1000):03d}Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": f"AWS:{upper_id('AROA', 17)}:regionalDeliverySession"},
        "requestParameters": {"sourceIPAddress": "198.51.100.201"},
        "responseElements": {"x-amz-request-id": upper_id("", 16),
                             "x-amz-id-2": alnum(76, string.ascii_letters + string.digits + "/+")},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "keytrail-new-log-file",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": upper_id("A", 13)},
                       "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": {"key": key, "size": size, "eTag": etag, "sequencer": "00" + hexs(16).upper()},
        },
    }


def s3_key_encode(key: str) -> str:
    """S3 notifications URL-encode the key form-style: ' ' -> '+', '/' kept."""
    return "/".join(quote_plus(part, safe="") for part in key.split("/"))


def write_invoke_payloads(meta: list[dict], digest_key: str, digest_gz: bytes) -> None:
    def dump(name: str, obj) -> None:
        (EVENTS / name).write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")

    pick = next(m for m in meta if m["account"] == MAIN and any(
        r.get("errorCode") == "KMSInvalidStateException" for r in m["records"]))
    etag = hashlib.md5(pick["gz"]).hexdigest()
    at = pick["delivered"] + timedelta(seconds=31)
    dump("s3-put.json", {"Records": [s3_record(s3_key_encode(pick["key"]), len(pick["gz"]), etag, at)]})
    dump("s3-put-url-encoded.json",
         {"Records": [s3_record(s3_key_encode("my logs/" + pick["key"]), len(pick["gz"]), etag, at)]})
    dump("s3-put-url-encoded-colon.json",
         {"Records": [s3_record(s3_key_encode("cloudtrail:prod+audit/" + pick["key"]), len(pick["gz"]), etag, at)]})
    dump("s3-put-digest.json", {"Records": [s3_record(s3_key_encode(digest_key), len(digest_gz),
                                                     hashlib.md5(digest_gz).hexdigest(), T("04:00:41"))]})
    other = next(m for m in meta if m["account"] == MAIN and m is not pick and any(
        r["eventName"] == "CreateKey" for r in m["records"]))
    dump("eventbridge-object-created.json", {
        "version": "0",
        "id": uid(),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": MAIN,
        "time": iso(other["delivered"] + timedelta(seconds=27)),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {"key": other["key"], "size": len(other["gz"]), "etag": hashlib.md5(other["gz"]).hexdigest(),
                       "sequencer": "00" + hexs(16).upper()},
            "request-id": upper_id("", 16),
            "requester": "cloudtrail.amazonaws.com",
            "source-ip-address": "198.51.100.201",
            "reason": "PutObject",
        },
    })
    dump("s3-test-event.json", {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-10-04T01:58:12.437Z",
        "Bucket": BUCKET,
        "RequestId": upper_id("", 16),
        "HostId": alnum(76, string.ascii_letters + string.digits + "/+") + "=",
    })


if __name__ == "__main__":
    main()
