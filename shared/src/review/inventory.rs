//! The key inventory: what KMS says about each key (or, offline, what the logs show).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cloudtrail::record::is_account_id;
use crate::detect::operations::{Operation, operation};
use crate::detect::summary::Summary;

/// What KMS says about a key (or, offline, what the logs say).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub arn: String,
    pub aliases: Vec<String>,
    pub state: Option<String>,
    pub spec: Option<String>,
    pub usage: Option<String>,
    /// `CUSTOMER` or `AWS`.
    pub manager: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub deletion_date: Option<DateTime<Utc>>,
    /// `None` when not applicable (asymmetric, HMAC, imported) or not known.
    pub rotation_enabled: Option<bool>,
    pub tags: BTreeMap<String, String>,
    /// KMS's own last-use tracking (GetKeyLastUsage), when available.
    pub kms_last_used: Option<DateTime<Utc>>,
    pub kms_tracking_start: Option<DateTime<Utc>>,
    /// Lookups that failed or were not made, with the reason.
    pub unavailable: Vec<String>,
}

impl KeyInfo {
    pub fn is_customer_managed(&self) -> bool {
        self.manager.as_deref() != Some("AWS")
    }
    /// Rotation applies to symmetric encryption keys with KMS-generated material.
    pub fn rotation_applies(&self) -> bool {
        self.spec
            .as_deref()
            .is_none_or(|s| s == "SYMMETRIC_DEFAULT")
            && self.usage.as_deref().is_none_or(|u| u == "ENCRYPT_DECRYPT")
    }
}

/// A key's state from the last successful lifecycle call seen in the logs.
pub(crate) fn state_from_logs(u: &Summary, key: &str) -> Option<String> {
    let state = |op: &str| match op {
        "ScheduleKeyDeletion" => Some("PendingDeletion"),
        "DisableKey" => Some("Disabled"),
        "EnableKey" | "CreateKey" => Some("Enabled"),
        "CancelKeyDeletion" => Some("Disabled"),
        _ => None,
    };
    u.usage
        .iter()
        .filter(|(k, _)| k.key == key && k.error_class.is_none())
        .filter_map(|(k, s)| state(&k.event_name).map(|st| (s.last_seen, st)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, st)| st.to_owned())
}

/// `(account, region)` of a KMS key ARN (`arn:aws:kms:REGION:ACCOUNT:key/...`).
pub(crate) fn kms_arn_account_region(arn: &str) -> Option<(&str, &str)> {
    let mut p = arn.splitn(6, ':');
    let (_, _, service, region, account) = (p.next()?, p.next()?, p.next()?, p.next()?, p.next()?);
    p.next()?;
    (service == "kms" && is_account_id(account) && !region.is_empty()).then_some((account, region))
}

/// Whether a usage cell's operation uses the key's material: what "used" means for
/// the unused-key checks and the baseline's last use.
pub(crate) fn is_cryptographic(event_name: &str) -> bool {
    operation(event_name).is_some_and(Operation::is_cryptographic)
}
