//! The monthly review from per-file summaries versus from the raw logs, on a generated
//! month of 1440 deliveries (48 a day). Prints both times and the ratio.
//!
//! Then keys per record (issue 17 §4): one Decrypt whose `resources[]` lists 5k, 20k
//! and 40k keys. `record_keys_N` is the library's whole path (the file analysed, then
//! the review), which reads at most `MAX_KEYS_PER_RECORD` keys and counts the rest;
//! `uncapped_keys_N` gives the summary and the review one event carrying all N keys,
//! as if the cap were raised, so that their own growth shows: the time per key must
//! stay flat (it was quadratic: each key's state looked up by scanning the usage).
//!
//! Run with `cargo bench -p keytrail --bench review` (or scripts/bench.sh);
//! `-- keys_per_record` runs the second part only.

use std::time::{Duration, Instant};

use chrono::{Duration as Minutes, TimeZone, Utc};
use keytrail::Summary;
use keytrail::{AnalysisOptions, analyse};
use keytrail::{KeyRef, KeyRole, KmsEvent, MAX_KEYS_PER_RECORD, Record, RuleSet};
use keytrail::{Month, ReviewInput, ReviewSettings, build_report, delivery_coverage};
use keytrail_testkit::{Generator, Mix, gzip};

const DELIVERIES: usize = 1440;
const RECORDS_PER_DELIVERY: usize = 400;

/// The month's deliveries, every 30 minutes from 2026-10-01, from the workspace's one
/// generator (`testkit`), KMS calls only; gzipped.
fn deliveries() -> Vec<Vec<u8>> {
    let first = Utc
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .expect("start");
    let mut g = Generator::with_mix(1, Mix::kms_only());
    (0..DELIVERIES)
        .map(|n| {
            let start = first + Minutes::minutes(30 * n as i64);
            gzip(&g.delivery(start, 1800, RECORDS_PER_DELIVERY))
        })
        .collect()
}

fn review(month: Month, usage: &Summary) -> usize {
    let r = build_report(&ReviewInput {
        month,
        usage,
        coverage: delivery_coverage(month, std::iter::empty()),
        keys: None,
        trails: None,
        baseline: None,
        settings: &ReviewSettings::default(),
        generated_at: month.end(),
        scope: Default::default(),
        baseline_saved: false,
    });
    r.access_inventory.len()
}

fn time<F: FnMut() -> usize>(runs: usize, mut f: F) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut out = 0;
    for _ in 0..runs {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

fn main() {
    if !std::env::args().any(|a| a == "keys_per_record") {
        month_review();
    }
    keys_per_record();
}

fn month_review() {
    let month = Month::parse("2026-10").expect("month");
    eprintln!("generating {DELIVERIES} deliveries x {RECORDS_PER_DELIVERY} records...");
    let logs = deliveries();
    let summaries: Vec<Vec<u8>> = logs
        .iter()
        .map(|gz| {
            analyse("bench", &gz[..], &AnalysisOptions::default())
                .summary
                .to_gzip_json()
        })
        .collect();
    let raw_mb = logs.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;
    let sum_mb = summaries.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;

    let (from_summaries, rows_a) = time(5, || {
        let mut merged = Summary::default();
        for s in &summaries {
            merged.merge_owned(Summary::from_gzip_json(s).expect("summary"));
        }
        review(month, &merged)
    });
    let (from_logs, rows_b) = time(2, || {
        let mut merged = Summary::default();
        for gz in &logs {
            merged.merge_owned(analyse("bench", &gz[..], &AnalysisOptions::default()).summary);
        }
        review(month, &merged)
    });
    assert_eq!(rows_a, rows_b, "both paths must give the same inventory");
    println!(
        "review/month_1440_deliveries: {} records, raw logs {raw_mb:.1} MB gzip, summaries {sum_mb:.2} MB gzip",
        DELIVERIES * RECORDS_PER_DELIVERY
    );
    println!(
        "review/from_summaries: {:.1} ms (best of 5)",
        from_summaries.as_secs_f64() * 1e3
    );
    println!(
        "review/from_raw_logs:  {:.1} ms (best of 2)",
        from_logs.as_secs_f64() * 1e3
    );
    println!(
        "review/speedup:        {:.0}x",
        from_logs.as_secs_f64() / from_summaries.as_secs_f64()
    );
}

const KEYS_PER_RECORD: [usize; 3] = [5_000, 20_000, 40_000];

fn key_arn(i: usize) -> String {
    format!("arn:aws:kms:us-east-1:111122223333:key/{i:08x}-0000-0000-0000-000000000000")
}

/// One Decrypt whose `resources[]` lists `n` keys.
fn record_with_keys(n: usize) -> serde_json::Value {
    let resources: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({"ARN": key_arn(i), "type": "AWS::KMS::Key", "accountId": "111122223333"}))
        .collect();
    serde_json::json!({
        "eventVersion": "1.08", "eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
        "eventTime": "2026-11-05T10:00:00Z", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.5", "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "accountId": "111122223333",
            "arn": "arn:aws:iam::111122223333:user/alice"},
        "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        "resources": resources,
    })
}

fn keys_per_record() {
    let month = Month::parse("2026-11").expect("month");
    let mut per_key_first = None;
    for n in KEYS_PER_RECORD {
        let record = record_with_keys(n);
        let log =
            gzip(&serde_json::to_vec(&serde_json::json!({"Records": [&record]})).expect("json"));
        let (whole, rows) = time(3, || {
            let a = analyse("bench", &log[..], &AnalysisOptions::default());
            assert_eq!(a.summary.keys_beyond_cap, (n - MAX_KEYS_PER_RECORD) as u64);
            review(month, &a.summary)
        });
        assert_eq!(rows, MAX_KEYS_PER_RECORD);

        let record = Record::from_value(record).expect("record");
        let (uncapped, rows) = time(3, || {
            let mut e = KmsEvent::analyse(&record).expect("event");
            e.keys = (0..n)
                .map(|i| KeyRef {
                    id: key_arn(i),
                    role: KeyRole::Key,
                })
                .collect();
            e.keys_beyond_cap = 0;
            let mut usage = Summary::default();
            usage.observe(&e, RuleSet::of(&e));
            review(month, &usage)
        });
        assert_eq!(rows, n);
        let per_key = uncapped.as_secs_f64() * 1e6 / n as f64;
        let first = *per_key_first.get_or_insert(per_key);
        println!(
            "review/record_keys_{n}: {:.1} ms (best of 3; {MAX_KEYS_PER_RECORD} keys read)",
            whole.as_secs_f64() * 1e3
        );
        println!(
            "review/uncapped_keys_{n}: {:.1} ms (best of 3), {per_key:.2} us per key ({:.2}x the 5k figure)",
            uncapped.as_secs_f64() * 1e3,
            per_key / first
        );
    }
}
