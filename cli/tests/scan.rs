//! `keytrail scan` through its real interface: the built binary on the sample tree.

use serde_json::Value;

mod common;
use common::{keytrail, metric, ok_json, root, search_lines};

fn scan_json(args: &[&str]) -> Value {
    let mut all = vec!["scan", "--json"];
    all.extend_from_slice(args);
    let out = keytrail(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn findings<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

/// The reviewed summary of `keytrail scan events/logs --json`: totals, KMS calls by
/// operation, and per rule of the catalog the matching records (the rule's metric),
/// the findings, their events and their time span. Each planted case is described in
/// events/EXPECTED-sample-logs.md; a difference fails (review it, then update
/// cli/tests/snapshots/scan__sample_tree_summary.snap).
fn sample_tree_summary(r: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let files = &r["files"];
    let n = |v: &Value| v.as_array().map_or(0, Vec::len);
    let _ = writeln!(
        out,
        "files read {}, skipped {}, failed {}",
        files["read"],
        n(&files["skipped"]),
        n(&files["failed"])
    );
    let _ = writeln!(
        out,
        "records {}, KMS {}, bad {}, duplicates {}",
        r["records"], r["kms_records"], r["bad_records"], r["duplicate_records"]
    );
    let mut ops: Vec<String> = r["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .filter(|m| m["name"] == "KMSApiCalls")
        .filter_map(|m| {
            Some(format!(
                "{} {}",
                m["dimensions"]["EventName"].as_str()?,
                m["value"]
            ))
        })
        .collect();
    ops.sort();
    let _ = writeln!(out, "KMS calls: {}", ops.join(", "));
    let _ = writeln!(
        out,
        "\n{:<26} {:>7} {:>8} {:>6}  {:<20}  {:<20}",
        "rule", "records", "findings", "events", "first", "last"
    );
    for rule in keytrail::RULES {
        let fs = findings(r, rule.id);
        let events: u64 = fs.iter().filter_map(|f| f["count"].as_u64()).sum();
        let first = fs
            .iter()
            .filter_map(|f| f["first_seen"].as_str())
            .min()
            .unwrap_or("-");
        let last = fs
            .iter()
            .filter_map(|f| f["last_seen"].as_str())
            .max()
            .unwrap_or("-");
        let _ = writeln!(
            out,
            "{:<26} {:>7} {:>8} {:>6}  {:<20}  {:<20}",
            rule.id,
            metric(r, rule.metric, &[]),
            fs.len(),
            events,
            first,
            last
        );
    }
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn sample_tree_summary_is_the_reviewed_one() {
    let r = scan_json(&["events/logs"]);
    let skipped = r["files"]["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0]["path"]
            .as_str()
            .expect("path")
            .contains("CloudTrail-Digest")
    );
    assert_eq!(skipped[0]["reason"], "CloudTrail digest file");
    insta::assert_snapshot!("sample_tree_summary", sample_tree_summary(&r));
}

#[test]
fn sample_tree_findings() {
    let r = scan_json(&["events/logs"]);
    for rule in [
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
    ] {
        assert!(!findings(&r, rule).is_empty(), "no finding for {rule}");
    }
    let burst = findings(&r, "decrypt_failures");
    assert_eq!(burst.len(), 1);
    assert_eq!(burst[0]["count"], 14);
    assert_eq!(
        burst[0]["principals"][0],
        "arn:aws:iam::111122223333:role/reporting-service"
    );
    assert_eq!(burst[0]["first_seen"], "2026-10-04T02:41:09Z");

    let volume = findings(&r, "data_key_volume");
    assert_eq!(
        volume.len(),
        1,
        "only the burst source is over 100 in 5 minutes"
    );
    assert_eq!(volume[0]["count"], 130);
    assert_eq!(volume[0]["source_ips"][0], "203.0.113.50");

    let pending = findings(&r, "pending_deletion_use");
    assert_eq!(pending[0]["severity"], "critical");
    assert_eq!(
        pending[0]["keys"][0],
        "arn:aws:kms:us-east-1:111122223333:key/c81f4e3a-2d97-4b5c-8e06-f1a3b7d9e254"
    );
    assert!(pending[0]["event_ids"].as_array().expect("ids").len() == 5);

    let public = findings(&r, "key_policy_changed");
    assert!(
        public
            .iter()
            .any(|f| f["notes"][0].as_str().unwrap_or("").contains("made public"))
    );
    // Cross-account calls, seen from both accounts' trails.
    let cross = &findings(&r, "cross_account_use")[0];
    let principals: Vec<&str> = cross["principals"]
        .as_array()
        .expect("p")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        principals.contains(&"account:444455556666"),
        "{principals:?}"
    );
    assert!(
        principals.contains(&"arn:aws:iam::444455556666:role/eu-analytics"),
        "{principals:?}"
    );
}

#[test]
fn time_window_filters_events() {
    let r = scan_json(&[
        "events/logs",
        "--since",
        "2026-10-04T03:40:00Z",
        "--until",
        "2026-10-04T03:50:00Z",
    ]);
    assert!(
        findings(&r, "decrypt_failures").is_empty(),
        "the 02:41 burst is outside the window"
    );
    assert_eq!(findings(&r, "pending_deletion_use").len(), 1);
    assert_eq!(
        r["files"]["read"], 23,
        "files are still read, events filtered"
    );
}

#[test]
fn tables_are_printed_by_default() {
    let out = keytrail(&["scan", "events/logs"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf8");
    for heading in [
        "Totals",
        "KMS activity",
        "Metrics that would be emitted",
        "Findings (",
        "pending_deletion_use",
    ] {
        assert!(text.contains(heading), "missing {heading:?} in\n{text}");
    }
}

#[test]
fn damaged_and_odd_files_are_reported_not_fatal() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = root().join(
        "events/logs/AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/04/111122223333_CloudTrail_us-east-1_20261004T0305Z_nd5uxznLfPtQPry8.json.gz",
    );
    let bytes = std::fs::read(&good).expect("sample");
    std::fs::write(dir.path().join("good.json.gz"), &bytes).expect("write");
    std::fs::write(dir.path().join("cut.json.gz"), &bytes[..bytes.len() / 2]).expect("write");
    std::fs::write(dir.path().join("notes.txt"), b"hello").expect("write");
    std::fs::write(dir.path().join("empty.json"), b"").expect("write");
    let r = scan_json(&[dir.path().to_str().expect("utf8 path")]);
    assert_eq!(r["files"]["read"], 2);
    let failed = r["files"]["failed"].as_array().expect("failed");
    assert_eq!(failed.len(), 1);
    let err = failed[0]["error"].as_str().expect("error");
    assert!(err.contains("cut.json.gz") && err.contains("gzip"), "{err}");
    let skipped: Vec<&str> = r["files"]["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .filter_map(|s| s["reason"].as_str())
        .collect();
    assert!(
        skipped.contains(&"empty file") && skipped.contains(&"not a .json or .json.gz file"),
        "{skipped:?}"
    );
}

#[test]
fn exit_status() {
    let out = keytrail(&["scan", "does/not/exist"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does/not/exist: no such file or directory")
    );
    let out = keytrail(&["scan", "events/logs", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
    let out = keytrail(&["scan", "events/logs", "--json", "--fail-on-findings"]);
    assert_eq!(out.status.code(), Some(3));
    let out = keytrail(&["scan", "events/logs", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "findings alone do not fail the scan"
    );
}

fn enrich_json(alarm: &str) -> Value {
    let out = keytrail(&["enrich", "--alarm", alarm, "events/logs", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("investigation JSON")
}

#[test]
fn enrich_decrypt_failure_alarm_names_who_where_and_what() {
    let out = keytrail(&[
        "enrich",
        "--alarm",
        "events/alarms/sns-decrypt-failures.json",
        "events/logs",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    let subject = text.lines().next().expect("subject");
    assert!(
        subject.starts_with("Subject: [MEDIUM] decrypt_failures"),
        "{subject}"
    );
    assert!(subject.len() <= "Subject: ".len() + 100);
    for needle in [
        "arn:aws:iam::111122223333:role/reporting-service",
        "sessions: report-gen-7",
        "10.0.12.34",
        "InvalidCiphertextException",
        "report=monthly-billing",
        "PLAYBOOK",
        "ATHENA QUERY",
    ] {
        assert!(text.contains(needle), "missing {needle:?}");
    }

    let inv = enrich_json("events/alarms/sns-decrypt-failures.json");
    assert_eq!(inv["schema"], "keytrail.investigation");
    assert_eq!(inv["version"], 1);
    assert_eq!(inv["enriched"], true);
    assert_eq!(inv["rule"]["id"], "decrypt_failures");
    assert_eq!(inv["window"]["start"], "2026-10-04T02:30:00.123Z");
    // 14 in the burst plus ci-deployer's 3 denied Decrypts earlier in the window.
    assert_eq!(inv["count"], 17);
    assert_eq!(
        inv["principals"][0]["principal"],
        "arn:aws:iam::111122223333:role/reporting-service"
    );
    assert_eq!(inv["principals"][0]["count"], 14);
    assert_eq!(
        inv["gather"]["files_selected"], 3,
        "only files delivered in the window are read"
    );
    let query = inv["athena_query"].as_str().expect("athena query");
    assert!(
        query.contains("AND logdate BETWEEN '2026/10/04' AND '2026/10/04'"),
        "{query}"
    );

    // A table without a day partition, and a flag that is not a column name.
    let out = keytrail(&[
        "enrich",
        "--alarm",
        "events/alarms/sns-decrypt-failures.json",
        "events/logs",
        "--json",
        "--athena-date-partition",
        "none",
    ]);
    let inv: Value = serde_json::from_slice(&out.stdout).expect("investigation JSON");
    let query = inv["athena_query"].as_str().expect("athena query");
    assert!(!query.contains("logdate"), "{query}");
    let out = keytrail(&[
        "enrich",
        "--alarm",
        "events/alarms/sns-decrypt-failures.json",
        "events/logs",
        "--athena-date-partition",
        "day' OR 1=1",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--athena-date-partition"), "{err}");
}

#[test]
fn enrich_other_alarm_shapes() {
    // The same alarm as SNS message or bare JSON gives the same investigation.
    let a = enrich_json("events/alarms/alarm-decrypt-failures.json");
    let b = enrich_json("events/alarms/sns-message-decrypt-failures.json");
    assert_eq!(a["count"], b["count"]);
    let pending = enrich_json("events/alarms/sns-pending-deletion.json");
    assert_eq!(pending["rule"]["id"], "pending_deletion_use");
    assert_eq!(pending["count"], 5);
    assert_eq!(
        pending["keys"][0]["key"],
        "arn:aws:kms:us-east-1:111122223333:key/c81f4e3a-2d97-4b5c-8e06-f1a3b7d9e254"
    );
    let math = enrich_json("events/alarms/sns-metric-math.json");
    assert_eq!(math["enriched"], true);
    assert_eq!(
        math["count"], 15,
        "AccessDenied and InvalidCiphertext failures in the window"
    );
    let composite = enrich_json("events/alarms/sns-composite.json");
    assert_eq!(composite["enriched"], false);
    assert!(
        composite["not_enriched_reason"]
            .as_str()
            .expect("reason")
            .contains("composite")
    );
    let unowned = enrich_json("events/alarms/sns-unowned-metric.json");
    assert_eq!(unowned["enriched"], false);
    assert!(
        unowned["not_enriched_reason"]
            .as_str()
            .expect("reason")
            .contains("AWS/KMS/XksProxyCertificateDaysToExpire")
    );
    // An alarm on the metric AWS KMS publishes per key: the rule over it, its key
    // (built from the KeyId, the alarm's account and region) and a week of evidence.
    let expiring = enrich_json("events/alarms/sns-key-material-expiring.json");
    assert_eq!(expiring["enriched"], true);
    assert_eq!(expiring["rule"]["id"], "key_material_expiring");
    assert_eq!(
        expiring["keys"][0]["key"],
        "arn:aws:kms:us-east-1:111122223333:key/e5d7f9a1-3b4c-4d6e-8f0a-1b2c3d4e5f60"
    );
    assert_eq!(expiring["window"]["start"], "2026-09-27T04:12:31.456Z");
    // The template's Metrics Insights query alarm over every key.
    let query = enrich_json("events/alarms/sns-key-material-expiring-query.json");
    assert_eq!(query["enriched"], true);
    assert_eq!(query["rule"]["id"], "key_material_expiring");
    for bad in [
        "events/alarms/sns-malformed.json",
        "events/alarms/sns-subscription-confirmation.json",
    ] {
        let out = keytrail(&["enrich", "--alarm", bad, "events/logs"]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(bad));
    }
}

#[test]
fn search_by_context_key_principal_and_ip() {
    let billing = search_lines(&["--context", "report=monthly-billing"]);
    assert_eq!(billing.len(), 14);
    assert!(billing.iter().all(|m| {
        m["encryption_context"]
            .as_array()
            .expect("ctx")
            .iter()
            .any(|c| c == "report=monthly-billing")
    }));
    assert!(
        search_lines(&["--context", "report=monthly"]).is_empty(),
        "exact values only"
    );
    assert!(
        search_lines(&["--context", "Report=monthly-billing"]).is_empty(),
        "case-sensitive"
    );

    let role = search_lines(&[
        "--principal",
        "arn:aws:iam::111122223333:role/reporting-service",
    ]);
    assert!(role.len() >= 14);
    assert!(
        role.iter()
            .all(|m| m["principal"] == "arn:aws:iam::111122223333:role/reporting-service")
    );
    let times: Vec<&str> = role.iter().filter_map(|m| m["time"].as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "sorted by time");

    let by_id = search_lines(&[
        "--key",
        "c81f4e3a-2d97-4b5c-8e06-f1a3b7d9e254",
        "--event-name",
        "Decrypt",
    ]);
    let by_arn = search_lines(&[
        "--key",
        "arn:aws:kms:us-east-1:111122223333:key/c81f4e3a-2d97-4b5c-8e06-f1a3b7d9e254",
        "--event-name",
        "Decrypt",
    ]);
    assert_eq!(by_id, by_arn);
    assert!(by_id.len() >= 5);
    assert!(!search_lines(&["--key", "alias/app-data"]).is_empty());
    let ip = search_lines(&[
        "--ip",
        "203.0.113.50",
        "--since",
        "2026-10-04T03:20:00Z",
        "--until",
        "2026-10-04T03:25:00Z",
    ]);
    assert_eq!(ip.len(), 130, "the data-key burst");
}

#[test]
fn search_table_output_and_bad_arguments() {
    let out = keytrail(&[
        "search",
        "events/logs",
        "--context",
        "report=monthly-billing",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("14 matching events"));
    let out = keytrail(&["search", "events/logs", "--context", "novalue"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEY=VALUE"));
}

#[test]
fn review_offline_from_the_sample_tree() {
    let out = keytrail(&[
        "review",
        "events/logs",
        "--month",
        "2026-10",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("report JSON");
    assert_eq!(r["schema"], "keytrail.review");
    assert_eq!(r["month"], "2026-10");
    assert_eq!(r["inventory_source"], "logs (offline)");
    assert_eq!(r["trail_checks"][0]["status"], "not_checked");
    // The sample tree's KMS records, once each (sample_tree_summary_is_the_reviewed_one),
    // and each of the 8 cross-account calls of case 15 once: the caller's copy is
    // kept, the key owner's (the same sharedEventID) taken out.
    assert_eq!(r["summary"]["kms_calls"], 364 - 8);
    assert_eq!(r["summary"]["calls_counted_once"], 8);
    let cross = r["cross_account_principals"].as_array().expect("cross");
    assert_eq!(cross.len(), 1, "{cross:?}");
    assert_eq!(
        cross[0]["principal"],
        "arn:aws:iam::444455556666:role/eu-analytics"
    );
    assert_eq!(cross[0]["count"], 8);
    // The access inventory resolves Decrypt keys from resources[] and normalises roles.
    let inv = r["access_inventory"].as_array().expect("inventory");
    let row = inv
        .iter()
        .find(|a| {
            a["principal"] == "arn:aws:iam::111122223333:role/app-server"
                && a["event_name"] == "Decrypt"
                && a["key"]
                    == "arn:aws:kms:us-east-1:111122223333:key/0f3c1a52-8b6e-4d1f-9a27-3e5b7c9d2a41"
        })
        .expect("app-server decrypts");
    assert!(row["count"].as_u64().expect("count") >= 70);
    let pending = r["keys_pending_deletion"].as_array().expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0]["key"],
        "arn:aws:kms:us-east-1:111122223333:key/c81f4e3a-2d97-4b5c-8e06-f1a3b7d9e254"
    );
    assert_eq!(pending[0]["used_in_period"], true);
    assert_eq!(
        r["coverage"]["days_without_deliveries"]
            .as_array()
            .expect("days")
            .len(),
        30
    );

    let dir = tempfile::tempdir().expect("tmp");
    let html = dir.path().join("report.html");
    let out = keytrail(&[
        "review",
        "events/logs",
        "--month",
        "2026-10",
        "--format",
        "html",
        "--out",
        html.to_str().expect("utf8"),
    ]);
    assert!(out.status.success());
    let page = std::fs::read_to_string(&html).expect("written");
    assert!(
        page.contains("<svg")
            && page.contains("id=\"access-inventory\"")
            && !page.contains("<script")
    );
    let out = keytrail(&["review", "events/logs", "--month", "2026-10"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("# KMS key usage review: 2026-10"));
    let out = keytrail(&["review", "events/logs", "--month", "2026-13"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn baseline_enables_unfamiliar_source_ip_offline() {
    let dir = tempfile::tempdir().expect("tmp");
    let write = |name: &str, prefixes: &[&str]| {
        let b = serde_json::json!({"version": 1, "principals": {
            "arn:aws:iam::111122223333:role/data-pipeline": {"ips": ["203.0.113.51"], "prefixes": prefixes}}});
        let p = dir.path().join(name);
        std::fs::write(&p, b.to_string()).expect("write");
        p.to_str().expect("utf8").to_owned()
    };
    let strict = write("strict.json", &[]);
    let r = scan_json(&["events/logs", "--baseline", &strict]);
    let n = metric(&r, "KMSUnfamiliarSourceIp", &[]);
    assert!(n >= 130, "the burst from 203.0.113.50 is unfamiliar: {n}");
    assert!(!findings(&r, "unfamiliar_source_ip").is_empty());
    let lenient = write("lenient.json", &["203.0.113.0/24"]);
    let r = scan_json(&["events/logs", "--baseline", &lenient]);
    assert_eq!(metric(&r, "KMSUnfamiliarSourceIp", &[]), 0, "same /24");
    let r = scan_json(&["events/logs"]);
    assert_eq!(
        metric(&r, "KMSUnfamiliarSourceIp", &[]),
        0,
        "inactive without a baseline"
    );
    let out = keytrail(&["scan", "events/logs", "--baseline", "nope.json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn hostile_values_cannot_inject_terminal_escapes() {
    let dir = tempfile::tempdir().expect("tmp");
    let evil = "\u{1b}[2J\u{1b}]0;pwned\u{7}evil\u{1b}[31m";
    let records: Vec<Value> = (0..12)
        .map(|i| {
            serde_json::json!({
                "eventTime": format!("2026-10-04T03:00:{i:02}Z"), "eventSource": "kms.amazonaws.com",
                "eventName": "Decrypt", "eventID": format!("e{i}"), "errorCode": "InvalidCiphertextException",
                "sourceIPAddress": format!("203.0.113.{i}{evil}"), "userAgent": evil,
                "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{evil}"), "accountId": "111122223333"},
                "requestParameters": {"encryptionContext": {"k": evil}},
                "resources": [{"ARN": format!("arn:aws:kms:us-east-1:111122223333:key/{evil}"), "type": "AWS::KMS::Key"}]
            })
        })
        .collect();
    std::fs::write(
        dir.path().join("evil.json"),
        serde_json::json!({ "Records": records }).to_string(),
    )
    .expect("write");
    let path = dir.path().to_str().expect("utf8");
    for args in [
        vec!["scan", path],
        vec!["search", path, "--event-name", "Decrypt"],
    ] {
        let out = keytrail(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("evil"), "{text}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "escape leaked in {args:?}"
        );
    }
}

/// `keytrail core` (hidden, for benchmarks): its three modes read the same bytes, and
/// the core counts what `scan` counts.
#[test]
fn core_modes_agree_and_damage_fails_the_validating_floor() {
    let file = "events/logs/AWSLogs/o-a1b2c3d4e5/444455556666/CloudTrail/eu-west-1/2026/10/04/444455556666_CloudTrail_eu-west-1_20261004T0445Z_nSQSIpJ0XPVET6dF.json.gz";
    let run = |extra: &[&str]| {
        let mut args = vec!["core", file];
        args.extend_from_slice(extra);
        let out = keytrail(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).expect("core prints JSON")
    };
    let core = run(&[]);
    let decompress = run(&["--decompress-only"]);
    let validate = run(&["--validate-only"]);
    assert!(core["decompressed_bytes"].as_u64().expect("bytes") > 0);
    assert_eq!(core["decompressed_bytes"], decompress["decompressed_bytes"]);
    assert_eq!(core["decompressed_bytes"], validate["decompressed_bytes"]);
    assert!(core["records"].as_u64().expect("records") > 0);
    assert_eq!(validate["records"], 0, "the floor parses nothing");
    assert!(validate["validate_seconds"].as_f64().expect("timed") >= 0.0);
    assert!(core.get("validate_seconds").is_none());

    // A log cut in the middle of a record: the validating floor fails, naming it.
    let dir = tempfile::tempdir().expect("tempdir");
    let cut = dir.path().join("cut.json.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(
        &mut gz,
        br#"{"Records":[{"eventVersion":"1.08","eventSource":"kms.amaz"#,
    )
    .expect("gzip");
    std::fs::write(&cut, gz.finish().expect("gzip")).expect("write");
    let cut = cut.to_str().expect("utf-8 path");
    let out = keytrail(&["core", cut, "--validate-only"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cut.json.gz") && err.contains("not JSON"),
        "{err}"
    );
}

/// Issue 17 §4: one Decrypt whose `resources[]` lists more keys than
/// `MAX_KEYS_PER_RECORD`. The keys past the cap are counted in `scan --json` and in
/// the review (JSON and Markdown), which reads only the first ones and finishes.
#[test]
fn keys_past_the_per_record_cap_are_counted_not_read() {
    use std::io::Write as _;
    let cap = keytrail::MAX_KEYS_PER_RECORD;
    let extra = 250;
    let dir = tempfile::tempdir().expect("tmp");
    let day = dir
        .path()
        .join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/05");
    std::fs::create_dir_all(&day).expect("dirs");
    let key = |i: usize| {
        format!("arn:aws:kms:us-east-1:111122223333:key/{i:08x}-0000-0000-0000-000000000000")
    };
    let resources: Vec<Value> = (0..cap + extra)
        .map(|i| serde_json::json!({"ARN": key(i), "type": "AWS::KMS::Key", "accountId": "111122223333"}))
        .collect();
    let record = serde_json::json!({
        "eventVersion": "1.08", "eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
        "eventTime": "2026-11-05T10:00:00Z", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.5", "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "accountId": "111122223333",
            "arn": "arn:aws:iam::111122223333:user/alice"},
        "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        "resources": resources,
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&serde_json::to_vec(&serde_json::json!({"Records": [record]})).expect("json"))
        .expect("gzip");
    std::fs::write(day.join("x.json.gz"), gz.finish().expect("gzip")).expect("write");
    let tree = dir.path().to_str().expect("utf8");

    let scan = scan_json(&[tree]);
    assert_eq!(scan["kms_records"], 1);
    assert_eq!(scan["keys_beyond_cap"], extra as u64);

    let review = common::ok_json(&["review", tree, "--month", "2026-11", "--format", "json"]);
    assert_eq!(review["summary"]["keys_beyond_cap"], extra as u64);
    assert_eq!(review["summary"]["keys_in_inventory"], cap as u64);
    let listed: Vec<&str> = review["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["key"].as_str().expect("key"))
        .collect();
    assert!(listed.contains(&key(cap - 1).as_str()) && !listed.contains(&key(cap).as_str()));

    let out = keytrail(&["review", tree, "--month", "2026-11"]);
    assert!(out.status.success());
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains(&format!("{extra} key ARNs beyond the first {cap}")),
        "{md}"
    );
    // Without keys past the cap, neither the scan nor the review has the field.
    assert!(scan_json(&["events/logs"]).get("keys_beyond_cap").is_none());
    let review = common::ok_json(&[
        "review",
        "events/logs",
        "--month",
        "2026-10",
        "--format",
        "json",
    ]);
    assert!(review["summary"].get("keys_beyond_cap").is_none());
}

/// Findings carry the encryption context of their calls (seed 000's forensic handle):
/// the reporting service's failed Decrypts were of the monthly billing report, and
/// the data-pipeline burst's 130 chunks are capped at 20 pairs, flagged.
#[test]
fn findings_carry_the_encryption_context() {
    let r = ok_json(&["scan", "events/logs", "--json"]);
    let finding = |rule: &str| {
        r["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap_or_else(|| panic!("{rule}"))
            .clone()
    };
    let failures = finding("decrypt_failures");
    assert_eq!(
        failures["encryption_context"],
        serde_json::json!({"report": ["monthly-billing"]})
    );
    assert!(failures.get("encryption_context_truncated").is_none());
    let burst = finding("data_key_volume");
    assert_eq!(
        burst["encryption_context"]["chunk"]
            .as_array()
            .map(Vec::len),
        Some(keytrail::MAX_CONTEXT_PAIRS)
    );
    assert_eq!(burst["encryption_context_truncated"], true);
    // A rule over calls without a context says nothing.
    assert!(finding("key_disabled").get("encryption_context").is_none());
}
