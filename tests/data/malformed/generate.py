#!/usr/bin/env python3
"""Writes the malformed-input corpus (issue 7) and its manifest, cases.json.

Standard library only, deterministic (fixed seed, gzip mtime 0). Run from anywhere:
    python3 tests/data/malformed/generate.py
Big cases (10 MB userAgent, 100,000 duplicates, 10,000-deep nesting) are not written
here: the Rust tests build them at run time; cases.json lists them with "generated": true.
"""
import gzip
import json
import os
import random
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ACCT = "111122223333"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/0f3c1a52-8b6e-4d1f-9a27-3e5b7c9d2a41"
CASES = []


def rec(i, **over):
    r = {
        "eventVersion": "1.08",
        "eventID": f"00000000-0000-4000-8000-{i:012d}",
        "eventTime": "2026-10-04T03:00:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.0.1",
        "userAgent": "aws-sdk",
        "userIdentity": {"type": "AssumedRole", "accountId": ACCT,
                         "arn": f"arn:aws:sts::{ACCT}:assumed-role/app/s"},
        "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        "resources": [{"ARN": KEY, "accountId": ACCT, "type": "AWS::KMS::Key"}],
        "recipientAccountId": ACCT,
    }
    for k, v in over.items():
        if v is None:
            r.pop(k, None)
        else:
            r[k] = v
    return r


def log(records):
    return json.dumps({"Records": records}, separators=(",", ":")).encode()


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def write(name, data):
    assert len(data) < 200 * 1024, name
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def case(file, kind, what, expect, data=None, generated=False, note=None):
    if data is not None:
        write(file, data)
    c = {"file": file, "kind": kind, "what": what, "expect": expect}
    if generated:
        c["generated"] = True
    if note:
        c["note"] = note
    CASES.append(c)


