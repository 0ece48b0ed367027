//! `keytrail scan`: the log processor's engine, offline, over a local log tree.

use std::collections::BTreeSet;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::files::{
    Entry, OpenError, cells, display, open_log, progress, thousands, walk, warn_no_logs,
};

use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use keytrail::{AnalysisOptions, FileAnalysis, analyse};
use keytrail::{AsffFinding, Exported, Origin, detection_finding};
use keytrail::{Finding, Hits, evaluate_findings};
use keytrail::{KeyFacts, Summary};
use keytrail::{MetricOptions, Metrics};
use keytrail::{non_log_reason, parse_log_key};
use rayon::prelude::*;
use serde::Serialize;

/// Options of one scan.
pub struct ScanArgs {
    pub paths: Vec<PathBuf>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub per_key_metrics: bool,
    pub progress: bool,
    pub baseline: Option<std::sync::Arc<keytrail::Baseline>>,
    pub limits: keytrail::ReadLimits,
    /// The configuration file's rule settings and suppressions (`--config`).
    pub tuning: std::sync::Arc<keytrail::Tuning>,
}

#[derive(Debug, Serialize)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct FailedFile {
    pub path: String,
    pub error: String,
}

#[derive(Debug, Default, Serialize)]
pub struct FileCounts {
    pub read: u64,
    pub skipped: Vec<SkippedFile>,
    pub failed: Vec<FailedFile>,
}

#[derive(Debug, Serialize)]
pub struct MetricValue {
    pub name: String,
    pub dimensions: serde_json::Map<String, serde_json::Value>,
    pub value: u64,
}

/// The `--json` document's schema name and version, first in the document, named
/// as the review's (`keytrail.review`) and the investigation's
/// (`keytrail.investigation`) are.
pub const SCHEMA: &str = "keytrail.scan";
pub const SCHEMA_VERSION: u32 = 1;

