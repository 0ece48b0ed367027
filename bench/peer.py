#!/usr/bin/env python3
"""The "Python peer": what a Python Lambda would do with one CloudTrail log file.

    python3 bench/peer.py FILE [--totals]

Standard library only. It reads the file the way the usual Python Lambda does:
`gzip` + `json.load` of the whole document (so the file is held in memory, twice:
the decompressed text and the parsed objects), then computes what keytrail's core
(`keytrail core FILE`, i.e. `analysis::analyse` plus `Metrics::datums` and
`Summary::to_gzip_json`) computes, and prints one JSON line:

    {"file": ..., "records": N, "kms_records": N, "datums": N, "summary_gzip_bytes": N}

With --totals it also prints the metric totals over all minutes, in the shape of
`keytrail scan FILE --json`'s `metrics[]`, to check the port against keytrail.

What it mirrors (shared/src at the time of writing):

* keys (`keys::resolve_keys`): requestParameters.keyId (else targetKeyId), a key ARN
  kept as is, an alias resolved to the first key ARN in resources[], else
  `arn:aws:kms:<region>:<account>:alias/...`, a bare key id resolved from resources[]
  or built from the region and account; without keyId, every key ARN in
  resources[] (`ARN` or `arn`), else responseElements.keyId; ReEncrypt's source and
  destination keys; CreateKey's responseElements.keyMetadata.arn.
* the principal (`principal::principal_of`): for AssumedRole the session issuer's
  ARN (else the role ARN derived from the session ARN, else the ARN, else the
  principalId), `service:<invokedBy>` for AWSService, `account:<id>` for AWSAccount
  without an ARN, else the ARN or principalId; service-originated when invokedBy is
  set or sourceIPAddress is an AWS service name.
* the failure class (`catalog::ErrorClass::of`) from errorCode and errorMessage.
* metric datums (`metrics::Metrics::observe`) per (metric, dimensions, minute of
  eventTime): KMSApiCalls{EventName} (names outside KMS_OPERATIONS as `Other`),
  KMSFailures{ErrorClass}, and one count per catalog rule (`catalog::RULES`):
  decrypt_failures, access_denied, pending_deletion_use, disabled_key_use,
  key_deletion_scheduled, key_disabled, key_created, key_policy_changed,
  grant_to_external, cross_account_use, data_key_volume, imported_material_deleted,
  rotation_disabled (unfamiliar_source_ip needs a baseline and never fires without
  one, as in `keytrail core`).
* the per-file summary (`summary::Summary::observe`): usage cells keyed by (key,
  principal, operation, error class, service-originated) with count and first/last
  eventTime, each principal's source IPs (20 smallest), each key's
  encryption-context keys (50 smallest), per UTC day calls, failures, calls per key
  and matches per rule; then the summary is serialised to JSON and gzipped.

What it does not do, so it does less work than keytrail and the python/core ratio is,
if anything, flattering to Python: no de-duplication of re-delivered records, no
tolerance of damaged input (a truncated gzip or broken JSON raises and nothing is
counted), no JSON Lines or concatenated documents, only `eventTime` (no
`@timestamp`), and times parsed with `datetime.fromisoformat` only.
"""

import gzip
import json
import sys
from datetime import datetime, timezone

KMS = "kms.amazonaws.com"

# metrics::KMS_OPERATIONS
KMS_OPERATIONS = frozenset(
    """CancelKeyDeletion ConnectCustomKeyStore CreateAlias CreateCustomKeyStore CreateGrant
    CreateKey Decapsulate Decrypt DeleteAlias DeleteCustomKeyStore DeleteExpiredKeyMaterial
    DeleteImportedKeyMaterial DeleteKey DeriveSharedSecret DescribeCustomKeyStores DescribeKey
    DisableKey DisableKeyRotation DisconnectCustomKeyStore EnableKey EnableKeyRotation
    Encapsulate Encrypt GenerateDataKey GenerateDataKeyPair GenerateDataKeyPairWithoutPlaintext
    GenerateDataKeyWithoutPlaintext GenerateMac GenerateRandom GetKeyLastUsage GetKeyPolicy
    GetKeyRotationStatus GetParametersForImport GetPublicKey ImportKeyMaterial ListAliases
    ListGrants ListKeyPolicies ListKeyRotations ListKeys ListResourceTags
    ListRetirableGrants PutKeyPolicy ReEncrypt ReplicateKey RetireGrant RevokeGrant
    RotateKey RotateKeyOnDemand ScheduleKeyDeletion Sign SynchronizeMultiRegionKey
    TagResource UntagResource UpdateAlias UpdateCustomKeyStore UpdateKeyDescription
    UpdatePrimaryRegion Verify VerifyMac""".split()
)

