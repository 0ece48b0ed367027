//! What the logs say about keys and aliases, for `alias_repointed`: when a key was
//! created, what its policy let in over time, and when an alias was deleted.
//!
//! An `UpdateAlias` record names the alias and its new target key, but not how old
//! the target key is or who its policy lets in: those facts are in the target key's
//! `CreateKey` and `PutKeyPolicy` records, usually in other files. The analysis
//! learns them from every file it reads ([`KeyFacts::learn`]), keeps the alias
//! events of a file until the file is read, and then judges each against what it
//! knows ([`KeyFacts::alias_target`]). `keytrail scan` merges the facts of the whole
//! tree before judging the alias events whose facts one file did not hold; the log
//! processor judges with its file's facts and, for a target it knows nothing about,
//! matches anyway and says so (fail-safe).
//!
//! Memory is bounded: at most [`MAX_KEYS`] keys and [`MAX_ALIASES`] deleted aliases
//! are remembered, with at most [`MAX_POLICIES_PER_KEY`] policy changes each; past
//! that, new keys are not learned and their alias moves match as unknown.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

pub use crate::detect::alias_target::{AliasMove, AliasTarget, Exposure, RECENT_HOURS};
use crate::detect::event::KmsEvent;
use crate::detect::keys::{arn_account, partition_for_region};
use crate::detect::operations::op;

/// Keys remembered at most.
pub const MAX_KEYS: usize = 100_000;
/// Deleted aliases remembered at most.
pub const MAX_ALIASES: usize = 100_000;
/// Policy changes remembered per key (the latest).
pub const MAX_POLICIES_PER_KEY: usize = 8;
/// Deletions remembered per alias (the latest).
pub const MAX_DELETIONS_PER_ALIAS: usize = 4;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct KeyFact {
    created: Option<DateTime<Utc>>,
    /// (time, exposure), sorted by time, the latest [`MAX_POLICIES_PER_KEY`].
    policies: Vec<(DateTime<Utc>, Exposure)>,
}

impl KeyFact {
    fn add_policy(&mut self, at: DateTime<Utc>, x: Exposure) {
        if self.policies.iter().any(|(t, e)| *t == at && *e == x) {
            return;
        }
        let i = self.policies.partition_point(|(t, _)| *t <= at);
        self.policies.insert(i, (at, x));
        if self.policies.len() > MAX_POLICIES_PER_KEY {
            self.policies.remove(0);
        }
    }

    fn merge(&mut self, o: &KeyFact) {
        self.created = match (self.created, o.created) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (t, x) in &o.policies {
            self.add_policy(*t, x.clone());
        }
    }

    /// The policy in force at `at`: the last change at or before it.
    fn policy_at(&self, at: DateTime<Utc>) -> Option<&Exposure> {
        self.policies
            .iter()
            .rev()
            .find(|(t, _)| *t <= at)
            .map(|(_, x)| x)
    }
}

/// One `DeleteAlias`: when, and the key the alias pointed to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Deletion {
    at: DateTime<Utc>,
    key: Option<String>,
}

/// Key and alias facts learned from the logs (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct KeyFacts {
    keys: HashMap<String, KeyFact>,
    deleted_aliases: HashMap<String, Vec<Deletion>>,
    /// Facts not kept because a bound was reached.
    pub dropped: u64,
}

/// `UpdateAlias` or `CreateAlias` that succeeded: the events `alias_repointed` judges.
pub fn is_alias_event(e: &KmsEvent) -> bool {
    !e.failed() && matches!(e.name(), op::UPDATE_ALIAS | op::CREATE_ALIAS)
}

