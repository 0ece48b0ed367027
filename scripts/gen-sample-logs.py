#!/usr/bin/env python3
"""Generate keytrail's deterministic sample CloudTrail delivery tree.

Usage:  scripts/gen-sample-logs.py [REPO_ROOT]

Python 3.11 stdlib only.  Fixed random seed, no wall-clock use: running it twice
produces byte-identical output (gzip mtime 0, no file name in the gzip header).

Writes (relative to the repository root):
  events/logs/AWSLogs/...                      CloudTrail log files (.json.gz) and one digest
  events/s3-put.json, events/s3-put-url-encoded.json, events/s3-put-url-encoded-colon.json,
  events/s3-put-digest.json, events/eventbridge-object-created.json, events/s3-test-event.json
                                               Lambda invoke payloads pointing at files of the tree

The records are modelled on real KMS CloudTrail records (see
shared/tests/fixtures/corpus/kms-records.jsonl).  The script plants hand-made
scenarios (a Decrypt-failure burst, a data-key burst, key lifecycle calls, a
cross-account caller, ...) and prints how many records each scenario planted.  It
does not compute what keytrail should find: the expected results are written and
reviewed by hand in events/EXPECTED-sample-logs.md and checked against `keytrail
scan` by the snapshot test in cli/tests/scan.rs (cli/tests/snapshots/).
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
from collections import Counter
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
TAG: dict[str, str] = {}                         # eventID -> scenario tag (printed at the end)


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

    write_invoke_payloads(meta, digest_key, digest_gz)

    # ---- print what was planted (the expected results are reviewed by hand:
    # events/EXPECTED-sample-logs.md and the snapshot in cli/tests/snapshots/) ----
    delivered = sum(len(m["records"]) for m in meta)
    print(f"log files: {len(meta)} + 1 digest; records delivered: {delivered} "
          f"(one duplicate: {dup['eventID']} in {dup_file['key'].rsplit('/', 1)[-1]})")
    planted = Counter(TAG.values())
    for name in sorted(planted):
        print(f"  planted {name:28s} {planted[name]:4d}")


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
