//! The log processor against moto_server.
//!
//! Each test starts its own server, creates the trail bucket, uploads real log files
//! from `events/logs/` and runs the handler on the invoke payloads in `events/`.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use flate2::read::MultiGzDecoder;
use keytrail::Summary;
use keytrail::{CloudWatchSink, S3Store, cloudwatch_client, s3_client};
use keytrail::{Processor, ProcessorConfig, marker_key};
use keytrail_tests::{Moto, repo_root};
use serde_json::{Value, json};

const BUCKET: &str = "keytrail-test-trail";

struct Env {
    _moto: Moto,
    s3: aws_sdk_s3::Client,
    cw: aws_sdk_cloudwatch::Client,
    processor: Processor<S3Store, CloudWatchSink>,
    /// Set when the SDK reaches moto through the fault-injecting proxy.
    proxy: Option<keytrail_tests::FaultProxy>,
}

async fn env() -> Env {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    env_with(moto, &sdk, None).await
}

/// The same, with every AWS call going through a fault-injecting proxy.
async fn env_with_proxy() -> Env {
    let moto = Moto::start();
    let proxy = keytrail_tests::FaultProxy::start(&moto.endpoint).await;
    let sdk = proxy.sdk_config().await;
    env_with(moto, &sdk, Some(proxy)).await
}

async fn env_with(
    moto: Moto,
    sdk: &aws_config::SdkConfig,
    proxy: Option<keytrail_tests::FaultProxy>,
) -> Env {
    let s3 = s3_client(sdk);
    let cw = cloudwatch_client(sdk);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create bucket");
    let config = ProcessorConfig {
        // The sample logs are from 2026-10; publish them whatever today's date is.
        max_metric_age: std::time::Duration::from_secs(3650 * 24 * 3600),
        ..ProcessorConfig::default()
    };
    let processor = Processor::new(
        S3Store { client: s3.clone() },
        CloudWatchSink { client: cw.clone() },
        config,
    );
    Env {
        _moto: moto,
        s3,
        cw,
        processor,
        proxy,
    }
}