/// The alias an event is about, as an ARN: from `resources[]`, else built from the
/// `aliasName`, the Region and the account.
fn alias_arn(e: &KmsEvent) -> Option<String> {
    let r = e.record;
    if let Some(a) = r
        .resources
        .iter()
        .filter_map(|x| x.arn.as_deref())
        .find(|a| a.starts_with("arn:") && a.contains(":alias/"))
    {
        return Some(a.to_owned());
    }
    let name = r.request_str("aliasName")?.trim();
    if name.starts_with("arn:") {
        return Some(name.to_owned());
    }
    let region = r.aws_region.as_deref()?;
    let account = r
        .recipient_account_id
        .as_deref()
        .or_else(|| r.user_identity.as_ref()?.account_id.as_deref())?;
    Some(format!(
        "arn:{}:kms:{region}:{account}:{name}",
        partition_for_region(region)
    ))
}

/// The alias name (`alias/...`) of an alias ARN.
fn alias_name(arn: &str) -> &str {
    arn.find("alias/").map_or(arn, |i| &arn[i..])
}

/// The key ARN an event is about: its first resolved key ARN, else a key ARN in
/// `resources[]` (a `CreateKey` record without `responseElements`).
fn key_arn<'e>(e: &'e KmsEvent) -> Option<&'e str> {
    e.keys
        .iter()
        .find(|k| k.is_key_arn())
        .map(|k| k.id.as_str())
        .or_else(|| {
            e.record
                .resources
                .iter()
                .filter_map(|r| r.arn.as_deref())
                .find(|a| a.starts_with("arn:") && a.contains(":kms:") && a.contains(":key/"))
        })
}

impl KeyFacts {
    /// Learns from a successful `CreateKey`, `PutKeyPolicy`, `ReplicateKey` (the
    /// replica's policy) or `DeleteAlias`; other events are ignored at the cost of
    /// one comparison of the event name.
    pub fn learn(&mut self, e: &KmsEvent) {
        if e.failed() {
            return;
        }
        let name = e.name();
        if name == op::CREATE_KEY || name == op::PUT_KEY_POLICY {
            let Some(key) = key_arn(e) else {
                return;
            };
            let owner = arn_account(key);
            let exposure = Exposure::of(
                e.record
                    .request_parameters
                    .as_ref()
                    .and_then(|p| p.get("policy")),
                owner,
            );
            let created = (name == op::CREATE_KEY).then_some(e.time);
            let time = e.time;
            if let Some(f) = self.key_entry(key) {
                if let Some(c) = created {
                    f.created = Some(f.created.map_or(c, |old| old.min(c)));
                }
                f.add_policy(time, exposure);
            }
        } else if name == op::DELETE_ALIAS {
            let Some(alias) = alias_arn(e) else {
                return;
            };
            let d = Deletion {
                at: e.time,
                key: key_arn(e).map(str::to_owned),
            };
            if !self.deleted_aliases.contains_key(&alias)
                && self.deleted_aliases.len() >= MAX_ALIASES
            {
                self.dropped += 1;
                return;
            }
            add_deletion(self.deleted_aliases.entry(alias).or_default(), d);
        }
    }

    fn key_entry(&mut self, key: &str) -> Option<&mut KeyFact> {
        if !self.keys.contains_key(key) {
            if self.keys.len() >= MAX_KEYS {
                self.dropped += 1;
                return None;
            }
            self.keys.insert(key.to_owned(), KeyFact::default());
        }
        self.keys.get_mut(key)
    }

    /// Adds another set of facts (order does not matter).
    pub fn merge(&mut self, o: &KeyFacts) {
        for (k, f) in &o.keys {
            let room = self.keys.len() < MAX_KEYS;
            match self.keys.get_mut(k) {
                Some(mine) => mine.merge(f),
                None if room => {
                    self.keys.insert(k.clone(), f.clone());
                }
                None => self.dropped += 1,
            }
        }
        for (a, ds) in &o.deleted_aliases {
            let room = self.deleted_aliases.len() < MAX_ALIASES;
            match self.deleted_aliases.get_mut(a) {
                Some(mine) => {
                    for d in ds {
                        add_deletion(mine, d.clone());
                    }
                }
                None if room => {
                    self.deleted_aliases.insert(a.clone(), ds.clone());
                }
                None => self.dropped += 1,
            }
        }
        self.dropped += o.dropped;
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.deleted_aliases.is_empty()
    }

