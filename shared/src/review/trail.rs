//! The trail checks: does the trail record KMS events, log file validation, multi-region,
//! and is it logging.

use serde::{Deserialize, Serialize};

use crate::cloudtrail::record::KMS_EVENT_SOURCE;

/// A basic event selector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BasicSelector {
    /// `All`, `ReadOnly` or `WriteOnly`.
    pub read_write_type: Option<String>,
    pub include_management_events: Option<bool>,
    pub exclude_management_event_sources: Vec<String>,
}

/// One field condition of an advanced event selector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldSelector {
    pub field: String,
    pub equals: Vec<String>,
    pub not_equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub not_starts_with: Vec<String>,
}

/// What CloudTrail says about a trail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrailInfo {
    pub name: String,
    pub arn: Option<String>,
    pub kms_key_id: Option<String>,
    pub log_file_validation: bool,
    pub multi_region: bool,
    pub is_logging: Option<bool>,
    pub basic_selectors: Vec<BasicSelector>,
    pub advanced_selectors: Vec<Vec<FieldSelector>>,
    pub unavailable: Vec<String>,
    /// The bucket the trail delivers to.
    #[serde(default)]
    pub s3_bucket: Option<String>,
    /// How that bucket protects the log files (`None`: not read).
    #[serde(default)]
    pub bucket_protection: Option<BucketProtection>,
}

/// What protects a trail's log files from deletion and overwriting (seed 000: "use S3
/// versioning and MFA delete to prevent accidental or malicious modification").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BucketProtection {
    /// `GetBucketVersioning` `Status`: `Enabled`, `Suspended`, or `None` (never on).
    pub versioning: Option<String>,
    /// `GetBucketVersioning` `MFADelete` is `Enabled`.
    pub mfa_delete: bool,
    /// `GetObjectLockConfiguration` `ObjectLockEnabled` is `Enabled`; `None` when it
    /// could not be read.
    pub object_lock: Option<bool>,
    /// The default retention, e.g. `COMPLIANCE 365 days`, when set.
    pub default_retention: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
    NotChecked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrailCheck {
    pub trail: String,
    pub check: String,
    pub status: CheckStatus,
    pub detail: String,
    pub remediation: String,
}

/// Why one event selector leaves KMS management events out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SelectorGap {
    #[error("an advanced selector excludes eventSource kms.amazonaws.com")]
    AdvancedExcludesKms,
    #[error("an advanced selector keeps only other event sources")]
    AdvancedOtherSourcesOnly,
    #[error("an advanced selector excludes event sources starting like kms")]
    AdvancedExcludesKmsPrefix,
    #[error(
        "an advanced selector keeps write events only: Decrypt, Encrypt and GenerateDataKey are read-only events"
    )]
    AdvancedWriteOnly,
    #[error(
        "an advanced selector keeps read-only events only: ScheduleKeyDeletion, PutKeyPolicy, CreateGrant and the other key changes are write events"
    )]
    AdvancedReadOnly,
    #[error("no advanced selector includes management events")]
    NoAdvancedManagementSelector,
    #[error("management events are not included")]
    ManagementEventsExcluded,
    #[error("ExcludeManagementEventSources lists kms.amazonaws.com")]
    KmsSourceExcluded,
    #[error(
        "ReadWriteType is WriteOnly: Decrypt, Encrypt and GenerateDataKey are read-only events"
    )]
    WriteOnly,
    #[error(
        "ReadWriteType is ReadOnly: ScheduleKeyDeletion, PutKeyPolicy, CreateGrant and the other key changes are write events"
    )]
    ReadOnly,
}

/// No selector of the trail records KMS management events: each one's reason, in
/// selector order (written joined by `; `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", join(.reasons))]
pub struct KmsEventsNotLogged {
    pub reasons: Vec<SelectorGap>,
}

