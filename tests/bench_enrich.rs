//! Wall time of one alarm enrichment against moto_server: a `KMSDecryptFailures`
//! alarm (Period 300 x 3, StateChangeTime 2026-10-04T12:00Z, default 15-minute
//! delivery lag: events 11:30-12:00, files delivered 11:30-12:15) over a bucket that
//! holds a whole day of deliveries (288 files, one every 5 minutes, ~100 records each).
//!
//! `cargo bench -p keytrail-tests --bench enrich` (or scripts/bench.sh): 1 warm-up and
//! 10 measured runs of `Enricher::handle`. Without `--bench` (e.g. `cargo test
//! --benches`) it does one measured run, as a smoke test.
//!
//! Needs moto_server (KEYTRAIL_MOTO_SERVER or PATH); scripts/test.sh installs it.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use keytrail::Investigation;
use keytrail::{Enricher, EnricherConfig};
use keytrail::{KmsDirectory, S3Store, SnsNotifier, kms_client, s3_client, sns_client};
use keytrail_tests::{Moto, decrypt_record, delivery_key, gz_log, repo_root};
use serde_json::{Value, json};

const BUCKET: &str = "keytrail-bench-trail";
const DELIVERIES: i64 = 288;
const RECORDS_PER_FILE: i64 = 100;
const MEASURED_RUNS: usize = 10;
const ROLES: [&str; 4] = ["app-server", "batch-reader", "report-builder", "etl-worker"];
const IPS: [&str; 4] = ["10.0.7.118", "10.0.9.21", "198.51.100.23", "10.0.12.4"];

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// One delivery's records: events in the 10 to 5 minutes before delivery; mostly
/// Decrypt (every 20th one failed), some GenerateDataKey, a few non-KMS calls.
fn delivery_records(i: i64, at: DateTime<Utc>, key_arn: &str) -> Vec<Value> {
    (0..RECORDS_PER_FILE)
        .map(|j| {
            let when = at - Duration::minutes(10) + Duration::milliseconds(j * 3_000);
            let n = (i * RECORDS_PER_FILE + j) as usize;
            let error = (j % 20 == 7).then_some((
                "InvalidCiphertextException",
                "The ciphertext is invalid or was encrypted under a different key or context.",
            ));
            let mut r = decrypt_record(
                when,
                &format!("ev-{i:03}-{j:03}"),
                ROLES[n % ROLES.len()],
                IPS[(n / 3) % IPS.len()],
                key_arn,
                error,
            );
            match j % 10 {
                3 | 8 if error.is_none() => {
                    r["eventName"] = json!("GenerateDataKey");
                    r["readOnly"] = json!(false);
                    r["requestParameters"] = json!({"keyId": key_arn, "keySpec": "AES_256",
                        "encryptionContext": {"dataset": "payroll-2026"}});
                }
                5 => {
                    r["eventSource"] = json!("sts.amazonaws.com");
                    r["eventName"] = json!("AssumeRole");
                    r["requestParameters"] = json!({"roleSessionName": "worker-1"});
                    r["resources"] = json!([]);
                }
                _ => {}
            }
            r
        })
        .collect()
}

/// The SNS-delivered alarm of `events/alarms/sns-decrypt-failures.json` with the
/// alarm moved to 12:00 and evaluated over 3 periods of 5 minutes.
fn alarm_payload() -> Value {
    let path = repo_root().join("events/alarms/sns-decrypt-failures.json");
    let mut payload: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("json");
    let sns = &mut payload["Records"][0]["Sns"];
    let mut msg: Value =
        serde_json::from_str(sns["Message"].as_str().expect("Message")).expect("alarm JSON");
    msg["StateChangeTime"] = json!("2026-10-04T12:00:00.000+0000");
    msg["NewStateReason"] = json!(
        "Threshold Crossed: 3 out of the last 3 datapoints were greater than or equal to the threshold (10.0)."
    );
    msg["Trigger"]["MetricName"] = json!("KMSDecryptFailures");
    msg["Trigger"]["Namespace"] = json!("KMSAudit");
    msg["Trigger"]["Period"] = json!(300);
    msg["Trigger"]["EvaluationPeriods"] = json!(3);
    msg["Trigger"]["DatapointsToAlarm"] = json!(3);
    sns["Message"] = json!(msg.to_string());
    sns["Timestamp"] = json!("2026-10-04T12:00:00.187Z");
    payload
}

