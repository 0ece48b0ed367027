//! Organisation scale, measured (issue 14 §7; `scripts/bench.sh --org`, or
//! `cargo bench -p keytrail-tests --bench org`). A month of an organisation trail is
//! 288 deliveries a day per account and Region: 17 Regions × 30 days × 288 =
//! 146,880 files per account. No laptop holds 100 accounts of that, so each figure
//! says whether it is measured here or projected from measured per-file costs:
//!
//! - **Summary engine** (the review merges the per-file summaries): the cost of
//!   decoding and merging one summary, measured; the GET of one, measured against
//!   moto (16 in flight, as the review reads them) and, for S3, taken at 20 ms (the
//!   issue's figure; moto answers from memory on loopback).
//! - **Athena engine**: the review's own query run by DuckDB (the tests' stand-in for
//!   Athena) over the rows of N files, measured at two sizes; the rows' Parquet size
//!   per file (SNAPPY, as Firehose writes it), measured, gives the bytes Athena scans
//!   and its cost ($5 per TB; Firehose $0.029 per GB ingested in 5 KB steps per
//!   record, plus $0.018 per GB converted).
//! - **Enricher**: one `KMSDecryptFailures` alarm (30-minute window) over 1, 10 and
//!   100 accounts × 17 Regions, every file of the window in moto's S3 and one with the
//!   burst: wall time and S3 requests, with the hit index and without it.
//!
//! Needs moto_server and python3 with duckdb and sqlglot
//! (`scripts/install-test-deps.sh`). Without `--bench` (`cargo test --benches`) it
//! runs the small sizes only, as a smoke test.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use keytrail::{
    AnalysisOptions, CloudWatchSink, Enricher, EnricherConfig, FileIdentity, MAX_RECORD_BYTES,
    Month, ObjectRef, Processor, ProcessorConfig, S3Store, Summary, analyse, cloudwatch_client,
    delivery_id, month_query, s3_client, sns_client, usage_records,
};
use keytrail_testkit::{Generator, Mix};
use keytrail_tests::{FaultProxy, Moto, decrypt_record, gz_log, repo_root};
use serde_json::{Value, json};

const REGIONS: usize = 17;
const FILES_PER_ACCOUNT_MONTH: u64 = 288 * 17 * 30;
const S3_GET_MS: f64 = 20.0;
const IN_FLIGHT: f64 = 16.0;
const ORG: &str = "o-bench00001";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// One account-Region's delivery: 100 records, nine in ten KMS calls.
fn delivery(g: &mut Generator, at: DateTime<Utc>) -> Vec<u8> {
    gz_log(&g.records(at - Duration::minutes(10), 300, 100))
}

fn log_key(account: &str, region: &str, at: DateTime<Utc>, n: &str) -> String {
    format!(
        "AWSLogs/{ORG}/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{}_{n}.json.gz",
        at.format("%Y/%m/%d"),
        at.format("%Y%m%dT%H%MZ")
    )
}

fn region(i: usize) -> String {
    const R: [&str; 17] = [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "sa-east-1",
        "af-south-1",
    ];
    R[i % R.len()].to_owned()
}

fn human_duration(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

fn human_bytes(b: f64) -> String {
    if b < 1e6 {
        format!("{:.0} KB", b / 1e3)
    } else if b < 1e9 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.2} GB", b / 1e9)
    }
}

/// `n` files' summaries of a generated month (one account, Regions in turn).
fn summaries(n: usize) -> Vec<(String, Summary)> {
    let mut g = Generator::with_mix(
        7,
        Mix {
            kms_permille: 900,
            failure_permille: 50,
        },
    );
    let start = t("2026-10-01T00:05:00Z");
    (0..n)
        .map(|i| {
            let at = start + Duration::minutes(5 * (i / REGIONS) as i64);
            let key = log_key("210000000000", &region(i), at, &format!("f{i}"));
            let s = analyse(&key, &delivery(&mut g, at)[..], &AnalysisOptions::default()).summary;
            (key, s)
        })
        .collect()
}

struct ReviewCosts {
    merge_us: f64,
    summary_bytes: f64,
    moto_get_ms: f64,
    moto_files_per_s: f64,
}

