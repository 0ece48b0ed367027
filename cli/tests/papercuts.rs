//! Argument handling and edge cases of the subcommands, through the built binary:
//! date-only times, search's filters, trees without logs, scan's schema field,
//! negative numbers, and the baseline that `review` writes for `scan` and `enrich`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

fn keytrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run keytrail")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok_json(args: &[&str]) -> Value {
    let out = keytrail(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
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