fn event(name: &str) -> Value {
    let path = repo_root().join("events").join(name);
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The object key an S3 event names (decoded).
fn event_key(ev: &Value) -> String {
    let raw = ev["Records"][0]["s3"]["object"]["key"]
        .as_str()
        .expect("key");
    keytrail::decode_event_key(raw)
}

/// The local sample file for an S3 key.
fn sample(key: &str) -> Vec<u8> {
    let path = repo_root().join("events/logs").join(key);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The idempotency marker of the object version now stored under `key`.
async fn marker_of(env: &Env, key: &str) -> String {
    let head = env
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("head");
    marker_key(BUCKET, key, head.e_tag().unwrap_or(""))
}

async fn upload(env: &Env, key: &str, body: Vec<u8>) {
    env.s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("upload");
}

/// An independent count of a gzipped log's KMS records by eventName (deduplicated by
/// eventID), with the event-time span, read with plain serde_json.
fn oracle(gz: &[u8]) -> (BTreeMap<String, u64>, DateTime<Utc>, DateTime<Utc>) {
    let mut text = String::new();
    MultiGzDecoder::new(gz)
        .read_to_string(&mut text)
        .expect("gunzip");
    let v: Value = serde_json::from_str(&text).expect("json");
    let mut seen = HashSet::new();
    let mut counts = BTreeMap::new();
    let mut times = Vec::new();
    for r in v["Records"].as_array().expect("Records") {
        if r["eventSource"] != "kms.amazonaws.com" {
            continue;
        }
        if let Some(id) = r["eventID"].as_str()
            && !seen.insert(id.to_owned())
        {
            continue;
        }
        *counts
            .entry(r["eventName"].as_str().expect("name").to_owned())
            .or_insert(0) += 1;
        times.push(
            r["eventTime"]
                .as_str()
                .expect("time")
                .parse::<DateTime<Utc>>()
                .expect("rfc3339"),
        );
    }
    let min = *times.iter().min().expect("some KMS records");
    let max = *times.iter().max().expect("some KMS records");
    (counts, min, max)
}

/// Sum of a metric over [start, end] in the default namespace.
async fn metric_sum(
    env: &Env,
    name: &str,
    dims: &[(&str, &str)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> f64 {
    keytrail_tests::metric_sum(&env.cw, "KMSAudit", name, dims, start, end).await
}

/// The sample log named by `events/s3-put.json`, uploaded, with its oracle counts.
struct Staged {
    payload: Value,
    key: String,
    expected: BTreeMap<String, u64>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

async fn stage_sample(env: &Env) -> Staged {
    let payload = event("s3-put.json");
    let key = event_key(&payload);
    let body = sample(&key);
    let (expected, start, end) = oracle(&body);
    upload(env, &key, body).await;
    Staged {
        payload,
        key,
        expected,
        start,
        end,
    }
}

#[tokio::test]
async fn s3_event_puts_metrics_and_summary() {
    let env = env().await;
    let Staged {
        payload,
        expected,
        start,
        end,
        ..
    } = stage_sample(&env).await;

    let report = env.processor.handle(&payload, None).await.expect("handler");
    let result = &report["objects"][0]["result"];
    assert_eq!(result["outcome"], "processed", "{report}");

    let total: u64 = expected.values().sum();
    assert_eq!(result["kms_records"], json!(total), "{report}");
    for (name, count) in &expected {
        let dim = keytrail::operation_dimension(name);
        let got = metric_sum(&env, "KMSApiCalls", &[("EventName", dim)], start, end).await;
        let want: u64 = expected
            .iter()
            .filter(|(n, _)| keytrail::operation_dimension(n) == dim)
            .map(|(_, c)| c)
            .sum();
        assert_eq!(
            got, want as f64,
            "KMSApiCalls EventName={name} (file has {count})"
        );
    }

    // The pipeline's pulse, which log_deliveries_stopped watches: one per log file.
    let pulse = metric_sum(&env, keytrail::LOG_FILES_PROCESSED, &[], start, end).await;
    assert_eq!(pulse, 1.0, "{report}");

    let summary_key = result["summary_key"].as_str().expect("summary key");
    assert!(
        summary_key.starts_with("keytrail/summaries/111122223333/us-east-1/"),
        "{summary_key}"
    );
    let obj = env
        .s3
        .get_object()
        .bucket(BUCKET)
        .key(summary_key)
        .send()
        .await
        .expect("summary written");
    let bytes = obj.body.collect().await.expect("body").into_bytes();
    let summary = Summary::from_gzip_json(&bytes).expect("summary decodes");
    assert_eq!(summary.kms_records, total);
    assert!(summary.usage.values().map(|s| s.count).sum::<u64>() >= total);
}

#[tokio::test]
async fn three_redeliveries_count_once() {
    let env = env().await;
    let Staged {
        payload,
        key,
        expected,
        start,
        end,
    } = stage_sample(&env).await;

    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let r = env.processor.handle(&payload, None).await.expect("handler");
        outcomes.push(
            r["objects"][0]["result"]["outcome"]
                .as_str()
                .expect("outcome")
                .to_owned(),
        );
    }
    assert_eq!(
        outcomes,
        ["processed", "already_processed", "already_processed"]
    );
    // The same object through EventBridge is a re-delivery too.
    let eb = event("eventbridge-object-created.json");
    if eb["detail"]["object"]["key"].as_str() == Some(key.as_str()) {
        let r = env.processor.handle(&eb, None).await.expect("handler");
        assert_eq!(r["objects"][0]["result"]["outcome"], "already_processed");
    }
    let decrypts = expected.get("Decrypt").copied().unwrap_or(0)
        + expected.get("GenerateDataKey").copied().unwrap_or(0);
    let got = metric_sum(&env, "KMSApiCalls", &[("EventName", "Decrypt")], start, end).await
        + metric_sum(
            &env,
            "KMSApiCalls",
            &[("EventName", "GenerateDataKey")],
            start,
            end,
        )
        .await;
    assert_eq!(got, decrypts as f64);
}

#[tokio::test]
async fn failed_attempt_is_resumed_not_lost() {
    let env = env().await;
    let Staged {
        payload,
        key,
        expected,
        start,
        end,
    } = stage_sample(&env).await;
    // An earlier invocation claimed the object and failed before publishing anything.
    let marker = marker_of(&env, &key).await;
    let failed = json!({"state": "failed", "at": Utc::now(), "batches_sent": 0});
    upload(&env, &marker, failed.to_string().into_bytes()).await;

    let r = env.processor.handle(&payload, None).await.expect("handler");
    assert_eq!(r["objects"][0]["result"]["outcome"], "processed", "{r}");
    let got = metric_sum(&env, "KMSApiCalls", &[("EventName", "Decrypt")], start, end).await;
    assert_eq!(got, expected.get("Decrypt").copied().unwrap_or(0) as f64);
    let r = env.processor.handle(&payload, None).await.expect("handler");
    assert_eq!(r["objects"][0]["result"]["outcome"], "already_processed");
}

#[tokio::test]
async fn digest_and_test_events_are_skipped() {
    let env = env().await;
    let payload = event("s3-put-digest.json");
    let key = event_key(&payload);
    upload(&env, &key, sample(&key)).await;
    let r = env.processor.handle(&payload, None).await.expect("handler");
    let result = &r["objects"][0]["result"];
    assert_eq!(result["outcome"], "skipped", "{r}");
    assert!(
        result["reason"]
            .as_str()
            .expect("reason")
            .contains("digest"),
        "{r}"
    );
    let listed = env
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("keytrail/")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.key_count(), Some(0), "nothing written for a digest");

    // An object deleted before processing is acknowledged, not retried forever.
    let r = env
        .processor
        .handle(&event("s3-put.json"), None)
        .await
        .expect("handler");
    assert_eq!(
        r["objects"][0]["result"]["reason"], "object no longer exists",
        "{r}"
    );

    let r = env
        .processor
        .handle(&event("s3-test-event.json"), None)
        .await
        .expect("handler");
    assert_eq!(r["ignored"], "s3:TestEvent");
}

#[tokio::test]
async fn corrupt_file_is_reported_and_good_records_counted() {
    let env = env().await;
    let payload = event("s3-put.json");
    let key = event_key(&payload);
    // A larger file cut in half: the gzip stream is truncated mid-way.
    let mut records = Vec::new();
    for i in 0..3000 {
        records.push(json!({
            "eventVersion": "1.08", "eventTime": format!("2026-10-04T03:{:02}:{:02}Z", (i / 60) % 60, i % 60),
            "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "awsRegion": "us-east-1",
            "eventID": format!("00000000-0000-4000-8000-{i:012}"), "recipientAccountId": "111122223333",
            "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
                "arn": "arn:aws:sts::111122223333:assumed-role/app/i-1",
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/app"}}},
            "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"n": i.to_string()}},
            "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k1", "type": "AWS::KMS::Key", "accountId": "111122223333"}]
        }));
    }
    let text = json!({"Records": records}).to_string();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, text.as_bytes()).expect("gzip");
    let gz = enc.finish().expect("gzip");
    upload(&env, &key, gz[..gz.len() / 2].to_vec()).await;

    let r = env
        .processor
        .handle(&payload, None)
        .await
        .expect("bad content is not an invocation failure");
    let result = &r["objects"][0]["result"];
    assert_eq!(result["outcome"], "processed", "{r}");
    let err = result["content_error"]
        .as_str()
        .expect("content error reported");
    assert!(err.contains(&key) && err.contains("gzip"), "{err}");
    let good = result["kms_records"].as_u64().expect("count");
    assert!(
        good > 500 && good < 3000,
        "{good} records before the damage"
    );
    let start: DateTime<Utc> = "2026-10-04T03:00:00Z".parse().expect("t");
    let end: DateTime<Utc> = "2026-10-04T04:00:00Z".parse().expect("t");
    let got = metric_sum(&env, "KMSApiCalls", &[("EventName", "Decrypt")], start, end).await;
    assert_eq!(
        got, good as f64,
        "every record before the damage is published"
    );
    let delivered = keytrail::parse_log_key(&key).expect("layout").delivered;
    let bad = metric_sum(&env, "KMSAuditBadLogFiles", &[], delivered, delivered).await;
    assert_eq!(bad, 1.0);
}

