//! Issue 7: `keytrail scan --json` over the whole malformed-input corpus
//! (`tests/data/malformed/`, stored files plus the big generated cases). The scan must
//! finish with status 0, never panic, account for every file, and count exactly the
//! records the manifest (`cases.json`) expects.

use std::path::{Path, PathBuf};
use std::process::Command;

use keytrail::{AnalysisOptions, analyse};
use serde_json::Value;

#[path = "../../tests/data/malformed/generated.rs"]
mod generated;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/malformed")
}

#[test]
fn scan_of_the_malformed_corpus() {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(corpus().join("cases.json")).expect("cases.json"))
            .expect("json");
    let cases = manifest["cases"].as_array().expect("cases");
    let tmp = tempfile::tempdir().expect("tmp");
    let mut all_files = Vec::new();
    for entry in std::fs::read_dir(corpus()).expect("corpus") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        std::fs::copy(entry.path(), tmp.path().join(&name)).expect("copy");
        all_files.push(name);
    }
    for c in cases.iter().filter(|c| c["generated"] == true) {
        let name = c["file"].as_str().expect("file");
        let data = generated::bytes(name).expect("generator");
        std::fs::write(tmp.path().join(name), data).expect("write");
        all_files.push(name.to_owned());
    }

    let out = Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(["scan", "--json"])
        .arg(tmp.path())
        .output()
        .expect("run keytrail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "status {:?}\n{stderr}",
        out.status.code()
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "panic text on stderr:\n{stderr}"
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("--json output");

    let skipped = r["files"]["skipped"].as_array().expect("skipped");
    let failed = r["files"]["failed"].as_array().expect("failed");
    let ends = |v: &Value, name: &str| {
        v["path"]
            .as_str()
            .is_some_and(|p| p.ends_with(&format!("/{name}")))
    };
    let unopened = failed
        .iter()
        .filter(|f| {
            f["error"]
                .as_str()
                .is_some_and(|e| e.contains("cannot open"))
        })
        .count();
    assert_eq!(unopened, 0, "{failed:?}");
    assert_eq!(
        r["files"]["read"].as_u64().expect("read") as usize + skipped.len() + unopened,
        all_files.len(),
        "every file is read or skipped: {r:#}"
    );

    // Log cases: the manifest says where each one lands and what it counts.
    let mut want = [0u64; 4]; // records, kms_records, bad_records, duplicates
    let mut problems = Vec::new();
    let mut listed = Vec::new();
    for c in cases.iter().filter(|c| c["kind"] == "log") {
        let name = c["file"].as_str().expect("file");
        listed.push(name.to_owned());
        let e = &c["expect"];
        let in_skipped = skipped.iter().find(|s| ends(s, name));
        let in_failed = failed.iter().find(|f| ends(f, name));
        if e["not_a_log"] == true {
            match in_skipped {
                Some(s) if e["reason"].is_null() || s["reason"] == e["reason"] => {}
                other => problems.push(format!("{name}: expected skipped, got {other:?}")),
            }
        } else if let Some(reasons) = e["error_contains"].as_array() {
            match in_failed {
                Some(f) => {
                    let err = f["error"].as_str().unwrap_or_default();
                    if !err.contains(name) {
                        problems.push(format!("{name}: error does not name the file: {err}"));
                    }
                    for w in reasons.iter().filter_map(Value::as_str) {
                        if !err.to_lowercase().contains(&w.to_lowercase()) {
                            problems.push(format!("{name}: error {err:?} lacks {w:?}"));
                        }
                    }
                }
                None => problems.push(format!("{name}: expected under files.failed")),
            }
        } else if in_skipped.is_some() || in_failed.is_some() {
            problems.push(format!(
                "{name}: expected a clean read, got {in_skipped:?} {in_failed:?}"
            ));
        }
        for (i, f) in ["records", "kms_records", "bad_records", "duplicates"]
            .iter()
            .enumerate()
        {
            want[i] += e[*f].as_u64().unwrap_or(0);
        }
    }
    // Every other file (payload cases, the manifest) is counted as the library counts it.
    for name in all_files.iter().filter(|n| !listed.contains(n)) {
        let data = std::fs::read(tmp.path().join(name)).expect("read");
        let a = analyse(name, &data[..], &AnalysisOptions::default());
        want[0] += a.records;
        want[1] += a.kms_records;
        want[2] += a.bad_records;
        want[3] += a.duplicates;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let got = [
        r["records"].as_u64().expect("records"),
        r["kms_records"].as_u64().expect("kms"),
        r["bad_records"].as_u64().expect("bad"),
        r["duplicate_records"].as_u64().expect("dups"),
    ];
    assert_eq!(
        got, want,
        "[records, kms_records, bad_records, duplicate_records] of the scan vs the manifest"
    );
}
