//! The enricher at organisation scale, against moto: an organisation tree of
//! accounts × Regions delivers every 5 minutes, and one file holds the burst behind a
//! `decrypt_failures` alarm. The log processor handles every file (writing the hit
//! index); the enricher then reads only the file that matched, with one LIST per
//! hour of its window, instead of listing every account and Region and reading every
//! file of the window. With the index removed, it falls back to the full listing and
//! finds the same events.

use chrono::{DateTime, Duration, Utc};
use keytrail::{
    CloudWatchSink, Enricher, EnricherConfig, Processor, ProcessorConfig, S3Store,
    cloudwatch_client, s3_client, sns_client,
};
use keytrail_tests::{FaultProxy, Moto, decrypt_record, gz_log, repo_root};
use serde_json::{Value, json};

const BUCKET: &str = "keytrail-index-trail";
const ORG: &str = "o-exampleorg1";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

fn org_key(account: &str, region: &str, at: DateTime<Utc>, n: &str) -> String {
    format!(
        "AWSLogs/{ORG}/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{}_{n}.json.gz",
        at.format("%Y/%m/%d"),
        at.format("%Y%m%dT%H%MZ")
    )
}

fn s3_event(key: &str) -> Value {
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-10-04T12:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:x"}, "requestParameters": {"sourceIPAddress": "198.51.100.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "x"}, "arn": format!("arn:aws:s3:::{BUCKET}")},
            "object": {"key": key, "size": 1, "eTag": "e", "sequencer": "0"}}}]})
}

/// The alarm of `events/alarms/sns-decrypt-failures.json` at 12:00, 3 periods of 5
/// minutes: events 11:30-12:00, files delivered up to the 15-minute lag after.
fn alarm() -> Value {
    let path = repo_root().join("events/alarms/sns-decrypt-failures.json");
    let mut payload: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("json");
    let sns = &mut payload["Records"][0]["Sns"];
    let mut msg: Value =
        serde_json::from_str(sns["Message"].as_str().expect("Message")).expect("alarm");
    msg["StateChangeTime"] = json!("2026-10-04T12:00:00.000+0000");
    msg["Trigger"]["Period"] = json!(300);
    msg["Trigger"]["EvaluationPeriods"] = json!(3);
    sns["Message"] = json!(msg.to_string());
    payload
}

/// S3 requests the enricher made: (LISTs, GETs).
fn s3_requests(proxy: &FaultProxy) -> (usize, usize) {
    let seen = proxy.seen();
    let lists = seen
        .iter()
        .filter(|r| r.operation.starts_with("GET ") && r.query.contains("list-type"))
        .count();
    let gets = seen
        .iter()
        .filter(|r| r.operation.starts_with("GET ") && !r.query.contains("list-type"))
        .filter(|r| r.operation.contains("/AWSLogs/"))
        .count();
    (lists, gets)
}