/// A log whose Decrypts fall in `minutes` distinct minutes, so it yields that many datums.
fn spread_log(minutes: i64) -> Vec<u8> {
    let start: DateTime<Utc> = "2026-10-04T00:00:00Z".parse().expect("t");
    let records: Vec<Value> = (0..minutes)
        .map(|i| {
            json!({
                "eventVersion": "1.10", "eventTime": (start + chrono::Duration::minutes(i)).to_rfc3339(),
                "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "awsRegion": "us-east-1",
                "eventID": format!("00000000-0000-4000-8000-{i:012}"), "recipientAccountId": "111122223333",
                "userIdentity": {"type": "IAMUser", "accountId": "111122223333", "arn": "arn:aws:iam::111122223333:user/a"},
                "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k1", "type": "AWS::KMS::Key"}]
            })
        })
        .collect();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(
        &mut enc,
        json!({ "Records": records }).to_string().as_bytes(),
    )
    .expect("gzip");
    enc.finish().expect("gzip")
}

#[tokio::test]
async fn retry_resumes_after_the_last_batch_that_landed() {
    let env = env().await;
    let payload = event("s3-put.json");
    let key = event_key(&payload);
    // 1100 datums: two PutMetricData batches (1000 + 100), ordered by minute.
    upload(&env, &key, spread_log(1100)).await;
    let marker = marker_of(&env, &key).await;
    // The first attempt sent batch 1, then failed.
    let failed = json!({"state": "failed", "at": Utc::now(), "batches_sent": 1});
    upload(&env, &marker, failed.to_string().into_bytes()).await;

    let r = env.processor.handle(&payload, None).await.expect("handler");
    let result = &r["objects"][0]["result"];
    assert_eq!(result["outcome"], "processed", "{r}");
    assert_eq!(result["metric_batches"], 2, "{r}");
    assert_eq!(result["resumed_from_batch"], 1, "{r}");
    let start: DateTime<Utc> = "2026-10-04T00:00:00Z".parse().expect("t");
    let end = start + chrono::Duration::minutes(1100);
    let got = metric_sum(&env, "KMSApiCalls", &[("EventName", "Decrypt")], start, end).await;
    assert_eq!(
        got, 100.0,
        "only the batch that had not landed is sent again"
    );
}

