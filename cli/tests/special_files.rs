//! Odd entries in a log tree, through the built binary: dangling symlinks, symlink
//! loops, FIFOs and devices, in a tree or given as paths. Each is reported (a broken
//! entry under `files.failed`, anything but a regular file under `files.skipped`)
//! and the good files next to it are read as if it were not there.
//!
//! A FIFO is never opened: opening one for reading blocks until something writes to
//! it, so a keytrail that opened it would leave these tests hanging, not passing.
#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{ok_json, root, stderr};

fn run(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(args)
        .args(paths)
        .current_dir(root())
        .output()
        .expect("run keytrail")
}

fn scan_json(paths: &[&Path]) -> Value {
    let out = run(&["scan", "--json"], paths);
    assert!(
        out.status.success(),
        "status {:?}: {}",
        out.status.code(),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).expect("--json output")
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

/// A tree with the sample logs (through a symlink to `events/logs`) next to `odd`,
/// which the caller fills with odd entries.
fn tree() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tmp");
    symlink(root().join("events/logs"), tmp.path().join("logs")).expect("symlink");
    let odd = tmp.path().join("odd");
    std::fs::create_dir(&odd).expect("odd dir");
    (tmp, odd)
}

/// The sample tree's counts, to compare a tree with odd entries against.
fn sample() -> Value {
    ok_json(&["scan", "events/logs", "--json"])
}

/// The good files' records, metrics and findings are all there.
fn assert_same_logs(r: &Value, want: &Value) {
    for field in ["records", "kms_records", "bad_records", "duplicate_records"] {
        assert_eq!(r[field], want[field], "{field}: {r:#}");
    }
    assert_eq!(r["files"]["read"], want["files"]["read"]);
    assert_eq!(r["metrics"], want["metrics"]);
    assert_eq!(
        r["findings"].as_array().expect("findings").len(),
        want["findings"].as_array().expect("findings").len()
    );
}

/// `files.failed` (or `files.skipped`) entries whose path ends in `/name` or is `name`.
fn listed<'a>(r: &'a Value, list: &str, name: &str) -> Vec<&'a Value> {
    r["files"][list]
        .as_array()
        .expect(list)
        .iter()
        .filter(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p == name || p.ends_with(&format!("/{name}")))
        })
        .collect()
}

fn error_of(r: &Value, name: &str) -> String {
    let failed = listed(r, "failed", name);
    assert_eq!(failed.len(), 1, "{name} once in files.failed: {r:#}");
    failed[0]["error"].as_str().expect("error").to_owned()
}

fn reason_of(r: &Value, name: &str) -> String {
    let skipped = listed(r, "skipped", name);
    assert_eq!(skipped.len(), 1, "{name} once in files.skipped: {r:#}");
    skipped[0]["reason"].as_str().expect("reason").to_owned()
}

