#!/usr/bin/env python3
"""Generate the CloudWatch-alarm-via-SNS invoke fixtures under events/alarms/.

Usage:  scripts/gen-alarm-fixtures.py [REPO_ROOT]

Python 3.11 stdlib only, no randomness, no wall clock: byte-identical on every run.
Every `Message` string is `json.dumps` (compact, as CloudWatch publishes it) of the
alarm object built here, so the SNS events, the bare alarm and the HTTP form agree.

The alarm windows line up with the sample CloudTrail tree (events/EXPECTED-sample-logs.md):
the Decrypt-failure burst 02:41:09-02:44:44Z lies in the 02:40 datapoint, the
pending-deletion Decrypts 03:45:31-03:49:57Z in the 03:45 datapoint.
Signatures, certificate URLs and tokens are placeholders: they do not verify.

The alarms name keytrail's metrics (KMSAudit/KMSDecryptFailures, ...), as CloudWatch
would; the rule ids in their AlarmDescription are not written here but asked of the
detection catalog through the CLI (`keytrail enrich --alarm` on the alarm names the
rule that owns its metric), so a renamed rule or metric fails this script instead of
drifting. The CLI is $KEYTRAIL_BIN, else `keytrail` on PATH, else `cargo run -p
keytrail-cli`.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
OUT = ROOT / "events" / "alarms"

ACCOUNT = "111122223333"
REGION = "us-east-1"
REGION_NAME = "US East (N. Virginia)"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:keytrail-alarms"
SUBSCRIPTION = f"{TOPIC}:4f1c2b7e-9a3d-4e58-b6c1-0d2e8f7a9b31"  # the Lambda subscription
HTTP_SUBSCRIPTION = f"{TOPIC}:a8e3d5c1-6b2f-4a7d-9e0c-3f5b1d7c9e24"  # an HTTPS subscription
NAMESPACE = "KMSAudit"
CONFIG_UPDATED = "2026-09-28T14:03:17.512+0000"
# Not an RFC 4122 namespace of AWS: just a fixed seed so MessageIds are stable (SNS ids are v5-shaped).
ID_NS = uuid.UUID("6f3d1a2b-8c4e-4f70-9a1b-2c3d4e5f6a7b")


def alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def message_id(tag: str) -> str:
    return str(uuid.uuid5(ID_NS, tag))


def fake_signature(tag: str) -> str:
    """256 bytes (an RSA-2048 signature's size), base64: looks real, verifies nothing."""
    raw = b"".join(hashlib.sha256(f"{tag}/{i}".encode()).digest() for i in range(8))
    return base64.b64encode(raw).decode()


CERT_URL = (
    f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-"
    + hashlib.md5(b"keytrail-fixture-cert").hexdigest()
    + ".pem"
)


def unsubscribe_url(subscription: str) -> str:
    return f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}"


def reason_threshold(value: float, at: str, op_text: str, threshold: float, transition: str) -> str:
    """CloudWatch's wording; `at` is the datapoint start as dd/MM/yy HH:mm:ss (UTC)."""
    return (
        f"Threshold Crossed: 1 out of the last 1 datapoints [{value!r} ({at})] was {op_text} "
        f"the threshold ({threshold!r}) (minimum 1 datapoint for {transition} transition)."
    )


def single_metric_alarm(
    *, name, description, new, old, reason, changed, metric, namespace, statistic, dims,
    period, evals, op, threshold, missing, ok_actions, alarm_actions,
):
    # Field order as CloudWatch publishes it (2022+ messages).  ActionExecutedAfterMuteWindow
    # appears in a message LocalStack recorded against AWS in February 2026; older captures lack it.
    return {
        "AlarmName": name,
        "AlarmDescription": description,
        "AWSAccountId": ACCOUNT,
        "AlarmConfigurationUpdatedTimestamp": CONFIG_UPDATED,
        "NewStateValue": new,
        "NewStateReason": reason,
        "StateChangeTime": changed,
        "Region": REGION_NAME,
        "AlarmArn": alarm_arn(name),
        "OldStateValue": old,
        "OKActions": ok_actions,
        "AlarmActions": alarm_actions,
        "InsufficientDataActions": [],
        "ActionExecutedAfterMuteWindow": False,
        "Trigger": {
            "MetricName": metric,
            "Namespace": namespace,
            "StatisticType": "Statistic",
            "Statistic": statistic,
            "Unit": None,
            "Dimensions": [{"value": v, "name": k} for k, v in dims],
            "Period": period,
            "EvaluationPeriods": evals,
            "DatapointsToAlarm": evals,
            "ComparisonOperator": op,
            "Threshold": threshold,
            "TreatMissingData": missing,
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def subject(alarm: dict) -> str:
    return f'{alarm["NewStateValue"]}: "{alarm["AlarmName"]}" in {alarm["Region"]}'


def lambda_event(sns: dict, subscription: str = SUBSCRIPTION) -> dict:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription,
                "Sns": sns,
            }
        ]
    }