#[tokio::test]
async fn live_claim_defers_and_expired_claim_is_taken_over() {
    let env = env().await;
    let Staged {
        payload,
        key,
        expected,
        start,
        end,
    } = stage_sample(&env).await;
    let marker = marker_of(&env, &key).await;

    // Another invocation is working on the object right now: fail, so Lambda retries.
    let live = json!({"state": "claimed", "at": Utc::now(), "expires_at": Utc::now() + chrono::Duration::minutes(5), "batches_sent": 0});
    upload(&env, &marker, live.to_string().into_bytes()).await;
    let err = env
        .processor
        .handle(&payload, None)
        .await
        .expect_err("busy");
    assert!(
        err.to_string()
            .contains("another invocation holds the claim"),
        "{err}"
    );

    // That invocation crashed (its deadline passed without a done or failed marker).
    let crashed = json!({"state": "claimed", "at": Utc::now() - chrono::Duration::minutes(20), "expires_at": Utc::now() - chrono::Duration::minutes(5), "batches_sent": 0});
    upload(&env, &marker, crashed.to_string().into_bytes()).await;
    let r = env.processor.handle(&payload, None).await.expect("handler");
    assert_eq!(r["objects"][0]["result"]["outcome"], "processed", "{r}");
    let got = metric_sum(&env, "KMSApiCalls", &[("EventName", "Decrypt")], start, end).await;
    assert_eq!(got, expected.get("Decrypt").copied().unwrap_or(0) as f64);
}

