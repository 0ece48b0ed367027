//! Every rule's fixture (`tests/data/rules/<id>.json`, see `cli/tests/rules.rs`)
//! through the log-processor handler against moto: the file is delivered to a trail
//! bucket of its own, the handler runs on the S3 event, and the rule's metric in
//! CloudWatch must sum to the fixture's `matches`. A fixture's baseline is stored
//! where the processor reads it, and its configuration file is named by the
//! processor's configuration (`KEYTRAIL_CONFIG` in Lambda).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use keytrail::{
    CloudWatchSink, ConfigLocation, Processor, ProcessorConfig, RULES, S3Store, TuningSource,
    cloudwatch_client, s3_client,
};
use keytrail_tests::{Moto, repo_root};
use serde_json::{Value, json};

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn s3_event(bucket: &str, key: &str) -> Value {
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-10-04T10:05:31.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:x"}, "requestParameters": {"sourceIPAddress": "198.51.100.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "x"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": key, "size": 1, "eTag": "e", "sequencer": "0"}}}]})
}

#[tokio::test]
async fn each_rule_fixture_gives_its_metric_in_cloudwatch() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let s3 = s3_client(&sdk);
    let cw = cloudwatch_client(&sdk);
    let dir = repo_root().join("tests/data/rules");
    let mut checked = 0;
    for (i, rule) in RULES.iter().enumerate() {
        let expect_path = dir.join(format!("{}.expect.json", rule.id));
        if !expect_path.is_file() {
            continue;
        }
        let want = read_json(&expect_path);
        let records = read_json(&dir.join(format!("{}.json", rule.id)))["Records"]
            .as_array()
            .expect("Records")
            .clone();
        let times: Vec<DateTime<Utc>> = records
            .iter()
            .filter_map(|r| r["eventTime"].as_str()?.parse().ok())
            .collect();
        let (start, end) = (
            *times.iter().min().expect("timed records"),
            *times.iter().max().expect("timed records"),
        );
        // A bucket and a namespace per rule: one fixture's matches of other rules
        // (and its baseline) never reach another's check.
        let bucket = format!("keytrail-rules-{i}");
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("bucket");
        let key = keytrail_tests::delivery_key(start, rule.id);
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .body(keytrail_tests::gz_log(&records).into())
            .send()
            .await
            .expect("upload log");
        let baseline = dir.join(format!("{}.baseline.json", rule.id));
        if baseline.is_file() {
            s3.put_object()
                .bucket(&bucket)
                .key(keytrail::BASELINE_KEY)
                .body(std::fs::read(&baseline).expect("baseline").into())
                .send()
                .await
                .expect("upload baseline");
        }
        let tuning = match want["config"].as_str() {
            None => Arc::default(),
            Some(file) => {
                let key = "keytrail/config.toml".to_owned();
                s3.put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .body(std::fs::read(dir.join(file)).expect("config").into())
                    .send()
                    .await
                    .expect("upload config");
                Arc::new(TuningSource::new(
                    Some(ConfigLocation {
                        bucket: bucket.clone(),
                        key,
                    }),
                    Duration::from_secs(300),
                ))
            }
        };
        let namespace = format!("KMSAuditRules{i}");
        let processor = Processor::new(
            S3Store { client: s3.clone() },
            CloudWatchSink { client: cw.clone() },
            ProcessorConfig {
                namespace: namespace.clone(),
                // Fixtures keep their documentation examples' times (some from 2014).
                max_metric_age: Duration::from_secs(30 * 365 * 24 * 3600),
                tuning,
                ..ProcessorConfig::default()
            },
        );
        let report = processor
            .handle(&s3_event(&bucket, &key), None)
            .await
            .expect("handler");
        let result = &report["objects"][0]["result"];
        assert_eq!(result["outcome"], "processed", "{}: {report}", rule.id);
        assert_eq!(result["bad_records"], json!(0), "{}: {report}", rule.id);
        let got = keytrail_tests::metric_sum(&cw, &namespace, rule.metric, &[], start, end).await;
        let matches = want["matches"].as_f64().expect("matches");
        assert_eq!(got, matches, "{}: {} in CloudWatch", rule.id, rule.metric);
        checked += 1;
    }
    eprintln!("{checked} rule fixtures through the processor");
}