    /// True when these facts settle an alias event: the target key's creation is
    /// known and, for `CreateAlias`, a deletion of the alias shortly before is known.
    /// An event these facts do not settle may be settled by more logs.
    pub fn settles(&self, e: &KmsEvent) -> bool {
        self.alias_target(e)
            .is_some_and(|t| !t.unknown() && t.moved != AliasMove::New)
    }

    /// What these facts say about an alias event's target (`None` for other events).
    pub fn alias_target(&self, e: &KmsEvent) -> Option<AliasTarget> {
        if !is_alias_event(e) {
            return None;
        }
        let alias_arn = alias_arn(e);
        let alias = alias_arn
            .as_deref()
            .map(alias_name)
            .or_else(|| e.record.request_str("aliasName"))
            .unwrap_or("(alias not named)")
            .to_owned();
        let key = key_arn(e).map(str::to_owned);
        let moved = if e.name() == op::UPDATE_ALIAS {
            AliasMove::Updated
        } else {
            let window = Duration::hours(RECENT_HOURS);
            alias_arn
                .as_ref()
                .and_then(|a| self.deleted_aliases.get(a))
                .and_then(|ds| {
                    ds.iter()
                        .rev()
                        .find(|d| d.at <= e.time && e.time - d.at < window)
                })
                .filter(|d| d.key.is_none() || d.key != key)
                .map_or(AliasMove::New, |d| AliasMove::Recreated {
                    deleted: d.at,
                    previous: d.key.clone(),
                })
        };
        let fact = key.as_deref().and_then(|k| self.keys.get(k));
        Some(AliasTarget {
            alias,
            created: fact.and_then(|f| f.created),
            exposure: fact.and_then(|f| f.policy_at(e.time)).cloned(),
            key,
            moved,
        })
    }
}