#[tokio::test]
async fn baseline_enables_unfamiliar_source_ip() {
    let env = env().await;
    let key_arn = "arn:aws:kms:us-east-1:111122223333:key/k1";
    let at: DateTime<Utc> = "2026-10-04T10:05:00Z".parse().expect("t");
    let records = vec![
        // Known address, known /24, private address, and one stranger.
        keytrail_tests::decrypt_record(at, "u-1", "app-server", "203.0.113.10", key_arn, None),
        keytrail_tests::decrypt_record(at, "u-2", "app-server", "203.0.113.99", key_arn, None),
        keytrail_tests::decrypt_record(at, "u-3", "app-server", "10.9.9.9", key_arn, None),
        keytrail_tests::decrypt_record(at, "u-4", "app-server", "192.0.2.200", key_arn, None),
        // A principal the baseline does not know is not judged.
        keytrail_tests::decrypt_record(at, "u-5", "newcomer", "192.0.2.201", key_arn, None),
    ];
    let key = keytrail_tests::delivery_key(at, "baseline");
    upload(&env, &key, keytrail_tests::gz_log(&records)).await;
    let baseline = json!({"version": 1, "updated_for": "2026-09",
        "principals": {"arn:aws:iam::111122223333:role/app-server": {"ips": ["203.0.113.10"], "prefixes": ["203.0.113.0/24"]}},
        "keys_last_used": {}, "months": {}});
    upload(
        &env,
        keytrail::BASELINE_KEY,
        baseline.to_string().into_bytes(),
    )
    .await;

    let payload = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-10-04T10:05:31.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:x"}, "requestParameters": {"sourceIPAddress": "198.51.100.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "x"}, "arn": format!("arn:aws:s3:::{BUCKET}")},
            "object": {"key": key, "size": 1, "eTag": "e", "sequencer": "0"}}}]});
    let r = env.processor.handle(&payload, None).await.expect("handler");
    assert_eq!(r["objects"][0]["result"]["outcome"], "processed", "{r}");
    let got = metric_sum(
        &env,
        "KMSUnfamiliarSourceIp",
        &[],
        at - chrono::Duration::minutes(10),
        at,
    )
    .await;
    assert_eq!(
        got, 1.0,
        "only 192.0.2.200 is new for a principal the baseline knows"
    );
}

#[tokio::test]
async fn racing_handlers_count_once() {
    let env = env().await;
    let Staged {
        payload,
        expected,
        start,
        end,
        ..
    } = stage_sample(&env).await;
    let (a, b) = tokio::join!(
        env.processor.handle(&payload, None),
        env.processor.handle(&payload, None)
    );
    let outcome = |r: &Result<Value, keytrail::ProcessError>| match r {
        Ok(v) => v["objects"][0]["result"]["outcome"]
            .as_str()
            .unwrap_or("?")
            .to_owned(),
        Err(e) => {
            assert!(
                e.to_string().contains("another invocation holds the claim"),
                "{e}"
            );
            "busy".to_owned()
        }
    };
    let mut outcomes = [outcome(&a), outcome(&b)];
    outcomes.sort();
    assert!(
        outcomes == ["already_processed", "processed"] || outcomes == ["busy", "processed"],
        "{outcomes:?}"
    );
    // Lambda's retry of the loser finds the object done.
    let r = env.processor.handle(&payload, None).await.expect("retry");
    assert_eq!(r["objects"][0]["result"]["outcome"], "already_processed");
    let got = metric_sum(&env, "KMSApiCalls", &[("EventName", "Decrypt")], start, end).await;
    assert_eq!(got, expected.get("Decrypt").copied().unwrap_or(0) as f64);
}

const CW_FAULT: &str = "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>injected</Message></Error></ErrorResponse>";
const S3_FAULT: &str = "<Error><Code>SlowDown</Code><Message>injected</Message></Error>";

#[tokio::test]
async fn transient_faults_are_retried_and_count_once() {
    let env = env_with_proxy().await;
    let Staged {
        payload,
        expected,
        start,
        end,
        ..
    } = stage_sample(&env).await;
    let proxy = env.proxy.as_ref().expect("proxy");
    proxy.inject(keytrail_tests::Fault {
        marker: "Action=PutMetricData".into(),
        times: 2,
        status: 500,
        body: CW_FAULT.into(),
    });
    proxy.inject(keytrail_tests::Fault {
        marker: "keytrail/summaries/".into(),
        times: 1,
        status: 503,
        body: S3_FAULT.into(),
    });
    let r = env
        .processor
        .handle(&payload, None)
        .await
        .expect("retried by the SDK");
    assert_eq!(r["objects"][0]["result"]["outcome"], "processed", "{r}");
    assert_eq!(
        proxy.injected(),
        3,
        "two PutMetricData and one PutObject failures were injected"
    );
    let got = metric_sum(&env, "KMSApiCalls", &[("EventName", "Decrypt")], start, end).await;
    assert_eq!(got, expected.get("Decrypt").copied().unwrap_or(0) as f64);
}

