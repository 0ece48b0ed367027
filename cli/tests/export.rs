//! `keytrail scan --format`: the findings of the sample tree as ASFF and OCSF, through
//! the built binary.

use serde_json::Value;

mod common;
use common::{keytrail, ok_json, stderr};

fn stdout_of(args: &[&str]) -> String {
    let out = keytrail(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).expect("utf8")
}

fn ocsf_lines() -> Vec<Value> {
    stdout_of(&["scan", "events/logs", "--format", "ocsf"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn report_findings() -> Vec<Value> {
    ok_json(&["scan", "events/logs", "--json"])["findings"]
        .as_array()
        .expect("findings")
        .clone()
}

#[test]
fn format_json_is_the_json_flag() {
    let flag = keytrail(&["scan", "events/logs", "--json"]);
    let format = keytrail(&["scan", "events/logs", "--format", "json"]);
    assert!(flag.status.success() && format.status.success());
    assert_eq!(flag.stdout, format.stdout, "byte for byte");
    let table = stdout_of(&["scan", "events/logs", "--format", "table"]);
    assert_eq!(table, stdout_of(&["scan", "events/logs"]));
    let both = keytrail(&["scan", "events/logs", "--json", "--format", "asff"]);
    assert_eq!(both.status.code(), Some(2), "--json and --format conflict");
    let bad = keytrail(&["scan", "events/logs", "--format", "xml"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("asff"), "{}", stderr(&bad));
}

#[test]
fn asff_has_one_security_hub_finding_per_scan_finding() {
    let findings = report_findings();
    let asff = ok_json(&["scan", "events/logs", "--format", "asff"]);
    let asff = asff.as_array().expect("a JSON array");
    assert!(!findings.is_empty());
    assert_eq!(asff.len(), findings.len());
    for (a, f) in asff.iter().zip(&findings) {
        for k in [
            "SchemaVersion",
            "Id",
            "ProductArn",
            "GeneratorId",
            "AwsAccountId",
            "Types",
            "CreatedAt",
            "UpdatedAt",
            "Severity",
            "Title",
            "Description",
            "Resources",
        ] {
            assert!(a.get(k).is_some(), "ASFF requires {k}: {a:#}");
        }
        let rule = keytrail::rule(f["rule"].as_str().expect("rule")).expect("catalog rule");
        assert_eq!(a["SchemaVersion"], "2018-10-08");
        assert_eq!(a["GeneratorId"], format!("keytrail/{}", rule.id));
        assert_eq!(a["Types"], serde_json::json!([rule.finding_type]));
        assert_eq!(
            a["Severity"]["Label"],
            rule.severity.as_str().to_uppercase()
        );
        assert_eq!(a["Title"], rule.title);
        // The sample tree is account 111122223333 in us-east-1.
        assert_eq!(a["AwsAccountId"], "111122223333");
        assert_eq!(
            a["ProductArn"],
            "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default"
        );
        let created: chrono::DateTime<chrono::Utc> = a["CreatedAt"]
            .as_str()
            .expect("time")
            .parse()
            .expect("rfc3339");
        let first: chrono::DateTime<chrono::Utc> = f["first_seen"]
            .as_str()
            .expect("time")
            .parse()
            .expect("rfc3339");
        assert_eq!(created, first);
        assert!(a["UpdatedAt"].as_str() >= a["CreatedAt"].as_str());
        let resources = a["Resources"].as_array().expect("resources");
        for key in f["keys"].as_array().expect("keys") {
            let kms_key = key.as_str().is_some_and(|k| k.contains(":key/"));
            assert!(
                resources
                    .iter()
                    .any(|r| r["Id"] == *key && (r["Type"] == "AwsKmsKey") == kms_key),
                "{key} in {resources:#?}"
            );
        }
        for p in f["principals"].as_array().expect("principals") {
            let r = resources.iter().find(|r| r["Id"] == *p).expect("principal");
            let p = p.as_str().expect("str");
            let want = if p.contains(":role/") {
                "AwsIamRole"
            } else if p.contains(":user/") {
                "AwsIamUser"
            } else {
                "Other"
            };
            assert_eq!(r["Type"], want, "{p}");
        }
        let text = a["Remediation"]["Recommendation"]["Text"]
            .as_str()
            .expect("text");
        assert!(
            text.starts_with(&format!("1. {}", &rule.playbook[0][..20])),
            "{text}"
        );
    }
    let mut ids: Vec<&str> = asff.iter().map(|a| a["Id"].as_str().expect("id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), asff.len(), "ids are unique");
}

#[test]
fn ids_are_stable_across_runs_and_formats() {
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|a| a["Id"].as_str().expect("id").to_owned())
            .collect()
    };
    let first = ids(&ok_json(&["scan", "events/logs", "--format", "asff"]));
    let again = ids(&ok_json(&["scan", "events/logs", "--format", "asff"]));
    assert_eq!(first, again);
    let uids: Vec<String> = ocsf_lines()
        .iter()
        .map(|e| e["finding_info"]["uid"].as_str().expect("uid").to_owned())
        .collect();
    assert_eq!(uids, first, "OCSF and ASFF name a finding alike");
    let again: Vec<String> = ocsf_lines()
        .iter()
        .map(|e| e["finding_info"]["uid"].as_str().expect("uid").to_owned())
        .collect();
    assert_eq!(uids, again);
}

/// What OCSF 1.1.0 requires of a Detection Finding (class_uid 2004): the base
/// event's `activity_id`, `category_uid`, `class_uid`, `metadata`, `severity_id`,
/// `time` and `type_uid`; the Finding class's `finding_info`; `metadata.product` and
/// `metadata.version`; `product.vendor_name`; `finding_info.uid` and `.title`.
const OCSF_1_1_0_REQUIRED: &[&str] = &[
    "/activity_id",
    "/category_uid",
    "/class_uid",
    "/metadata",
    "/metadata/product",
    "/metadata/product/vendor_name",
    "/metadata/version",
    "/severity_id",
    "/time",
    "/type_uid",
    "/finding_info",
    "/finding_info/uid",
    "/finding_info/title",
];

#[test]
fn ocsf_detection_findings_one_per_line() {
    let findings = report_findings();
    let events = ocsf_lines();
    assert_eq!(events.len(), findings.len());
    for (e, f) in events.iter().zip(&findings) {
        for path in OCSF_1_1_0_REQUIRED {
            assert!(e.pointer(path).is_some(), "{path} missing: {e:#}");
        }
        assert_eq!(e["class_uid"], 2004);
        assert_eq!(e["category_uid"], 2);
        assert_eq!(e["activity_id"], 1);
        assert_eq!(e["type_uid"], 200401);
        assert_eq!(e["status_id"], 1);
        assert_eq!(e["metadata"]["version"], "1.1.0");
        assert_eq!(e["metadata"]["product"]["name"], "keytrail");
        let rule = keytrail::rule(f["rule"].as_str().expect("rule")).expect("rule");
        let sev = match rule.severity {
            keytrail::Severity::Low => 2,
            keytrail::Severity::Medium => 3,
            keytrail::Severity::High => 4,
            keytrail::Severity::Critical => 5,
        };
        assert_eq!(e["severity_id"], sev);
        assert_eq!(e["finding_info"]["title"], rule.title);
        assert_eq!(e["finding_info"]["types"][0], rule.finding_type);
        let first: chrono::DateTime<chrono::Utc> =
            f["first_seen"].as_str().expect("t").parse().expect("t");
        let last: chrono::DateTime<chrono::Utc> =
            f["last_seen"].as_str().expect("t").parse().expect("t");
        assert_eq!(
            e["finding_info"]["first_seen_time"],
            first.timestamp_millis()
        );
        assert_eq!(e["finding_info"]["last_seen_time"], last.timestamp_millis());
        let uids: Vec<&Value> = e["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|r| &r["uid"])
            .collect();
        for k in f["keys"].as_array().expect("keys") {
            assert!(uids.contains(&k), "{k}");
        }
        for ip in f["source_ips"].as_array().expect("ips") {
            assert!(
                e["observables"]
                    .as_array()
                    .expect("observables")
                    .iter()
                    .any(|o| o["type_id"] == 2 && o["value"] == *ip),
                "{ip}"
            );
        }
        assert!(e["message"].as_str().expect("message").contains(rule.title));
    }
}
