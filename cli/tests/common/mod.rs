//! What the CLI tests share: the built binary run from the repository root, and
//! readers of its JSON output. (Each test binary uses some of these.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// Runs `keytrail ARGS` in the repository root.
pub fn keytrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run keytrail")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON a successful `keytrail ARGS` prints.
pub fn ok_json(args: &[&str]) -> Value {
    let out = keytrail(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

/// `keytrail search events/logs --json ARGS`, one object per line.
pub fn search_lines(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["search", "events/logs", "--json"];
    all.extend_from_slice(args);
    let out = keytrail(&all);
    assert!(out.status.success(), "{all:?}: {}", stderr(&out));
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// A metric's total in a scan report, by name and exact dimensions (0 when absent).
pub fn metric(report: &Value, name: &str, dims: &[(&str, &str)]) -> u64 {
    report["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| {
            m["name"] == name
                && m["dimensions"].as_object().expect("dims").len() == dims.len()
                && dims.iter().all(|(k, v)| m["dimensions"][*k] == *v)
        })
        .map(|m| m["value"].as_u64().expect("value"))
        .unwrap_or(0)
}
