//! The monthly review from per-file summaries versus from the raw logs, on a generated
//! month of 1440 deliveries (48 a day). Prints both times and the ratio.
//! Run with `cargo bench -p keytrail --bench review` (or scripts/bench.sh).

use std::time::{Duration, Instant};

use chrono::{Duration as Minutes, TimeZone, Utc};
use keytrail::Summary;
use keytrail::{AnalysisOptions, analyse};
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