/// The `--json` document (a public interface, documented in docs/json.md).
#[derive(Debug, Serialize)]
pub struct ScanReport {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    pub files: FileCounts,
    pub records: u64,
    pub kms_records: u64,
    pub bad_records: u64,
    pub duplicate_records: u64,
    /// The library summary's `keys_beyond_cap`; absent when 0 (as in the review).
    #[serde(skip_serializing_if = "is_zero")]
    pub keys_beyond_cap: u64,
    pub metrics: Vec<MetricValue>,
    pub findings: Vec<Finding>,
    /// Rule matches a `--config` suppression silenced: rule id -> suppression label
    /// -> count. Absent when none.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub suppressed: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    #[serde(skip)]
    pub summary: Summary,
    /// The (account, region) of every log file read, from its CloudTrail layout name.
    #[serde(skip)]
    pub layouts: BTreeSet<(String, String)>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

enum FileResult {
    Skipped(SkippedFile),
    Read(String, Box<FileAnalysis>),
    Unreadable(FailedFile),
}

fn scan_entry(entry: &Entry, args: &ScanArgs) -> FileResult {
    match entry {
        Entry::File(path) => scan_file(path, args),
        Entry::NotRegular { path, reason } => FileResult::Skipped(SkippedFile {
            path: display(path),
            reason: reason.clone(),
        }),
        Entry::Broken { path, reason } => {
            let shown = display(path);
            FileResult::Unreadable(FailedFile {
                error: format!("{shown}: {reason}"),
                path: shown,
            })
        }
    }
}

/// The analysis options of one file (its own account comes from its name).
fn file_options(shown: &str, args: &ScanArgs) -> AnalysisOptions {
    AnalysisOptions {
        metrics: MetricOptions {
            per_key: args.per_key_metrics,
            own_account: parse_log_key(shown).map(|k| k.account),
        },
        collect_hits: true,
        since: args.since,
        until: args.until,
        baseline: args.baseline.clone(),
        limits: args.limits,
        tuning: args.tuning.clone(),
        // Alias moves are judged with the whole tree's key facts (below).
        defer_alias_events: true,
    }
}

fn scan_file(path: &Path, args: &ScanArgs) -> FileResult {
    let shown = display(path);
    if let Some(reason) = non_log_reason(&shown) {
        return FileResult::Skipped(SkippedFile {
            path: shown,
            reason,
        });
    }
    let file = match open_log(path) {
        Ok(f) => f,
        Err(OpenError::NotRegular(reason)) => {
            return FileResult::Skipped(SkippedFile {
                path: shown,
                reason,
            });
        }
        Err(OpenError::Failed(reason)) => {
            return FileResult::Unreadable(FailedFile {
                error: format!("{shown}: {reason}"),
                path: shown,
            });
        }
    };
    let opts = file_options(&shown, args);
    let analysis = analyse(&shown, BufReader::new(file), &opts);
    if let Some(reason) = &analysis.not_a_log {
        return FileResult::Skipped(SkippedFile {
            path: shown,
            reason: reason.clone(),
        });
    }
    FileResult::Read(shown, Box::new(analysis))
}

/// What the files read so far add up to. Files are folded into these on the worker
/// threads and the partial totals combined in file order, so the merging runs in
/// parallel too and the output stays in the sorted order of the paths.
#[derive(Default)]
struct Totals {
    counts: FileCounts,
    metrics: Metrics,
    summary: Summary,
    hits: Hits,
    records: u64,
    kms: u64,
    bad: u64,
    dups: u64,
    warnings: Vec<String>,
    layouts: BTreeSet<(String, String)>,
    /// Every file's key and alias facts, merged.
    key_facts: KeyFacts,
    /// Alias events their own file's facts did not settle, with the file's name.
    deferred: Vec<(String, Vec<keytrail::Record>)>,
}

impl Totals {
    fn add(mut self, r: FileResult) -> Totals {
        match r {
            FileResult::Skipped(s) => self.counts.skipped.push(s),
            FileResult::Unreadable(f) => self.counts.failed.push(f),
            FileResult::Read(path, a) => {
                let a = *a;
                self.counts.read += 1;
                if let Some(k) = parse_log_key(&path) {
                    self.layouts.insert((k.account, k.region));
                }
                self.records += a.records;
                self.kms += a.kms_records;
                self.bad += a.bad_records;
                self.dups += a.duplicates;
                self.metrics.merge(&a.metrics);
                self.summary.merge_owned(a.summary);
                self.hits.merge(&a.hits);
                self.key_facts.merge(&a.key_facts);
                if !a.deferred.is_empty() {
                    self.deferred.push((path.clone(), a.deferred));
                }
                if let Some(e) = &a.error {
                    self.counts.failed.push(FailedFile {
                        path,
                        error: e.to_string(),
                    });
                } else if a.bad_records > 0 {
                    for s in &a.bad_samples {
                        self.warnings.push(format!("warning: {path}: {s}"));
                    }
                }
            }
        }
        self
    }