MAX_IPS_PER_PRINCIPAL = 20
MAX_CONTEXT_KEYS_PER_KEY = 50
NO_KEY = "-"


def _str(v):
    return v if isinstance(v, str) else None


def arn_account(arn):
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    if len(parts) < 5 or parts[0] != "arn" or not parts[4]:
        return None
    return parts[4]


def is_key_arn(s):
    return s.startswith("arn:") and ":kms:" in s and ":key/" in s


def is_alias(s):
    return s.startswith("alias/") or (s.startswith("arn:") and ":alias/" in s)


def partition_for_region(region):
    for prefix, part in (
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
    ):
        if region.startswith(prefix):
            return part
    return "aws"


def is_account_id(s):
    return isinstance(s, str) and len(s) == 12 and s.isdigit() and s.isascii()


def is_service_source(ip):
    ip = ip.strip()
    return (
        ip.lower() == "aws internal"
        or ip.endswith(".amazonaws.com")
        or ip.endswith(".amazonaws.com.cn")
        or ip.endswith(".amazon.com")
    )


def resolve_keys(r, name, params):
    """keys::resolve_keys: the key ARNs (or aliases / raw ids) a record names."""
    resource_arns = []
    res = r.get("resources")
    if isinstance(res, list):
        for x in res:
            if not isinstance(x, dict):
                continue
            t = x.get("type")
            if isinstance(t, str) and t.lower() != "aws::kms::key":
                continue
            a = _str(x.get("ARN")) or _str(x.get("arn"))
            if a and is_key_arn(a):
                resource_arns.append(a)
    account = _str(r.get("recipientAccountId"))
    if account is None:
        ui = r.get("userIdentity")
        account = _str(ui.get("accountId")) if isinstance(ui, dict) else None
    region = _str(r.get("awsRegion"))

    def normalise(raw, fallback):
        raw = raw.strip()
        if is_key_arn(raw):
            return raw
        if is_alias(raw):
            if fallback:
                return fallback
            if raw.startswith("alias/") and account and region:
                return f"arn:{partition_for_region(region)}:kms:{region}:{account}:{raw}"
            return raw
        suffix = "key/" + raw
        for a in resource_arns:
            if a.endswith(suffix):
                return a
        if account and region and raw:
            return f"arn:{partition_for_region(region)}:kms:{region}:{account}:key/{raw}"
        return raw

    def param(field):
        return _str(params.get(field)) if params else None

    if name == "ReEncrypt":
        out = []
        src, dst = param("sourceKeyId"), param("destinationKeyId")
        src_fb = resource_arns[0] if resource_arns else None
        dst_fb = resource_arns[1] if len(resource_arns) > 1 else src_fb
        if src is not None:
            out.append(normalise(src, src_fb))
        else:
            dst_norm = normalise(dst, None) if dst is not None else None
            for a in resource_arns:
                if dst_norm is None or dst_norm != a:
                    out.append(a)
                    break
        if dst is not None:
            out.append(normalise(dst, dst_fb) if is_alias(dst) else normalise(dst, None))
        return out
    resp = r.get("responseElements")
    if name == "CreateKey":
        if isinstance(resp, dict):
            meta = resp.get("keyMetadata")
            if isinstance(meta, dict) and isinstance(meta.get("arn"), str):
                return [meta["arn"]]
        return []
    requested = param("keyId") or param("targetKeyId")
    if requested is not None and requested.strip():
        return [normalise(requested, resource_arns[0] if resource_arns else None)]
    if resource_arns:
        return list(resource_arns)
    if isinstance(resp, dict):
        k = resp.get("keyId")
        if isinstance(k, str) and is_key_arn(k):
            return [k]
    return []


def role_arn_from_session(arn):
    head, sep, res = arn.partition(":assumed-role/")
    if not sep or "/" not in res:
        return None
    role = res.split("/", 1)[0]
    parts = head.split(":", 4)
    if len(parts) < 5:
        return None
    return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"


def principal_of(r):
    """principal::principal_of: (normalised id, account, service-originated)."""
    ui = r.get("userIdentity")
    if not isinstance(ui, dict):
        ui = {}
    invoked_by = _str(ui.get("invokedBy"))
    ip = _str(r.get("sourceIPAddress"))
    itype = _str(ui.get("type"))
    arn = _str(ui.get("arn"))
    account_id = _str(ui.get("accountId"))
    pid = _str(ui.get("principalId"))
    account = account_id or arn_account(arn)
    if itype == "AssumedRole":
        issuer = None
        ctx = ui.get("sessionContext")
        if isinstance(ctx, dict) and isinstance(ctx.get("sessionIssuer"), dict):
            issuer = _str(ctx["sessionIssuer"].get("arn"))
        pid_out = issuer or (arn and role_arn_from_session(arn)) or arn or pid
    elif itype == "AWSService":
        pid_out = f"service:{invoked_by}" if invoked_by else None
    elif itype == "AWSAccount" and arn is None:
        pid_out = f"account:{account_id}" if account_id else None
    else:
        pid_out = arn or pid
    if pid_out is None:
        pid_out = f"account:{account_id}" if account_id else "unknown"
    service = invoked_by is not None or (ip is not None and is_service_source(ip))
    return pid_out, account, service