fn ms(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let setup_start = Instant::now();
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let s3 = s3_client(&sdk);
    let kms = kms_client(&sdk);
    let sns = sns_client(&sdk);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let key = kms
        .create_key()
        .description("payroll exports")
        .send()
        .await
        .expect("key");
    let key_arn = key
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("arn")
        .to_owned();
    kms.create_alias()
        .alias_name("alias/payroll")
        .target_key_id(&key_arn)
        .send()
        .await
        .expect("alias");

    let day = t("2026-10-04T00:00:00Z");
    let mut uploaded_bytes = 0usize;
    for chunk in (0..DELIVERIES).collect::<Vec<_>>().chunks(16) {
        let mut tasks = tokio::task::JoinSet::new();
        for &i in chunk {
            let at = day + Duration::minutes(5 * i);
            let body = gz_log(&delivery_records(i, at, &key_arn));
            uploaded_bytes += body.len();
            let s3 = s3.clone();
            tasks.spawn(async move {
                s3.put_object()
                    .bucket(BUCKET)
                    .key(delivery_key(at, &format!("d{i:04}")))
                    .body(body.into())
                    .send()
                    .await
                    .expect("upload");
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.expect("upload task");
        }
    }
    let topic_arn = sns
        .create_topic()
        .name("keytrail-security")
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .expect("arn")
        .to_owned();

    let config = EnricherConfig::from_lookup(|k| match k {
        "KEYTRAIL_LOG_BUCKET" => Some(BUCKET.into()),
        "KEYTRAIL_ALERT_TOPIC_ARN" => Some(topic_arn.clone()),
        _ => None,
    })
    .expect("config");
    let lag = config.lag.num_minutes();
    let concurrency = config.concurrency;
    let enricher = Enricher::new(
        S3Store { client: s3.clone() },
        KmsDirectory { client: kms },
        SnsNotifier { client: sns },
        config,
    );
    println!(
        "enrich: setup {:.1} s (moto start, {DELIVERIES} deliveries x {RECORDS_PER_FILE} records, {:.1} MB gzip uploaded)",
        setup_start.elapsed().as_secs_f64(),
        uploaded_bytes as f64 / 1e6
    );

    let payload = alarm_payload();
    let runs = if bench_mode { MEASURED_RUNS } else { 1 };
    let mut report = enricher.handle(&payload).await.expect("warm-up run");
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        report = enricher.handle(&payload).await.expect("handler");
        times.push(start.elapsed());
    }
    times.sort();

    let loc = report["record"].as_str().expect("record location");
    let key = loc
        .strip_prefix(&format!("s3://{BUCKET}/"))
        .expect("record in the log bucket");
    let bytes = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("investigation record")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    let inv: Investigation = serde_json::from_slice(&bytes).expect("record parses");
    let g = &inv.gather;
    assert!(inv.enriched, "not enriched: {report}");
    assert!(
        g.files_failed.is_empty(),
        "failed files: {:?}",
        g.files_failed
    );

    let window = inv.window.as_ref().expect("window");
    let median = if times.len() % 2 == 1 {
        ms(times[times.len() / 2])
    } else {
        (ms(times[times.len() / 2 - 1]) + ms(times[times.len() / 2])) / 2.0
    };
    println!(
        "enrich: KMSDecryptFailures alarm, Period 300 x 3, lag {lag} min, gather concurrency {concurrency}"
    );
    println!(
        "enrich: event window {} .. {}, files delivered {} .. {}",
        window.start.format("%H:%M"),
        window.end.format("%H:%M"),
        window.files_from.format("%H:%M"),
        window.files_to.format("%H:%M"),
    );
    println!(
        "enrich: handle() wall time over {} runs (after 1 warm-up): min {:.1} ms, median {:.1} ms, max {:.1} ms",
        times.len(),
        ms(times[0]),
        median,
        ms(times[times.len() - 1]),
    );
    println!(
        "enrich: files listed {}, selected {}, read {}, failed {}; records scanned {}; events matched {} (rule {})",
        g.files_listed,
        g.files_selected,
        g.files_read,
        g.files_failed.len(),
        g.records_scanned,
        report["events"],
        report["rule"].as_str().unwrap_or("?"),
    );
    drop(moto);
}