    fn combine(mut self, o: Totals) -> Totals {
        self.counts.read += o.counts.read;
        self.counts.skipped.extend(o.counts.skipped);
        self.counts.failed.extend(o.counts.failed);
        self.metrics.merge(&o.metrics);
        self.summary.merge_owned(o.summary);
        self.hits.merge(&o.hits);
        self.records += o.records;
        self.kms += o.kms;
        self.bad += o.bad;
        self.dups += o.dups;
        self.warnings.extend(o.warnings);
        self.layouts.extend(o.layouts);
        self.key_facts.merge(&o.key_facts);
        self.deferred.extend(o.deferred);
        self
    }
}

/// Runs the scan.
pub fn run(args: &ScanArgs) -> Result<ScanReport> {
    let entries = walk(&args.paths)?;
    let bar = progress(entries.len(), args.progress);
    let totals = entries
        .par_iter()
        .map(|e| {
            let r = scan_entry(e, args);
            bar.inc(1);
            r
        })
        .fold(Totals::default, Totals::add)
        .reduce(Totals::default, Totals::combine);
    bar.finish_and_clear();
    for w in &totals.warnings {
        eprintln!("{w}");
    }
    // Every file skipped (none at all, or digests, other files, non-log JSON): a tree
    // without logs. Files that failed are logs, reported as failed.
    if totals.counts.read == 0 && totals.counts.failed.is_empty() {
        warn_no_logs(&args.paths, "");
    }
    let Totals {
        counts,
        mut metrics,
        mut summary,
        mut hits,
        records,
        kms,
        bad,
        dups,
        layouts,
        key_facts,
        mut deferred,
        ..
    } = totals;
    // Alias moves one file could not judge, judged with the whole tree's key facts
    // (in path order, so the output does not depend on the threads).
    deferred.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, records) in &deferred {
        let late = keytrail::observe_deferred(records, &key_facts, &file_options(path, args));
        metrics.merge(&late.metrics);
        summary.merge_owned(late.summary);
        hits.merge(&late.hits);
    }
    // Hits from all files share one timeline: thresholds span file boundaries, as in CloudWatch.
    let findings = evaluate_findings(&hits, &args.tuning);
    let metrics = metrics
        .totals()
        .into_iter()
        .map(|(id, value)| MetricValue {
            name: id.name,
            dimensions: id
                .dimensions
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
            value,
        })
        .collect();
    Ok(ScanReport {
        schema: SCHEMA,
        version: SCHEMA_VERSION,
        files: counts,
        records,
        kms_records: kms,
        bad_records: bad,
        duplicate_records: dups,
        keys_beyond_cap: summary.keys_beyond_cap,
        metrics,
        findings,
        suppressed: summary.suppressed.clone(),
        summary,
        layouts,
    })
}

/// The scan's findings for other tools, exported at `now`. A finding whose keys and
/// principals do not say where it is takes the account and region of the log tree,
/// when the tree holds logs of one account and region only.
fn exported(report: &ScanReport, now: DateTime<Utc>) -> Result<Vec<Exported>> {
    let mut one = report.layouts.iter();
    let origin = match (one.next(), one.next()) {
        (Some((account, region)), None) => Origin {
            account: Some(account.clone()),
            region: Some(region.clone()),
        },
        _ => Origin::default(),
    };
    Ok(report
        .findings
        .iter()
        .map(|f| Exported::from_finding(f, &origin, now))
        .collect::<Result<_, _>>()?)
}

/// `--format asff`: a JSON array of AWS Security Finding Format findings.
pub fn asff(report: &ScanReport, now: DateTime<Utc>) -> Result<String> {
    let findings: Vec<AsffFinding> = exported(report, now)?.iter().map(AsffFinding::of).collect();
    Ok(serde_json::to_string_pretty(&findings)? + "\n")
}