async fn summary_engine(sample: &[(String, Summary)], moto: &Moto) -> ReviewCosts {
    let encoded: Vec<Vec<u8>> = sample.iter().map(|(_, s)| s.to_gzip_json()).collect();
    let started = Instant::now();
    let mut merged = Summary::default();
    for b in &encoded {
        merged.merge_owned(Summary::from_gzip_json(b).expect("summary"));
    }
    let merge_us = started.elapsed().as_secs_f64() * 1e6 / encoded.len() as f64;
    let summary_bytes = encoded.iter().map(Vec::len).sum::<usize>() as f64 / encoded.len() as f64;

    let s3 = s3_client(&moto.sdk_config().await);
    s3.create_bucket()
        .bucket("keytrail-bench-summaries")
        .send()
        .await
        .expect("bucket");
    let n = encoded.len().min(400);
    for (i, b) in encoded.iter().take(n).enumerate() {
        s3.put_object()
            .bucket("keytrail-bench-summaries")
            .key(format!("s/{i}.json.gz"))
            .body(b.clone().into())
            .send()
            .await
            .expect("put");
    }
    let started = Instant::now();
    for i in 0..n.min(100) {
        s3.get_object()
            .bucket("keytrail-bench-summaries")
            .key(format!("s/{i}.json.gz"))
            .send()
            .await
            .expect("get")
            .body
            .collect()
            .await
            .expect("body");
    }
    let moto_get_ms = started.elapsed().as_secs_f64() * 1e3 / n.min(100) as f64;
    use futures::stream::{self, StreamExt};
    let started = Instant::now();
    stream::iter(0..n)
        .map(|i| {
            let s3 = s3.clone();
            async move {
                s3.get_object()
                    .bucket("keytrail-bench-summaries")
                    .key(format!("s/{i}.json.gz"))
                    .send()
                    .await
                    .expect("get")
                    .body
                    .collect()
                    .await
                    .expect("body");
            }
        })
        .buffer_unordered(IN_FLIGHT as usize)
        .collect::<Vec<()>>()
        .await;
    let moto_files_per_s = n as f64 / started.elapsed().as_secs_f64();
    ReviewCosts {
        merge_us,
        summary_bytes,
        moto_get_ms,
        moto_files_per_s,
    }
}

struct TableCosts {
    files: usize,
    seconds: f64,
    result_rows: usize,
    json_bytes_per_file: f64,
    parquet_bytes_per_file: f64,
    rows_per_file: f64,
}

fn athena_engine(sample: &[(String, Summary)]) -> TableCosts {
    let dir = tempfile::tempdir().expect("tmp");
    let mut rows = 0usize;
    let mut records_bytes = 0usize;
    for (i, (key, s)) in sample.iter().enumerate() {
        let lk = keytrail::parse_log_key(key).expect("log key");
        let delivery = delivery_id(lk.delivered + Duration::minutes(2));
        let recs = usage_records(
            s,
            &FileIdentity {
                file: key,
                delivery: &delivery,
                account: &lk.account,
                region: &lk.region,
                file_date: lk.date,
                delivered: lk.delivered,
            },
            MAX_RECORD_BYTES,
        );
        // Firehose bills each record rounded up to 5 KB.
        records_bytes += recs
            .iter()
            .map(|r| r.len().div_ceil(5120) * 5120)
            .sum::<usize>();
        let body = recs.concat();
        rows += body.iter().filter(|b| **b == b'\n').count();
        let hour = dir
            .path()
            .join(lk.delivered.format("%Y/%m/%d/%H").to_string());
        std::fs::create_dir_all(&hour).expect("mkdir");
        std::fs::write(hour.join(format!("rows-{i}")), body).expect("rows");
    }
    let parquet = dir.path().join("rows.parquet");
    let sql = month_query("kms_usage", Month::parse("2026-10").expect("month")).expect("sql");
    let mut child = std::process::Command::new(
        std::env::var("KEYTRAIL_PYTHON").unwrap_or_else(|_| "python3".into()),
    )
    .arg(repo_root().join("scripts/usage-sql.py"))
    .arg(dir.path())
    .arg("--parquet")
    .arg(&parquet)
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("python3");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), sql.as_bytes())
        .expect("sql");
    let out = child.wait_with_output().expect("usage-sql.py");
    assert!(
        out.status.success(),
        "usage-sql.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("result");
    let files = sample.len();
    TableCosts {
        files,
        seconds: v["seconds"].as_f64().expect("seconds"),
        result_rows: v["rows"].as_array().expect("rows").len(),
        json_bytes_per_file: records_bytes as f64 / files as f64,
        parquet_bytes_per_file: v["parquet_bytes"].as_f64().expect("parquet") / files as f64,
        rows_per_file: rows as f64 / files as f64,
    }
}