fn join(reasons: &[SelectorGap]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Which KMS management events one selector records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Coverage {
    /// Read-only events: Decrypt, Encrypt, GenerateDataKey, Describe*, List*.
    reads: bool,
    /// Write events: ScheduleKeyDeletion, PutKeyPolicy, CreateGrant, DisableKey, ...
    writes: bool,
}

impl Coverage {
    const ALL: Coverage = Coverage {
        reads: true,
        writes: true,
    };

    fn of_read_only_field(values: &[String], negated: bool) -> Coverage {
        let says = |v: &str| values.iter().any(|x| x.eq_ignore_ascii_case(v));
        // readOnly Equals [true] keeps reads; NotEquals [true] keeps writes.
        let (t, f) = (says("true"), says("false"));
        let (reads, writes) = if negated { (!t, !f) } else { (t, f) };
        Coverage { reads, writes }
    }

    fn union(self, o: Coverage) -> Coverage {
        Coverage {
            reads: self.reads || o.reads,
            writes: self.writes || o.writes,
        }
    }
}

/// One selector: what it records of KMS management events, or why nothing.
fn selector_coverage(result: Result<Coverage, SelectorGap>) -> (Coverage, Option<SelectorGap>) {
    match result {
        Ok(c) => (c, None),
        Err(g) => (Coverage::default(), Some(g)),
    }
}

fn advanced_coverage(sel: &[FieldSelector]) -> Option<Result<Coverage, SelectorGap>> {
    let field = |name: &str| sel.iter().find(|f| f.field.eq_ignore_ascii_case(name));
    let management =
        field("eventCategory").is_some_and(|f| f.equals.iter().any(|v| v == "Management"));
    if !management {
        return None;
    }
    if let Some(src) = field("eventSource") {
        if src.not_equals.iter().any(|v| v == KMS_EVENT_SOURCE) {
            return Some(Err(SelectorGap::AdvancedExcludesKms));
        }
        if !src.equals.is_empty() && !src.equals.iter().any(|v| v == KMS_EVENT_SOURCE) {
            return Some(Err(SelectorGap::AdvancedOtherSourcesOnly));
        }
        if src
            .not_starts_with
            .iter()
            .any(|p| KMS_EVENT_SOURCE.starts_with(p.as_str()))
        {
            return Some(Err(SelectorGap::AdvancedExcludesKmsPrefix));
        }
    }
    Some(Ok(match field("readOnly") {
        Some(f) if !f.equals.is_empty() => Coverage::of_read_only_field(&f.equals, false),
        Some(f) if !f.not_equals.is_empty() => Coverage::of_read_only_field(&f.not_equals, true),
        _ => Coverage::ALL,
    }))
}

fn basic_coverage(sel: &BasicSelector) -> Result<Coverage, SelectorGap> {
    if sel.include_management_events == Some(false) {
        return Err(SelectorGap::ManagementEventsExcluded);
    }
    if sel
        .exclude_management_event_sources
        .iter()
        .any(|s| s == KMS_EVENT_SOURCE)
    {
        return Err(SelectorGap::KmsSourceExcluded);
    }
    Ok(match sel.read_write_type.as_deref() {
        Some("WriteOnly") => Coverage {
            reads: false,
            writes: true,
        },
        Some("ReadOnly") => Coverage {
            reads: true,
            writes: false,
        },
        _ => Coverage::ALL,
    })
}

/// Whether the trail records KMS management events, read and write, and why not.
/// The selectors together must record both: the usage rules read the read-only
/// calls (Decrypt, GenerateDataKey), the key-change rules the write calls
/// (ScheduleKeyDeletion, PutKeyPolicy, CreateGrant), so a read-only trail is as
/// blind to a key being destroyed as a write-only one is to its use.
pub fn kms_events_logged(t: &TrailInfo) -> Result<(), KmsEventsNotLogged> {
    let advanced = !t.advanced_selectors.is_empty();
    let per_selector: Vec<(Coverage, Option<SelectorGap>, bool)> = if advanced {
        t.advanced_selectors
            .iter()
            .filter_map(|s| advanced_coverage(s))
            .map(|r| {
                let (c, g) = selector_coverage(r);
                (c, g, true)
            })
            .collect()
    } else if t.basic_selectors.is_empty() {
        // A trail with no selectors logs all management events.
        return Ok(());
    } else {
        t.basic_selectors
            .iter()
            .map(|s| {
                let (c, g) = selector_coverage(basic_coverage(s));
                (c, g, false)
            })
            .collect()
    };
    let all = per_selector
        .iter()
        .fold(Coverage::default(), |acc, (c, _, _)| acc.union(*c));
    if all == Coverage::ALL {
        return Ok(());
    }
    let mut reasons = Vec::new();
    for (c, gap, adv) in &per_selector {
        if let Some(g) = gap {
            reasons.push(*g);
            continue;
        }
        if c.writes && !all.reads {
            reasons.push(if *adv {
                SelectorGap::AdvancedWriteOnly
            } else {
                SelectorGap::WriteOnly
            });
        } else if c.reads && !all.writes {
            reasons.push(if *adv {
                SelectorGap::AdvancedReadOnly
            } else {
                SelectorGap::ReadOnly
            });
        }
    }
    if reasons.is_empty() {
        reasons.push(if advanced {
            SelectorGap::NoAdvancedManagementSelector
        } else {
            SelectorGap::ManagementEventsExcluded
        });
    }
    Err(KmsEventsNotLogged { reasons })
}

/// The trail checks (seed 002, CIS 3.x).
pub fn trail_checks(trails: &[TrailInfo]) -> Vec<TrailCheck> {
    let mut out = Vec::new();
    for t in trails {
        let name = t.name.clone();
        // `failure`: why the check fails; `None` when it passes.
        let check =
            |check: &str, failure: Option<String>, pass: &str, remediation: String| TrailCheck {
                trail: name.clone(),
                check: check.into(),
                status: if failure.is_none() {
                    CheckStatus::Pass
                } else {
                    CheckStatus::Fail
                },
                detail: failure.unwrap_or_else(|| pass.into()),
                remediation: remediation.clone(),
            };
        out.push(check(
            "kms_encryption",
            t.kms_key_id.is_none().then(|| {
                "log files are encrypted with SSE-S3 only, not a customer-managed KMS key".into()
            }),
            &format!("SSE-KMS with {}", t.kms_key_id.as_deref().unwrap_or_default()),
            format!("Create a customer-managed key whose policy lets cloudtrail.amazonaws.com call kms:GenerateDataKey* (condition kms:EncryptionContext:aws:cloudtrail:arn and aws:SourceArn) and kms:DescribeKey, grant kms:Decrypt to the log readers, then: aws cloudtrail update-trail --name {} --kms-key-id <key ARN>", t.name),
        ));
        out.push(check(
            "log_file_validation",
            (!t.log_file_validation).then(|| "log file integrity validation is off".into()),
            "digest files are delivered",
            format!(
                "aws cloudtrail update-trail --name {} --enable-log-file-validation",
                t.name
            ),
        ));
        out.push(check(
            "multi_region",
            (!t.multi_region).then(|| "the trail records one region only".into()),
            "all regions are recorded",
            format!(
                "aws cloudtrail update-trail --name {} --is-multi-region-trail",
                t.name
            ),
        ));
        let logging = match t.is_logging {
            Some(true) => None,
            Some(false) => Some("the trail is not logging".into()),
            None => Some("GetTrailStatus was not available".into()),
        };
        out.push(check(
            "logging",
            logging,
            "the trail is logging",
            format!("aws cloudtrail start-logging --name {}", t.name),
        ));
        let mut recorded = check(
            "kms_events_recorded",
            kms_events_logged(t).err().map(|e| e.to_string()),
            "management events, including kms.amazonaws.com, are recorded",
            format!(
                "Remove kms.amazonaws.com from ExcludeManagementEventSources (basic selectors) or from the eventSource NotEquals of the advanced selectors, and record read and write management events: aws cloudtrail put-event-selectors --trail-name {} ...",
                t.name
            ),
        );
        if let Some(u) = t
            .unavailable
            .iter()
            .find(|u| u.starts_with("GetEventSelectors"))
        {
            // Unknown selectors must not pass for "no selectors".
            recorded.status = CheckStatus::NotChecked;
            recorded.detail = format!("event selectors not available ({u})");
        }
        out.push(recorded);
        out.extend(bucket_checks(t));
    }
    out
}

/// The log bucket's versioning, MFA delete and Object Lock (seed 000).
fn bucket_checks(t: &TrailInfo) -> Vec<TrailCheck> {
    let bucket = t.s3_bucket.as_deref().unwrap_or("<bucket>");
    let unavailable = |op: &str| {
        t.unavailable
            .iter()
            .find(|u| u.starts_with(op))
            .map(|u| format!("not read ({u})"))
    };
    let not_read = match (&t.s3_bucket, &t.bucket_protection) {
        (None, _) => Some("the trail names no S3 bucket".to_owned()),
        (Some(_), None) => Some("the bucket's settings were not read".to_owned()),
        _ => None,
    };
    let p = t.bucket_protection.clone().unwrap_or_default();
    let versioning_failure = match p.versioning.as_deref() {
        Some("Enabled") => None,
        Some(other) => Some(format!(
            "versioning is {other}: a deleted or overwritten log file is gone"
        )),
        None => {
            Some("versioning was never enabled: a deleted or overwritten log file is gone".into())
        }
    };
    let lock = match p.object_lock {
        Some(true) => None,
        Some(false) => {
            Some("Object Lock is off: anyone allowed s3:DeleteObject can remove log files".into())
        }
        None => Some("Object Lock configuration not read".into()),
    };
    // (check, why it could not be read, why it fails, what passes, remediation)
    type BucketCheck = (&'static str, Option<String>, Option<String>, String, String);
    let checks: [BucketCheck; 3] = [
        (
            "log_bucket_versioning",
            unavailable("GetBucketVersioning"),
            versioning_failure,
            format!("versioning on {bucket}"),
            format!(
                "aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled"
            ),
        ),
        (
            "log_bucket_mfa_delete",
            unavailable("GetBucketVersioning"),
            (!p.mfa_delete).then(|| {
                "MFA delete is off: deleting a log file version or suspending versioning needs no MFA".into()
            }),
            format!("MFA delete on {bucket}"),
            format!(
                "As the bucket owner's root user, with its MFA device: aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled,MFADelete=Enabled --mfa '<device ARN> <code>'"
            ),
        ),
        (
            "log_bucket_object_lock",
            unavailable("GetObjectLockConfiguration"),
            lock,
            format!(
                "Object Lock on {bucket}{}",
                p.default_retention
                    .as_deref()
                    .map(|r| format!(", default retention {r}"))
                    .unwrap_or_default()
            ),
            format!(
                "With versioning on: aws s3api put-object-lock-configuration --bucket {bucket} --object-lock-configuration '{{\"ObjectLockEnabled\":\"Enabled\",\"Rule\":{{\"DefaultRetention\":{{\"Mode\":\"GOVERNANCE\",\"Days\":365}}}}}}'"
            ),
        ),
    ];
    checks
        .into_iter()
        .map(|(check, unread, failure, pass, remediation)| {
            let (status, detail) = match (not_read.clone().or(unread), failure) {
                (Some(why), _) => (CheckStatus::NotChecked, why),
                (None, Some(f)) => (CheckStatus::Fail, f),
                (None, None) => (CheckStatus::Pass, pass),
            };
            TrailCheck {
                trail: t.name.clone(),
                check: check.into(),
                status,
                detail,
                remediation,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(checks: &[TrailCheck], name: &str) -> (CheckStatus, String) {
        let c = checks
            .iter()
            .find(|c| c.check == name)
            .unwrap_or_else(|| panic!("{name}"));
        (c.status, c.detail.clone())
    }

    fn trail(protection: Option<BucketProtection>) -> TrailInfo {
        TrailInfo {
            name: "t".into(),
            s3_bucket: Some("logs".into()),
            bucket_protection: protection,
            ..TrailInfo::default()
        }
    }

    #[test]
    fn a_locked_versioned_bucket_with_mfa_delete_passes() {
        let checks = bucket_checks(&trail(Some(BucketProtection {
            versioning: Some("Enabled".into()),
            mfa_delete: true,
            object_lock: Some(true),
            default_retention: Some("COMPLIANCE 365 days".into()),
        })));
        for name in [
            "log_bucket_versioning",
            "log_bucket_mfa_delete",
            "log_bucket_object_lock",
        ] {
            assert_eq!(status(&checks, name).0, CheckStatus::Pass, "{name}");
        }
        assert!(
            status(&checks, "log_bucket_object_lock")
                .1
                .contains("COMPLIANCE 365 days")
        );
    }

    #[test]
    fn an_unprotected_bucket_fails_each_check_with_its_remedy() {
        let checks = bucket_checks(&trail(Some(BucketProtection {
            versioning: Some("Suspended".into()),
            mfa_delete: false,
            object_lock: Some(false),
            default_retention: None,
        })));
        for c in &checks {
            assert_eq!(c.status, CheckStatus::Fail, "{}", c.check);
            assert!(c.remediation.contains("--bucket logs"), "{}", c.remediation);
        }
        assert!(
            status(&checks, "log_bucket_versioning")
                .1
                .contains("Suspended")
        );
        let never = bucket_checks(&trail(Some(BucketProtection::default())));
        assert!(
            status(&never, "log_bucket_versioning")
                .1
                .contains("never enabled")
        );
    }

    #[test]
    fn unreadable_settings_are_not_checked_and_say_why() {
        let mut t = trail(Some(BucketProtection {
            object_lock: Some(true),
            ..BucketProtection::default()
        }));
        t.unavailable
            .push("GetBucketVersioning: AccessDenied".into());
        let checks = bucket_checks(&t);
        let (s, why) = status(&checks, "log_bucket_versioning");
        assert_eq!(s, CheckStatus::NotChecked);
        assert!(why.contains("AccessDenied"), "{why}");
        assert_eq!(
            status(&checks, "log_bucket_mfa_delete").0,
            CheckStatus::NotChecked
        );
        assert_eq!(
            status(&checks, "log_bucket_object_lock").0,
            CheckStatus::Pass
        );
        let none = bucket_checks(&TrailInfo::default());
        assert!(none.iter().all(|c| c.status == CheckStatus::NotChecked));
    }
}