fn add_deletion(list: &mut Vec<Deletion>, d: Deletion) {
    if list.contains(&d) {
        return;
    }
    let i = list.partition_point(|x| x.at <= d.at);
    list.insert(i, d);
    if list.len() > MAX_DELETIONS_PER_ALIAS {
        list.remove(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::record::Record;
    use serde_json::json;

    const KEY: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn rec(name: &str, time: &str, params: serde_json::Value, resources: &[&str]) -> Record {
        Record::from_value(json!({
            "eventTime": time, "eventSource": "kms.amazonaws.com", "eventName": name,
            "awsRegion": "us-west-2", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/Alice", "accountId": "111122223333"},
            "requestParameters": params,
            "resources": resources.iter().map(|a| json!({"ARN": a, "accountId": "111122223333", "type": "AWS::KMS::Key"})).collect::<Vec<_>>(),
        }))
        .expect("record")
    }

    fn learn(f: &mut KeyFacts, r: &Record) {
        f.learn(&KmsEvent::analyse(r).expect("event"));
    }

    fn target(f: &KeyFacts, r: &Record) -> AliasTarget {
        f.alias_target(&KmsEvent::analyse(r).expect("event"))
            .expect("alias event")
    }

    #[test]
    fn new_shared_and_unknown_targets() {
        let update = rec(
            "UpdateAlias",
            "2026-10-04T12:00:00Z",
            json!({"aliasName": "alias/payments", "targetKeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
            &["arn:aws:kms:us-west-2:111122223333:alias/payments", KEY],
        );
        let none = KeyFacts::default();
        let t = target(&none, &update);
        assert_eq!(t.alias, "alias/payments");
        assert_eq!(t.key.as_deref(), Some(KEY));
        assert!(t.unknown() && t.is_dangerous(KmsEvent::analyse(&update).expect("e").time));

        let mut f = KeyFacts::default();
        learn(
            &mut f,
            &rec("CreateKey", "2026-10-04T10:00:00Z", json!({}), &[KEY]),
        );
        let at = KmsEvent::analyse(&update).expect("e").time;
        let t = target(&f, &update);
        assert!(t.key_is_new(at) && t.is_dangerous(at));
        assert!(t.notes(at)[1].starts_with("target key created 2 h 0 min"));

        // An old key with the default policy: not dangerous.
        let mut old = KeyFacts::default();
        learn(
            &mut old,
            &rec("CreateKey", "2026-09-01T10:00:00Z", json!({}), &[KEY]),
        );
        assert!(!target(&old, &update).is_dangerous(at));
        // ... until its policy names another account (before the move, not after).
        let shared = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "kms:*"}]});
        let mut later = old.clone();
        learn(
            &mut later,
            &rec(
                "PutKeyPolicy",
                "2026-10-04T13:00:00Z",
                json!({"policy": shared.to_string()}),
                &[KEY],
            ),
        );
        assert!(!target(&later, &update).is_dangerous(at));
        learn(
            &mut old,
            &rec(
                "PutKeyPolicy",
                "2026-10-01T13:00:00Z",
                json!({"policy": shared.to_string()}),
                &[KEY],
            ),
        );
        let t = target(&old, &update);
        assert!(t.is_dangerous(at) && t.only_shared(at));
        assert_eq!(t.outside(), ["999988887777"]);
    }

    #[test]
    fn delete_then_create_is_a_move() {
        let other = "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
        let create = rec(
            "CreateAlias",
            "2026-10-04T12:00:00Z",
            json!({"aliasName": "alias/payments", "targetKeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
            &[KEY, "arn:aws:kms:us-west-2:111122223333:alias/payments"],
        );
        let at = KmsEvent::analyse(&create).expect("e").time;
        let mut f = KeyFacts::default();
        learn(
            &mut f,
            &rec("CreateKey", "2026-10-04T11:00:00Z", json!({}), &[KEY]),
        );
        // A new alias on a new key is how keys are provisioned: not a move.
        assert_eq!(target(&f, &create).moved, AliasMove::New);
        assert!(!target(&f, &create).is_dangerous(at));
        assert!(!f.settles(&KmsEvent::analyse(&create).expect("e")));
        let delete = rec(
            "DeleteAlias",
            "2026-10-04T11:30:00Z",
            json!({"aliasName": "alias/payments"}),
            &["arn:aws:kms:us-west-2:111122223333:alias/payments", other],
        );
        let mut g = KeyFacts::default();
        learn(&mut g, &delete);
        // Facts merged from two files, in either order.
        let mut a = f.clone();
        a.merge(&g);
        let mut b = g.clone();
        b.merge(&f);
        for m in [a, b] {
            let t = target(&m, &create);
            assert!(
                matches!(t.moved, AliasMove::Recreated { ref previous, .. } if previous.as_deref() == Some(other))
            );
            assert!(t.is_dangerous(at));
            assert!(m.settles(&KmsEvent::analyse(&create).expect("e")));
        }
        // Deleted two days before: a new alias.
        let mut h = f.clone();
        learn(
            &mut h,
            &rec(
                "DeleteAlias",
                "2026-10-02T11:30:00Z",
                json!({"aliasName": "alias/payments"}),
                &["arn:aws:kms:us-west-2:111122223333:alias/payments", other],
            ),
        );
        assert_eq!(target(&h, &create).moved, AliasMove::New);
    }

    #[test]
    fn bounded() {
        let mut f = KeyFacts::default();
        for i in 0..(MAX_POLICIES_PER_KEY + 3) {
            learn(
                &mut f,
                &rec(
                    "PutKeyPolicy",
                    &format!("2026-10-04T10:{i:02}:00Z"),
                    json!({"policy": "{\"Statement\": []}"}),
                    &[KEY],
                ),
            );
        }
        assert_eq!(f.keys[KEY].policies.len(), MAX_POLICIES_PER_KEY);
        assert_eq!(f.dropped, 0);
    }
}