def notification(tag: str, subj: str, message: str, timestamp: str) -> dict:
    """The `Sns` object as Lambda receives it (note SigningCertUrl / UnsubscribeUrl)."""
    return {
        "Type": "Notification",
        "MessageId": message_id(tag),
        "TopicArn": TOPIC,
        "Subject": subj,
        "Message": message,
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": fake_signature(tag),
        "SigningCertUrl": CERT_URL,
        "UnsubscribeUrl": unsubscribe_url(SUBSCRIPTION),
        "MessageAttributes": {},
    }


def compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


SAMPLE_LOGS = Path(__file__).resolve().parent.parent / "events" / "logs"


def keytrail_cli() -> list[str]:
    if os.environ.get("KEYTRAIL_BIN"):
        return [os.environ["KEYTRAIL_BIN"]]
    if shutil.which("keytrail"):
        return ["keytrail"]
    return ["cargo", "run", "--quiet", "-p", "keytrail-cli", "--"]


def described(alarm: dict, what: str) -> dict:
    """Sets AlarmDescription to "keytrail rule <id>: <what> (<namespace>/<metric>)",
    the rule being the one the catalog gives the alarm's metric (through the CLI)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "alarm.json"
        path.write_text(json.dumps(alarm))
        run = subprocess.run(keytrail_cli() + ["enrich", "--alarm", str(path), str(SAMPLE_LOGS), "--json"],
                             cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True)
    trigger = alarm["Trigger"]
    metric = f"{trigger['Namespace']}/{trigger['MetricName']}"
    if run.returncode != 0:
        sys.exit(f"gen-alarm-fixtures: keytrail enrich failed for {metric}: {run.stderr.strip()}")
    rule = (json.loads(run.stdout).get("rule") or {}).get("id")
    if not rule:
        sys.exit(f"gen-alarm-fixtures: no keytrail rule owns {metric}")
    alarm["AlarmDescription"] = f"keytrail rule {rule}: {what} ({metric})"
    return alarm


# ---------------------------------------------------------------- the alarms

DECRYPT = single_metric_alarm(
    name="keytrail-decrypt-failures",
    description=None,  # from the catalog, below
    new="ALARM",
    old="OK",
    reason=reason_threshold(14.0, "04/10/26 02:40:00", "greater than or equal to", 10.0, "OK -> ALARM"),
    changed="2026-10-04T02:50:00.123+0000",
    metric="KMSDecryptFailures",
    namespace=NAMESPACE,
    statistic="SUM",
    dims=[],
    period=300,
    evals=1,
    op="GreaterThanOrEqualToThreshold",
    threshold=10.0,
    missing="notBreaching",
    ok_actions=[TOPIC],
    alarm_actions=[TOPIC],
)
described(DECRYPT, "Decrypt calls with an errorCode")

DECRYPT_OK = dict(
    DECRYPT,
    NewStateValue="OK",
    OldStateValue="ALARM",
    NewStateReason=(
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
        "was treated as [NonBreaching]."
    ),
    StateChangeTime="2026-10-04T02:56:12.789+0000",
)

PENDING = single_metric_alarm(
    name="keytrail-pending-deletion-key-use",
    description=None,  # from the catalog, below
    new="ALARM",
    old="OK",
    # 3.0, not 5.0: at 03:55 only the 0350Z delivery (03:45:31, 03:45:49, 03:46:10) has been
    # processed; 03:49:20 and 03:49:57 arrive in the 0400Z file.
    reason=reason_threshold(3.0, "04/10/26 03:45:00", "greater than or equal to", 1.0, "OK -> ALARM"),
    changed="2026-10-04T03:55:00.000+0000",
    metric="KMSPendingDeletionKeyUse",
    namespace=NAMESPACE,
    statistic="SUM",
    dims=[],
    period=300,
    evals=1,
    op="GreaterThanOrEqualToThreshold",
    threshold=1.0,
    missing="notBreaching",
    ok_actions=[],
    alarm_actions=[TOPIC],
)
described(PENDING, "calls on a KMS key that is pending deletion")

# A per-key alarm an operator made on the metric AWS KMS publishes for imported key
# material: the catalog's key_material_expiring owns AWS/KMS SecondsUntilKeyMaterialExpiration.
KEY_EXPIRING = single_metric_alarm(
    name="kms-imported-key-material-expiring",
    description="Imported key material of e5d7f9a1 expires within 7 days",
    new="ALARM",
    old="OK",
    reason=reason_threshold(518400.0, "04/10/26 04:05:00", "less than or equal to", 604800.0, "OK -> ALARM"),
    changed="2026-10-04T04:12:31.456+0000",
    metric="SecondsUntilKeyMaterialExpiration",
    namespace="AWS/KMS",
    statistic="MINIMUM",
    dims=[("KeyId", "e5d7f9a1-3b4c-4d6e-8f0a-1b2c3d4e5f60")],
    period=300,
    evals=1,
    op="LessThanOrEqualToThreshold",
    threshold=604800.0,
    missing="missing",
    ok_actions=[],
    alarm_actions=[TOPIC],
)

# The template's key_material_expiring alarm: one Metrics Insights query over every key
# (Trigger.Metrics[] holds the query, no MetricStat; shaped on the metric-math message).
QUERY_NAME = "keytrail-key_material_expiring"
KEY_EXPIRING_QUERY = {
    "AlarmName": QUERY_NAME,
    "AlarmDescription": (
        "keytrail rule key_material_expiring (high): the imported key material of a KMS key "
        "expires soon (AWS/KMS SecondsUntilKeyMaterialExpiration)"
    ),
    "AWSAccountId": ACCOUNT,
    "AlarmConfigurationUpdatedTimestamp": CONFIG_UPDATED,
    "NewStateValue": "ALARM",
    "NewStateReason": reason_threshold(2505600.0, "04/10/26 04:05:00", "less than", 2592000.0, "OK -> ALARM"),
    "StateChangeTime": "2026-10-04T04:12:31.456+0000",
    "Region": REGION_NAME,
    "AlarmArn": alarm_arn(QUERY_NAME),
    "OldStateValue": "OK",
    "OKActions": [],
    "AlarmActions": [TOPIC],
    "InsufficientDataActions": [],
    "Trigger": {
        "Period": 300,
        "EvaluationPeriods": 4,
        "DatapointsToAlarm": 1,
        "ComparisonOperator": "LessThanThreshold",
        "Threshold": 2592000.0,
        "TreatMissingData": "notBreaching",
        "EvaluateLowSampleCountPercentile": "",
        "Metrics": [
            {
                "Expression": 'SELECT MIN(SecondsUntilKeyMaterialExpiration) FROM SCHEMA("AWS/KMS", KeyId)',
                "Id": "q",
                "Period": 300,
                "ReturnData": True,
            }
        ],
    },
}

# A metric no keytrail rule owns: AWS KMS's external key store certificate expiry, with
# the 10-day threshold the KMS developer guide recommends.
UNOWNED = single_metric_alarm(
    name="kms-xks-proxy-certificate-expiring",
    description="The TLS certificate of the external key store proxy expires within 10 days",
    new="ALARM",
    old="OK",
    reason=reason_threshold(9.0, "04/10/26 04:05:00", "less than or equal to", 10.0, "OK -> ALARM"),
    changed="2026-10-04T04:12:31.456+0000",
    metric="XksProxyCertificateDaysToExpire",
    namespace="AWS/KMS",
    statistic="MINIMUM",
    dims=[("XksProxyCertificateName", "xks-proxy.example.com")],
    period=300,
    evals=1,
    op="LessThanOrEqualToThreshold",
    threshold=10.0,
    missing="missing",
    ok_actions=[],
    alarm_actions=[TOPIC],
)


def failures_metric(mid: str, error_class: str) -> dict:
    return {
        "Id": mid,
        "MetricStat": {
            "Metric": {
                "Dimensions": [{"value": error_class, "name": "ErrorClass"}],
                "MetricName": "KMSFailures",
                "Namespace": NAMESPACE,
            },
            "Period": 300,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }


# Metric-math alarm: Trigger keeps Period/EvaluationPeriods/threshold fields but has no
# MetricName/Namespace/StatisticType/Statistic/Unit/Dimensions; those live in Metrics[].
MATH_NAME = "keytrail-denied-or-bad-ciphertext"
MATH = {
    "AlarmName": MATH_NAME,
    "AlarmDescription": "KMS failures of class AccessDenied plus InvalidCiphertext (KMSAudit/KMSFailures)",
    "AWSAccountId": ACCOUNT,
    "AlarmConfigurationUpdatedTimestamp": CONFIG_UPDATED,
    "NewStateValue": "ALARM",
    # 02:40 period: AccessDenied 3 + InvalidCiphertext 6 = 9 (the 02:30 period has 6 + 0).
    "NewStateReason": reason_threshold(9.0, "04/10/26 02:40:00", "greater than or equal to", 8.0, "OK -> ALARM"),
    "StateChangeTime": "2026-10-04T02:50:01.234+0000",
    "Region": REGION_NAME,
    "AlarmArn": alarm_arn(MATH_NAME),
    "OldStateValue": "OK",
    "OKActions": [],
    "AlarmActions": [TOPIC],
    "InsufficientDataActions": [],
    "Trigger": {
        "Period": 300,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 8.0,
        "TreatMissingData": "notBreaching",
        "EvaluateLowSampleCountPercentile": "",
        "Metrics": [
            {
                "Expression": "m1+m2",
                "Id": "e1",
                "Label": "AccessDenied + InvalidCiphertext",
                "ReturnData": True,
            },
            failures_metric("m1", "AccessDenied"),
            failures_metric("m2", "InvalidCiphertext"),
        ],
    },
}

# Composite alarm: no Trigger, no AlarmConfigurationUpdatedTimestamp; AlarmRule verbatim as
# configured; TriggeringChildren lists the child whose transition caused this one (it is []
# when the state was forced with SetAlarmState).  Field order as in real messages.
COMPOSITE_NAME = "keytrail-kms-incident"
COMPOSITE = {
    "AlarmName": COMPOSITE_NAME,
    "AlarmDescription": "Any keytrail KMS failure alarm",
    "AWSAccountId": ACCOUNT,
    "NewStateValue": "ALARM",
    "NewStateReason": (
        f"{alarm_arn('keytrail-decrypt-failures')} transitioned to ALARM at "
        "Sunday 04 October, 2026 02:50:00 UTC"
    ),
    "StateChangeTime": "2026-10-04T02:50:00.123+0000",
    "Region": REGION_NAME,
    "AlarmArn": alarm_arn(COMPOSITE_NAME),
    "OKActions": [],
    "AlarmActions": [TOPIC],
    "InsufficientDataActions": [],
    "OldStateValue": "OK",
    "AlarmRule": 'ALARM("keytrail-decrypt-failures") OR ALARM("keytrail-access-denied")',
    "TriggeringChildren": [
        {
            "Arn": alarm_arn("keytrail-decrypt-failures"),
            "State": {"Value": "ALARM", "Timestamp": "2026-10-04T02:50:00.123+0000"},
        }
    ],
}


# ---------------------------------------------------------------- the files

def files() -> dict[str, object]:
    decrypt_msg = compact(DECRYPT)
    out: dict[str, object] = {}

    out["sns-decrypt-failures.json"] = lambda_event(
        notification("decrypt-failures", subject(DECRYPT), decrypt_msg, "2026-10-04T02:50:00.187Z")
    )
    out["sns-pending-deletion.json"] = lambda_event(
        notification("pending-deletion", subject(PENDING), compact(PENDING), "2026-10-04T03:55:00.061Z")
    )
    out["sns-metric-math.json"] = lambda_event(
        notification("metric-math", subject(MATH), compact(MATH), "2026-10-04T02:50:01.298Z")
    )
    out["sns-composite.json"] = lambda_event(
        notification("composite", subject(COMPOSITE), compact(COMPOSITE), "2026-10-04T02:50:00.204Z")
    )
    out["sns-ok.json"] = lambda_event(
        notification("decrypt-failures-ok", subject(DECRYPT_OK), compact(DECRYPT_OK), "2026-10-04T02:56:12.851Z")
    )

    # Lambda subscriptions are confirmed by SNS itself, so a real function never receives
    # this; it is the HTTP(S) confirmation body placed in the Lambda envelope, keys as SNS
    # sends them over HTTP (SigningCertURL, SubscribeURL, Token; no UnsubscribeURL, no Subject).
    token = (hashlib.sha512(b"keytrail-confirm-1").hexdigest() + hashlib.sha512(b"keytrail-confirm-2").hexdigest())
    out["sns-subscription-confirmation.json"] = lambda_event(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": message_id("subscription-confirmation"),
            "Token": token,
            "TopicArn": TOPIC,
            "Message": (
                f"You have chosen to subscribe to the topic {TOPIC}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message."
            ),
            "SubscribeURL": (
                f"https://sns.{REGION}.amazonaws.com/?Action=ConfirmSubscription"
                f"&TopicArn={TOPIC}&Token={token}"
            ),
            "Timestamp": "2026-09-28T14:05:02.118Z",
            "SignatureVersion": "1",
            "Signature": fake_signature("subscription-confirmation"),
            "SigningCertURL": CERT_URL,
        }
    )

    truncated = decrypt_msg[: decrypt_msg.index('"NewStateReason"') + 60]
    out["sns-malformed.json"] = lambda_event(
        notification("malformed", subject(DECRYPT), truncated, "2026-10-04T02:50:00.187Z")
    )

    out["alarm-decrypt-failures.json"] = DECRYPT

    # What the same publish looks like to an HTTPS subscriber: same MessageId, Timestamp and
    # Signature, but URL-capitalised SigningCertURL / UnsubscribeURL, its own subscription
    # ARN, and no MessageAttributes (present only when the publisher set some).
    sns = out["sns-decrypt-failures.json"]["Records"][0]["Sns"]
    out["sns-message-decrypt-failures.json"] = {
        "Type": "Notification",
        "MessageId": sns["MessageId"],
        "TopicArn": TOPIC,
        "Subject": sns["Subject"],
        "Message": decrypt_msg,
        "Timestamp": sns["Timestamp"],
        "SignatureVersion": "1",
        "Signature": sns["Signature"],
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": unsubscribe_url(HTTP_SUBSCRIPTION),
    }

    out["sns-unowned-metric.json"] = lambda_event(
        notification("unowned-metric", subject(UNOWNED), compact(UNOWNED), "2026-10-04T04:12:31.519Z")
    )
    out["sns-key-material-expiring.json"] = lambda_event(
        notification("key-material-expiring", subject(KEY_EXPIRING), compact(KEY_EXPIRING), "2026-10-04T04:12:31.519Z")
    )
    out["sns-key-material-expiring-query.json"] = lambda_event(
        notification("key-material-expiring-query", subject(KEY_EXPIRING_QUERY), compact(KEY_EXPIRING_QUERY), "2026-10-04T04:12:31.533Z")
    )
    return out


README = """\
# `events/alarms/`: CloudWatch alarm notifications (via SNS) for the alarm enricher

