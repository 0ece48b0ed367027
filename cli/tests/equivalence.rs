//! `keytrail scan --json` on the reference month W2 (1,440 deliveries, 720 digests,
//! from `keytrail generate`) must not change by accident:
//!
//! - it is byte-for-byte tests/data/w2-scan.json.gz, the reviewed report of today;
//! - against tests/data/w2-scan-before.json.gz, the report the pre-optimisation reader
//!   produced (commit "keytrail generate ...", before the fast path existed), every
//!   field is the same except the ones a change named: `findings`, since the offline
//!   alarms evaluate the deployed "1 of 4 periods" (breaches within four periods of
//!   each other are one episode: the same events, fewer findings), the `schema`
//!   and `version` fields added with Architecture v2, and the `DataKeyGeneration`
//!   metric, which no longer counts the data keys AWS services generate for a
//!   principal (Detection v2: `data_key_volume` is about a principal's own volume);
//! - rules added since (Detection v2) add their own metrics and findings, which the
//!   comparison with the pre-optimisation report leaves out: on W2,
//!   `key_deletion_short_window` counts the 34 ScheduleKeyDeletion calls with a 7-day
//!   window, and `key_deletion_scheduled`'s findings, now medium, sort after the high
//!   ones.

use std::io::Read;
use std::process::Command;

#[test]
fn scan_json_on_w2_is_unchanged_by_the_fast_reader() {
    let bin = env!("CARGO_BIN_EXE_keytrail");
    let dir = tempfile::tempdir().expect("tempdir");
    let generated = Command::new(bin)
        .args(["generate", "w2", "--out"])
        .arg(dir.path())
        .output()
        .expect("run keytrail generate");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let written: serde_json::Value =
        serde_json::from_slice(&generated.stdout).expect("generate prints JSON");
    assert_eq!(written["files"], 1440);
    assert_eq!(written["digest_files"], 720);
    assert_eq!(written["records"], 86_400);

    // Relative paths, as when the golden report was made (`cd DIR && keytrail scan AWSLogs`).
    let out = Command::new(bin)
        .current_dir(dir.path())
        .args(["scan", "AWSLogs", "--json"])
        .output()
        .expect("run keytrail scan");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let got = String::from_utf8(out.stdout).expect("UTF-8 report");
    let expected = gunzip("w2-scan.json.gz");
    if got != expected {
        let line = got
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| got.lines().count().min(expected.lines().count()));
        panic!(
            "scan --json on W2 changed at line {}:\n  now:    {:?}\n  golden: {:?}",
            line + 1,
            got.lines().nth(line),
            expected.lines().nth(line)
        );
    }

    let now: serde_json::Value = serde_json::from_str(&got).expect("report is JSON");
    let before: serde_json::Value =
        serde_json::from_str(&gunzip("w2-scan-before.json.gz")).expect("golden is JSON");
    let named = ["findings", "schema", "version", "metrics"];
    let data_keys = |r: &serde_json::Value| {
        r["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|m| m["name"] == "DataKeyGeneration")
            .and_then(|m| m["value"].as_u64())
            .expect("DataKeyGeneration")
    };
    assert!(data_keys(&now) < data_keys(&before));
    // Rules whose metric the pre-optimisation report does not have were added since.
    let old_metrics: std::collections::BTreeSet<String> = before["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .filter_map(|m| m["name"].as_str().map(str::to_owned))
        .collect();
    let new_rule = |id: &serde_json::Value| {
        keytrail::RULES
            .iter()
            .find(|r| Some(r.id) == id.as_str())
            .is_some_and(|r| !old_metrics.contains(r.metric))
    };
    let other_metrics = |r: &serde_json::Value| -> Vec<serde_json::Value> {
        r["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter(|m| m["name"] != "DataKeyGeneration")
            .filter(|m| m["name"].as_str().is_some_and(|n| old_metrics.contains(n)))
            .cloned()
            .collect()
    };
    assert_eq!(other_metrics(&now), other_metrics(&before));
    for (k, v) in before.as_object().expect("object") {
        if !named.contains(&k.as_str()) {
            assert_eq!(
                &now[k], v,
                "field {k} changed since the pre-optimisation report"
            );
        }
    }
    for k in now.as_object().expect("object").keys() {
        assert!(
            named.contains(&k.as_str()) || before.get(k).is_some(),
            "new field {k}"
        );
    }
    // The findings hold the same events per rule and group, and each earlier
    // finding lies inside exactly one of today's episodes.
    let per_rule = |r: &serde_json::Value| {
        let mut m = std::collections::BTreeMap::<(String, String), u64>::new();
        for f in r["findings"].as_array().expect("findings") {
            if new_rule(&f["rule"]) {
                continue;
            }
            *m.entry((f["rule"].to_string(), f["group"].to_string()))
                .or_default() += f["count"].as_u64().expect("count");
        }
        m
    };
    assert_eq!(per_rule(&now), per_rule(&before));
    let now_findings = now["findings"].as_array().expect("findings");
    for old in before["findings"].as_array().expect("findings") {
        let inside = now_findings
            .iter()
            .filter(|f| {
                f["rule"] == old["rule"]
                    && f["group"] == old["group"]
                    && f["first_seen"].as_str() <= old["first_seen"].as_str()
                    && f["last_seen"].as_str() >= old["last_seen"].as_str()
            })
            .count();
        assert_eq!(inside, 1, "{old}");
    }
    let old_rules_findings = now_findings
        .iter()
        .filter(|f| !new_rule(&f["rule"]))
        .count();
    assert!(old_rules_findings < before["findings"].as_array().map_or(0, Vec::len));

    assert_eq!(now["records"], 86_400);
    assert!(now["kms_records"].as_u64().is_some_and(|n| n > 20_000));
}

fn gunzip(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("gunzip {path}: {e}"));
    text
}
