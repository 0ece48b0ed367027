//! OCSF (Open Cybersecurity Schema Framework) schema 1.1.0: a finding as a Detection
//! Finding event (class 2004, category 2 Findings, activity 1 Create), as
//! `keytrail scan --format ocsf` writes them, one per line.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::detect::catalog::Severity;
use crate::investigate::export::{CATALOG_URL, Exported, partition_of};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.1.0";
pub const DETECTION_FINDING_CLASS: u32 = 2004;
pub const FINDINGS_CATEGORY: u32 = 2;
/// Activity 1: Create.
pub const CREATE_ACTIVITY: u32 = 1;

/// Evidences and observables kept per kind (principals, source IPs, keys).
const MAX_ITEMS: usize = 20;

/// OCSF's `severity_id`: 2 Low, 3 Medium, 4 High, 5 Critical.
pub fn severity_id(s: Severity) -> (u32, &'static str) {
    match s {
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The Detection Finding event of `e`.
pub fn detection_finding(e: &Exported) -> Value {
    let rule = e.rule;
    let (sev_id, sev) = severity_id(rule.severity);
    let key_type = |k: &str| {
        if k.starts_with("arn:") && k.contains(":key/") {
            "AWS::KMS::Key"
        } else {
            "AWS::KMS::Alias"
        }
    };
    let principal_type = |p: &str| {
        if p.starts_with("arn:") && p.contains(":role/") {
            "AWS::IAM::Role"
        } else if p.starts_with("arn:") && p.contains(":user/") {
            "AWS::IAM::User"
        } else {
            "Other"
        }
    };
    let resources: Vec<Value> = e
        .keys
        .iter()
        .map(|k| (k, key_type(k)))
        .chain(e.principals.iter().map(|p| (p, principal_type(p))))
        .map(|(uid, kind)| {
            json!({
                "uid": uid,
                "type": kind,
                "cloud_partition": partition_of(uid, &e.region),
                "region": e.region,
            })
        })
        .collect();
    // Observable types: 2 IP Address, 10 Resource UID.
    let observables: Vec<Value> = e
        .keys
        .iter()
        .take(MAX_ITEMS)
        .map(|k| json!({"name": "resources.uid", "type_id": 10, "type": "Resource UID", "value": k}))
        .chain(e.principals.iter().take(MAX_ITEMS).map(|p| {
            json!({"name": "evidences.actor.user.uid", "type_id": 10, "type": "Resource UID", "value": p})
        }))
        .chain(e.source_ips.iter().take(MAX_ITEMS).map(|ip| {
            json!({"name": "evidences.src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": ip})
        }))
        .collect();
    let mut evidences: Vec<Value> = e
        .principals
        .iter()
        .take(MAX_ITEMS)
        .map(|p| json!({"actor": {"user": {"uid": p}}}))
        .chain(
            e.source_ips
                .iter()
                .take(MAX_ITEMS)
                .map(|ip| json!({"src_endpoint": {"ip": ip}})),
        )
        .collect();
    if !e.event_ids.is_empty() {
        evidences.push(json!({"data": {"cloudtrail_event_ids": e.event_ids}}));
    }
    let mut unmapped = json!({"rule": rule.id, "metric": rule.metric});
    if let Some(g) = &e.group {
        unmapped["group"] = json!(g);
    }
    if !e.notes.is_empty() {
        unmapped["notes"] = json!(e.notes);
    }
    if let Some(a) = &e.alarm {
        unmapped["alarm"] = json!(a);
    }
    if let Some(r) = &e.record_location {
        unmapped["investigation"] = json!(r);
    }
    json!({
        "activity_id": CREATE_ACTIVITY,
        "activity_name": "Create",
        "category_uid": FINDINGS_CATEGORY,
        "category_name": "Findings",
        "class_uid": DETECTION_FINDING_CLASS,
        "class_name": "Detection Finding",
        "type_uid": DETECTION_FINDING_CLASS * 100 + CREATE_ACTIVITY,
        "type_name": "Detection Finding: Create",
        "severity_id": sev_id,
        "severity": sev,
        "status_id": 1,
        "status": "New",
        "time": millis(e.updated_at),
        "start_time": millis(e.first_seen),
        "end_time": millis(e.last_seen),
        "count": e.count,
        "message": format!("{}: {}", rule.title, e.summary()),
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "keytrail",
                "vendor_name": "keytrail",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "cloud": {
            "provider": "AWS",
            "region": e.region,
            "account": {"uid": e.account, "type": "AWS Account", "type_id": 10},
        },
        "finding_info": {
            "uid": e.id,
            "title": rule.title,
            "desc": format!("{} {}", rule.description, e.summary()),
            "first_seen_time": millis(e.first_seen),
            "last_seen_time": millis(e.last_seen),
            "types": [rule.finding_type],
            "analytic": {"uid": rule.id, "name": rule.metric, "type_id": 1, "type": "Rule"},
            "src_url": format!("{CATALOG_URL}#rules"),
        },
        "remediation": {
            "desc": e.recommendation(2048),
            "references": [format!("{CATALOG_URL}#rules")],
        },
        "resources": resources,
        "observables": observables,
        "evidences": evidences,
        "unmapped": unmapped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::export::Origin;

    /// The attributes OCSF 1.1.0 marks `required` for the Detection Finding class
    /// (2004) and the objects it uses here: the base event's, the Finding class's
    /// `finding_info` and `activity_id`; in `metadata`: `product` and `version`; in
    /// `product`: `vendor_name`; in `finding_info`: `uid` and `title`; in `analytic`:
    /// `type_id`; in an observable: `name` and `type_id`; in `cloud`: `provider`.
    const REQUIRED: &[&str] = &[
        "/activity_id",
        "/category_uid",
        "/class_uid",
        "/type_uid",
        "/severity_id",
        "/time",
        "/metadata",
        "/metadata/version",
        "/metadata/product",
        "/metadata/product/vendor_name",
        "/finding_info",
        "/finding_info/uid",
        "/finding_info/title",
        "/finding_info/analytic/type_id",
        "/cloud/provider",
    ];

    #[test]
    fn a_detection_finding_has_what_ocsf_1_1_0_requires() {
        let f = crate::investigate::export::tests::finding(
            "data_key_volume",
            Some("arn:aws:iam::444455556666:role/batch-reader from 198.51.100.23"),
            "2026-10-04T02:41:10Z",
        );
        let e = Exported::from_finding(&f, &Origin::default(), Utc::now()).expect("export");
        let v = detection_finding(&e);
        for path in REQUIRED {
            assert!(v.pointer(path).is_some(), "{path} missing in {v:#}");
        }
        assert_eq!(v["class_uid"], 2004);
        assert_eq!(v["category_uid"], 2);
        assert_eq!(v["type_uid"], 200401);
        assert_eq!(v["activity_id"], 1);
        assert_eq!(v["severity_id"], 3, "data_key_volume is medium");
        assert_eq!(v["metadata"]["version"], "1.1.0");
        assert_eq!(v["finding_info"]["uid"], e.id.as_str());
        assert_eq!(v["finding_info"]["types"][0], "Effects/Data Exfiltration");
        assert_eq!(
            v["finding_info"]["first_seen_time"],
            f.first_seen.timestamp_millis()
        );
        for o in v["observables"].as_array().expect("observables") {
            assert!(o["name"].is_string() && o["type_id"].is_u64(), "{o}");
        }
        assert_eq!(v["resources"][0]["type"], "AWS::KMS::Key");
        assert_eq!(v["resources"][1]["type"], "AWS::IAM::Role");
        assert_eq!(v["evidences"][1]["src_endpoint"]["ip"], "198.51.100.23");
    }
}
