//! The AWS Security Finding Format (ASFF, schema version 2018-10-08): what Security
//! Hub's `BatchImportFindings` takes and `keytrail scan --format asff` writes.
//!
//! Findings are imported into the account's own custom product
//! (`product/<account>/default`); the limits below are Security Hub's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::detect::catalog::Severity;
use crate::detect::keys::partition_for_region;
use crate::investigate::export::{CATALOG_URL, Exported, arn_parts, partition_of, rfc3339};
use crate::investigate::sanitize::clean;

pub const ASFF_SCHEMA_VERSION: &str = "2018-10-08";

/// Security Hub's limits: Title, Description, Recommendation.Text, resources per
/// finding, ProductFields pairs and value length.
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 1024;
const MAX_RECOMMENDATION: usize = 512;
const MAX_RESOURCES: usize = 32;
const MAX_PRODUCT_FIELD: usize = 2048;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffFinding {
    pub schema_version: String,
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub types: Vec<String>,
    pub first_observed_at: String,
    pub last_observed_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub severity: AsffSeverity,
    pub title: String,
    pub description: String,
    pub remediation: AsffRemediation,
    pub product_name: String,
    pub company_name: String,
    pub product_fields: BTreeMap<String, String>,
    pub resources: Vec<AsffResource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffSeverity {
    /// LOW, MEDIUM, HIGH or CRITICAL.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffRemediation {
    pub recommendation: AsffRecommendation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffRecommendation {
    pub text: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffResource {
    /// `AwsKmsKey`, `AwsIamRole`, `AwsIamUser` or `Other`.
    #[serde(rename = "Type")]
    pub kind: String,
    pub id: String,
    pub partition: String,
    pub region: String,
}

/// The ASFF severity label of a catalog severity.
pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// The ASFF resource type of a principal: IAM roles and users by their ARN, the rest
/// (root, services, accounts without an ARN) `Other`.
fn principal_type(p: &str) -> &'static str {
    match arn_parts(p) {
        Some((_, "iam", ..)) if p.contains(":role/") => "AwsIamRole",
        Some((_, "iam", ..)) if p.contains(":user/") => "AwsIamUser",
        _ => "Other",
    }
}

impl AsffFinding {
    pub fn of(e: &Exported) -> AsffFinding {
        let partition = partition_for_region(&e.region).to_owned();
        let resource = |kind: &str, id: &str| {
            let region = arn_parts(id)
                .map(|(_, _, r, _)| r)
                .filter(|r| !r.is_empty())
                .unwrap_or(&e.region);
            AsffResource {
                kind: kind.to_owned(),
                id: clean(id, 512),
                partition: partition_of(id, region),
                region: region.to_owned(),
            }
        };
        let mut resources: Vec<AsffResource> = e
            .keys
            .iter()
            .map(|k| {
                let kind =
                    if arn_parts(k).is_some_and(|(_, s, ..)| s == "kms") && k.contains(":key/") {
                        "AwsKmsKey"
                    } else {
                        "Other"
                    };
                resource(kind, k)
            })
            .chain(e.principals.iter().map(|p| resource(principal_type(p), p)))
            .take(MAX_RESOURCES)
            .collect();
        if resources.is_empty() {
            // Security Hub wants at least one resource: the account.
            resources.push(AsffResource {
                kind: "AwsAccount".into(),
                id: format!("AWS::::Account:{}", e.account),
                partition: partition.clone(),
                region: e.region.clone(),
            });
        }
        let rule = e.rule;
        let mut fields = BTreeMap::new();
        let mut field = |k: &str, v: String| {
            if !v.is_empty() {
                fields.insert(format!("keytrail/{k}"), clean(&v, MAX_PRODUCT_FIELD - 1));
            }
        };
        field("rule", rule.id.to_owned());
        field("metric", rule.metric.to_owned());
        field("count", e.count.to_string());
        field("group", e.group.clone().unwrap_or_default());
        field("source_ips", e.source_ips.join(", "));
        field("event_ids", e.event_ids.join(", "));
        field("alarm", e.alarm.clone().unwrap_or_default());
        field(
            "investigation",
            e.record_location.clone().unwrap_or_default(),
        );
        AsffFinding {
            schema_version: ASFF_SCHEMA_VERSION.into(),
            id: e.id.clone(),
            product_arn: format!(
                "arn:{partition}:securityhub:{}:{}:product/{}/default",
                e.region, e.account, e.account
            ),
            generator_id: format!("keytrail/{}", rule.id),
            aws_account_id: e.account.clone(),
            types: vec![rule.finding_type.to_owned()],
            first_observed_at: rfc3339(e.first_seen),
            last_observed_at: rfc3339(e.last_seen),
            created_at: rfc3339(e.first_seen),
            updated_at: rfc3339(e.updated_at),
            severity: AsffSeverity {
                label: severity_label(rule.severity).into(),
            },
            title: clean(rule.title, MAX_TITLE - 1),
            description: clean(
                &format!("{} {}", rule.description, e.summary()),
                MAX_DESCRIPTION - 1,
            ),
            remediation: AsffRemediation {
                recommendation: AsffRecommendation {
                    text: e.recommendation(MAX_RECOMMENDATION),
                    url: format!("{CATALOG_URL}#rules"),
                },
            },
            product_name: "keytrail".into(),
            company_name: "keytrail".into(),
            product_fields: fields,
            resources,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::export::Origin;
    use chrono::Utc;

    #[test]
    fn a_scan_finding_as_asff() {
        let mut f = crate::investigate::export::tests::finding(
            "decrypt_failures",
            None,
            "2026-10-04T02:41:10Z",
        );
        f.principals
            .push("arn:aws:iam::111122223333:user/alice".into());
        f.principals.push("service:s3.amazonaws.com".into());
        let e = Exported::from_finding(&f, &Origin::default(), Utc::now()).expect("export");
        let a = AsffFinding::of(&e);
        assert_eq!(a.schema_version, "2018-10-08");
        assert_eq!(a.id, "keytrail/decrypt_failures/2026-10-04T02:40Z");
        assert_eq!(
            a.product_arn,
            "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default"
        );
        assert_eq!(a.generator_id, "keytrail/decrypt_failures");
        assert_eq!(a.types, ["TTPs/Discovery"]);
        assert_eq!(a.severity.label, "MEDIUM");
        assert_eq!(a.created_at, "2026-10-04T02:41:10.000Z");
        let kinds: Vec<&str> = a.resources.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["AwsKmsKey", "AwsIamRole", "AwsIamUser", "Other"]);
        assert_eq!(a.resources[0].region, "eu-west-1");
        assert_eq!(
            a.resources[1].region, "eu-west-1",
            "IAM ARNs have no region"
        );
        assert_eq!(a.product_fields["keytrail/count"], "12");
        assert!(
            a.remediation
                .recommendation
                .url
                .ends_with("docs/catalog.md#rules")
        );
        let v = serde_json::to_value(&a).expect("json");
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
            assert!(v.get(k).is_some(), "ASFF requires {k}: {v}");
        }
        assert_eq!(v["Resources"][0]["Type"], "AwsKmsKey");
        assert_eq!(
            v["Remediation"]["Recommendation"]["Text"],
            a.remediation.recommendation.text
        );
    }

    #[test]
    fn every_rule_exports_within_security_hubs_limits() {
        for rule in crate::detect::catalog::RULES {
            let mut f = crate::investigate::export::tests::finding(
                rule.id,
                Some("p from ip"),
                "2026-10-04T02:41:10Z",
            );
            f.keys = (0..40)
                .map(|i| format!("arn:aws-cn:kms:cn-north-1:111122223333:key/k{i}"))
                .collect();
            f.notes = vec!["x".repeat(2000)];
            let a = AsffFinding::of(
                &Exported::from_finding(&f, &Origin::default(), Utc::now()).expect("export"),
            );
            assert!(a.title.chars().count() <= MAX_TITLE);
            assert!(a.description.chars().count() <= MAX_DESCRIPTION);
            assert!(a.remediation.recommendation.text.chars().count() <= MAX_RECOMMENDATION);
            assert_eq!(a.resources.len(), MAX_RESOURCES);
            assert!(
                a.product_arn
                    .starts_with("arn:aws-cn:securityhub:cn-north-1:")
            );
            assert_eq!(a.severity.label, rule.severity.as_str().to_uppercase());
        }
    }
}