fn alarm() -> Value {
    let path = repo_root().join("events/alarms/sns-decrypt-failures.json");
    let mut payload: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("json");
    let sns = &mut payload["Records"][0]["Sns"];
    let mut msg: Value =
        serde_json::from_str(sns["Message"].as_str().expect("Message")).expect("alarm");
    msg["StateChangeTime"] = json!("2026-10-04T12:00:00.000+0000");
    msg["Trigger"]["Period"] = json!(300);
    msg["Trigger"]["EvaluationPeriods"] = json!(6);
    sns["Message"] = json!(msg.to_string());
    payload
}

struct EnrichCosts {
    files: usize,
    indexed_ms: f64,
    indexed: (usize, usize),
    full_ms: f64,
    full: (usize, usize),
}

fn s3_requests(seen: &[keytrail_tests::SeenRequest]) -> (usize, usize) {
    let list = |r: &&keytrail_tests::SeenRequest| {
        r.operation.starts_with("GET ") && r.query.contains("list-type")
    };
    let lists = seen.iter().filter(list).count();
    let gets = seen
        .iter()
        .filter(|r| r.operation.starts_with("GET ") && r.operation.contains("/AWSLogs/"))
        .filter(|r| !list(r))
        .count();
    (lists, gets)
}

async fn enricher_at(accounts: usize) -> EnrichCosts {
    const BUCKET: &str = "keytrail-bench-org";
    let moto = Moto::start();
    let direct = moto.sdk_config().await;
    let s3 = s3_client(&direct);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let key_arn = "arn:aws:kms:us-east-1:210000000000:key/payroll";
    // The window's deliveries (11:30 to 12:15, every 5 minutes) of every account and
    // Region: two ordinary Decrypts each.
    let mut keys = Vec::new();
    for a in 0..accounts {
        let account = format!("21{a:010}");
        for r in 0..REGIONS {
            for step in 0..10 {
                let at = t("2026-10-04T11:30:00Z") + Duration::minutes(5 * step);
                keys.push((account.clone(), region(r), at, step));
            }
        }
    }
    use futures::stream::{self, StreamExt};
    stream::iter(keys.iter().cloned())
        .map(|(account, region, at, step)| {
            let s3 = s3.clone();
            async move {
                let body = gz_log(&[decrypt_record(
                    at - Duration::minutes(3),
                    &format!("{account}{region}{step}"),
                    "app",
                    "10.0.0.1",
                    key_arn,
                    None,
                )]);
                s3.put_object()
                    .bucket(BUCKET)
                    .key(log_key(&account, &region, at, &format!("f{step}")))
                    .body(body.into())
                    .send()
                    .await
                    .expect("put");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    // The burst, in one account and Region, through the processor (which writes the
    // hit index; the ordinary files match no rule, so they have no index entries).
    let burst_at = t("2026-10-04T11:50:00Z");
    let burst: Vec<Value> = (0..12)
        .map(|i| {
            decrypt_record(
                burst_at - Duration::minutes(4) + Duration::seconds(i * 5),
                &format!("burst-{i}"),
                "batch-reader",
                "198.51.100.23",
                key_arn,
                Some(("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")),
            )
        })
        .collect();
    let burst_key = log_key("210000000000", "eu-west-1", burst_at, "burst");
    s3.put_object()
        .bucket(BUCKET)
        .key(&burst_key)
        .body(gz_log(&burst).into())
        .send()
        .await
        .expect("burst");
    Processor::new(
        S3Store { client: s3.clone() },
        CloudWatchSink {
            client: cloudwatch_client(&direct),
        },
        ProcessorConfig {
            max_metric_age: std::time::Duration::from_secs(30 * 365 * 24 * 3600),
            ..ProcessorConfig::default()
        },
    )
    .process_object(
        &ObjectRef {
            bucket: BUCKET.into(),
            key: burst_key.clone(),
            raw_key: burst_key,
        },
        None,
    )
    .await
    .expect("process");

    let proxy = FaultProxy::start(&moto.endpoint).await;
    let through = proxy.sdk_config().await;
    let sns = sns_client(&direct);
    let topic = sns
        .create_topic()
        .name("keytrail-security")
        .send()
        .await
        .expect("topic");
    let topic_arn = topic.topic_arn().expect("arn").to_owned();
    let config = EnricherConfig::from_lookup(|k| match k {
        "KEYTRAIL_LOG_BUCKET" => Some(BUCKET.into()),
        "KEYTRAIL_ALERT_TOPIC_ARN" => Some(topic_arn.clone()),
        _ => None,
    })
    .expect("config");
    // As the Lambda builds it.
    let enricher = Enricher::from_sdk(&through, config);
    let started = Instant::now();
    let r = enricher.handle(&alarm()).await.expect("enrich");
    let indexed_ms = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(r["events"], 12, "{r}");
    let indexed = s3_requests(&proxy.seen());
    // Without the index: every account and Region listed, every file read.
    let mut pages = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("keytrail/index/")
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        for o in p.expect("list").contents() {
            s3.delete_object()
                .bucket(BUCKET)
                .key(o.key().expect("key"))
                .send()
                .await
                .expect("delete");
        }
    }
    proxy.clear();
    let started = Instant::now();
    let r = enricher.handle(&alarm()).await.expect("enrich");
    let full_ms = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(r["events"], 12, "{r}");
    EnrichCosts {
        files: keys.len() + 1,
        indexed_ms,
        indexed,
        full_ms,
        full: s3_requests(&proxy.seen()),
    }
}

#[tokio::main]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (small, large) = if bench { (2_000, 20_000) } else { (200, 400) };
    let sample = summaries(large);
    let moto = Moto::start();
    let costs = summary_engine(&sample[..small], &moto).await;
    drop(moto);
    let t_small = athena_engine(&sample[..small]);
    let t_large = athena_engine(&sample);

    println!("## Organisation scale (scripts/bench.sh --org)\n");
    println!(
        "Per file, measured: a summary is {} gzip, decoded and merged in {:.0} µs; its GET from moto takes {:.2} ms alone, {:.0} files/s with 16 in flight. Its usage-table rows: {:.0} rows, {} as Firehose records (5 KB steps), {} as Parquet.\n",
        human_bytes(costs.summary_bytes),
        costs.merge_us,
        costs.moto_get_ms,
        costs.moto_files_per_s,
        t_large.rows_per_file,
        human_bytes(t_large.json_bytes_per_file),
        human_bytes(t_large.parquet_bytes_per_file),
    );
    println!(
        "DuckDB ran the review's query over {} files' rows in {:.2} s and over {} files' rows in {:.2} s ({} and {} result rows).\n",
        t_small.files,
        t_small.seconds,
        t_large.files,
        t_large.seconds,
        t_small.result_rows,
        t_large.result_rows
    );
    println!("### The monthly review of one month (146,880 files per account)\n");
    println!(
        "| accounts | files | summary engine, S3 at 20 ms (projected) | summary engine, moto's GET (projected) | Athena engine: DuckDB on the rows (projected from measured) | Parquet scanned | Athena $/month | Firehose $/month |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let per_file_duck = t_large.seconds / t_large.files as f64;
    for accounts in [1u64, 10, 100] {
        let files = FILES_PER_ACCOUNT_MONTH * accounts;
        let f = files as f64;
        let s3_s = f * S3_GET_MS / 1e3 / IN_FLIGHT + f * costs.merge_us / 1e6;
        let moto_s = f / costs.moto_files_per_s + f * costs.merge_us / 1e6;
        let duck_s = f * per_file_duck;
        let parquet = f * t_large.parquet_bytes_per_file;
        let athena_usd = (parquet / 1e12 * 5.0).max(10e6 / 1e12 * 5.0);
        let firehose_usd = f * t_large.json_bytes_per_file / 1e9 * (0.029 + 0.018);
        println!(
            "| {accounts} | {files} | {} | {} | {} | {} | ${athena_usd:.4} | ${firehose_usd:.2} |",
            human_duration(s3_s),
            human_duration(moto_s),
            human_duration(duck_s),
            human_bytes(parquet),
        );
    }
    println!();
    println!(
        "### The enricher: one alarm, 30-minute window, 17 Regions per account (measured against moto)\n"
    );
    println!(
        "| accounts | files in the window | with the hit index: time | LISTs / GETs | without it: time | LISTs / GETs |"
    );
    println!("|---|---|---|---|---|---|");
    let sizes: &[usize] = if bench { &[1, 10, 100] } else { &[1] };
    for &accounts in sizes {
        let e = enricher_at(accounts).await;
        println!(
            "| {accounts} | {} | {:.0} ms | {} / {} | {:.0} ms | {} / {} |",
            e.files, e.indexed_ms, e.indexed.0, e.indexed.1, e.full_ms, e.full.0, e.full.1
        );
    }
}
