//! The detection catalog and the per-event aggregation, without reading or parsing:
//! `KmsEvent::analyse` (keys, principal, failure class), every rule of
//! `catalog::RULES` over every event, `Metrics::observe` and `Summary::observe`.
//! Run with `cargo bench -p keytrail --bench catalog`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keytrail::Record;
use keytrail::Summary;
use keytrail::{KmsEvent, RULES, RuleSet};
use keytrail::{MetricOptions, Metrics};
use serde_json::{Value, json};

const EVENTS: usize = 4000;
const ACCOUNT: &str = "111122223333";

fn key_arn(i: usize) -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/0f3c1a52-8b6e-4d1f-9a27-3e5b7c9d2a{i:02}")
}

/// The caller: assumed-role sessions mostly, some IAM users, some AWS services, a
/// few callers from another account.
fn identity(i: usize) -> Value {
    match i % 10 {
        0..=5 => {
            json!({"type": "AssumedRole", "principalId": format!("AROAEXAMPLE{}:i-0{i:x}", i % 7),
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/app-{}/i-0{:x}", i % 7, i % 41),
            "accountId": ACCOUNT, "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": format!("AROAEXAMPLE{}", i % 7),
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/app-{}", i % 7), "accountId": ACCOUNT,
                "userName": format!("app-{}", i % 7)},
                "attributes": {"creationDate": "2026-10-04T02:00:00Z", "mfaAuthenticated": "false"}}})
        }
        6 => json!({"type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": ACCOUNT,
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/deploy-{}", i % 3), "userName": "deploy"}),
        7 | 8 => json!({"type": "AWSService", "invokedBy": "s3.amazonaws.com"}),
        _ => json!({"type": "AssumedRole", "principalId": "AROAOTHER:batch",
            "arn": "arn:aws:sts::444455556666:assumed-role/partner/batch", "accountId": "444455556666",
            "sessionContext": {"sessionIssuer": {"type": "Role",
                "arn": "arn:aws:iam::444455556666:role/partner", "accountId": "444455556666"}}}),
    }
}

/// A realistic KMS record: mostly Decrypt / GenerateDataKey with the key only in
/// resources[], some Encrypt by alias, ReEncrypt, grants, lifecycle calls, about 3%
/// failures.
fn record(i: usize) -> Value {
    let key = key_arn(i % 23);
    let name = match i % 40 {
        0..=17 => "Decrypt",
        18..=27 => "GenerateDataKey",
        28..=31 => "Encrypt",
        32 | 33 => "DescribeKey",
        34 => "GenerateDataKeyWithoutPlaintext",
        35 => "ReEncrypt",
        36 => "CreateGrant",
        37 => "PutKeyPolicy",
        38 => "ScheduleKeyDeletion",
        _ => "ListAliases",
    };
    let params = match name {
        "Decrypt" => json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": {"aws:s3:arn": format!("arn:aws:s3:::bucket-{}/object-{i}", i % 5)}}),
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            json!({"keyId": "alias/app", "keySpec": "AES_256",
            "encryptionContext": {"aws:lambda:FunctionArn": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:f{}", i % 9)}})
        }
        "Encrypt" => json!({"keyId": format!("0f3c1a52-8b6e-4d1f-9a27-3e5b7c9d2a{:02}", i % 23),
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        "ReEncrypt" => json!({"destinationKeyId": key_arn((i + 1) % 23),
            "sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        "CreateGrant" => json!({"keyId": key, "operations": ["Decrypt"],
            "granteePrincipal": if i % 80 == 36 { "arn:aws:iam::999988887777:role/partner" } else { "dynamodb.us-east-1.amazonaws.com" }}),
        "PutKeyPolicy" => json!({"keyId": key, "policyName": "default",
            "policy": json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": if i % 80 == 37 { "*".to_owned() } else { format!("arn:aws:iam::{ACCOUNT}:root") }},
                "Action": "kms:*", "Resource": "*"}]}).to_string()}),
        "ListAliases" => Value::Null,
        _ => json!({"keyId": key}),
    };
    let mut resources = vec![json!({"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key})];
    if name == "ReEncrypt" {
        resources.push(
            json!({"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn((i + 1) % 23)}),
        );
    }
    let mut r = json!({
        "eventVersion": "1.10",
        "userIdentity": identity(i),
        "eventTime": format!("2026-10-04T{:02}:{:02}:{:02}Z", 2 + (i / 3600) % 20, (i / 60) % 60, i % 60),
        "eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": if i % 10 >= 7 && i % 10 <= 8 { "s3.amazonaws.com".to_owned() } else { format!("203.0.113.{}", i % 50) },
        "userAgent": "aws-sdk-java/2.20.0",
        "requestParameters": params,
        "responseElements": null,
        "requestID": format!("req-{i}"), "eventID": format!("00000000-0000-4000-8000-{i:012}"),
        "readOnly": matches!(name, "Decrypt" | "DescribeKey" | "ListAliases"),
        "resources": if name == "ListAliases" { json!([]) } else { json!(resources) },
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": ACCOUNT,
        "eventCategory": "Management"
    });
    match i % 97 {
        0 => {
            r["errorCode"] = json!("AccessDeniedException");
            r["errorMessage"] = json!("User is not authorized to perform: kms:Decrypt");
        }
        1 => r["errorCode"] = json!("InvalidCiphertextException"),
        2 => {
            r["errorCode"] = json!("KMSInvalidStateException");
            r["errorMessage"] = json!(format!("{key} is pending deletion."));
        }
        _ => {}
    }
    r
}

fn records() -> Vec<Record> {
    (0..EVENTS)
        .map(|i| Record::from_value(record(i)).expect("record"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let records = records();
    let events: Vec<KmsEvent> = records.iter().filter_map(KmsEvent::analyse).collect();
    let rule_sets: Vec<RuleSet> = events.iter().map(RuleSet::of).collect();
    assert_eq!(events.len(), EVENTS, "every bench record is a KMS event");
    let matches: usize = events
        .iter()
        .map(|e| RULES.iter().filter(|r| r.matches(e)).count())
        .sum();
    assert!(matches > 0, "the bench records match some rules");

    let mut group = c.benchmark_group("catalog");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("kms_event_analyse", |b| {
        b.iter(|| {
            black_box(&records)
                .iter()
                .filter_map(KmsEvent::analyse)
                .count()
        })
    });
    group.bench_function("all_rules", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for e in black_box(&events) {
                for rule in RULES {
                    n += usize::from(rule.matches(e));
                }
            }
            n
        })
    });
    group.bench_function("metrics_observe", |b| {
        let opts = MetricOptions::default();
        b.iter(|| {
            let mut m = Metrics::default();
            for (e, rules) in black_box(&events).iter().zip(&rule_sets) {
                m.observe(e, *rules, &opts);
            }
            m
        })
    });
    group.bench_function("summary_observe", |b| {
        b.iter(|| {
            let mut s = Summary::default();
            for (e, rules) in black_box(&events).iter().zip(&rule_sets) {
                s.observe(e, *rules);
            }
            s
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
