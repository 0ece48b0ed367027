//! Issue 16: the configuration file through the built binary: `--config` changes
//! what `scan` alarms, suppressed matches are still counted, an expired suppression
//! stops applying, and `config check` / `config show` report it.

use serde_json::Value;

mod common;
use common::{keytrail, ok_json, root, stderr};

fn findings(r: &Value, rule: &str) -> Vec<Value> {
    r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == rule)
        .cloned()
        .collect()
}

#[test]
fn a_suppression_silences_the_noisy_principal_and_counts_it() {
    let plain = ok_json(&["scan", "--json", "events/logs"]);
    assert_eq!(findings(&plain, "data_key_volume").len(), 1);
    assert!(plain.get("suppressed").is_none());

    let tuned = ok_json(&[
        "scan",
        "--json",
        "--config",
        "events/keytrail.toml",
        "events/logs",
    ]);
    assert!(
        findings(&tuned, "data_key_volume").is_empty(),
        "{}",
        tuned["findings"]
    );
    // Every silenced match (142), not only the 130 of the episode that alarmed.
    assert_eq!(tuned["suppressed"]["data_key_volume"]["pipeline-bulk"], 142);
    let metric = tuned["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["name"] == "KMSAuditSuppressed" && m["dimensions"]["Rule"] == "data_key_volume")
        .cloned()
        .expect("KMSAuditSuppressed{Rule=data_key_volume}");
    assert_eq!(metric["value"], 142);
    // The rule's own metric no longer counts the silenced calls.
    let count = |r: &Value, name: &str| {
        r["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter(|m| m["name"] == name)
            .map(|m| m["value"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let rule_metric = keytrail::rule("data_key_volume").expect("rule").metric;
    assert_eq!(count(&plain, rule_metric) - count(&tuned, rule_metric), 142);
    // 444455556666 is a trusted account: its calls are inside, not cross-account.
    assert_eq!(findings(&plain, "cross_account_use").len(), 1);
    assert!(findings(&tuned, "cross_account_use").is_empty());
    // The severity override reaches the finding; other findings are untouched.
    assert_eq!(findings(&tuned, "key_created")[0]["severity"], "medium");
    assert_eq!(
        findings(&tuned, "access_denied"),
        findings(&plain, "access_denied")
    );
    // The table says so too.
    let out = keytrail(&["scan", "--config", "events/keytrail.toml", "events/logs"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Suppressed (still counted, not alarmed)") && text.contains("pipeline-bulk"),
        "{text}"
    );
}

#[test]
fn an_expired_suppression_stops_applying() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("expired.toml");
    std::fs::write(
        &path,
        "[[suppressions]]\nreason = \"was expected until September\"\nprincipal = \"arn:aws:iam::111122223333:role/data-pipeline\"\nexpires = \"2026-09-30\"\n",
    )
    .expect("write");
    let r = ok_json(&[
        "scan",
        "--json",
        "--config",
        path.to_str().expect("utf-8"),
        "events/logs",
    ]);
    assert_eq!(
        findings(&r, "data_key_volume").len(),
        1,
        "the October events are alarmed again"
    );
    assert!(r.get("suppressed").is_none());
}

#[test]
fn config_check_and_show() {
    let out = keytrail(&["config", "check", "events/keytrail.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ok: 2 rule(s) changed, 1 suppression(s), 1 trusted account(s)"),
        "{text}"
    );

    let shown = ok_json(&["config", "show", "--config", "events/keytrail.toml"]);
    assert_eq!(shown["rules"]["data_key_volume"]["threshold"], 200.0);
    assert_eq!(shown["rules"]["data_key_volume"]["changed"], true);
    assert_eq!(shown["rules"]["access_denied"]["changed"], false);
    assert_eq!(shown["suppressions"][0]["label"], "pipeline-bulk");
    let defaults = ok_json(&["config", "show"]);
    assert_eq!(defaults["source"], "(catalog defaults)");

    let tmp = tempfile::tempdir().expect("tmp");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[rules.data_key_volume]\nthreshold = 10\n\n[rules.no_such_rule]\nenabled = false\n",
    )
    .expect("write");
    let bad = bad.to_str().expect("utf-8");
    for args in [
        vec!["config", "check", bad],
        vec!["scan", "--config", bad, "events/logs"],
    ] {
        let out = keytrail(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "{bad}: line 4: rules.no_such_rule: no rule \"no_such_rule\""
            )),
            "{err}"
        );
    }
    let _ = root();
}

#[test]
fn the_review_lists_what_each_suppression_silenced_and_the_expired_ones() {
    let r = ok_json(&[
        "review",
        "--month",
        "2026-10",
        "--format",
        "json",
        "--config",
        "events/keytrail.toml",
        "events/logs",
    ]);
    let s = &r["suppressions"][0];
    assert_eq!(
        (&s["suppression"], &s["status"], &s["matches"]),
        (&"pipeline-bulk".into(), &"active".into(), &142.into())
    );
    assert_eq!(s["by_rule"]["data_key_volume"], 142);

    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("expired.toml");
    std::fs::write(
        &path,
        "[[suppressions]]\nid = \"old\"\nreason = \"was expected until September\"\nprincipal = \"arn:aws:iam::111122223333:role/data-pipeline\"\nexpires = \"2026-09-30\"\n",
    )
    .expect("write");
    let r = ok_json(&[
        "review",
        "--month",
        "2026-10",
        "--format",
        "json",
        "--config",
        path.to_str().expect("utf-8"),
        "events/logs",
    ]);
    let s = &r["suppressions"][0];
    assert_eq!(
        (&s["status"], &s["matches"]),
        (&"expired".into(), &0.into()),
        "{s}"
    );
    // Without a configuration file the report has no such section.
    let plain = ok_json(&[
        "review",
        "--month",
        "2026-10",
        "--format",
        "json",
        "events/logs",
    ]);
    assert!(plain.get("suppressions").is_none());
}
