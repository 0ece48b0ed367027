//! Every rule of the catalog, through the CLI, on its own fixture.
//!
//! `tests/data/rules/<id>.json` is a CloudTrail log file with records the rule must
//! match and near misses it must not; `<id>.expect.json` says what `keytrail scan
//! <file> --json` must report: `matches`, the rule's metric (no dimensions), and
//! `findings`, the findings with that rule id. An optional `<id>.baseline.json` is
//! passed as `--baseline`, and an optional `"config"` in the expectation names a
//! configuration file next to it, passed as `--config`. The same fixtures go
//! through the log processor against moto (`tests/rules.rs`).
//!
//! The rules of the first catalog are covered by the reviewed sample tree
//! (`events/logs`, `scan.rs`); every rule added since must have a fixture.

mod common;

use std::path::PathBuf;

use common::{keytrail, root, stderr};
use keytrail::RULES;
use serde_json::Value;

/// The rules of the first catalog: `events/logs` plants a case for each, and
/// `events/EXPECTED-sample-logs.md` and the sample-tree snapshot hold their counts.
const COVERED_BY_SAMPLE_TREE: &[&str] = &[
    "decrypt_failures",
    "access_denied",
    "pending_deletion_use",
    "disabled_key_use",
    "key_deletion_scheduled",
    "key_disabled",
    "key_created",
    "key_policy_changed",
    "grant_to_external",
    "cross_account_use",
    "data_key_volume",
    "imported_material_deleted",
    "rotation_disabled",
    "unfamiliar_source_ip",
];

fn fixtures() -> PathBuf {
    root().join("tests/data/rules")
}

/// What a fixture's expectation file says.
struct Expect {
    matches: u64,
    findings: u64,
    config: Option<PathBuf>,
}

fn expectation(id: &str) -> Option<Expect> {
    let path = fixtures().join(format!("{id}.expect.json"));
    let text = std::fs::read_to_string(&path).ok()?;
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let count = |k: &str| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("{}: {k:?} must be a count", path.display()))
    };
    Some(Expect {
        matches: count("matches"),
        findings: count("findings"),
        config: v["config"].as_str().map(|c| fixtures().join(c)),
    })
}

/// The value of a dimensionless metric in a `scan --json` report (0 when absent).
fn metric(report: &Value, name: &str) -> u64 {
    report["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .filter(|m| m["name"] == name && m["dimensions"].as_object().is_some_and(|d| d.is_empty()))
        .filter_map(|m| m["value"].as_u64())
        .sum()
}

#[test]
fn every_rule_has_a_fixture_or_the_sample_tree_covers_it() {
    let missing: Vec<&str> = RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| !COVERED_BY_SAMPLE_TREE.contains(id))
        .filter(|id| !fixtures().join(format!("{id}.json")).is_file() || expectation(id).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "rules without tests/data/rules/<id>.json and <id>.expect.json: {missing:?}"
    );
    for id in COVERED_BY_SAMPLE_TREE {
        assert!(
            keytrail::rule(id).is_some(),
            "{id} is no longer in the catalog"
        );
    }
}

#[test]
fn each_fixture_gives_its_rule_the_expected_matches_and_findings() {
    let mut checked = 0;
    for rule in RULES {
        let Some(want) = expectation(rule.id) else {
            continue;
        };
        let file = fixtures().join(format!("{}.json", rule.id));
        let file = file.to_string_lossy().into_owned();
        let mut args = vec!["scan".to_owned(), file.clone(), "--json".to_owned()];
        let baseline = fixtures().join(format!("{}.baseline.json", rule.id));
        if baseline.is_file() {
            args.push("--baseline".into());
            args.push(baseline.to_string_lossy().into_owned());
        }
        if let Some(config) = &want.config {
            args.push("--config".into());
            args.push(config.to_string_lossy().into_owned());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = keytrail(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let report: Value = serde_json::from_slice(&out.stdout).expect("scan prints JSON");
        assert_eq!(report["bad_records"], 0, "{file}: {report}");
        let findings = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["rule"] == rule.id)
            .count() as u64;
        assert_eq!(
            (metric(&report, rule.metric), findings),
            (want.matches, want.findings),
            "{}: (matches of {}, findings) in {file}",
            rule.id,
            rule.metric
        );
        checked += 1;
    }
    let expected = RULES
        .iter()
        .filter(|r| !COVERED_BY_SAMPLE_TREE.contains(&r.id))
        .count();
    assert!(
        checked >= expected,
        "{checked} fixtures for {expected} rules"
    );
}
