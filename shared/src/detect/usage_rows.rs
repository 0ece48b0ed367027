//! The rows of the KMS usage table: one log file's [`Summary`] flattened into rows
//! that the log processor sends to Amazon Data Firehose, which converts them to
//! Parquet under `keytrail/usage/` (the Glue table `kms_usage`, in
//! `template.yaml`). The monthly review's Athena engine aggregates a month of them
//! back into one summary (`review::usage_table`), so both engines build the report
//! from the same numbers.
//!
//! Every row names its log file and the *delivery* (one processing of that file)
//! it belongs to, and the delivery's Firehose records are numbered (`part` of
//! `parts`). Firehose and the processor's retries both deliver at least once; the
//! review's SQL counts one complete delivery per file.
//!
//! Each row has a `kind` and only that kind's columns (the others are absent, so
//! null in the table):
//!
//! | kind | columns | from the summary |
//! |---|---|---|
//! | `file` | records, kms_records, bad_records, keys_beyond_cap, untracked, first_event, last_event | the file's counts |
//! | `usage` | key, principal, operation, error_class, service_originated, n, first_seen, last_seen | a usage cell |
//! | `ip` | principal, ip (or truncated) | a principal's source IPs |
//! | `context` | key, context_key (or truncated) | a key's encryption-context keys |
//! | `day` | day, n (calls), failures | a day's calls |
//! | `day_key` | day, key, n | a day's calls per key |
//! | `day_rule` | day, rule, n | a day's matches per rule |
//! | `active_hour`, `active_day`, `active_calls` | principal, hour / day_number / n | a principal's own active hours |
//! | `suppressed` | rule, label, n | matches a suppression silenced |
//! | `shared_caller` | event_id | the caller's copy of a cross-account call |
//! | `shared_owner` | event_id, keys, principal, operation, error_class, service_originated, day, rules | a key owner's copy |

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::detect::event::ErrorClass;
use crate::detect::summary::Summary;

/// Firehose's limit for one record is 1,000 KiB; a file's rows past this start a new
/// record (part) of the same delivery.
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024 - 1024;

/// Which log file, and which processing of it, the rows come from.
#[derive(Debug, Clone)]
pub struct FileIdentity<'a> {
    /// The log file's S3 key.
    pub file: &'a str,
    /// This processing of the file (unique per attempt; the earliest complete one
    /// counts).
    pub delivery: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    /// The date of the log key (`.../YYYY/MM/DD/`): the review's month selection.
    pub file_date: NaiveDate,
    /// The delivery time in the file name: the review's delivery coverage.
    pub delivered: DateTime<Utc>,
}

/// A delivery id: the processing time, sortable, to the microsecond (a file's
/// attempts are serialised by its claim, so two cannot share one).
pub fn delivery_id(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%S%.6fZ").to_string()
}

/// One row's own columns (the identity columns are written in front of them).
#[derive(Serialize, Default)]
struct Row<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_originated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    day: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hour: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    day_number: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failures: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keys: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    records: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_records: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bad_records: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keys_beyond_cap: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    untracked: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_event: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event: Option<i64>,
}

/// The name an error class has in the table (its serde name, as in summaries).
pub fn error_class_name(c: ErrorClass) -> &'static str {
    match c {
        ErrorClass::AccessDenied => "AccessDenied",
        ErrorClass::IncorrectKey => "IncorrectKey",
        ErrorClass::InvalidCiphertext => "InvalidCiphertext",
        ErrorClass::Disabled => "Disabled",
        ErrorClass::PendingDeletion => "PendingDeletion",
        ErrorClass::InvalidState => "InvalidState",
        ErrorClass::NotFound => "NotFound",
        ErrorClass::Throttled => "Throttled",
        ErrorClass::Other => "Other",
    }
}

/// The error class a table name stands for.
pub fn error_class_of(name: &str) -> Option<ErrorClass> {
    ErrorClass::ALL
        .into_iter()
        .find(|c| error_class_name(*c) == name)
}