#[tokio::test]
async fn an_alarm_reads_only_the_files_that_matched_its_rule() {
    let moto = Moto::start();
    let direct = moto.sdk_config().await;
    let s3 = s3_client(&direct);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let accounts: Vec<String> = (0..6).map(|i| format!("2000000000{i:02}")).collect();
    let regions = ["us-east-1", "eu-west-1", "ap-southeast-2"];
    let key_arn = "arn:aws:kms:us-east-1:200000000000:key/payroll";

    // 11:00-12:15: every account and Region delivers every 5 minutes.
    let processor = Processor::new(
        S3Store { client: s3.clone() },
        CloudWatchSink {
            client: cloudwatch_client(&direct),
        },
        ProcessorConfig {
            max_metric_age: std::time::Duration::from_secs(30 * 365 * 24 * 3600),
            ..ProcessorConfig::default()
        },
    );
    let mut files = 0;
    for account in &accounts {
        for region in regions {
            for step in 0..16 {
                let at = t("2026-10-04T11:00:00Z") + Duration::minutes(5 * step);
                let mut records: Vec<Value> = (0..2)
                    .map(|j| {
                        decrypt_record(
                            at - Duration::minutes(3) + Duration::seconds(j),
                            &format!("{account}-{region}-{step}-{j}"),
                            "app-server",
                            "10.0.7.118",
                            key_arn,
                            None,
                        )
                    })
                    .collect();
                let burst = *account == accounts[3] && region == "eu-west-1" && step == 10;
                if burst {
                    records.extend((0..12).map(|i| {
                        decrypt_record(
                            at - Duration::minutes(4) + Duration::seconds(i * 5),
                            &format!("burst-{i}"),
                            "batch-reader",
                            "198.51.100.23",
                            key_arn,
                            Some(("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")),
                        )
                    }));
                }
                let key = org_key(account, region, at, &format!("f{step}"));
                s3.put_object()
                    .bucket(BUCKET)
                    .key(&key)
                    .body(gz_log(&records).into())
                    .send()
                    .await
                    .expect("upload");
                let r = processor
                    .handle(&s3_event(&key), None)
                    .await
                    .expect("process");
                assert_eq!(r["objects"][0]["result"]["outcome"], "processed", "{r}");
                files += 1;
            }
        }
    }
    assert_eq!(files, 6 * 3 * 16);

    let proxy = FaultProxy::start(&moto.endpoint).await;
    let through = proxy.sdk_config().await;
    let sns = sns_client(&direct);
    let sqs = aws_sdk_sqs::Client::new(&direct);
    let (topic_arn, _queue) =
        keytrail_tests::topic_with_queue(&sns, &sqs, "keytrail-security", "inbox").await;
    let config = EnricherConfig::from_lookup(|k| match k {
        "KEYTRAIL_LOG_BUCKET" => Some(BUCKET.into()),
        "KEYTRAIL_ALERT_TOPIC_ARN" => Some(topic_arn.clone()),
        _ => None,
    })
    .expect("config");
    // As the Lambda builds it.
    let enricher = Enricher::from_sdk(&through, config);
    let indexed = enricher.handle(&alarm()).await.expect("enrich");
    let (lists, gets) = s3_requests(&proxy);
    assert_eq!(indexed["events"], 12, "{indexed}");
    assert_eq!(indexed["files_read"], 1, "only the burst's file: {indexed}");
    assert_eq!(gets, 1);
    // One LIST per hour of the window (deliveries 11:30-12:15, and the hour after).
    assert!(lists <= 3, "{lists} LISTs");
    let keytrail::Payload::Alarm(parsed) = keytrail::parse_payload(&alarm()) else {
        panic!("the fixture is an alarm")
    };
    let inv = enricher.investigate(&parsed).await.expect("investigate");
    assert!(
        inv.gather
            .prefixes
            .iter()
            .all(|p| p.contains("/keytrail/index/decrypt_failures/")),
        "{:?}",
        inv.gather.prefixes
    );
    assert!(inv.gather.files_failed.is_empty());

    // Without the index: every account and Region listed, every file of the window read.
    let index = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("keytrail/index/")
        .send()
        .await
        .expect("list index");
    for o in index.contents() {
        s3.delete_object()
            .bucket(BUCKET)
            .key(o.key().expect("key"))
            .send()
            .await
            .expect("delete");
    }
    let proxy_before = proxy.seen().len();
    let full = enricher.handle(&alarm()).await.expect("enrich");
    let after: Vec<_> = proxy.seen().into_iter().skip(proxy_before).collect();
    let full_lists = after
        .iter()
        .filter(|r| r.operation.starts_with("GET ") && r.query.contains("list-type"))
        .count();
    let full_gets = after
        .iter()
        .filter(|r| {
            r.operation.starts_with("GET ")
                && r.operation.contains("/AWSLogs/")
                && !r.query.contains("list-type")
        })
        .count();
    assert_eq!(
        full["events"], indexed["events"],
        "the same evidence: {full}"
    );
    assert!(
        full_gets > 18 * 6,
        "{full_gets} files read without the index"
    );
    assert!(full_lists > 18, "{full_lists} LISTs without the index");
    eprintln!(
        "hit index: {lists} LISTs, {gets} GETs; full listing: {full_lists} LISTs, {full_gets} GETs ({} accounts x {} Regions)",
        accounts.len(),
        regions.len()
    );
}