/// `--format ocsf`: one OCSF Detection Finding event per line.
pub fn ocsf(report: &ScanReport, now: DateTime<Utc>) -> Result<String> {
    let mut out = String::new();
    for e in exported(report, now)? {
        out.push_str(&serde_json::to_string(&detection_finding(&e))?);
        out.push('\n');
    }
    Ok(out)
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    t
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn list(items: &[String], max: usize) -> String {
    let mut s: Vec<String> = items.iter().take(max).cloned().collect();
    if items.len() > max {
        s.push(format!("(+{} more)", items.len() - max));
    }
    s.join("\n")
}

/// The note under a table that shows `shown` of `total` rows of `what`, or nothing.
fn left_out(total: usize, shown: usize, what: &str) -> String {
    if total <= shown {
        return String::new();
    }
    format!(
        "... {} more {what} not shown; use --limit N to show more, or --json for all of them\n",
        thousands((total - shown) as u64)
    )
}

/// Renders the report as readable tables, each of at most `limit` rows (the skipped
/// and the failed files at most `limit` each) with a note saying how many more there
/// are. (The activity table is the busiest 25.)
pub fn render(report: &ScanReport, limit: usize) -> String {
    let mut out = String::new();
    let mut totals = table(&["", "count"]);
    totals.add_row(cells(vec![
        "files read".to_string(),
        report.files.read.to_string(),
    ]));
    totals.add_row(cells(vec![
        "files skipped".to_string(),
        report.files.skipped.len().to_string(),
    ]));
    totals.add_row(cells(vec![
        "files failed".to_string(),
        report.files.failed.len().to_string(),
    ]));
    totals.add_row(cells(vec![
        "records".to_string(),
        report.records.to_string(),
    ]));
    totals.add_row(cells(vec![
        "KMS records".to_string(),
        report.kms_records.to_string(),
    ]));
    totals.add_row(cells(vec![
        "bad records".to_string(),
        report.bad_records.to_string(),
    ]));
    totals.add_row(cells(vec![
        "duplicate records dropped".to_string(),
        report.duplicate_records.to_string(),
    ]));
    out.push_str(&format!("Totals\n{totals}\n"));
    if !report.suppressed.is_empty() {
        let mut t = table(&["rule", "suppression", "matches silenced"]);
        for (rule, by) in &report.suppressed {
            for (label, n) in by {
                t.add_row(cells(vec![rule.clone(), label.clone(), n.to_string()]));
            }
        }
        out.push_str(&format!("\nSuppressed (still counted, not alarmed)\n{t}\n"));
    }

    if !report.files.skipped.is_empty() || !report.files.failed.is_empty() {
        let mut t = table(&["file", "status", "reason"]);
        for s in report.files.skipped.iter().take(limit) {
            t.add_row(cells(vec![
                s.path.clone(),
                "skipped".into(),
                s.reason.clone(),
            ]));
        }
        for f in report.files.failed.iter().take(limit) {
            t.add_row(cells(vec![
                f.path.clone(),
                "FAILED".into(),
                f.error.clone(),
            ]));
        }
        out.push_str(&format!("\nFiles not fully read\n{t}\n"));
        out.push_str(&left_out(
            report.files.skipped.len(),
            limit,
            "skipped files",
        ));
        out.push_str(&left_out(report.files.failed.len(), limit, "failed files"));
    }

    // KMS activity: key × principal × operation, busiest first.
    let mut rows: Vec<_> = report.summary.usage.iter().collect();
    rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let mut t = table(&[
        "key",
        "principal",
        "operation",
        "error",
        "via service",
        "calls",
        "first",
        "last",
    ]);
    for (k, s) in rows.iter().take(25) {
        t.add_row(cells(vec![
            k.key.clone(),
            k.principal.clone(),
            k.event_name.clone(),
            k.error_class
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            if k.service_originated {
                "yes".into()
            } else {
                String::new()
            },
            s.count.to_string(),
            time(s.first_seen),
            time(s.last_seen),
        ]));
    }
    let more = rows.len().saturating_sub(25);
    out.push_str(&format!(
        "\nKMS activity (key x principal x operation){}\n{t}\n",
        if more > 0 {
            format!(", top 25 of {}", rows.len())
        } else {
            String::new()
        }
    ));

    let mut t = table(&["metric", "dimensions", "value"]);
    for m in report.metrics.iter().take(limit) {
        let dims: Vec<String> = m
            .dimensions
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        t.add_row(cells(vec![
            m.name.clone(),
            dims.join(", "),
            m.value.to_string(),
        ]));
    }
    out.push_str(&format!("\nMetrics that would be emitted\n{t}\n"));
    out.push_str(&left_out(report.metrics.len(), limit, "metrics"));

    if report.findings.is_empty() {
        out.push_str("\nFindings: none (no rule reached its alarm threshold)\n");
    } else {
        let mut t = table(&[
            "severity",
            "rule",
            "first seen",
            "last seen",
            "count",
            "keys",
            "principals",
            "source IPs",
        ]);
        for f in report.findings.iter().take(limit) {
            let mut rule = f.rule.to_string();
            for n in &f.notes {
                rule.push_str(&format!("\n! {n}"));
            }
            t.add_row(cells(vec![
                f.severity.as_str().to_uppercase(),
                rule,
                time(f.first_seen),
                time(f.last_seen),
                f.count.to_string(),
                list(&f.keys, 3),
                list(&f.principals, 3),
                list(&f.source_ips, 3),
            ]));
        }
        out.push_str(&format!("\nFindings ({})\n{t}\n", report.findings.len()));
        out.push_str(&left_out(report.findings.len(), limit, "findings"));
    }
    out
}