#[tokio::test]
async fn persistent_fault_fails_then_recovers_without_double_counting() {
    let env = env_with_proxy().await;
    let Staged {
        payload,
        key,
        expected,
        start,
        end,
    } = stage_sample(&env).await;
    let proxy = env.proxy.as_ref().expect("proxy");
    proxy.inject(keytrail_tests::Fault {
        marker: "Action=PutMetricData".into(),
        times: u32::MAX,
        status: 500,
        body: CW_FAULT.into(),
    });
    let err = env
        .processor
        .handle(&payload, None)
        .await
        .expect_err("CloudWatch is down");
    assert!(err.to_string().contains("PutMetricData"), "{err}");
    // The marker records the failure: it does not block the retry.
    let marker = marker_of(&env, &key).await;
    let m = env
        .s3
        .get_object()
        .bucket(BUCKET)
        .key(&marker)
        .send()
        .await
        .expect("marker");
    let m: Value =
        serde_json::from_slice(&m.body.collect().await.expect("body").into_bytes()).expect("json");
    assert_eq!(m["state"], "failed");
    proxy.clear();
    let r = env
        .processor
        .handle(&payload, None)
        .await
        .expect("recovered");
    assert_eq!(r["objects"][0]["result"]["outcome"], "processed", "{r}");
    let got = metric_sum(&env, "KMSApiCalls", &[("EventName", "Decrypt")], start, end).await;
    assert_eq!(
        got,
        expected.get("Decrypt").copied().unwrap_or(0) as f64,
        "counted once"
    );
}

