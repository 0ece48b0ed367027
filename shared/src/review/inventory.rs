//! The key inventory: what KMS says about each key (or, offline, what the logs show).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cloudtrail::record::is_account_id;
use crate::detect::operations::{Operation, operation};
use crate::detect::summary::Summary;

/// A key's state, as KMS names it (`KeyState`); written as that name in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Creating,
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
    PendingReplicaDeletion,
    Unavailable,
    Updating,
    /// A state this version does not know, kept as KMS wrote it.
    #[serde(untagged)]
    Other(String),
}

impl KeyState {
    pub fn parse(s: &str) -> KeyState {
        match s {
            "Creating" => KeyState::Creating,
            "Enabled" => KeyState::Enabled,
            "Disabled" => KeyState::Disabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            "PendingImport" => KeyState::PendingImport,
            "PendingReplicaDeletion" => KeyState::PendingReplicaDeletion,
            "Unavailable" => KeyState::Unavailable,
            "Updating" => KeyState::Updating,
            other => KeyState::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            KeyState::Creating => "Creating",
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
            KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
            KeyState::Unavailable => "Unavailable",
            KeyState::Updating => "Updating",
            KeyState::Other(s) => s,
        }
    }

    /// Scheduled for deletion (a key, or a multi-Region replica).
    pub fn is_pending_deletion(&self) -> bool {
        matches!(
            self,
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
        )
    }
}

impl From<&str> for KeyState {
    fn from(s: &str) -> KeyState {
        KeyState::parse(s)
    }
}

/// The state's name, `unknown` when not known.
pub fn state_name(s: &Option<KeyState>) -> &str {
    s.as_ref().map_or("unknown", KeyState::as_str)
}

/// What KMS says about a key (or, offline, what the logs say).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub arn: String,
    pub aliases: Vec<String>,
    pub state: Option<KeyState>,
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

/// Each key's state from the last successful lifecycle call seen in the logs (keys
/// with none are absent). One pass over the usage: looking each key up by scanning
/// the usage made the offline review quadratic in the number of keys.
pub(crate) fn states_from_logs(u: &Summary) -> BTreeMap<&str, KeyState> {
    let state = |op: &str| match op {
        "ScheduleKeyDeletion" => Some(KeyState::PendingDeletion),
        "DisableKey" => Some(KeyState::Disabled),
        "EnableKey" | "CreateKey" => Some(KeyState::Enabled),
        "CancelKeyDeletion" => Some(KeyState::Disabled),
        _ => None,
    };
    let mut last: BTreeMap<&str, (DateTime<Utc>, KeyState)> = BTreeMap::new();
    for (k, s) in u.usage.iter().filter(|(k, _)| k.error_class.is_none()) {
        let Some(st) = state(&k.event_name) else {
            continue;
        };
        // At equal times the later cell wins, in the usage's order.
        match last.get_mut(k.key.as_str()) {
            Some(e) if e.0 > s.last_seen => {}
            Some(e) => *e = (s.last_seen, st),
            None => {
                last.insert(&k.key, (s.last_seen, st));
            }
        }
    }
    last.into_iter().map(|(k, (_, st))| (k, st)).collect()
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

/// An account or Region whose keys the inventory could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryRefusal {
    pub account: String,
    /// `None`: the whole account (or the organisation's account list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_states_read_and_write_as_kms_names_them() {
        for name in [
            "Creating",
            "Enabled",
            "Disabled",
            "PendingDeletion",
            "PendingImport",
            "PendingReplicaDeletion",
            "Unavailable",
            "Updating",
            "SomethingNew",
        ] {
            let st = KeyState::parse(name);
            assert_eq!(st.as_str(), name);
            let json = serde_json::to_string(&st).expect("serialise");
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<KeyState>(&json).expect("parse"), st);
        }
        assert_eq!(
            KeyState::parse("SomethingNew"),
            KeyState::Other("SomethingNew".into())
        );
        assert!(KeyState::PendingReplicaDeletion.is_pending_deletion());
        assert!(!KeyState::Disabled.is_pending_deletion());
        assert_eq!(state_name(&None), "unknown");
    }
}