fn rows_of(s: &Summary) -> Vec<Row<'_>> {
    let mut rows = vec![Row {
        kind: "file",
        records: Some(s.records),
        kms_records: Some(s.kms_records),
        bad_records: Some(s.bad_records),
        keys_beyond_cap: Some(s.keys_beyond_cap),
        untracked: Some(s.shared_events.untracked),
        first_event: s.first_event.map(|t| t.timestamp()),
        last_event: s.last_event.map(|t| t.timestamp()),
        ..Row::default()
    }];
    for (c, u) in &s.usage {
        rows.push(Row {
            kind: "usage",
            key: Some(&c.key),
            principal: Some(&c.principal),
            operation: Some(&c.event_name),
            error_class: c.error_class.map(error_class_name),
            service_originated: Some(c.service_originated),
            n: Some(u.count),
            first_seen: Some(u.first_seen.timestamp()),
            last_seen: Some(u.last_seen.timestamp()),
            ..Row::default()
        });
    }
    for (p, ips) in &s.principal_ips {
        for ip in &ips.values {
            rows.push(Row {
                kind: "ip",
                principal: Some(p),
                ip: Some(ip),
                ..Row::default()
            });
        }
        if ips.truncated {
            rows.push(Row {
                kind: "ip",
                principal: Some(p),
                truncated: Some(true),
                ..Row::default()
            });
        }
    }
    for (k, names) in &s.key_context_keys {
        for name in &names.values {
            rows.push(Row {
                kind: "context",
                key: Some(k),
                context_key: Some(name),
                ..Row::default()
            });
        }
        if names.truncated {
            rows.push(Row {
                kind: "context",
                key: Some(k),
                truncated: Some(true),
                ..Row::default()
            });
        }
    }
    for (day, d) in &s.days {
        rows.push(Row {
            kind: "day",
            day: Some(day),
            n: Some(d.calls),
            failures: Some(d.failures),
            ..Row::default()
        });
        for (k, n) in &d.by_key {
            rows.push(Row {
                kind: "day_key",
                day: Some(day),
                key: Some(k),
                n: Some(*n),
                ..Row::default()
            });
        }
        for (r, n) in &d.rules {
            rows.push(Row {
                kind: "day_rule",
                day: Some(day),
                rule: Some(r),
                n: Some(*n),
                ..Row::default()
            });
        }
    }
    for (p, h) in &s.principal_hours {
        for hour in (0..24).filter(|b| h.hours & (1 << b) != 0) {
            rows.push(Row {
                kind: "active_hour",
                principal: Some(p),
                hour: Some(hour),
                ..Row::default()
            });
        }
        for d in &h.days {
            rows.push(Row {
                kind: "active_day",
                principal: Some(p),
                day_number: Some(*d),
                ..Row::default()
            });
        }
        rows.push(Row {
            kind: "active_calls",
            principal: Some(p),
            n: Some(h.calls),
            ..Row::default()
        });
    }
    for (rule, by) in &s.suppressed {
        for (label, n) in by {
            rows.push(Row {
                kind: "suppressed",
                rule: Some(rule),
                label: Some(label),
                n: Some(*n),
                ..Row::default()
            });
        }
    }
    for id in &s.shared_events.caller {
        rows.push(Row {
            kind: "shared_caller",
            event_id: Some(id),
            ..Row::default()
        });
    }
    for (id, c) in &s.shared_events.owner {
        rows.push(Row {
            kind: "shared_owner",
            event_id: Some(id),
            keys: Some(c.keys.join(" ")),
            principal: Some(&c.principal),
            operation: Some(&c.event_name),
            error_class: c.error_class.map(error_class_name),
            service_originated: Some(c.service_originated),
            day: Some(&c.day),
            rules: Some(c.rules.join(" ")),
            ..Row::default()
        });
    }
    rows
}