Generated by `scripts/gen-alarm-fixtures.py` (stdlib, deterministic); do not edit by hand.
Every `Message` is compact `json.dumps` of the alarm object, as CloudWatch publishes it.
Signatures, the signing-certificate URL and the confirmation token are placeholders and do not verify.
Account 111122223333, us-east-1, topic `arn:aws:sns:us-east-1:111122223333:keytrail-alarms`.

| file | what it is |
|---|---|
| `sns-decrypt-failures.json` | Lambda SNS event: metric alarm `keytrail-decrypt-failures` (KMSAudit/KMSDecryptFailures, SUM, 300 s x 1, >= 10) OK -> ALARM at `2026-10-04T02:50:00.123+0000`; datapoint 14.0 at 02:40:00 = the burst 02:41:09-02:44:44Z (role reporting-service), delivered in the 0250Z log file. |
| `sns-pending-deletion.json` | Lambda SNS event: metric alarm `keytrail-pending-deletion-key-use` (KMSPendingDeletionKeyUse, >= 1) OK -> ALARM at `2026-10-04T03:55:00.000+0000`; datapoint 3.0 at 03:45:00 (only the 0350Z delivery is processed by then; the tree has 5 such Decrypts 03:45:31-03:49:57Z, role legacy-importer). |
| `sns-metric-math.json` | Lambda SNS event: metric-math alarm `keytrail-denied-or-bad-ciphertext`, `e1 = m1+m2` over KMSFailures ErrorClass=AccessDenied (m1) and ErrorClass=InvalidCiphertext (m2), >= 8; datapoint 9.0 (3 + 6) at 02:40:00. `Trigger` has `Metrics[]` and no MetricName/Namespace/Statistic/Dimensions. |
| `sns-composite.json` | Lambda SNS event: composite alarm `keytrail-kms-incident`, `AlarmRule` `ALARM("keytrail-decrypt-failures") OR ALARM("keytrail-access-denied")`, `TriggeringChildren` = the decrypt-failures alarm; no `Trigger`, no period, no `AlarmConfigurationUpdatedTimestamp`. |
| `sns-ok.json` | Lambda SNS event: `keytrail-decrypt-failures` ALARM -> OK at `2026-10-04T02:56:12.789+0000` (missing datapoint treated as NonBreaching). |
| `sns-subscription-confirmation.json` | Lambda SNS envelope whose `Sns` is an HTTP `SubscriptionConfirmation` body (SubscribeURL, Token, SigningCertURL, no UnsubscribeURL). SNS never sends this to a Lambda subscription; it must be ignored. |
| `sns-malformed.json` | Lambda SNS event like `sns-decrypt-failures.json` whose `Message` is the alarm JSON cut off mid-string (invalid JSON). |
| `alarm-decrypt-failures.json` | The bare alarm object carried (as a string) by `sns-decrypt-failures.json` and `sns-message-decrypt-failures.json`. |
| `sns-message-decrypt-failures.json` | The same publish as an HTTPS subscriber receives it (POST body): same MessageId/Timestamp/Signature, `SigningCertURL`/`UnsubscribeURL` spelling, no `MessageAttributes`. |
| `sns-unowned-metric.json` | Lambda SNS event: metric alarm on AWS/KMS `XksProxyCertificateDaysToExpire` (XksProxyCertificateName xks-proxy.example.com, MINIMUM, <= 10); no keytrail rule owns it. |
| `sns-key-material-expiring.json` | Lambda SNS event: an operator's per-key alarm on AWS/KMS `SecondsUntilKeyMaterialExpiration` (KeyId e5d7f9a1-3b4c-4d6e-8f0a-1b2c3d4e5f60, MINIMUM, <= 604800): rule key_material_expiring. |
| `sns-key-material-expiring-query.json` | Lambda SNS event: the template's `keytrail-key_material_expiring` alarm, a Metrics Insights query (`SELECT MIN(SecondsUntilKeyMaterialExpiration) FROM SCHEMA("AWS/KMS", KeyId)`, < 2592000) in `Trigger.Metrics[]` with no MetricStat: rule key_material_expiring, no key named. |

