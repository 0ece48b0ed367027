//! The review's usage-table SQL (`shared/sql/review_month.sql`), run for real: the
//! sample tree's per-file summaries become usage-table rows (as the log processor
//! sends them to Firehose), DuckDB runs the month's query over them (after sqlglot
//! has parsed it as Trino, Athena's dialect: `scripts/usage-sql.py`), and the summary
//! rebuilt from its result must equal the summaries merged, as the summary engine
//! merges them. Duplicate and incomplete deliveries are in the rows, and must not
//! count.
//!
//! Needs python3 with duckdb and sqlglot (`scripts/install-test-deps.sh` installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use keytrail::{
    AnalysisOptions, FileIdentity, MAX_RECORD_BYTES, Month, MonthUsage, MonthUsageBuilder, Summary,
    analyse, delivery_id, keep_month, month_query, parse_log_key, usage_records,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sample_logs() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.to_string_lossy().ends_with(".json.gz") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("events/logs"), &mut out);
    out.sort();
    assert!(out.len() > 10, "the sample tree is in events/logs");
    out
}

/// Runs `sql` over the rows under `dir` with DuckDB; the result as Athena gives it.
pub fn run_sql(dir: &Path, sql: &str) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let python = std::env::var("KEYTRAIL_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg(repo().join("scripts/usage-sql.py"))
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(sql.as_bytes())
        .expect("write the query");
    let out = child.wait_with_output().expect("usage-sql.py");
    assert!(
        out.status.success(),
        "usage-sql.py failed (python3 needs duckdb and sqlglot: scripts/install-test-deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("result JSON");
    let columns = v["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c.as_str().expect("name").to_owned())
        .collect();
    let rows = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .collect();
    (columns, rows)
}

fn month_usage(dir: &Path, month: Month) -> MonthUsage {
    let sql = month_query("kms_usage", month).expect("query");
    let (columns, rows) = run_sql(dir, &sql);
    let mut b = MonthUsageBuilder::new(&columns).expect("columns");
    for r in &rows {
        b.add(r).expect("row");
    }
    b.finish()
}

/// Writes one Firehose object (`yyyy/MM/dd/HH/name`) of records.
fn put(dir: &Path, hour: &str, name: &str, records: &[Vec<u8>]) {
    let d = dir.join(hour);
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join(name), records.concat()).expect("write rows");
}

#[test]
fn the_month_from_the_table_is_the_summaries_merged() {
    let month = Month::parse("2026-10").expect("month");
    let dir = tempfile::tempdir().expect("tmp");
    let mut merged = Summary::default();
    let mut files = 0;
    for (i, path) in sample_logs().iter().enumerate() {
        let shown = path.to_string_lossy().into_owned();
        let key = &shown[shown.find("AWSLogs/").expect("layout")..];
        // The processor reads only files in CloudTrail's layout.
        let Some(lk) = parse_log_key(key) else {
            continue;
        };
        let bytes = std::fs::read(path).expect("log");
        let summary = analyse(key, &bytes[..], &AnalysisOptions::default()).summary;
        let processed = lk.delivered + chrono::Duration::minutes(3);
        let delivery = delivery_id(processed);
        let id = FileIdentity {
            file: key,
            delivery: &delivery,
            account: &lk.account,
            region: &lk.region,
            file_date: lk.date,
            delivered: lk.delivered,
        };
        let hour = processed.format("%Y/%m/%d/%H").to_string();
        // Small records: the files' rows come in several parts.
        let records = usage_records(&summary, &id, 4_000);
        put(dir.path(), &hour, &format!("kms-usage-{i}"), &records);
        if i % 5 == 0 {
            // Delivered twice (a retry after the first attempt's rows landed): the
            // later delivery is a copy and must not count.
            let again = delivery_id(processed + chrono::Duration::minutes(10));
            let id = FileIdentity {
                delivery: &again,
                ..id.clone()
            };
            put(
                dir.path(),
                &hour,
                &format!("kms-usage-{i}-again"),
                &usage_records(&summary, &id, MAX_RECORD_BYTES),
            );
        }
        if i % 7 == 1 && records.len() > 1 {
            // An earlier attempt that failed half-way: its first part landed, the
            // rest did not. Incomplete: it must not count, though it is the earliest.
            let early = delivery_id(processed - chrono::Duration::minutes(1));
            let id = FileIdentity {
                delivery: &early,
                ..id.clone()
            };
            let partial = usage_records(&summary, &id, 4_000);
            put(
                dir.path(),
                &hour,
                &format!("kms-usage-{i}-partial"),
                &partial[..1],
            );
        }
        if lk.date >= month.first_day() && lk.date < month.next().first_day() {
            merged.merge_owned(summary);
            files += 1;
        }
    }
    let from_table = month_usage(dir.path(), month);
    assert_eq!(from_table.summary.files, files);
    let mut expected = merged;
    keep_month(&mut expected, month);
    let mut got = from_table.summary.clone();
    keep_month(&mut got, month);
    assert!(
        expected.shared_events.counted_once > 0,
        "the sample tree has cross-account calls logged twice"
    );
    // The summary engine keeps the ids of copies it did not pair; the table's
    // summary has no ids (the query paired them).
    expected.shared_events.owner.clear();
    expected.shared_events.caller.clear();
    assert_eq!(got, expected);
    let accounts: std::collections::BTreeSet<&str> = from_table
        .scope
        .iter()
        .map(|(a, _, _)| a.as_str())
        .collect();
    assert!(accounts.len() >= 2, "{:?}", from_table.scope);
    let delivered: u64 = from_table.delivered_hours.values().sum();
    assert_eq!(delivered, files);
}

#[test]
fn another_month_reads_nothing_of_this_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = &sample_logs()[0];
    let shown = path.to_string_lossy().into_owned();
    let key = &shown[shown.find("AWSLogs/").expect("layout")..];
    let lk = parse_log_key(key).expect("log key");
    let summary = analyse(
        key,
        &std::fs::read(path).expect("log")[..],
        &AnalysisOptions::default(),
    )
    .summary;
    let delivery = delivery_id(lk.delivered);
    let id = FileIdentity {
        file: key,
        delivery: &delivery,
        account: &lk.account,
        region: &lk.region,
        file_date: lk.date,
        delivered: lk.delivered,
    };
    put(
        dir.path(),
        &lk.delivered.format("%Y/%m/%d/%H").to_string(),
        "rows",
        &usage_records(&summary, &id, MAX_RECORD_BYTES),
    );
    let m = month_usage(dir.path(), Month::parse("2026-09").expect("month"));
    assert_eq!(m.summary.files, 0);
    assert!(m.summary.usage.is_empty());
    assert!(m.scope.is_empty());
}