def error_class(r):
    """catalog::ErrorClass::of."""
    code = _str(r.get("errorCode"))
    if not code:
        return None
    msg = (_str(r.get("errorMessage")) or "").lower()
    if "pending deletion" in msg:
        return "PendingDeletion"
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                "Client.UnauthorizedOperation"):
        return "AccessDenied"
    if code == "IncorrectKeyException":
        return "IncorrectKey"
    if code == "InvalidCiphertextException":
        return "InvalidCiphertext"
    if code == "DisabledException":
        return "Disabled"
    if code == "KMSInvalidStateException" and "is disabled" in msg:
        return "Disabled"
    if code in ("KMSInvalidStateException", "InvalidStateException"):
        return "InvalidState"
    if code == "NotFoundException":
        return "NotFound"
    if code in ("ThrottlingException", "LimitExceededException", "RequestLimitExceeded"):
        return "Throttled"
    return "Other"


def rules_matching(r, name, params, cls, keys, account):
    """catalog::RULES: (rule id, metric name) of every rule the event matches."""
    failed = cls is not None
    out = []
    if name == "Decrypt" and failed:
        out.append(("decrypt_failures", "KMSDecryptFailures"))
    if r.get("errorCode") in ("AccessDenied", "AccessDeniedException"):
        out.append(("access_denied", "KMSAccessDenied"))
    if cls == "PendingDeletion":
        out.append(("pending_deletion_use", "KMSPendingDeletionKeyUse"))
    if cls == "Disabled":
        out.append(("disabled_key_use", "KMSDisabledKeyUse"))
    if not failed:
        if name == "ScheduleKeyDeletion":
            out.append(("key_deletion_scheduled", "KMSKeyDeletionScheduled"))
            days = (params or {}).get("pendingWindowInDays")
            try:
                short = days is not None and not isinstance(days, bool) and int(float(days)) <= 7
            except (TypeError, ValueError):
                short = False
            if short:
                out.append(("key_deletion_short_window", "KMSKeyDeletionShortWindow"))
        elif name == "DisableKey":
            out.append(("key_disabled", "KMSKeyDisabled"))
        elif name == "CreateKey":
            out.append(("key_created", "KMSKeyCreation"))
        elif name == "PutKeyPolicy":
            out.append(("key_policy_changed", "KMSKeyPolicyChanged"))
    key_account = None
    for k in keys:
        key_account = arn_account(k)
        if key_account:
            break
    if name == "CreateGrant" and not failed:
        grantee = arn_account(params.get("granteePrincipal")) if params else None
        owner = key_account or _str(r.get("recipientAccountId"))
        if grantee and owner and is_account_id(grantee) and grantee != owner:
            out.append(("grant_to_external", "KMSGrantToExternalAccount"))
    if account and key_account and is_account_id(account) and is_account_id(key_account) \
            and account != key_account:
        out.append(("cross_account_use", "KMSCrossAccountUse"))
    if name.startswith("GenerateDataKey"):
        out.append(("data_key_volume", "DataKeyGeneration"))
    if not failed:
        if name == "DeleteImportedKeyMaterial":
            out.append(("imported_material_deleted", "KMSImportedKeyMaterialDeleted"))
        elif name == "DisableKeyRotation":
            out.append(("rotation_disabled", "KMSKeyRotationDisabled"))
    # unfamiliar_source_ip: needs the review baseline; inactive without one.
    return out


def capped_insert(s, v, cap):
    """summary::CappedSet::insert: keep the `cap` smallest values, flag overflow."""
    values = s["values"]
    if v in values:
        return
    values.add(v)
    if len(values) > cap:
        values.remove(max(values))
        s["truncated"] = True


