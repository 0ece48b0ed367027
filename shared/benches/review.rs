//! The monthly review from per-file summaries versus from the raw logs, on a generated
//! month of 1440 deliveries (48 a day). Prints both times and the ratio.
//! Run with `cargo bench -p keytrail --bench review` (or scripts/bench.sh).

use std::io::Write;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use keytrail::Summary;
use keytrail::{AnalysisOptions, analyse};
use keytrail::{Month, ReviewInput, ReviewSettings, build_report, delivery_coverage};
use serde_json::json;

const DELIVERIES: usize = 1440;
const RECORDS_PER_DELIVERY: usize = 400;

fn delivery(n: usize) -> Vec<u8> {
    let day = n / 48 + 1;
    let minute = (n % 48) * 30;
    let records: Vec<_> = (0..RECORDS_PER_DELIVERY)
        .map(|i| {
            let name = ["Decrypt", "Decrypt", "GenerateDataKey", "Encrypt"][i % 4];
            json!({
                "eventVersion": "1.10",
                "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
                    "arn": format!("arn:aws:sts::111122223333:assumed-role/app-{}/s{}", i % 9, i % 31),
                    "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::111122223333:role/app-{}", i % 9)}}},
                "eventTime": format!("2026-10-{day:02}T{:02}:{:02}:{:02}Z", minute / 60, minute % 60, i % 60),
                "eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
                "sourceIPAddress": format!("10.0.{}.{}", i % 7, i % 200), "userAgent": "aws-sdk-java/2.20.0",
                "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"tenant": format!("t-{}", i % 50)}},
                "responseElements": null,
                "requestID": format!("r-{n}-{i}"), "eventID": format!("e-{n}-{i}"), "readOnly": true,
                "resources": [{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": format!("arn:aws:kms:us-east-1:111122223333:key/k{}", i % 12)}],
                "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333"
            })
        })
        .collect();
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(json!({ "Records": records }).to_string().as_bytes())
        .expect("gzip");
    enc.finish().expect("gzip")
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
    let logs: Vec<Vec<u8>> = (0..DELIVERIES).map(delivery).collect();
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
