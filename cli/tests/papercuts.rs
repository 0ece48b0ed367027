//! Argument handling and edge cases of the subcommands, through the built binary:
//! date-only times, search's filters, trees without logs, scan's schema field,
//! negative numbers, and the baseline that `review` writes for `scan` and `enrich`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{keytrail, metric, ok_json, root, search_lines, stderr};

/// The sample tree's records are all on 2026-10-04 (UTC).
#[test]
fn a_date_is_midnight_utc_in_every_time_argument() {
    let by_date = ok_json(&[
        "scan",
        "events/logs",
        "--json",
        "--since",
        "2026-10-04",
        "--until",
        "2026-10-05",
    ]);
    let by_time = ok_json(&[
        "scan",
        "events/logs",
        "--json",
        "--since",
        "2026-10-04T00:00:00Z",
        "--until",
        "2026-10-05T00:00:00Z",
    ]);
    assert_eq!(by_date, by_time);
    // Records outside the window are read (counted) but not measured.
    let measured = |r: &Value| r["metrics"].as_array().expect("metrics").len();
    assert!(measured(&by_date) > 0);
    let before = ok_json(&["scan", "events/logs", "--json", "--until", "2026-10-04"]);
    assert_eq!(
        measured(&before),
        0,
        "--until is exclusive: ends with Oct 3"
    );
    let after = ok_json(&["scan", "events/logs", "--json", "--since", "2026-10-05"]);
    assert_eq!(measured(&after), 0);
    let both = ok_json(&["scan", "events/logs", "--json", "--since", "2026-10-04"]);
    assert_eq!(both["metrics"], by_date["metrics"]);

    let day = search_lines(&["--since", "2026-10-04", "--until", "2026-10-05"]);
    assert_eq!(
        day.len(),
        search_lines(&[
            "--since",
            "2026-10-04T00:00:00Z",
            "--until",
            "2026-10-05T00:00:00Z"
        ])
        .len()
    );
    assert!(!day.is_empty());
    assert!(search_lines(&["--since", "2026-10-05"]).is_empty());

    for bad in ["2026-13-01", "2026-10-4x", "yesterday"] {
        let out = keytrail(&["scan", "events/logs", "--since", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let e = stderr(&out);
        assert!(e.contains("RFC 3339") && e.contains("2026-10-04"), "{e}");
    }
}

#[test]
fn search_ip_must_be_an_address_or_a_service() {
    let out = keytrail(&["search", "events/logs", "--ip", "notanip"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("not a valid IP address"), "{e}");
    let out = keytrail(&["search", "events/logs", "--ip", "203.0.113.0/24"]);
    assert_eq!(out.status.code(), Some(2), "no CIDR ranges");
    assert!(stderr(&out).contains("no CIDR"));
    assert!(!search_lines(&["--ip", "203.0.113.50"]).is_empty());
    assert!(
        !search_lines(&["--ip", " 203.0.113.50 "]).is_empty(),
        "trimmed"
    );
    assert!(
        search_lines(&["--ip", "2001:db8::1"]).is_empty(),
        "IPv6 is accepted"
    );
    // What CloudTrail records for calls a service made on the caller's behalf.
    let via_service = search_lines(&["--ip", "kms.amazonaws.com"]);
    assert!(
        via_service
            .iter()
            .all(|m| m["source_ip"] == "kms.amazonaws.com")
    );
    assert!(
        search_lines(&["--ip", "AWS Internal"])
            .iter()
            .all(|m| m["source_ip"] == "AWS Internal")
    );
}

#[test]
fn search_needs_a_filter_or_all() {
    let out = keytrail(&["search", "events/logs"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    for name in [
        "--context",
        "--key",
        "--principal",
        "--ip",
        "--event-name",
        "--since",
        "--until",
        "--all",
    ] {
        assert!(e.contains(name), "{name} not named in {e}");
    }
    assert!(out.stdout.is_empty());
    let all = search_lines(&["--all"]);
    let scan = ok_json(&["scan", "events/logs", "--json"]);
    assert_eq!(all.len() as u64, scan["kms_records"].as_u64().expect("n"));
    let out = keytrail(&["search", "events/logs", "--all", "--event-name", "Decrypt"]);
    assert_eq!(out.status.code(), Some(2), "--all excludes the filters");
    // A time window alone is a filter, but an empty one is a mistake.
    let out = keytrail(&[
        "search",
        "events/logs",
        "--since",
        "2026-10-05T00:00:00Z",
        "--until",
        "2026-10-04T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("must be before --until"));
}

#[test]
fn trees_without_logs_warn_naming_the_paths() {
    let dir = tempfile::tempdir().expect("tmp");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let other = dir.path().join("other");
    std::fs::create_dir(&other).expect("mkdir");
    std::fs::write(other.join("notes.txt"), b"hello").expect("write");
    let empty = empty.to_str().expect("utf8");
    let other = other.to_str().expect("utf8");
    let warned = |out: &Output| {
        let e = stderr(out);
        assert!(
            e.contains("warning: no CloudTrail log files")
                && e.contains(empty)
                && e.contains(other),
            "{e}"
        );
    };

    let out = keytrail(&["scan", empty, other, "--json"]);
    assert_eq!(out.status.code(), Some(0), "an empty tree is an empty scan");
    warned(&out);
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(r["files"]["read"], 0);
    let out = keytrail(&["scan", empty, other]);
    assert_eq!(out.status.code(), Some(0));
    warned(&out);

    let out = keytrail(&["search", empty, other, "--all"]);
    assert_eq!(out.status.code(), Some(0));
    warned(&out);
    let out = keytrail(&[
        "review", empty, other, "--month", "2026-10", "--format", "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    warned(&out);
    let out = keytrail(&[
        "enrich",
        "--alarm",
        "events/alarms/sns-decrypt-failures.json",
        empty,
        other,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    warned(&out);

    // A digest alone is not a log either.
    let digest_dir = dir.path().join("digests");
    let digest = walk(&root().join("events/logs"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains("CloudTrail-Digest"))
        .expect("the sample tree has a digest");
    let to = digest_dir.join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/10/04");
    std::fs::create_dir_all(&to).expect("mkdir");
    std::fs::copy(&digest, to.join(digest.file_name().expect("name"))).expect("copy");
    let out = keytrail(&["scan", digest_dir.to_str().expect("utf8"), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("warning: no CloudTrail log files"));

    // Logs, but none for the month reviewed.
    let out = keytrail(&[
        "review",
        "events/logs",
        "--month",
        "2026-11",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let e = stderr(&out);
    assert!(
        e.contains("no CloudTrail log files")
            && e.contains("for 2026-11")
            && e.contains("events/logs"),
        "{e}"
    );

    // And no warning when there are logs.
    let out = keytrail(&["scan", "events/logs", "--json"]);
    assert!(!stderr(&out).contains("no CloudTrail log files"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn scan_json_names_its_schema_and_version() {
    let out = keytrail(&["scan", "events/logs", "--json"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert!(
        text.starts_with("{\n  \"schema\": \"keytrail.scan\",\n  \"version\": 1,\n"),
        "first keys, as in the review and the investigation: {}",
        text.chars().take(80).collect::<String>()
    );
    // The same convention as the other documents.
    let review = ok_json(&[
        "review",
        "events/logs",
        "--month",
        "2026-10",
        "--format",
        "json",
    ]);
    assert_eq!(review["schema"], "keytrail.review");
    assert!(review["version"].is_u64());
}

#[test]
fn negative_lag_minutes_get_a_clear_message() {
    let out = keytrail(&[
        "enrich",
        "--alarm",
        "events/alarms/sns-decrypt-failures.json",
        "events/logs",
        "--lag-minutes",
        "-5",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("--lag-minutes must be between 0 and 1440") && e.contains("-5"),
        "{e}"
    );
    assert!(!e.contains("unexpected argument"), "{e}");
    for bad in ["-1", "0"] {
        let out = keytrail(&["scan", "events/logs", "--threads", bad]);
        assert_eq!(out.status.code(), Some(2));
        let e = stderr(&out);
        assert!(
            e.contains("must be between 1 and 65535") && !e.contains("unexpected argument"),
            "{e}"
        );
    }
    let out = keytrail(&[
        "enrich",
        "--alarm",
        "events/alarms/sns-decrypt-failures.json",
        "events/logs",
        "--lag-minutes",
        "0",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn review_writes_the_baseline_that_scan_and_enrich_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("baseline.json");
    let baseline = path.to_str().expect("utf8");
    let out = keytrail(&[
        "review",
        "events/logs",
        "--month",
        "2026-10",
        "--format",
        "json",
        "--baseline-out",
        baseline,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(report["baseline_available"], false);
    let b: Value = serde_json::from_slice(&std::fs::read(&path).expect("baseline written"))
        .expect("baseline JSON");
    assert_eq!(b["updated_for"], "2026-10");
    assert!(b["version"].as_u64().is_some_and(|v| v >= 1));
    let pipeline = &b["principals"]["arn:aws:iam::111122223333:role/data-pipeline"];
    assert!(
        pipeline["ips"]
            .as_array()
            .expect("ips")
            .iter()
            .any(|ip| ip == "203.0.113.50"),
        "{pipeline}"
    );
    assert_eq!(pipeline["first_seen_month"], "2026-10");
    assert!(
        b["months"]["2026-10"]["kms_calls"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    assert!(
        b["keys_last_used"]
            .as_object()
            .is_some_and(|k| !k.is_empty())
    );

    // scan and enrich read it: every source of the month is known, so nothing is unfamiliar.
    let r = ok_json(&["scan", "events/logs", "--json", "--baseline", baseline]);
    assert_eq!(metric(&r, "KMSUnfamiliarSourceIp", &[]), 0);
    let out = keytrail(&[
        "enrich",
        "--alarm",
        "events/alarms/sns-decrypt-failures.json",
        "events/logs",
        "--json",
        "--baseline",
        baseline,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Next month's review reads it (and writes the one after).
    let next = dir.path().join("next.json");
    let out = keytrail(&[
        "review",
        "events/logs",
        "--month",
        "2026-11",
        "--format",
        "json",
        "--baseline",
        baseline,
        "--baseline-out",
        next.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(report["baseline_available"], true);
    let n: Value = serde_json::from_slice(&std::fs::read(&next).expect("written")).expect("JSON");
    assert_eq!(n["updated_for"], "2026-11");
    assert_eq!(n["principals"], b["principals"], "carried over");
    assert!(n["months"]["2026-10"].is_object() && n["months"]["2026-11"].is_object());

    let out = keytrail(&[
        "review",
        "events/logs",
        "--month",
        "2026-10",
        "--baseline",
        "nope.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.json"));
}

#[cfg(not(feature = "aws"))]
#[test]
fn review_aws_without_the_feature_says_how_to_rebuild() {
    let out = keytrail(&["review", "events/logs", "--month", "2026-10", "--aws"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("built without AWS support") && e.contains("--features aws"),
        "{e}"
    );
    assert!(out.stdout.is_empty());
    let help = keytrail(&["review", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--aws"));
}

/// A reader that goes away (`keytrail scan ... | head`) ends the output quietly: no
/// panic, exit status 0.
#[test]
fn a_closed_pipe_is_not_a_panic() {
    for args in [
        &["scan", "events/logs"][..],
        &["scan", "events/logs", "--json"][..],
        &["search", "events/logs", "--all"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keytrail"))
            .args(args)
            .current_dir(root())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run keytrail");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let e = stderr(&out);
        assert!(!e.contains("panicked"), "{args:?}: {e}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {e}");
    }
}