/// The Firehose records of one log file's summary: newline-terminated JSON rows
/// (several JSON documents in one record, which Firehose's format conversion
/// reads), each at most `max_bytes` unless a single row is larger.
pub fn records(s: &Summary, id: &FileIdentity, max_bytes: usize) -> Vec<Vec<u8>> {
    // Each row's own columns, serialised once; `{"kind":...}` always has a field.
    let bodies: Vec<Vec<u8>> = rows_of(s)
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap_or_default())
        .collect();
    let head = |part: usize, parts: usize| {
        let mut h = serde_json::to_vec(&serde_json::json!({
            "file": id.file,
            "delivery": id.delivery,
            "part": part,
            "parts": parts,
            "account": id.account,
            "region": id.region,
            "file_date": id.file_date.to_string(),
            "delivered": id.delivered.format("%Y-%m-%dT%H:%MZ").to_string(),
        }))
        .unwrap_or_default();
        // `{...}` -> `{...,` : the row's fields follow.
        h.pop();
        h.push(b',');
        h
    };
    // The longest head (part numbers grow) bounds every row's size.
    let head_len = head(usize::MAX, usize::MAX).len();
    let mut groups: Vec<Vec<&[u8]>> = Vec::new();
    let mut current: Vec<&[u8]> = Vec::new();
    let mut size = 0;
    for b in &bodies {
        // The head replaces the row's `{`; a newline ends it.
        let len = head_len + b.len();
        if !current.is_empty() && size + len > max_bytes {
            groups.push(std::mem::take(&mut current));
            size = 0;
        }
        current.push(b);
        size += len;
    }
    groups.push(current);
    let parts = groups.len();
    groups
        .into_iter()
        .enumerate()
        .map(|(part, rows)| {
            let h = head(part, parts);
            let mut out = Vec::with_capacity(rows.iter().map(|r| h.len() + r.len()).sum());
            for r in rows {
                out.extend_from_slice(&h);
                // Skip the row's own `{`.
                out.extend_from_slice(&r[1..]);
                out.push(b'\n');
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::analysis::{AnalysisOptions, analyse};

    /// The sample tree's files, summarised together (many kinds of rows).
    pub(crate) fn summary() -> Summary {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.to_string_lossy().ends_with(".json.gz") {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/logs")),
            &mut files,
        );
        assert!(!files.is_empty());
        let mut s = Summary::default();
        for f in files {
            let bytes = std::fs::read(&f).expect("sample log");
            s.merge_owned(analyse("t", &bytes[..], &AnalysisOptions::default()).summary);
        }
        s
    }

    fn id() -> FileIdentity<'static> {
        FileIdentity {
            file: "AWSLogs/o-1/111122223333/CloudTrail/us-east-1/2026/10/05/f.json.gz",
            delivery: "20261005T091500.000001Z",
            account: "111122223333",
            region: "us-east-1",
            file_date: NaiveDate::from_ymd_opt(2026, 10, 5).expect("date"),
            delivered: "2026-10-05T09:10:00Z".parse().expect("time"),
        }
    }

    #[test]
    fn every_row_carries_the_file_and_its_delivery() {
        let s = summary();
        let recs = records(&s, &id(), MAX_RECORD_BYTES);
        assert_eq!(recs.len(), 1);
        let text = String::from_utf8(recs[0].clone()).expect("utf8");
        let rows: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("row"))
            .collect();
        assert!(rows.len() > 1, "{text}");
        for r in &rows {
            assert_eq!(r["file"], id().file);
            assert_eq!(r["delivery"], "20261005T091500.000001Z");
            assert_eq!(r["part"], 0);
            assert_eq!(r["parts"], 1);
            assert_eq!(r["file_date"], "2026-10-05");
            assert_eq!(r["delivered"], "2026-10-05T09:10Z");
        }
        assert_eq!(rows[0]["kind"], "file");
        assert_eq!(rows[0]["records"], s.records);
        let usage = rows.iter().filter(|r| r["kind"] == "usage").count();
        assert_eq!(usage, s.usage.len());
    }

    #[test]
    fn a_large_file_is_split_into_numbered_parts() {
        let s = summary();
        let one = records(&s, &id(), MAX_RECORD_BYTES).concat();
        let recs = records(&s, &id(), 2_000);
        assert!(recs.len() > 1);
        let mut lines = 0;
        for (i, r) in recs.iter().enumerate() {
            for l in String::from_utf8(r.clone()).expect("utf8").lines() {
                let v: serde_json::Value = serde_json::from_str(l).expect("row");
                assert_eq!(v["part"], i);
                assert_eq!(v["parts"], recs.len());
                lines += 1;
            }
            assert!(r.len() <= 2_000 || r.iter().filter(|b| **b == b'\n').count() == 1);
        }
        assert_eq!(lines, one.iter().filter(|b| **b == b'\n').count());
    }

    #[test]
    fn error_class_names_read_back() {
        for c in ErrorClass::ALL {
            assert_eq!(error_class_of(error_class_name(c)), Some(c));
            // The same spelling as the summary's JSON.
            assert_eq!(
                serde_json::to_value(c).expect("json"),
                serde_json::Value::String(error_class_name(c).into())
            );
        }
        assert_eq!(error_class_of("nope"), None);
    }
}