/// Every stored malformed log of `tests/data/malformed/` through the handler: never an
/// invocation failure, damaged content reported, the good KMS records still counted.
#[tokio::test]
async fn malformed_corpus_through_the_handler() {
    let env = env().await;
    let dir = repo_root().join("tests/data/malformed");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("cases.json")).expect("cases.json"))
            .expect("json");
    let cases = manifest
        .get("cases")
        .unwrap_or(&manifest)
        .as_array()
        .expect("cases");
    let at: DateTime<Utc> = "2026-10-04T10:05:00Z".parse().expect("t");
    let mut checked = 0;
    for (i, case) in cases.iter().enumerate() {
        if case["kind"] != "log" || case["generated"] == true {
            continue;
        }
        let file = case["file"].as_str().expect("file");
        // The layout requires a .json.gz name: store every case under one, as S3 would.
        let key = keytrail_tests::delivery_key(at, &format!("case{i:03}"));
        upload(
            &env,
            &key,
            std::fs::read(dir.join(file)).expect("case file"),
        )
        .await;
        let payload = json!({"detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": BUCKET}, "object": {"key": key}}});
        let r = env
            .processor
            .handle(&payload, None)
            .await
            .unwrap_or_else(|e| panic!("{file}: invocation failed: {e}"));
        let result = &r["objects"][0]["result"];
        let expect = &case["expect"];
        if expect["not_a_log"] == true {
            assert_eq!(result["outcome"], "skipped", "{file}: {r}");
        } else {
            assert_eq!(result["outcome"], "processed", "{file}: {r}");
            if let Some(kms) = expect["kms_records"].as_u64() {
                assert_eq!(result["kms_records"], kms, "{file}: {r}");
            }
            if expect["error_contains"].is_array() {
                let err = result["content_error"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{file}: no error: {r}"));
                assert!(
                    err.contains(&key),
                    "{file}: the error names the object: {err}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 30, "{checked} cases");
}

/// A log of Decrypts on `keys` keys of the trail's own account, one per key in each of
/// `minutes` minutes: with per-key metrics, `keys x minutes` KMSApiCallsByKey datums.
fn many_keys_log(keys: usize, minutes: i64) -> Vec<u8> {
    let start: DateTime<Utc> = "2026-10-04T00:00:00Z".parse().expect("t");
    let records: Vec<Value> = (0..minutes)
        .flat_map(|m| (0..keys).map(move |k| (m, k)))
        .map(|(m, k)| {
            let t = start + chrono::Duration::minutes(m) + chrono::Duration::seconds((k % 60) as i64);
            json!({
                "eventVersion": "1.10", "eventTime": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "awsRegion": "us-east-1",
                "eventID": format!("00000000-0000-4000-8000-{m:04}{k:08}"), "recipientAccountId": "111122223333",
                "userIdentity": {"type": "IAMUser", "accountId": "111122223333", "arn": "arn:aws:iam::111122223333:user/a"},
                "resources": [{"ARN": format!("arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-{k:012}"),
                    "type": "AWS::KMS::Key"}]
            })
        })
        .collect();
    keytrail_tests::gz_log(&records)
}

/// A file with more than 2,000 datums takes exactly ceil(datums / 1000) PutMetricData
/// calls, none over 1,000 datums, counted on the wire by the proxy (bodies the SDK
/// gzips are decompressed there).
#[tokio::test]
async fn put_metric_data_calls_are_ceil_datums_over_1000() {
    let env = env_with_proxy().await;
    let proxy = env.proxy.as_ref().expect("proxy");
    let sdk = proxy.sdk_config().await;
    let processor = Processor::new(
        S3Store {
            client: s3_client(&sdk),
        },
        CloudWatchSink {
            client: cloudwatch_client(&sdk),
        },
        ProcessorConfig {
            per_key_metrics: true,
            max_metric_age: std::time::Duration::from_secs(3650 * 24 * 3600),
            ..ProcessorConfig::default()
        },
    );
    let payload = event("s3-put.json");
    let key = event_key(&payload);
    let (keys, minutes) = (420, 6);
    upload(&env, &key, many_keys_log(keys, minutes)).await;

    let before = proxy.count("PutMetricData");
    let r = processor.handle(&payload, None).await.expect("handler");
    let result = &r["objects"][0]["result"];
    assert_eq!(result["outcome"], "processed", "{r}");
    let datums = result["datums"].as_u64().expect("datums") as usize;
    let batches = result["metric_batches"].as_u64().expect("batches") as usize;
    // Per key and minute, plus KMSApiCalls{EventName=Decrypt} per minute.
    assert!(datums >= keys * minutes as usize + minutes as usize, "{r}");
    assert_eq!(batches, datums.div_ceil(1000), "{r}");
    let calls: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.operation == "PutMetricData")
        .collect();
    assert_eq!(calls.len() - before, datums.div_ceil(1000), "{calls:?}");
    assert!(calls.iter().all(|c| c.metric_datums <= 1000), "{calls:?}");
    assert_eq!(
        calls.iter().map(|c| c.metric_datums).sum::<usize>(),
        datums,
        "every datum sent once"
    );
    assert_eq!(proxy.injected(), 0);

    // CloudWatch (moto) got them all: one key's calls over the file.
    let start: DateTime<Utc> = "2026-10-04T00:00:00Z".parse().expect("t");
    let end = start + chrono::Duration::minutes(minutes);
    let one = metric_sum(
        &env,
        "KMSApiCallsByKey",
        &[(
            "KeyArn",
            "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000007",
        )],
        start,
        end,
    )
    .await;
    assert_eq!(one, minutes as f64);
}

/// Issue 17: one record larger than the reader's limit (4 MiB by default) is a bad
/// record, stepped over unheld; the good records on both sides are published.
#[tokio::test]
async fn an_oversized_record_costs_only_itself() {
    let env = env().await;
    let payload = event("s3-put.json");
    let key = event_key(&payload);
    let rec = |i: u32, agent: &str| {
        json!({
            "eventVersion": "1.08", "eventTime": format!("2026-10-04T03:00:0{i}Z"),
            "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "awsRegion": "us-east-1",
            "eventID": format!("00000000-0000-4000-8000-00000000000{i}"),
            "recipientAccountId": "111122223333", "userAgent": agent,
            "userIdentity": {"type": "IAMUser", "accountId": "111122223333",
                "arn": "arn:aws:iam::111122223333:user/ops"},
            "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k1", "type": "AWS::KMS::Key"}]
        })
    };
    let huge = "x".repeat(5 << 20);
    let text = json!({"Records": [rec(1, "a"), rec(2, &huge), rec(3, "b")]}).to_string();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, text.as_bytes()).expect("gzip");
    upload(&env, &key, enc.finish().expect("gzip")).await;

    let r = env.processor.handle(&payload, None).await.expect("handler");
    let result = &r["objects"][0]["result"];
    assert_eq!(result["outcome"], "processed", "{r}");
    assert_eq!(result["kms_records"], 2, "{r}");
    assert_eq!(result["bad_records"], 1, "{r}");
    assert!(
        result.get("content_error").is_none_or(Value::is_null),
        "{r}"
    );
    let start: DateTime<Utc> = "2026-10-04T03:00:00Z".parse().expect("t");
    let end: DateTime<Utc> = "2026-10-04T04:00:00Z".parse().expect("t");
    let got = metric_sum(&env, "KMSApiCalls", &[("EventName", "Decrypt")], start, end).await;
    assert_eq!(got, 2.0, "both good records are published");
}

