//! Throughput of the engine: gzip decode + streaming parse + analysis of one log file.
//! Run with `cargo bench -p keytrail --bench reader` (or scripts/bench.sh).

use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::Compression;
use flate2::write::GzEncoder;
use keytrail::{AnalysisOptions, analyse};
use serde_json::json;

/// A realistic log file: mostly Decrypt/GenerateDataKey with resources-only keys,
/// some failures, some non-KMS records.
fn log_file(records: usize) -> String {
    let mut out = Vec::with_capacity(records);
    for i in 0..records {
        let (source, name) = match i % 10 {
            0 => ("s3.amazonaws.com", "GetObject"),
            1..=5 => ("kms.amazonaws.com", "Decrypt"),
            6..=8 => ("kms.amazonaws.com", "GenerateDataKey"),
            _ => ("kms.amazonaws.com", "Encrypt"),
        };
        let mut r = json!({
            "eventVersion": "1.10",
            "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:i-0abc", "accountId": "111122223333",
                "arn": format!("arn:aws:sts::111122223333:assumed-role/app-{}/i-0abc{}", i % 7, i % 13),
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                    "arn": format!("arn:aws:iam::111122223333:role/app-{}", i % 7), "accountId": "111122223333",
                    "userName": format!("app-{}", i % 7)},
                    "attributes": {"creationDate": "2026-10-04T02:00:00Z", "mfaAuthenticated": "false"}}},
            "eventTime": format!("2026-10-04T{:02}:{:02}:{:02}Z", 2 + (i / 3600) % 20, (i / 60) % 60, i % 60),
            "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
            "sourceIPAddress": format!("10.0.{}.{}", i % 200, i % 250), "userAgent": "aws-sdk-java/2.20.0",
            "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "encryptionContext": {"aws:s3:arn": format!("arn:aws:s3:::bucket/object-{i}")}},
            "responseElements": null,
            "requestID": format!("req-{i}"), "eventID": format!("00000000-0000-4000-8000-{i:012}"),
            "readOnly": true,
            "resources": [{"accountId": "111122223333", "type": "AWS::KMS::Key",
                "ARN": format!("arn:aws:kms:us-east-1:111122223333:key/key-{}", i % 5)}],
            "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333",
            "eventCategory": "Management",
            "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": "kms.us-east-1.amazonaws.com"}
        });
        if i % 97 == 0 {
            r["errorCode"] = json!("AccessDeniedException");
            r["errorMessage"] = json!("User is not authorized to perform: kms:Decrypt");
        }
        out.push(r);
    }
    json!({ "Records": out }).to_string()
}

fn bench(c: &mut Criterion) {
    let text = log_file(20_000);
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(text.as_bytes()).expect("gzip");
    let gz = enc.finish().expect("gzip");
    let mut group = c.benchmark_group("analyse");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("gzip_20k_records", |b| {
        b.iter(|| analyse("bench.json.gz", &gz[..], &AnalysisOptions::default()))
    });
    group.bench_function("plain_20k_records_with_hits", |b| {
        let opts = AnalysisOptions {
            collect_hits: true,
            ..AnalysisOptions::default()
        };
        b.iter(|| analyse("bench.json", text.as_bytes(), &opts))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
