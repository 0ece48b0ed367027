//! Table output is capped (`--limit N`, default 1000 rows per table), with a note that
//! says how many rows were left out; `--json` stays complete. Through the built binary,
//! on two generated days of deliveries (`keytrail generate w2 --days 2`: 96 logs of
//! 60 records, 48 digests) and on the sample tree.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{ok_json, root, stderr};

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run keytrail")
}

fn ok_text(args: &[&str], dir: &Path) -> String {
    let out = run(args, dir);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).expect("utf8")
}

/// Two days of W2 under a temporary directory (`AWSLogs/...`).
fn two_days() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let out = run(&["generate", "w2", "--days", "2", "--out", "."], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}

/// The times in the first column of a search table, one per row (a row's other lines
/// start with an empty first cell).
fn table_times(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("│ "))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
        .filter(|t| t.starts_with("20"))
        .collect()
}

fn json_times(args: &[&str], dir: &Path) -> Vec<String> {
    ok_text(args, dir)
        .lines()
        .map(|l| {
            let m: Value = serde_json::from_str(l).expect("one object per line");
            m["time"].as_str().expect("time").to_owned()
        })
        .collect()
}

#[test]
fn search_tables_show_the_first_rows_by_time_and_count_the_rest() {
    let dir = two_days();
    let all = json_times(&["search", "AWSLogs", "--all", "--json"], dir.path());
    let total = all.len();
    assert!(
        total > 1000,
        "two days of W2 have more KMS events than the cap: {total}"
    );

    // The default cap: 1000 rows, the first by time, and the note with the rest.
    let text = ok_text(&["search", "AWSLogs", "--all"], dir.path());
    assert_eq!(table_times(&text), all[..1000]);
    assert!(
        text.contains(&format!("\n{total} matching events in 96 files\n")),
        "{}",
        &text[text.len().saturating_sub(400)..]
    );
    let more = total - 1000;
    let note = format!(
        "... {} more matching events not shown (the table holds the first 1,000 by time)",
        with_commas(more)
    );
    assert!(text.contains(&note), "no {note:?}");

    // --limit N: the first N of the same order, whichever files they come from.
    for n in [1, 7, 250] {
        let text = ok_text(
            &["search", "AWSLogs", "--all", "--limit", &n.to_string()],
            dir.path(),
        );
        assert_eq!(table_times(&text), all[..n], "--limit {n}");
        assert!(text.contains(&format!(
            "... {} more matching events not shown (the table holds the first {n} by time)",
            with_commas(total - n)
        )));
    }

    // A filter with fewer matches than the cap: every row, no note.
    let decrypts = json_times(
        &["search", "AWSLogs", "--event-name", "Decrypt", "--json"],
        dir.path(),
    );
    let text = ok_text(
        &[
            "search",
            "AWSLogs",
            "--event-name",
            "Decrypt",
            "--limit",
            &decrypts.len().to_string(),
        ],
        dir.path(),
    );
    assert_eq!(table_times(&text), decrypts);
    assert!(!text.contains("not shown"));
}

#[test]
fn scan_tables_are_capped_with_a_note_per_table() {
    let report = ok_json(&["scan", "events/logs", "--json"]);
    let findings = report["findings"].as_array().expect("findings").len();
    let metrics = report["metrics"].as_array().expect("metrics").len();
    assert!(findings > 2 && metrics > 2);
    let text = ok_text(&["scan", "events/logs", "--limit", "2"], &root());
    assert!(text.contains(&format!(
        "... {} more findings not shown; use --limit N to show more, or --json for all of them",
        findings - 2
    )));
    assert!(text.contains(&format!("... {} more metrics not shown", metrics - 2)));
    // The counts in the headings are still the totals.
    assert!(text.contains(&format!("Findings ({findings})")));
    let rows = |section: &str| {
        let start = text.find(section).expect(section);
        text[start..]
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("└"))
            .filter(|l| l.starts_with("│ ") && !l.starts_with("│  "))
            .count()
    };
    // Header row plus the rows shown (a finding's notes are lines of its own row).
    assert_eq!(rows("Findings ("), 1 + 2);
    assert_eq!(rows("Metrics that would be emitted"), 1 + 2);

    // The skipped files of the generated days: 48 digests.
    let dir = two_days();
    let skipped = ok_json_in(&["scan", "AWSLogs", "--json"], dir.path())["files"]["skipped"]
        .as_array()
        .expect("skipped")
        .len();
    assert_eq!(skipped, 48);
    let text = ok_text(&["scan", "AWSLogs", "--limit", "5"], dir.path());
    assert!(text.contains("... 43 more skipped files not shown"));
    assert!(!text.contains("more failed files"));

    // Under the default cap nothing is left out.
    let text = ok_text(&["scan", "events/logs"], &root());
    assert!(!text.contains("not shown"), "{text}");
}

#[test]
fn limit_is_for_tables() {
    for cmd in [
        &["scan", "events/logs", "--json", "--limit", "5"][..],
        &["search", "events/logs", "--all", "--json", "--limit", "5"],
        &["search", "events/logs", "--all", "--limit", "0"],
    ] {
        let out = run(cmd, &root());
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        assert!(stderr(&out).contains("--limit"), "{}", stderr(&out));
    }
}

fn ok_json_in(args: &[&str], dir: &Path) -> Value {
    serde_json::from_str(&ok_text(args, dir)).expect("json")
}

fn with_commas(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