def main():
    rnd = random.Random(7)
    good3 = [rec(i) for i in range(3)]

    # ---- compression / encoding -------------------------------------------------
    # Truncated gzip, cut exactly after a full flush that ends just after record 40's
    # comma: the decoder yields 40 complete records, then hits the end of input.
    recs = [rec(i) for i in range(80)]
    head = b'{"Records":[' + b",".join(json.dumps(r, separators=(",", ":")).encode() for r in recs[:40]) + b","
    tail = b",".join(json.dumps(r, separators=(",", ":")).encode() for r in recs[40:]) + b"]}"
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    flushed = co.compress(head) + co.flush(zlib.Z_FULL_FLUSH)
    full = flushed + co.compress(tail) + co.flush()
    assert gzip.decompress(full) == head + tail
    case("truncated.json.gz", "log", "gzip cut after a full flush: 40 whole records, then end of input",
         {"records": 40, "kms_records": 40, "bad_records": 0, "duplicates": 0,
          "error_contains": ["damaged gzip data"]}, flushed)

    data = bytearray(gz(log(good3)))
    for i in range(len(data) - 8, len(data) - 4):
        data[i] ^= 0xFF
    case("bad_crc.json.gz", "log", "gzip whose CRC32 trailer bytes are flipped",
         {"records": 3, "kms_records": 3, "bad_records": 0, "error_contains": ["damaged gzip data"]}, bytes(data))

    case("concatenated.json.gz", "log", "two gzip members, each a whole {\"Records\":[...]} document",
         {"records": 5, "kms_records": 5, "bad_records": 0},
         gz(log([rec(10), rec(11)])) + gz(log([rec(12), rec(13), rec(14)])))

    case("plain_named_gz.json.gz", "log", "plain JSON named .json.gz (gzip is detected by magic bytes)",
         {"records": 2, "kms_records": 2, "bad_records": 0}, log([rec(20), rec(21)]))

    while True:
        junk = bytes(rnd.randrange(256) for _ in range(4096))
        if junk[0] not in b' \t\r\n{["-0123456789tfn\x1f':
            break
    case("random_bytes.json.gz", "log", "4 KiB of random bytes named .json.gz (no gzip magic)",
         {"records": 0, "error_contains": ["malformed JSON"]}, junk)

    case("gzip_magic_then_garbage.json.gz", "log", "the gzip magic 1f 8b followed by random bytes",
         {"records": 0, "error_contains": ["damaged gzip data"]}, b"\x1f\x8b" + junk[:2048])

    case("empty.json.gz", "log", "a zero-byte file", {"not_a_log": True, "reason": "empty file"}, b"")

    case("gzip_of_empty.json.gz", "log", "a valid gzip of the empty string",
         {"not_a_log": True, "reason": "empty file"}, gz(b""))

    bad_utf8 = (b'{"Records":[' + json.dumps(rec(30), separators=(",", ":")).encode() + b"," +
                json.dumps(rec(31), separators=(",", ":")).encode() + b"," +
                b'{"eventID":"x","userAgent":"caf\xc3\x28 \xff\xfe"}]}')
    case("invalid_utf8.json", "log", "invalid UTF-8 bytes inside a string value of the third record",
         {"records": 2, "kms_records": 2, "error_contains": ["malformed JSON", "invalid unicode code point"]}, bad_utf8)

    case("bom.json", "log", "a UTF-8 byte order mark (EF BB BF) before {",
         {"records": 0, "error_contains": ["malformed JSON", "line 1, column 1"]}, b"\xef\xbb\xbf" + log(good3),
         note="questionable: the whole file is lost to three BOM bytes; see README")

    case("bom.json.gz", "log", "gzip of a UTF-8 BOM followed by a valid log",
         {"records": 0, "error_contains": ["malformed JSON"]}, gz(b"\xef\xbb\xbf" + log(good3)),
         note="questionable: see bom.json")

    case("nul_padding.json", "log", "a valid log followed by NUL bytes (a pre-allocated, partly written file)",
         {"records": 3, "kms_records": 3, "error_contains": ["malformed JSON"]}, log(good3) + b"\x00" * 64)

    # ---- structure --------------------------------------------------------------------
    case("empty_object.json", "log", "{}", {"not_a_log": True, "reason": "JSON object without a Records array"}, b"{}")
    case("records_string.json", "log", "Records is a string",
         {"records": 0, "error_contains": ["malformed JSON", "Records to be an array"]}, b'{"Records":"[]"}')
    case("records_object.json", "log", "Records is an object",
         {"records": 0, "error_contains": ["malformed JSON", "Records to be an array"]},
         b'{"Records":{"eventName":"Decrypt"}}')
    case("records_number.json", "log", "Records is a number",
         {"records": 0, "error_contains": ["malformed JSON", "Records to be an array"]}, b'{"Records":5}')
    case("non_object_records.json", "log", "non-objects (string, number, null, array, bool) among good records",
         {"records": 7, "kms_records": 2, "bad_records": 5},
         log([rec(40), "garbage", 42, None, [1, 2], True, rec(41)]))
    case("duplicate_records_key.json", "log", "two Records keys in one object",
         {"records": 3, "kms_records": 3, "bad_records": 0},
         b'{"Records":[' + json.dumps(rec(50)).encode() + b'],"Records":[' +
         json.dumps(rec(51)).encode() + b"," + json.dumps(rec(52)).encode() + b"]}")
    deep = "[" * 200 + "]" * 200
    case("nesting_200.json", "log", "requestParameters nested 200 levels deep (over serde_json's 128) after 2 good records",
         {"records": 2, "kms_records": 2, "error_contains": ["malformed JSON", "recursion limit"]},
         b'{"Records":[' + json.dumps(rec(60)).encode() + b"," + json.dumps(rec(61)).encode() +
         b',{"eventSource":"kms.amazonaws.com","requestParameters":{"a":' + deep.encode() + b"}}]}")
    case("trailing_garbage.json", "log", "a valid log followed by text",
         {"records": 3, "kms_records": 3, "error_contains": ["malformed JSON"]}, log(good3) + b"\nthis is not json\n")
    case("jsonl_broken_line.jsonl", "log", "JSON Lines with a truncated third line",
         {"records": 2, "kms_records": 2, "error_contains": ["malformed JSON", "control character"]},
         json.dumps(rec(70)).encode() + b"\n" + json.dumps(rec(71)).encode() + b'\n{"eventID":"72","eventN\n'
         + json.dumps(rec(73)).encode() + b"\n")
    case("top_level_string.json", "log", "a top-level JSON string",
         {"not_a_log": True, "reason": "top-level JSON string, not CloudTrail"}, b'"Records"')
    case("deep_nesting.json", "log", "10,000-deep array nesting inside requestParameters after 2 good records",
         {"records": 2, "kms_records": 2, "error_contains": ["malformed JSON", "recursion limit"]}, generated=True)
    case("huge_user_agent.json", "log", "one KMS record with a 10 MB userAgent, then one normal record",
         {"records": 2, "kms_records": 2, "bad_records": 0, "duplicates": 0}, generated=True)
    case("duplicates_100k.json", "log", "100,000 copies of the same record (same eventID and content)",
         {"records": 1, "kms_records": 1, "bad_records": 0, "duplicates": 99999}, generated=True)

    # ---- field values -------------------------------------------------------------------
    case("event_time_missing.json", "log", "a KMS record without eventTime among good ones",
         {"records": 3, "kms_records": 3, "bad_records": 1}, log([rec(80), rec(81, eventTime=None), rec(82)]))
    case("event_time_number.json", "log", "eventTime is a number (epoch seconds)",
         {"records": 2, "kms_records": 2, "bad_records": 1}, log([rec(83), rec(84, eventTime=1791082800)]))
    case("event_time_not_iso.json", "log", "eventTime not ISO 8601 (US date, month 13, empty)",
         {"records": 4, "kms_records": 4, "bad_records": 3},
         log([rec(85), rec(86, eventTime="10/04/2026 03:00:00"), rec(87, eventTime="2026-13-45T03:00:00Z"),
              rec(88, eventTime="")]))
    case("numbers_for_strings.json", "log", "eventName 5 and userIdentity.arn 7 (numbers where strings are expected)",
         {"records": 1, "kms_records": 1, "bad_records": 0, "event_names": ["5"], "principal_arns": ["7"]},
         log([rec(90, eventName=5, userIdentity={"type": "IAMUser", "accountId": ACCT, "arn": 7})]))
    nan_prefix = b'{"Records":[' + json.dumps(rec(91)).encode() + b","
    case("nan_bare.json", "log", "a bare NaN token as a value (invalid JSON)",
         {"records": 1, "kms_records": 1, "error_contains": ["malformed JSON", "decompressed byte"]},
         nan_prefix + b'{"eventID":"92","requestParameters":{"numberOfBytes":NaN}}]}')
    case("infinity_bare.json", "log", "bare Infinity / -Infinity tokens (invalid JSON)",
         {"records": 1, "kms_records": 1, "error_contains": ["malformed JSON", "decompressed byte"]},
         nan_prefix + b'{"eventID":"93","requestParameters":{"numberOfBytes":-Infinity}}]}')
    case("number_out_of_range.json", "log", "a number literal beyond f64 (1e400)",
         {"records": 1, "kms_records": 1, "error_contains": ["malformed JSON", "number out of range"]},
         nan_prefix + b'{"eventID":"94","requestParameters":{"numberOfBytes":1e400}}]}')
    case("lone_surrogate.json", "log", "an unpaired UTF-16 surrogate escape in a string",
         {"records": 1, "kms_records": 1, "error_contains": ["malformed JSON", "surrogate"]},
         nan_prefix + b'{"eventID":"95","userAgent":"\\ud800x"}]}')
    case("nan_strings.json", "log", "the strings \"NaN\"/\"Infinity\" in eventName, keyId, sourceIPAddress, eventTime",
         {"records": 2, "kms_records": 2, "bad_records": 1, "event_names": ["NaN"]},
         log([rec(96, eventName="NaN", sourceIPAddress="Infinity", requestParameters={"keyId": "NaN"}),
              rec(97, eventTime="NaN")]))
    gov_key = f"arn:aws-us-gov:kms:us-gov-west-1:{ACCT}:key/1a2b3c4d-0000-4000-8000-000000000001"
    gov_caller = {"type": "IAMUser", "accountId": ACCT, "arn": f"arn:aws-us-gov:iam::{ACCT}:user/ops"}
    case("partition_us_gov.json", "log", "aws-us-gov key ARNs: in resources, and as a bare keyId built from the region",
         {"records": 2, "kms_records": 2, "bad_records": 0, "cross_account": False,
          "keys": [gov_key, f"arn:aws-us-gov:kms:us-gov-west-1:{ACCT}:key/1a2b3c4d-0000-4000-8000-000000000002"]},
         log([rec(100, awsRegion="us-gov-west-1", userIdentity=gov_caller, resources=[{"ARN": gov_key, "accountId": ACCT}],
                  requestParameters={"keyId": gov_key}),
              rec(101, awsRegion="us-gov-west-1", userIdentity=gov_caller, resources=None,
                  requestParameters={"keyId": "1a2b3c4d-0000-4000-8000-000000000002"})]))
    cn_key = f"arn:aws-cn:kms:cn-north-1:{ACCT}:key/1a2b3c4d-0000-4000-8000-000000000003"
    cn_caller = {"type": "AssumedRole", "accountId": ACCT,
                 "arn": f"arn:aws-cn:sts::{ACCT}:assumed-role/app/s",
                 "sessionContext": {"sessionIssuer": {"type": "Role", "accountId": ACCT,
                                                      "arn": f"arn:aws-cn:iam::{ACCT}:role/app"}}}
    case("partition_cn.json", "log", "aws-cn key ARN, and an alias resolved in cn-north-1",
         {"records": 2, "kms_records": 2, "bad_records": 0, "cross_account": False,
          "keys": [cn_key, f"arn:aws-cn:kms:cn-north-1:{ACCT}:alias/app"]},
         log([rec(102, awsRegion="cn-north-1", userIdentity=cn_caller, resources=[{"ARN": cn_key, "type": "AWS::KMS::Key"}]),
              rec(103, awsRegion="cn-north-1", userIdentity=cn_caller, resources=None,
                  requestParameters={"keyId": "alias/app"})]))

    # ---- payloads ------------------------------------------------------------------------
    def s3_event(key):
        return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                             "eventTime": "2026-10-04T04:00:27.000Z", "eventName": "ObjectCreated:Put",
                             "userIdentity": {"principalId": "AWS:AROAEXAMPLE:regionalDeliverySession"},
                             "requestParameters": {"sourceIPAddress": "198.51.100.201"},
                             "responseElements": {"x-amz-request-id": "3JZJSHHNAQLDX752", "x-amz-id-2": "abc"},
                             "s3": {"s3SchemaVersion": "1.0", "configurationId": "keytrail",
                                    "bucket": {"name": "keytrail-test-trail", "arn": "arn:aws:s3:::keytrail-test-trail"},
                                    "object": {"key": key, "size": 4014, "eTag": "31945dea9d0c969faffd18339c09c653",
                                               "sequencer": "0006CE206178135FCC"}}}]}
    prefix = f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/10/04/"
    case("s3_event_unicode_key.json", "s3-event", "S3 notification with a URL-encoded key: %C3%A9 and + for space",
         {"outcome": {"objects": [{"bucket": "keytrail-test-trail", "key": prefix + "café log 100%.json.gz",
                                   "raw_key": prefix + "caf%C3%A9+log+100%25.json.gz"}]}},
         json.dumps(s3_event(prefix + "caf%C3%A9+log+100%25.json.gz"), indent=1).encode())
    case("s3_event_bad_percent.json", "s3-event", "S3 notification whose key has an invalid %-escape and an encoded invalid UTF-8 byte",
         {"outcome": {"objects": [{"bucket": "keytrail-test-trail", "key": prefix + "a%zz\ufffd.json.gz",
                                   "raw_key": prefix + "a%zz%FF.json.gz"}]}},
         json.dumps(s3_event(prefix + "a%zz%FF.json.gz"), indent=1).encode())
    minimal = s3_event(prefix + "minimal.json.gz")
    for k in ("userIdentity", "requestParameters", "responseElements", "eventVersion"):
        del minimal["Records"][0][k]
    case("s3_event_minimal.json", "s3-event",
         "S3 notification record with only s3.bucket/s3.object (no userIdentity, requestParameters, responseElements)",
         {"outcome": "unrecognised", "error_contains": ["not an S3 event", "userIdentity"]},
         json.dumps(minimal, indent=1).encode(),
         note="questionable: bucket and key are present, yet the whole event is rejected; see README")
    case("s3_test_event.json", "s3-event", "the s3:TestEvent S3 sends when a notification is configured",
         {"outcome": "test_event"},
         json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-10-04T01:58:12.437Z",
                     "Bucket": "keytrail-test-trail", "RequestId": "TDKEJBKWGVPMEG5G",
                     "HostId": "0qQxjJHHkLpKUTNHDCeaszc9qeVCC1WB9d5gODdSxrQiGEXzP9bMTnMM3eNCf"}, indent=1).encode())
    eb = {"version": "0", "id": "3b02f87f-8b36-47fd-afa4-7d6d7fa91f63", "detail-type": "Object Created",
          "source": "aws.s3", "account": ACCT, "time": "2026-10-04T04:00:27Z", "region": "us-east-1",
          "resources": ["arn:aws:s3:::keytrail-test-trail"],
          "detail": {"version": "0", "bucket": {"name": "keytrail-test-trail"},
                     "object": {"key": prefix + "gone.json.gz", "size": 4014, "etag": "31945dea9d0c969faffd18339c09c653"},
                     "request-id": "3JZJSHHNAQLDX752", "requester": "cloudtrail.amazonaws.com", "reason": "PutObject"}}
    case("eventbridge_created_then_deleted.json", "s3-event",
         "EventBridge Object Created for an object deleted before the function ran (parse only; NoSuchKey handling is tested in tests/processor.rs)",
         {"outcome": {"objects": [{"bucket": "keytrail-test-trail", "key": prefix + "gone.json.gz",
                                   "raw_key": prefix + "gone.json.gz"}]}}, json.dumps(eb, indent=1).encode())
    ebd = json.loads(json.dumps(eb))
    ebd["detail-type"] = "Object Deleted"
    ebd["detail"]["reason"] = "DeleteObject"
    ebd["detail"]["deletion-type"] = "Permanently Deleted"
    del ebd["detail"]["object"]["size"]
    case("eventbridge_object_deleted.json", "s3-event", "EventBridge Object Deleted event",
         {"outcome": "unrecognised", "error_contains": ["neither an S3 notification"]}, json.dumps(ebd, indent=1).encode())
    ebn = json.loads(json.dumps(eb))
    del ebn["detail"]["object"]
    case("eventbridge_no_object.json", "s3-event", "EventBridge Object Created without detail.object",
         {"outcome": "unrecognised", "error_contains": ["without bucket/key"]}, json.dumps(ebn, indent=1).encode())

    alarm = {"AlarmName": "keytrail-decrypt-failures", "AWSAccountId": ACCT, "NewStateValue": "ALARM",
             "OldStateValue": "OK", "StateChangeTime": "2026-10-04T02:50:00.123+0000",
             "Region": "US East (N. Virginia)",
             "AlarmArn": f"arn:aws:cloudwatch:us-east-1:{ACCT}:alarm:keytrail-decrypt-failures"}

    def sns(message):
        return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                             "Sns": {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                                     "TopicArn": f"arn:aws:sns:us-east-1:{ACCT}:keytrail-alarms",
                                     "Subject": "ALARM", "Message": message,
                                     "Timestamp": "2026-10-04T02:50:00.200Z"}}]}
    case("sns_message_not_json.json", "alarm", "SNS notification whose Message is plain text",
         {"outcome": "not_an_alarm", "error_contains": ["not JSON"]},
         json.dumps(sns("ALARM: keytrail-decrypt-failures in US East (N. Virginia)"), indent=1).encode())
    case("sns_message_broken_json.json", "alarm", "SNS notification whose Message is cut-off JSON",
         {"outcome": "malformed", "error_contains": ["not valid JSON"]},
         json.dumps(sns(json.dumps(alarm)[:120]), indent=1).encode())
    case("alarm_no_trigger.json", "alarm", "an alarm with no Trigger",
         {"outcome": "alarm", "alarm_kind": "unknown", "plan": "error",
          "error_contains": ["names no metric"]}, json.dumps(sns(json.dumps(alarm)), indent=1).encode())
    a = dict(alarm, Trigger="KMSDecryptFailures")
    case("alarm_trigger_string.json", "alarm", "an alarm whose Trigger is a string",
         {"outcome": "alarm", "alarm_kind": "unknown", "plan": "error", "error_contains": ["names no metric"]},
         json.dumps(a, indent=1).encode())
    a = dict(alarm, Trigger={"Period": 300, "EvaluationPeriods": 1, "Threshold": 1.0,
                             "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                             "Metrics": [{"Id": "e1", "Expression": "m7 + m8", "ReturnData": True},
                                         {"Id": "m7", "ReturnData": False},
                                         {"Id": "m8", "ReturnData": False, "MetricStat": {"Period": 300}},
                                         {"Id": "q1", "ReturnData": False,
                                          "MetricStat": {"Period": 300, "Stat": "Sum", "Metric": {"Namespace": "KMSAudit"}}}]})
    case("alarm_math_no_metricstat.json", "alarm",
         "metric-math alarm whose expression names ids that have no MetricStat / no Metric / no MetricName",
         {"outcome": "alarm", "alarm_kind": "metric_math", "metrics": 0, "plan": "error",
          "error_contains": ["no keytrail rule owns metric"]},
         json.dumps(sns(json.dumps(a)), indent=1).encode(),
         note="questionable: the plan error names no metric at all ('no keytrail rule owns metric ')")
    a = dict(alarm, Trigger={"Period": 300, "EvaluationPeriods": 1, "Threshold": 1.0,
                             "Metrics": [{"Id": "e1", "Expression": "m1 + zz9", "ReturnData": True},
                                         {"Id": "zz9", "ReturnData": False, "Label": "no stat"},
                                         {"Id": "m1", "ReturnData": False,
                                          "MetricStat": {"Period": 600, "Stat": "Sum",
                                                         "Metric": {"Namespace": "KMSAudit", "MetricName": "KMSFailures",
                                                                    "Dimensions": [{"name": "ErrorClass", "value": "AccessDenied"}]}}},
                                         {"Id": "m2", "ReturnData": False,
                                          "MetricStat": {"Period": "abc", "Metric": {"Namespace": "Other", "MetricName": "CPU"}}}]})
    case("alarm_math_mixed.json", "alarm",
         "metric-math alarm mixing an id without MetricStat, a keytrail metric and a foreign metric",
         {"outcome": "alarm", "alarm_kind": "metric_math", "metrics": 2, "plan": "ok", "selectors": 1},
         json.dumps(a, indent=1).encode())

    CASES.sort(key=lambda c: c["file"])
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump({"cases": CASES}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(CASES)} cases")


if __name__ == "__main__":
    main()
