//! Wall time of one alarm enrichment against moto_server: a `KMSDecryptFailures`
//! alarm (Period 300 x 3, StateChangeTime 2026-10-04T12:00Z, default 15-minute
//! delivery lag: events 11:30-12:00, files delivered 11:30-12:15) over a bucket that
//! holds a whole day of deliveries (288 files, one every 5 minutes, 100 records each,
//! from the workspace's one generator, `testkit`, on the key created in moto).
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
use keytrail_testkit::{Generator, Mix};
use keytrail_tests::{Moto, delivery_key, gz_log, repo_root};
use serde_json::{Value, json};

const BUCKET: &str = "keytrail-bench-trail";
const DELIVERIES: i64 = 288;
const RECORDS_PER_FILE: usize = 100;
const MEASURED_RUNS: usize = 10;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// The day's generator: nine in ten records are KMS calls (mostly Decrypt and
/// GenerateDataKey), one in five of a principal's own KMS calls fails; every call
/// is on `key_arn`.
fn generator(key_arn: &str) -> Generator {
    let mut g = Generator::with_mix(
        1,
        Mix {
            kms_permille: 900,
            failure_permille: 200,
        },
    );
    g.use_keys(&[key_arn.to_owned()]);
    g
}

/// One delivery's records: events in the 10 to 5 minutes before delivery.
fn delivery_records(g: &mut Generator, at: DateTime<Utc>) -> Vec<Value> {
    g.records(at - Duration::minutes(10), 300, RECORDS_PER_FILE)
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
    let mut g = generator(&key_arn);
    let mut uploaded_bytes = 0usize;
    for chunk in (0..DELIVERIES).collect::<Vec<_>>().chunks(16) {
        let mut tasks = tokio::task::JoinSet::new();
        for &i in chunk {
            let at = day + Duration::minutes(5 * i);
            let body = gz_log(&delivery_records(&mut g, at));
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
        keytrail::SecurityHubImporter {
            client: keytrail::securityhub_client(&sdk),
        },
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
