//! The key inventory: what KMS says about each key (or, offline, what the logs show).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cloudtrail::record::is_account_id;
use crate::detect::operations::{Operation, operation};
use crate::detect::policy::{Effect, PolicyDocument, PolicyError, principal_account};
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
    /// Deleted at the end of its waiting period: KMS recorded `DeleteKey`. Not a
    /// state KMS reports (a deleted key is gone from ListKeys); only the offline
    /// review, which reads the state from the logs, shows it.
    Deleted,
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
            "Deleted" => KeyState::Deleted,
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
            KeyState::Deleted => "Deleted",
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
    /// Who the key policy and grants let use the key for cryptographic operations
    /// (customer-managed keys read through KMS; `None` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<KeyAccessRules>,
}

/// Who a key's policy and grants let use it for cryptographic operations, parsed
/// from `GetKeyPolicy` (policy `default`) and `ListGrants`: not the policy text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAccessRules {
    /// The key policy's `Allow` entries for cryptographic actions; `None` when the
    /// policy was not read (the reason is in [`KeyInfo::unavailable`]).
    pub policy: Option<Vec<PolicyAllow>>,
    /// The key's grants; `None` when they were not read.
    pub grants: Option<Vec<GrantAccess>>,
    /// Principals an unconditional `Deny` of every cryptographic action names (an
    /// account root: the whole account). An explicit deny wins over any allow and any
    /// grant, so they are not counted as able to use the key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<String>,
    /// `Deny` statements the analysis does not weigh (conditional, `NotPrincipal`,
    /// for everyone, or for some cryptographic actions only), named with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_weighed: Vec<String>,
}

/// How a key policy `Allow` entry names its principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllowKind {
    /// An IAM role, user or other ARN.
    Principal,
    /// An account (`arn:aws:iam::111122223333:root` or `111122223333`): the key policy
    /// delegates to that account's IAM policies.
    Account,
    /// An AWS service principal (`logs.amazonaws.com`).
    Service,
    /// `"*"`: any principal (usually narrowed by conditions).
    Anyone,
    /// `NotPrincipal`: everyone except the listed principals.
    AnyoneExcept,
}

/// One principal an `Allow` statement of the key policy lets use the key for at
/// least one cryptographic action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAllow {
    /// As the policy writes it (`*` for `Anyone` and `AnyoneExcept`).
    pub principal: String,
    pub kind: AllowKind,
    /// The statement's `Sid`, or `#N` (its position from 1).
    pub statement: String,
    /// The statement has a `Condition`: the use is allowed only when it holds.
    pub conditional: bool,
}

/// One grant on a key (`ListGrants`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantAccess {
    pub grant_id: String,
    /// `GranteePrincipal`: a role or user ARN, an account root or a service principal.
    pub grantee: Option<String>,
    /// The grant's operations, as KMS names them (`Decrypt`, `ReEncryptFrom`, ...).
    pub operations: Vec<String>,
    /// The grant has encryption-context constraints.
    pub constraints: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
}

impl GrantAccess {
    /// Whether the grant allows at least one cryptographic operation.
    pub fn allows_cryptographic(&self) -> bool {
        self.operations
            .iter()
            .any(|o| is_cryptographic(o) || o.starts_with("ReEncrypt"))
    }
}

impl KeyAccessRules {
    /// Reads a key policy document (`GetKeyPolicy`'s text): its `Allow` entries for
    /// cryptographic actions, the unconditional `Deny`s that take principals out and
    /// the `Deny`s it does not weigh. Grants are left unread (`None`).
    pub fn from_policy(text: &str) -> Result<KeyAccessRules, PolicyError> {
        let doc = PolicyDocument::parse(&serde_json::Value::String(text.to_owned()))?;
        let mut rules = KeyAccessRules::default();
        let mut allows = Vec::new();
        for (i, st) in doc.statements.iter().enumerate() {
            let crypto = st.cryptographic_actions();
            if crypto.is_empty() {
                continue;
            }
            let statement = match &st.sid {
                Some(s) if !s.is_empty() => s.clone(),
                _ => format!("#{}", i + 1),
            };
            match st.effect {
                Effect::Allow => {
                    let conditional = !st.conditions.is_empty();
                    let mut push = |principal: &str, kind: AllowKind| {
                        allows.push(PolicyAllow {
                            principal: principal.to_owned(),
                            kind,
                            statement: statement.clone(),
                            conditional,
                        })
                    };
                    if st.not_principal {
                        push("*", AllowKind::AnyoneExcept);
                        continue;
                    }
                    if st.principals.anyone {
                        push("*", AllowKind::Anyone);
                    }
                    for p in &st.principals.aws {
                        let kind = if is_account_principal(p) {
                            AllowKind::Account
                        } else {
                            AllowKind::Principal
                        };
                        push(p.trim(), kind);
                    }
                    for p in &st.principals.services {
                        push(p.trim(), AllowKind::Service);
                    }
                }
                Effect::Deny => {
                    let reason = if !st.conditions.is_empty() {
                        Some("it has conditions")
                    } else if st.not_principal {
                        Some("it uses NotPrincipal")
                    } else if st.principals.anyone {
                        Some("it applies to every principal")
                    } else if !st.covers_all_cryptographic() {
                        Some("it denies only some cryptographic actions")
                    } else {
                        None
                    };
                    match reason {
                        Some(why) => rules.not_weighed.push(format!(
                            "{} (Deny {}): not weighed, {why}",
                            st.label(i),
                            st.actions_text()
                        )),
                        None => rules.denied.extend(
                            st.principals
                                .aws
                                .iter()
                                .chain(&st.principals.services)
                                .map(|p| p.trim().to_owned()),
                        ),
                    }
                }
            }
        }
        rules.policy = Some(allows);
        Ok(rules)
    }
}

/// An account root ARN (`arn:aws:iam::111122223333:root`) or a bare account id.
pub fn is_account_principal(p: &str) -> bool {
    let p = p.trim();
    is_account_id(p)
        || (p.starts_with("arn:")
            && p.ends_with(":root")
            && principal_account(p).is_some()
            && p.split(':').nth(2) == Some("iam"))
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
        // KMS leaves a key whose deletion is cancelled disabled.
        "CancelKeyDeletion" => Some(KeyState::Disabled),
        "DeleteKey" => Some(KeyState::Deleted),
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
            "Deleted",
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