def parse_time(t):
    if not isinstance(t, str):
        return None
    try:
        dt = datetime.fromisoformat(t.strip())
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def analyse(path):
    with gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb") as f:
        doc = json.load(f)
    records = doc["Records"] if isinstance(doc, dict) else doc

    counts = {}  # (metric, dims tuple, minute) -> n
    usage = {}  # (key, principal, op, class, service) -> [count, first, last]
    principal_ips = {}
    key_context_keys = {}
    days = {}
    first_event = last_event = None
    kms_records = bad = 0

    def add(metric, dims, minute):
        k = (metric, dims, minute)
        counts[k] = counts.get(k, 0) + 1

    for r in records:
        if not isinstance(r, dict):
            bad += 1
            continue
        if r.get("eventSource") != KMS:
            continue
        kms_records += 1
        t = parse_time(r.get("eventTime"))
        if t is None:
            bad += 1
            continue
        name = _str(r.get("eventName")) or ""
        params = r.get("requestParameters")
        if not isinstance(params, dict):
            params = None
        keys = resolve_keys(r, name, params)
        principal, account, service = principal_of(r)
        cls = error_class(r)
        matched = rules_matching(r, name, params, cls, keys, account)

        # Metrics::observe
        minute = t - t % 60
        add("KMSApiCalls", (("EventName", name if name in KMS_OPERATIONS else "Other"),), minute)
        if cls is not None:
            add("KMSFailures", (("ErrorClass", cls),), minute)
        for _, metric in matched:
            add(metric, (), minute)

        # Summary::observe
        day_key = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d")
        day = days.get(day_key)
        if day is None:
            day = days[day_key] = {"calls": 0, "failures": 0, "by_key": {}, "rules": {}}
        day["calls"] += 1
        if cls is not None:
            day["failures"] += 1
        for k in keys:
            day["by_key"][k] = day["by_key"].get(k, 0) + 1
        for rule_id, _ in matched:
            day["rules"][rule_id] = day["rules"].get(rule_id, 0) + 1
        first_event = t if first_event is None else min(first_event, t)
        last_event = t if last_event is None else max(last_event, t)
        cell_keys = keys or [NO_KEY]
        for k in cell_keys:
            cell = (k, principal, name, cls, service)
            s = usage.get(cell)
            if s is None:
                usage[cell] = [1, t, t]
            else:
                s[0] += 1
                s[1] = min(s[1], t)
                s[2] = max(s[2], t)
        ip = _str(r.get("sourceIPAddress"))
        if ip is not None:
            s = principal_ips.get(principal)
            if s is None:
                s = principal_ips[principal] = {"values": set(), "truncated": False}
            capped_insert(s, ip, MAX_IPS_PER_PRINCIPAL)
        ctx = params.get("encryptionContext") if params else None
        if isinstance(ctx, dict) and ctx:
            for k in cell_keys:
                if k == NO_KEY:
                    continue
                s = key_context_keys.get(k)
                if s is None:
                    s = key_context_keys[k] = {"values": set(), "truncated": False}
                for ck in ctx:
                    capped_insert(s, ck, MAX_CONTEXT_KEYS_PER_KEY)

    def iso(t):
        return None if t is None else datetime.fromtimestamp(t, timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")

    def capped(m):
        return {k: {"values": sorted(v["values"]), "truncated": v["truncated"]}
                for k, v in sorted(m.items())}

    summary = {
        "version": 2,
        "files": 1,
        "records": len(records),
        "kms_records": kms_records,
        "bad_records": bad,
        "first_event": iso(first_event),
        "last_event": iso(last_event),
        "usage": [
            {"key": k, "principal": p, "event_name": op, "error_class": c,
             "service_originated": s, "count": v[0], "first_seen": v[1], "last_seen": v[2]}
            for (k, p, op, c, s), v in sorted(usage.items(), key=lambda kv: _sort_key(kv[0]))
        ],
        "principal_ips": capped(principal_ips),
        "key_context_keys": capped(key_context_keys),
        "days": {d: days[d] for d in sorted(days)},
    }
    summary_gz = gzip.compress(json.dumps(summary, separators=(",", ":")).encode(), mtime=0)

    totals = {}
    for (metric, dims, _), n in counts.items():
        totals[(metric, dims)] = totals.get((metric, dims), 0) + n
    return {
        "file": path,
        "records": len(records),
        "kms_records": kms_records,
        "datums": len(counts),
        "summary_gzip_bytes": len(summary_gz),
    }, totals


def _sort_key(cell):
    k, p, op, c, s = cell
    return (k, p, op, c or "", s)


def _is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def main(argv):
    args = [a for a in argv[1:] if a != "--totals"]
    if len(args) != 1 or args[0].startswith("-"):
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    out, totals = analyse(args[0])
    print(json.dumps(out))
    if "--totals" in argv[1:]:
        metrics = [
            {"name": m, "dimensions": dict(d), "value": n}
            for (m, d), n in sorted(totals.items())
        ]
        print(json.dumps(metrics, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