#[test]
fn a_dangling_symlink_is_a_failed_file_and_the_rest_is_read() {
    let (tmp, odd) = tree();
    symlink(
        tmp.path().join("gone.json.gz"),
        odd.join("dangling.json.gz"),
    )
    .expect("symlink");
    // A dangling link to a directory of logs looks the same.
    symlink(tmp.path().join("gone-dir"), odd.join("2026")).expect("symlink");
    let r = scan_json(&[tmp.path()]);
    assert_same_logs(&r, &sample());
    for name in ["dangling.json.gz", "2026"] {
        let e = error_of(&r, name);
        assert!(e.contains("dangling symlink (to "), "{e}");
        assert!(e.contains("gone"), "names the target: {e}");
        assert!(!e.contains("os error"), "{e}");
    }
    assert_eq!(r["files"]["failed"].as_array().expect("failed").len(), 2);
    let want_skipped = sample()["files"]["skipped"].as_array().expect("s").len();
    assert_eq!(
        r["files"]["skipped"].as_array().expect("skipped").len(),
        want_skipped
    );

    // Given as a path, next to a good one: the same.
    let link = odd.join("dangling.json.gz");
    let r = scan_json(&[&link, &root().join("events/logs")]);
    assert_same_logs(&r, &sample());
    assert!(error_of(&r, "dangling.json.gz").contains("dangling symlink"));

    // The table says it too, without a second copy of the OS error.
    let out = run(&["scan"], &[tmp.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAILED"), "{text}");
    assert!(text.contains("dangling symlink"), "{text}");
}

#[test]
fn symlink_loops_are_failed_files_and_the_rest_is_read() {
    let (tmp, odd) = tree();
    // A link back to an ancestor (walkdir finds the loop) ...
    symlink("..", odd.join("up")).expect("symlink");
    // ... and two links to each other (the OS finds it: ELOOP).
    symlink("b.json", odd.join("a.json")).expect("symlink");
    symlink("a.json", odd.join("b.json")).expect("symlink");
    let r = scan_json(&[tmp.path()]);
    assert_same_logs(&r, &sample());
    for name in ["up", "a.json", "b.json"] {
        let e = error_of(&r, name);
        assert!(e.contains("symlink loop"), "{e}");
        assert_eq!(e.matches("os error").count(), 0, "{e}");
    }
    assert_eq!(r["files"]["failed"].as_array().expect("failed").len(), 3);

    // As a path of its own.
    let r = scan_json(&[&odd.join("a.json")]);
    assert!(error_of(&r, "a.json").contains("symlink loop"));
    assert_eq!(r["files"]["read"], 0);
}

#[test]
fn fifos_and_devices_are_skipped_unopened() {
    let (tmp, odd) = tree();
    mkfifo(&odd.join("pipe.json.gz"));
    // A FIFO named like something else is still "not a regular file", and a symlink
    // to a FIFO too.
    mkfifo(&odd.join("pipe.txt"));
    symlink(odd.join("pipe.json.gz"), odd.join("to-pipe.json")).expect("symlink");
    let r = scan_json(&[tmp.path()]);
    assert_same_logs(&r, &sample());
    for name in ["pipe.json.gz", "pipe.txt", "to-pipe.json"] {
        assert_eq!(
            reason_of(&r, name),
            "not a regular file (named pipe)",
            "{r:#}"
        );
    }
    assert!(r["files"]["failed"].as_array().expect("failed").is_empty());

    // Given as paths, with /dev/null and a good file.
    let fifo = odd.join("pipe.json.gz");
    let dev_null = Path::new("/dev/null");
    let r = scan_json(&[&fifo, dev_null, &root().join("events/logs")]);
    assert_same_logs(&r, &sample());
    assert_eq!(
        reason_of(&r, "pipe.json.gz"),
        "not a regular file (named pipe)"
    );
    assert_eq!(
        reason_of(&r, "/dev/null"),
        "not a regular file (character device)"
    );

    // Alone: nothing read, both accounted for, and the usual "no log files" warning.
    let out = run(&["scan", "--json"], &[&fifo, dev_null]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(r["files"]["read"], 0);
    assert_eq!(r["files"]["skipped"].as_array().expect("skipped").len(), 2);
    assert!(stderr(&out).contains("no CloudTrail log files"));
}

/// `search`, `review` and `enrich` read the same files and warn about the others.
#[test]
fn every_command_that_walks_a_tree_goes_past_odd_entries() {
    let (tmp, odd) = tree();
    symlink(
        tmp.path().join("gone.json.gz"),
        odd.join("dangling.json.gz"),
    )
    .expect("symlink");
    symlink("b.json", odd.join("a.json")).expect("symlink");
    symlink("a.json", odd.join("b.json")).expect("symlink");
    mkfifo(&odd.join("pipe.json"));
    let dev_null = Path::new("/dev/null");
    let logs = root().join("events/logs");
    let warned = |out: &Output, what: &str| {
        assert!(
            out.status.success(),
            "{what}: status {:?}: {}",
            out.status.code(),
            stderr(out)
        );
        let err = stderr(out);
        for want in [
            "dangling.json.gz: dangling symlink (to ",
            "a.json: symlink loop",
            "pipe.json: skipped: not a regular file (named pipe)",
            "/dev/null: skipped: not a regular file (character device)",
        ] {
            assert!(err.contains(want), "{what}: no {want:?} in:\n{err}");
        }
        assert!(!err.contains("os error"), "{what}: {err}");
    };

    // The matches, without the file (the paths differ).
    let search = |paths: &[&Path]| {
        let out = run(&["search", "--all", "--json"], paths);
        let matches: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let mut m: Value = serde_json::from_str(l).expect("one object per line");
                m["file"] = Value::Null;
                m
            })
            .collect();
        (out, matches)
    };
    let (out, matches) = search(&[tmp.path(), dev_null]);
    warned(&out, "search");
    let (_, want) = search(&[&logs]);
    assert!(!want.is_empty());
    assert!(matches == want, "the same matches");
    let out = run(&["search", "--all"], &[tmp.path(), dev_null]);
    warned(&out, "search (table)");

    let review = |paths: &[&Path]| {
        let out = run(&["review", "--month", "2026-10", "--format", "json"], paths);
        let r: Value = serde_json::from_slice(&out.stdout).expect("review json");
        (out, r)
    };
    let (out, r) = review(&[tmp.path(), dev_null]);
    warned(&out, "review");
    let (_, want) = review(&[&logs]);
    assert_eq!(r["summary"], want["summary"]);
    assert_eq!(r["access_inventory"], want["access_inventory"]);

    let enrich = |paths: &[&Path]| {
        let out = run(
            &[
                "enrich",
                "--alarm",
                "events/alarms/sns-decrypt-failures.json",
                "--json",
            ],
            paths,
        );
        let r: Value = serde_json::from_slice(&out.stdout).expect("enrich json");
        (out, r)
    };
    let (out, r) = enrich(&[tmp.path(), dev_null]);
    warned(&out, "enrich");
    let (_, want) = enrich(&[&logs]);
    for field in ["count", "principals", "keys", "event_names", "errors"] {
        assert_eq!(r[field], want[field], "{field}");
    }
    assert_eq!(r["gather"]["files_read"], want["gather"]["files_read"]);
    assert_eq!(
        r["gather"]["records_scanned"],
        want["gather"]["records_scanned"]
    );
}

/// `core` takes one file: an odd one is an error that says what it is (exit 2).
#[test]
fn core_refuses_odd_files_with_the_reason() {
    let tmp = tempfile::tempdir().expect("tmp");
    let fifo = tmp.path().join("pipe.json.gz");
    mkfifo(&fifo);
    let dangling = tmp.path().join("dangling.json.gz");
    symlink(tmp.path().join("gone"), &dangling).expect("symlink");
    for (path, want) in [
        (fifo.as_path(), "not a regular file (named pipe)"),
        (
            Path::new("/dev/null"),
            "not a regular file (character device)",
        ),
        (dangling.as_path(), "dangling symlink (to "),
    ] {
        let out = run(&["core"], &[path]);
        assert_eq!(out.status.code(), Some(2), "{}", path.display());
        let err = stderr(&out);
        assert!(err.contains(want), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}

/// A path that does not exist at all is still a mistyped argument (exit 2).
#[test]
fn a_missing_path_is_still_an_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = run(&["scan"], &[&tmp.path().join("nope")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no such file or directory"));
}