/// Issue 16: the configuration file from S3. A suppression moves the noisy
/// principal's matches out of the rule's metric into `KMSAuditSuppressed{Rule}`; a
/// file that does not parse fails the invocation, naming the file, line and field.
#[tokio::test]
async fn the_configuration_file_in_s3_suppresses_and_a_bad_one_fails() {
    let env = env().await;
    let cw = env.cw.clone();
    let config_key = "keytrail/config.toml";
    let processor = |ttl: u64| {
        Processor::new(
            S3Store {
                client: env.s3.clone(),
            },
            CloudWatchSink { client: cw.clone() },
            ProcessorConfig {
                max_metric_age: std::time::Duration::from_secs(3650 * 24 * 3600),
                tuning: std::sync::Arc::new(keytrail::TuningSource::new(
                    Some(keytrail::ConfigLocation {
                        bucket: BUCKET.into(),
                        key: config_key.into(),
                    }),
                    std::time::Duration::from_secs(ttl),
                )),
                ..ProcessorConfig::default()
            },
        )
    };
    let failing = |i: u32, who: &str| {
        json!({
            "eventVersion": "1.08", "eventTime": format!("2026-10-04T03:00:{i:02}Z"),
            "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "awsRegion": "us-east-1",
            "eventID": format!("00000000-0000-4000-8000-0000000000{i:02}"),
            "errorCode": "InvalidCiphertextException", "sourceIPAddress": "10.0.0.5",
            "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
                "arn": format!("arn:aws:sts::111122223333:assumed-role/{who}/s"),
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::111122223333:role/{who}")}}},
            "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k1"}]
        })
    };
    let records: Vec<Value> = (0..12)
        .map(|i| failing(i, if i < 9 { "canary" } else { "app" }))
        .collect();
    let text = json!({"Records": records}).to_string();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, text.as_bytes()).expect("gzip");
    let payload = event("s3-put.json");
    let key = event_key(&payload);
    upload(&env, &key, enc.finish().expect("gzip")).await;

    // A bad file: the invocation fails and says where.
    upload(
        &env,
        config_key,
        b"[rules.decrypt_failures]\nthreshold = \"ten\"\n".to_vec(),
    )
    .await;
    let err = processor(0)
        .handle(&payload, None)
        .await
        .expect_err("a bad configuration fails the invocation")
        .to_string();
    assert!(
        err.contains("s3://keytrail-test-trail/keytrail/config.toml: line 2: rules.decrypt_failures.threshold"),
        "{err}"
    );

    upload(
        &env,
        config_key,
        b"[[suppressions]]\nid = \"canary\"\nreason = \"the canary decrypts garbage on purpose\"\nprincipal = \"arn:aws:iam::111122223333:role/canary\"\n".to_vec(),
    )
    .await;
    let r = processor(0).handle(&payload, None).await.expect("handler");
    assert_eq!(r["objects"][0]["result"]["outcome"], "processed", "{r}");
    let start: DateTime<Utc> = "2026-10-04T03:00:00Z".parse().expect("t");
    let end: DateTime<Utc> = "2026-10-04T04:00:00Z".parse().expect("t");
    let metric = keytrail::rule("decrypt_failures").expect("rule").metric;
    assert_eq!(
        metric_sum(&env, metric, &[], start, end).await,
        3.0,
        "only app's failures"
    );
    assert_eq!(
        metric_sum(
            &env,
            "KMSAuditSuppressed",
            &[("Rule", "decrypt_failures")],
            start,
            end
        )
        .await,
        9.0,
        "the canary's are counted as suppressed"
    );
}
