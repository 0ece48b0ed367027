//! What the analysis knows about the key an alias event moves an alias onto: its
//! age and its policy as the logs read show them (`alias_repointed`). A type of the
//! event ([`crate::detect::event::KmsEvent::alias_target`]); the key facts
//! ([`crate::detect::key_facts`]) work it out.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use crate::detect::policy::PolicyDocument;

/// A key created this recently before an alias moves onto it is "new"; an alias
/// created again this soon after its deletion was "moved".
pub const RECENT_HOURS: i64 = 24;

/// Who a key policy lets in, as far as `alias_repointed` cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    /// An `Allow` for `*` that no condition confines.
    pub public: bool,
    /// Accounts other than the key's that an `Allow` names.
    pub outside: Vec<String>,
    /// The policy could not be read (treated as unknown).
    pub unreadable: bool,
}

impl Exposure {
    pub(crate) fn of(policy: Option<&serde_json::Value>, owner: Option<&str>) -> Exposure {
        match policy.filter(|p| !p.is_null()).map(PolicyDocument::parse) {
            // No policy in the request: the default policy, the key's account only.
            None => Exposure::default(),
            Some(Ok(doc)) => Exposure {
                public: doc.is_public(),
                outside: match owner {
                    Some(o) => doc.outside_accounts(Some(o)),
                    None => Vec::new(),
                },
                unreadable: false,
            },
            Some(Err(_)) => Exposure {
                unreadable: true,
                ..Exposure::default()
            },
        }
    }
}

/// How an alias moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasMove {
    /// `UpdateAlias`.
    Updated,
    /// `CreateAlias` of an alias deleted shortly before (`DeleteAlias` at `deleted`,
    /// when it pointed to `previous`).
    Recreated {
        deleted: DateTime<Utc>,
        previous: Option<String>,
    },
    /// `CreateAlias` of an alias with no recent deletion in the logs: a new alias,
    /// not a move.
    New,
}

/// What the analysis knows about an alias event's target key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasTarget {
    /// The alias name (`alias/...`).
    pub alias: String,
    /// The target key's ARN, when the record names it.
    pub key: Option<String>,
    pub moved: AliasMove,
    /// When the target key was created, when the logs read show it.
    pub created: Option<DateTime<Utc>>,
    /// The target key's policy at the time of the move, when the logs read show it.
    pub exposure: Option<Exposure>,
}

impl AliasTarget {
    /// The target key was created less than [`RECENT_HOURS`] before `at`.
    pub fn key_is_new(&self, at: DateTime<Utc>) -> bool {
        self.created
            .is_some_and(|c| at - c < Duration::hours(RECENT_HOURS))
    }

    /// The logs read do not show the target key's creation: its age (and maybe its
    /// policy) must be checked by hand.
    pub fn unknown(&self) -> bool {
        self.created.is_none()
    }

    pub fn public(&self) -> bool {
        self.exposure.as_ref().is_some_and(|x| x.public)
    }

    pub fn outside(&self) -> &[String] {
        self.exposure.as_ref().map_or(&[], |x| &x.outside)
    }

    /// The alias moved onto a key that is new, public, shared with another account,
    /// or unknown to the logs read.
    pub fn is_dangerous(&self, at: DateTime<Utc>) -> bool {
        self.moved != AliasMove::New
            && (self.unknown()
                || self.key_is_new(at)
                || self.public()
                || !self.outside().is_empty()
                || self.exposure.as_ref().is_some_and(|x| x.unreadable))
    }

    /// The move is dangerous only because the key's policy names other accounts (so
    /// `trusted_accounts` may silence it).
    pub fn only_shared(&self, at: DateTime<Utc>) -> bool {
        !self.unknown()
            && !self.key_is_new(at)
            && !self.public()
            && !self.exposure.as_ref().is_some_and(|x| x.unreadable)
            && !self.outside().is_empty()
    }

    /// Notes for a finding.
    pub fn notes(&self, at: DateTime<Utc>) -> Vec<String> {
        let key = self.key.as_deref().unwrap_or("(key not named)");
        let mut out = vec![match &self.moved {
            AliasMove::Updated => format!("{} moved onto key {key} (UpdateAlias)", self.alias),
            AliasMove::Recreated { deleted, previous } => format!(
                "{} deleted at {} (it pointed to {}) and created again on key {key}",
                self.alias,
                deleted.to_rfc3339_opts(SecondsFormat::Secs, true),
                previous.as_deref().unwrap_or("an unknown key")
            ),
            AliasMove::New => format!("{} created on key {key}", self.alias),
        }];
        match (self.created, &self.exposure) {
            (None, None) => out.push(format!(
                "target key's age and policy were not in the logs read: check them (aws kms describe-key --key-id {key}; aws kms get-key-policy --key-id {key} --policy-name default)"
            )),
            (None, Some(_)) => out.push(format!(
                "target key's age was not in the logs read: check it (aws kms describe-key --key-id {key})"
            )),
            (Some(c), _) => {
                let age = at - c;
                let hours = age.num_hours();
                let minutes = age.num_minutes() - hours * 60;
                out.push(format!(
                    "target key created {hours} h {minutes} min before the move (at {})",
                    c.to_rfc3339_opts(SecondsFormat::Secs, true)
                ));
            }
        }
        if self.public() {
            out.push("target key's policy lets any principal (\"*\") in".into());
        }
        if !self.outside().is_empty() {
            out.push(format!(
                "target key's policy allows other accounts: {}",
                self.outside().join(", ")
            ));
        }
        if self.exposure.as_ref().is_some_and(|x| x.unreadable) {
            out.push("target key's policy could not be read: check it".into());
        }
        out
    }
}