Window note: `StateChangeTime` is when CloudWatch evaluated, not when the events happened.
The breaching datapoint is named in `NewStateReason` (`[14.0 (04/10/26 02:40:00)]`, dd/MM/yy, UTC, period start).
`[StateChangeTime - Period x EvaluationPeriods, StateChangeTime]` is 02:45-02:50 for the decrypt alarm and misses the burst,
because keytrail publishes metrics at eventTime only after CloudTrail delivers the file (about 5-15 min later).

## Sources for the shapes

- Single-metric alarm message and Lambda SNS envelope: awslabs/aws-lambda-rust-runtime `lambda-events/src/fixtures/example-cloudwatch-alarm-sns-payload-single-metric.json`, https://github.com/awslabs/aws-lambda-rust-runtime/blob/main/lambda-events/src/fixtures/example-cloudwatch-alarm-sns-payload-single-metric.json (same text in `events/testdata/cloudwatch-alarm-sns-payload-single-metric.json` of aws-lambda-go, seen in the fork https://github.com/paritosh16/aws-lambda-go/blob/master/events/testdata/cloudwatch-alarm-sns-payload-single-metric.json). Modern fields (`AlarmConfigurationUpdatedTimestamp`, `OKActions`/`AlarmActions`/`InsufficientDataActions`, `DatapointsToAlarm`, `Unit: null`, `"Dimensions": []`, `TreatMissingData` as a bare value) from real 2022-2025 messages quoted in public repositories (found with the code index; e.g. a 2022 ca-central-1 `ConcurrentExecutions` alarm and a 2022 ap-southeast-1 RDS alarm with `AlarmConfigurationUpdatedTimestamp`).
- `ActionExecutedAfterMuteWindow`: localstack/localstack `tests/aws/services/cloudwatch/test_cloudwatch.snapshot.json`, entry `test_put_metric_alarm` recorded against AWS on 26-02-2026 (`alarm-triggered-sqs-msg`), https://github.com/localstack/localstack/blob/main/tests/aws/services/cloudwatch/test_cloudwatch.snapshot.json
- Metric-math alarm message: awslabs/aws-lambda-rust-runtime `lambda-events/src/fixtures/example-cloudwatch-alarm-sns-payload-multiple-metrics.json`, https://github.com/awslabs/aws-lambda-rust-runtime/blob/main/lambda-events/src/fixtures/example-cloudwatch-alarm-sns-payload-multiple-metrics.json ; a real 2025 us-east-1 anomaly-detection alarm message (`DatapointsToAlarm`, `ThresholdMetricId` instead of `Threshold`, `"TreatMissingData":"missing"`, `AccountId` on a metric).
- Composite alarm message (`AlarmRule`, `TriggeringChildren[{Arn, State{Value, Timestamp}}]`, NewStateReason "<child ARN> transitioned to ALARM at <Weekday DD Month, YYYY HH:MM:SS> UTC"): real 2021 us-east-1 SNS record quoted in an Amazon-authored example of the IntelliFlow framework, and a real 2022 eu-west-1 message in an alarm-history `publishedMessage` (with OK/Alarm/InsufficientData actions and `"TriggeringChildren":[]`); both found with the code index. LocalStack's emulation: localstack/localstack `localstack-core/localstack/services/cloudwatch/provider_v2.py` (`create_message_response_update_composite_alarm_state_sns`).
- HTTP notification body: https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html
- Subscription confirmation body: https://docs.aws.amazon.com/sns/latest/dg/http-subscription-confirmation-json.html and https://docs.rs/crate/aws_lambda_events/latest/source/src/fixtures/example-sns-subscription-confirmation.json
- Lambda SNS event (`SigningCertUrl`/`UnsubscribeUrl` spelling, `MessageAttributes: {}`): https://github.com/serverless/event-mocks/blob/master/lib/events/aws/sns-template.json ; Powertools for AWS Lambda (TypeScript) SnsEvent schema, https://docs.aws.amazon.com/powertools/typescript/2.14.0/api/types/_aws-lambda-powertools_parser.types.SnsEvent.html (accepts both spellings) ; awslabs/aws-lambda-rust-runtime `lambda-events/src/event/sns/mod.rs` (`SigningCertUrl` with alias `SigningCertURL`).
"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, obj in files().items():
        text = json.dumps(obj, indent=2) + "\n"
        json.loads(text)
        (OUT / name).write_text(text)
        print(f"wrote events/alarms/{name}")
    (OUT / "README.md").write_text(README)
    print("wrote events/alarms/README.md")


if __name__ == "__main__":
    main()
