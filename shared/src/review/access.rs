//! Who can use each key, against who did: the key policy's and the grants' principals
//! for cryptographic operations ([`KeyAccessRules`], read by the inventory) joined
//! with the month's successful cryptographic calls.
//!
//! - **Can, but did not**: a principal a policy statement or a grant names, with no
//!   successful cryptographic call on the key in the `unused_days` before the end of
//!   the month (this month's logs, and the baseline's per-principal last use when it
//!   has one): least-privilege candidates. The account principals a policy names
//!   (the IAM delegation) are listed apart, not as candidates.
//! - **Did, without naming**: a principal that used the key although no statement
//!   and no grant names it. `via` says what most likely let it in:
//!   - `iam`: the key policy delegates to the principal's account (its root or
//!     account id in an `Allow` for cryptographic actions), so IAM policies in that
//!     account decide;
//!   - `wildcard_statement`: an `Allow` for any principal (`"*"`, `NotPrincipal`),
//!     usually narrowed by conditions this analysis does not evaluate;
//!   - `aws_service`: AWS itself (`service:<name>`, such as CloudTrail writing its
//!     logs) with no statement naming the service;
//!   - `unexplained`: none of these (another account's principal the policy does not
//!     delegate to, a principal an unconditional Deny names, or a grant or policy
//!     since removed).
//!
//! A call an AWS service made for a principal (`service_originated`: S3 or EBS
//! calling with the caller's credentials or through `kms:ViaService`) is the
//! principal's own use: KMS checked the principal's permission. It counts as the
//! principal's call, and the row says how many came through a service.
//!
//! Not weighed: the conditions of `Allow` statements (a conditional entry is marked
//! `conditional`), `Deny` statements other than an unconditional one for every
//! cryptographic action naming principals ([`KeyAccessRules::not_weighed`]), grant
//! constraints (marked), service control and permission-boundary policies, and
//! identity policies themselves (not read: `iam` means the key policy allows them to
//! decide, not that one does).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::detect::baseline::Baseline;
use crate::detect::summary::Summary;
use crate::review::inventory::{
    AllowKind, KeyInfo, KeyState, is_account_principal, is_cryptographic,
};
use crate::review::month::Month;

/// Rows kept per list and key; the rest are counted (`*_more`).
pub const MAX_ACCESS_ROWS: usize = 25;

/// Principals kept per key in the baseline's per-principal last use.
pub const MAX_BASELINE_KEY_PRINCIPALS: usize = 200;

/// What let an unnamed principal use a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Iam,
    WildcardStatement,
    AwsService,
    Unexplained,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Iam => "via IAM",
            Via::WildcardStatement => "wildcard statement",
            Via::AwsService => "AWS service",
            Via::Unexplained => "unexplained",
        }
    }
}

/// A principal a statement or grant names that did not use the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusedAccess {
    pub principal: String,
    /// What names it: `statement <Sid or #N>`, `grant <id>`.
    pub via: Vec<String>,
    /// Every naming statement has conditions, or every naming grant constraints:
    /// the principal may be allowed only in some requests.
    pub conditional: bool,
    /// Its last successful cryptographic use of the key, when the baseline knows one
    /// (older than `unused_days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<DateTime<Utc>>,
}

/// A principal that used the key without a statement or grant naming it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnnamedUse {
    pub principal: String,
    /// Successful cryptographic calls this month.
    pub calls: u64,
    /// Of which an AWS service made for it.
    pub through_service: u64,
    pub via: Via,
    /// The statement behind `iam` or `wildcard_statement`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
}

/// One customer-managed key: who can use it, against who did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAccess {
    pub key: String,
    pub aliases: Vec<String>,
    /// False when the key policy was not read (the reason in `notes`).
    pub checked: bool,
    /// Principals (not accounts) a statement or grant lets use the key.
    pub named: u64,
    /// Accounts the key policy delegates to (their IAM policies decide).
    pub iam_delegation: Vec<String>,
    pub can_but_did_not: Vec<UnusedAccess>,
    /// Rows past [`MAX_ACCESS_ROWS`], not listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub can_but_did_not_more: u64,
    pub did_without_naming: Vec<UnnamedUse>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub did_without_naming_more: u64,
    /// What was not read or not weighed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The report section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAccessReview {
    /// False offline (no key policies or grants): then `keys` is empty.
    pub checked: bool,
    /// What "did" means here (the period and its source), or why not checked.
    pub basis: String,
    pub keys: Vec<KeyAccess>,
}

impl KeyAccessReview {
    /// Least-privilege candidates over all keys (listed or not).
    pub fn can_but_did_not(&self) -> u64 {
        self.keys
            .iter()
            .map(|k| k.can_but_did_not.len() as u64 + k.can_but_did_not_more)
            .sum()
    }

    /// Principals that used a key with no statement or grant naming them.
    pub fn did_without_naming(&self) -> u64 {
        self.keys
            .iter()
            .map(|k| k.did_without_naming.len() as u64 + k.did_without_naming_more)
            .sum()
    }
}

/// A principal, normalised for matching: roles and users by account and name (IAM
/// paths and session names dropped), accounts, service principals.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Account(String),
    Role(String, String),
    User(String, String),
    Service(String),
    Other(String),
}

impl Who {
    fn of(p: &str) -> Who {
        let p = p.trim();
        if let Some(s) = p.strip_prefix("service:") {
            return Who::Service(s.to_ascii_lowercase());
        }
        if let Some(a) = p.strip_prefix("account:") {
            return Who::Account(a.to_owned());
        }
        if crate::cloudtrail::record::is_account_id(p) {
            return Who::Account(p.to_owned());
        }
        let parts: Vec<&str> = p.splitn(6, ':').collect();
        if let ["arn", _, service, _, account, resource] = parts[..] {
            let name = |r: &str| r.rsplit('/').next().unwrap_or(r).to_owned();
            match (service, resource) {
                ("iam", "root") => return Who::Account(account.to_owned()),
                ("iam", r) if r.starts_with("role/") => {
                    return Who::Role(account.to_owned(), name(r));
                }
                ("iam", r) if r.starts_with("user/") => {
                    return Who::User(account.to_owned(), name(r));
                }
                ("sts", r) if r.starts_with("assumed-role/") => {
                    let role = r.split('/').nth(1).unwrap_or_default();
                    return Who::Role(account.to_owned(), role.to_owned());
                }
                _ => return Who::Other(p.to_owned()),
            }
        }
        if p.ends_with(".amazonaws.com") || p.ends_with(".amazonaws.com.cn") {
            return Who::Service(p.to_ascii_lowercase());
        }
        Who::Other(p.to_owned())
    }

    fn account(&self) -> Option<&str> {
        match self {
            Who::Account(a) | Who::Role(a, _) | Who::User(a, _) => Some(a),
            _ => None,
        }
    }

    /// Whether a deny or delegation naming `self` covers `other`: the same principal,
    /// or `self` is `other`'s account.
    fn covers(&self, other: &Who) -> bool {
        self == other || matches!(self, Who::Account(a) if other.account() == Some(a))
    }
}

/// One principal that used a key this month (successful cryptographic calls).
#[derive(Debug, Default)]
struct Use {
    calls: u64,
    through_service: u64,
}

/// Per key, per principal: this month's successful cryptographic calls.
fn month_use(u: &Summary) -> BTreeMap<&str, BTreeMap<&str, Use>> {
    let mut out: BTreeMap<&str, BTreeMap<&str, Use>> = BTreeMap::new();
    for (k, s) in &u.usage {
        if k.error_class.is_some() || !is_cryptographic(&k.event_name) {
            continue;
        }
        let e = out
            .entry(k.key.as_str())
            .or_default()
            .entry(k.principal.as_str())
            .or_default();
        e.calls += s.count;
        if k.service_originated {
            e.through_service += s.count;
        }
    }
    out
}

/// The section: per enabled customer-managed key, who can use it against who did.
/// `None` keys (offline): not checked.
pub fn key_access(
    keys: Option<&[KeyInfo]>,
    usage: &Summary,
    baseline: Option<&Baseline>,
    month: Month,
    unused_days: i64,
) -> KeyAccessReview {
    let Some(keys) = keys else {
        return KeyAccessReview {
            checked: false,
            basis: "Not checked: the key inventory comes from the logs (offline, or KMS did not answer ListKeys), so there are no key policies or grants to read (keytrail review --aws).".into(),
            keys: Vec::new(),
        };
    };
    let history = baseline
        .map(|b| &b.key_principals_last_used)
        .filter(|h| !h.is_empty());
    let cutoff = month.end() - Duration::days(unused_days);
    let basis = match history {
        Some(_) => format!(
            "\"Did\" is a successful cryptographic call on the key in the {unused_days} days before the end of {month}: this month's logs and the baseline's last use per principal (kept since the baseline first recorded it). Only customer-managed keys that are enabled are listed: AWS-managed keys' policies are AWS's."
        ),
        None => format!(
            "\"Did\" is a successful cryptographic call on the key in this month's logs only (the baseline has no per-principal history yet): \"did not\" means not used in {month}, not in {unused_days} days. Only customer-managed keys that are enabled are listed: AWS-managed keys' policies are AWS's."
        ),
    };
    let used = month_use(usage);
    let none = BTreeMap::new();
    let out = keys
        .iter()
        .filter(|k| k.is_customer_managed())
        .filter(|k| k.state.as_ref().is_none_or(|s| *s == KeyState::Enabled))
        .map(|k| {
            let used = used.get(k.arn.as_str()).unwrap_or(&none);
            let earlier = history.and_then(|h| h.get(&k.arn));
            one_key(k, used, earlier, cutoff)
        })
        .collect();
    KeyAccessReview {
        checked: true,
        basis,
        keys: out,
    }
}

fn one_key(
    k: &KeyInfo,
    used: &BTreeMap<&str, Use>,
    earlier: Option<&BTreeMap<String, DateTime<Utc>>>,
    cutoff: DateTime<Utc>,
) -> KeyAccess {
    let mut out = KeyAccess {
        key: k.arn.clone(),
        aliases: k.aliases.clone(),
        checked: false,
        named: 0,
        iam_delegation: Vec::new(),
        can_but_did_not: Vec::new(),
        can_but_did_not_more: 0,
        did_without_naming: Vec::new(),
        did_without_naming_more: 0,
        notes: Vec::new(),
    };
    let unread = || {
        k.unavailable
            .iter()
            .filter(|u| u.starts_with("GetKeyPolicy") || u.starts_with("ListGrants"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let Some(rules) = &k.access else {
        out.notes = unread();
        if out.notes.is_empty() {
            out.notes
                .push("not checked: the key policy was not read".into());
        }
        return out;
    };
    let Some(policy) = &rules.policy else {
        out.notes = unread();
        out.notes
            .insert(0, "not checked: the key policy was not read".into());
        return out;
    };
    out.checked = true;
    if rules.grants.is_none() {
        out.notes.push(
            "grants not read: a principal using the key through a grant shows as not named".into(),
        );
        out.notes.extend(unread());
    }
    out.notes.extend(rules.not_weighed.iter().cloned());
    let denied: Vec<Who> = rules.denied.iter().map(|d| Who::of(d)).collect();
    let is_denied = |w: &Who| denied.iter().any(|d| d.covers(w));
    // Named principals: what names them, and whether every naming is conditional.
    let mut named: BTreeMap<Who, (String, Vec<String>, bool)> = BTreeMap::new();
    let mut name = |who: Who, written: &str, via: String, conditional: bool| {
        let e = named
            .entry(who)
            .or_insert_with(|| (written.to_owned(), Vec::new(), true));
        if !e.1.contains(&via) {
            e.1.push(via);
        }
        e.2 &= conditional;
    };
    let mut delegation: Vec<(Who, String)> = Vec::new();
    let mut wildcard: Option<String> = None;
    for a in policy {
        let label = if a.statement.starts_with('#') {
            format!("statement {}", a.statement)
        } else {
            format!("statement {:?}", a.statement)
        };
        match a.kind {
            AllowKind::Account => {
                let who = Who::of(&a.principal);
                if let Some(acct) = who.account()
                    && !out.iam_delegation.iter().any(|x| x == acct)
                {
                    out.iam_delegation.push(acct.to_owned());
                }
                // The account root itself (the root user, or `account:<id>`) is
                // named; the account's other principals are "via IAM".
                name(who.clone(), &a.principal, label.clone(), a.conditional);
                delegation.push((who, label));
            }
            AllowKind::Principal | AllowKind::Service => {
                name(Who::of(&a.principal), &a.principal, label, a.conditional);
            }
            AllowKind::Anyone | AllowKind::AnyoneExcept => {
                wildcard.get_or_insert(label);
            }
        }
    }
    for g in rules.grants.iter().flatten() {
        if !g.allows_cryptographic() {
            continue;
        }
        let Some(grantee) = &g.grantee else { continue };
        let who = Who::of(grantee);
        let label = format!("grant {}", g.grant_id);
        if is_account_principal(grantee) {
            if let Some(acct) = who.account()
                && !out.iam_delegation.iter().any(|x| x == acct)
            {
                out.iam_delegation.push(acct.to_owned());
            }
            delegation.push((who.clone(), label.clone()));
        }
        name(who, grantee, label, g.constraints);
    }
    named.retain(|w, _| !is_denied(w));
    out.named = named
        .keys()
        .filter(|w| !matches!(w, Who::Account(_)))
        .count() as u64;
    let used_by: Vec<(Who, &str, &Use)> = used.iter().map(|(p, u)| (Who::of(p), *p, u)).collect();
    // Can, but did not.
    for (who, (written, via, conditional)) in &named {
        if matches!(who, Who::Account(_)) {
            continue;
        }
        if used_by.iter().any(|(w, _, _)| w == who) {
            continue;
        }
        let last = earlier.and_then(|h| {
            h.iter()
                .filter(|(p, _)| Who::of(p) == *who)
                .map(|(_, t)| *t)
                .max()
        });
        if last.is_some_and(|t| t >= cutoff) {
            continue;
        }
        if out.can_but_did_not.len() < MAX_ACCESS_ROWS {
            out.can_but_did_not.push(UnusedAccess {
                principal: written.clone(),
                via: via.clone(),
                conditional: *conditional,
                last_used: last,
            });
        } else {
            out.can_but_did_not_more += 1;
        }
    }
    // Did, without naming.
    let mut unnamed: Vec<UnnamedUse> = Vec::new();
    for (who, principal, u) in &used_by {
        if named.contains_key(who) {
            continue;
        }
        let (via, statement) = if is_denied(who) {
            (Via::Unexplained, None)
        } else if let Some((_, label)) = delegation.iter().find(|(d, _)| d.covers(who)) {
            (Via::Iam, Some(label.clone()))
        } else if let Some(label) = &wildcard {
            (Via::WildcardStatement, Some(label.clone()))
        } else if matches!(who, Who::Service(_)) {
            (Via::AwsService, None)
        } else {
            (Via::Unexplained, None)
        };
        unnamed.push(UnnamedUse {
            principal: (*principal).to_owned(),
            calls: u.calls,
            through_service: u.through_service,
            via,
            statement,
        });
    }
    unnamed.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| a.principal.cmp(&b.principal))
    });
    if unnamed.len() > MAX_ACCESS_ROWS {
        out.did_without_naming_more = (unnamed.len() - MAX_ACCESS_ROWS) as u64;
        unnamed.truncate(MAX_ACCESS_ROWS);
    }
    out.did_without_naming = unnamed;
    out
}

/// The baseline's per-principal last use after this month: each principal's last
/// successful cryptographic call per key, at most [`MAX_BASELINE_KEY_PRINCIPALS`] per
/// key (principals already kept are updated; new ones past the cap are not kept).
pub fn learn_principal_use(b: &mut Baseline, usage: &Summary) {
    for (k, s) in &usage.usage {
        if k.key == crate::detect::summary::NO_KEY
            || k.error_class.is_some()
            || !is_cryptographic(&k.event_name)
        {
            continue;
        }
        let per = b.key_principals_last_used.entry(k.key.clone()).or_default();
        let full = per.len() >= MAX_BASELINE_KEY_PRINCIPALS;
        match per.get_mut(&k.principal) {
            Some(t) => *t = (*t).max(s.last_seen),
            None if !full => {
                per.insert(k.principal.clone(), s.last_seen);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::inventory::{GrantAccess, KeyAccessRules};
    use serde_json::json;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

    fn rules(policy: serde_json::Value) -> KeyAccessRules {
        KeyAccessRules::from_policy(&policy.to_string()).expect("policy")
    }

    fn principals(r: &KeyAccessRules) -> Vec<(String, AllowKind, String, bool)> {
        r.policy
            .iter()
            .flatten()
            .map(|a| {
                (
                    a.principal.clone(),
                    a.kind,
                    a.statement.clone(),
                    a.conditional,
                )
            })
            .collect()
    }

    #[test]
    fn the_default_key_policy_delegates_to_the_account() {
        let r = rules(
            json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]}),
        );
        assert_eq!(
            principals(&r),
            [(
                "arn:aws:iam::111122223333:root".to_owned(),
                AllowKind::Account,
                "Enable IAM User Permissions".to_owned(),
                false
            )]
        );
        assert!(r.denied.is_empty() && r.not_weighed.is_empty());
    }

    #[test]
    fn who_the_policy_lets_use_the_key() {
        let r = rules(json!({"Statement": [
            // Administration only: not a cryptographic use.
            {"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/KeyAdmin"},
             "Action": ["kms:Create*", "kms:Describe*", "kms:Put*", "kms:ScheduleKeyDeletion"], "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:role/app", "444455556666"]},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
            {"Sid": "Logs", "Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
             "Action": "kms:Encrypt*", "Resource": "*",
             "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:111122223333:*"}}},
            {"Sid": "ViaEbs", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Gen*",
             "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}},
            {"Sid": "AllButEncrypt", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/ops"},
             "NotAction": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
            {"Sid": "NoDescribe", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/ro"},
             "NotAction": "kms:*", "Resource": "*"}
        ]}));
        let s = |p: &str, k: AllowKind, st: &str, c: bool| (p.to_owned(), k, st.to_owned(), c);
        assert_eq!(
            principals(&r),
            [
                s(
                    "arn:aws:iam::111122223333:role/app",
                    AllowKind::Principal,
                    "#2",
                    false
                ),
                s("444455556666", AllowKind::Account, "#2", false),
                s(
                    "logs.us-east-1.amazonaws.com",
                    AllowKind::Service,
                    "Logs",
                    true
                ),
                s("*", AllowKind::Anyone, "ViaEbs", true),
                s(
                    "arn:aws:iam::111122223333:user/ops",
                    AllowKind::Principal,
                    "AllButEncrypt",
                    false
                ),
            ]
        );
    }

    #[test]
    fn unconditional_denies_take_principals_out_others_are_named() {
        let r = rules(json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:role/a", "arn:aws:iam::111122223333:role/b"]},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "NoB", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:role/b"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "NoDecryptForA", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:role/a"},
             "Action": "kms:Decrypt", "Resource": "*"},
            {"Sid": "NotDescribe", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:role/a"},
             "Action": "kms:DescribeKey", "Resource": "*"}
        ]}));
        assert_eq!(r.denied, ["arn:aws:iam::111122223333:role/b"]);
        assert_eq!(
            r.not_weighed,
            [
                "statement \"TlsOnly\" (Deny kms:*): not weighed, it has conditions",
                "statement \"NoDecryptForA\" (Deny kms:Decrypt): not weighed, it denies only some cryptographic actions"
            ]
        );
        let mut key = KeyInfo {
            arn: KEY.into(),
            state: Some(KeyState::Enabled),
            access: Some(r),
            ..KeyInfo::default()
        };
        key.access.as_mut().expect("rules").grants = Some(Vec::new());
        let month = Month::parse("2026-10").expect("month");
        let review = key_access(Some(&[key]), &Summary::default(), None, month, 90);
        let k = &review.keys[0];
        assert_eq!(k.named, 1);
        assert_eq!(
            k.can_but_did_not
                .iter()
                .map(|c| c.principal.as_str())
                .collect::<Vec<_>>(),
            ["arn:aws:iam::111122223333:role/a"]
        );
        assert_eq!(k.notes.len(), 2);
    }

    #[test]
    fn malformed_policies_are_errors_not_panics() {
        assert!(KeyAccessRules::from_policy("{").is_err());
        assert!(KeyAccessRules::from_policy("[]").is_err());
        assert!(KeyAccessRules::from_policy("{\"Statement\": 3}").is_err());
    }

    /// (key, principal, event, error, service-originated, calls).
    type Cell<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, bool, u64);

    fn usage(cells: &[Cell]) -> Summary {
        use crate::detect::summary::{UsageKey, UsageStats};
        let mut s = Summary::default();
        let at: DateTime<Utc> = "2026-10-20T10:00:00Z".parse().expect("time");
        for (key, principal, event, error, service, count) in cells {
            s.usage.insert(
                UsageKey {
                    key: (*key).into(),
                    principal: (*principal).into(),
                    event_name: (*event).into(),
                    error_class: error.map(|_| crate::detect::event::ErrorClass::AccessDenied),
                    service_originated: *service,
                },
                UsageStats {
                    count: *count,
                    first_seen: at,
                    last_seen: at,
                },
            );
        }
        s
    }

    fn grant(id: &str, grantee: &str, ops: &[&str], constraints: bool) -> GrantAccess {
        GrantAccess {
            grant_id: id.into(),
            grantee: Some(grantee.into()),
            operations: ops.iter().map(|o| (*o).to_owned()).collect(),
            constraints,
            retiring_principal: None,
        }
    }

    #[test]
    fn can_against_did() {
        let mut r = rules(json!({"Statement": [
            {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Apps", "Effect": "Allow", "Principal": {"AWS": [
                "arn:aws:iam::111122223333:role/service-role/app",
                "arn:aws:iam::111122223333:role/idle"]}, "Action": "kms:Decrypt", "Resource": "*"},
            {"Sid": "Trail", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*", "Resource": "*"}
        ]}));
        r.grants = Some(vec![
            grant(
                "g-batch",
                "arn:aws:iam::111122223333:role/batch",
                &["Decrypt", "Encrypt"],
                true,
            ),
            grant(
                "g-idle",
                "arn:aws:iam::111122223333:role/idle",
                &["Encrypt"],
                false,
            ),
            grant(
                "g-describe",
                "arn:aws:iam::111122223333:role/describer",
                &["DescribeKey"],
                false,
            ),
        ]);
        let key = KeyInfo {
            arn: KEY.into(),
            aliases: vec!["alias/app".into()],
            state: Some(KeyState::Enabled),
            manager: Some("CUSTOMER".into()),
            access: Some(r),
            ..KeyInfo::default()
        };
        let aws_managed = KeyInfo {
            arn: "arn:aws:kms:us-east-1:111122223333:key/aws".into(),
            manager: Some("AWS".into()),
            ..KeyInfo::default()
        };
        let u = usage(&[
            // The role (its path dropped in the logs' fallback form) and the grantee.
            (
                KEY,
                "arn:aws:iam::111122223333:role/app",
                "Decrypt",
                None,
                false,
                7,
            ),
            (
                KEY,
                "arn:aws:iam::111122223333:role/batch",
                "Encrypt",
                None,
                true,
                3,
            ),
            // Only the root delegation names it: via IAM.
            (
                KEY,
                "arn:aws:iam::111122223333:role/etl",
                "GenerateDataKey",
                None,
                true,
                5,
            ),
            (
                KEY,
                "arn:aws:iam::111122223333:role/etl",
                "Decrypt",
                None,
                false,
                1,
            ),
            // Another account, not delegated to: unexplained.
            (
                KEY,
                "arn:aws:iam::999988887777:role/partner",
                "Decrypt",
                None,
                false,
                2,
            ),
            (
                KEY,
                "service:cloudtrail.amazonaws.com",
                "GenerateDataKey",
                None,
                true,
                9,
            ),
            // Failures and non-cryptographic calls are not use.
            (
                KEY,
                "arn:aws:iam::111122223333:role/idle",
                "Decrypt",
                Some("AccessDenied"),
                false,
                4,
            ),
            (
                KEY,
                "arn:aws:iam::111122223333:role/lister",
                "DescribeKey",
                None,
                false,
                1,
            ),
        ]);
        let month = Month::parse("2026-10").expect("month");
        let review = key_access(Some(&[key.clone(), aws_managed]), &u, None, month, 90);
        assert!(review.checked);
        assert!(
            review.basis.contains("this month's logs only"),
            "{}",
            review.basis
        );
        assert_eq!(review.keys.len(), 1, "AWS-managed keys are left out");
        let k = &review.keys[0];
        assert!(k.checked);
        assert_eq!(k.iam_delegation, ["111122223333"]);
        assert_eq!(k.named, 4, "app, idle, batch and the CloudTrail service");
        assert_eq!(
            k.can_but_did_not,
            [UnusedAccess {
                principal: "arn:aws:iam::111122223333:role/idle".into(),
                via: vec!["statement \"Apps\"".into(), "grant g-idle".into()],
                conditional: false,
                last_used: None,
            }]
        );
        let unnamed: Vec<(&str, u64, u64, Via, Option<&str>)> = k
            .did_without_naming
            .iter()
            .map(|d| {
                (
                    d.principal.as_str(),
                    d.calls,
                    d.through_service,
                    d.via,
                    d.statement.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            unnamed,
            [
                (
                    "arn:aws:iam::111122223333:role/etl",
                    6,
                    5,
                    Via::Iam,
                    Some("statement \"Root\"")
                ),
                (
                    "arn:aws:iam::999988887777:role/partner",
                    2,
                    0,
                    Via::Unexplained,
                    None
                ),
            ]
        );
        assert_eq!(
            (review.can_but_did_not(), review.did_without_naming()),
            (1, 2)
        );

        // A baseline with idle's use 30 days ago: not a candidate within 90 days.
        let mut b = Baseline::default();
        b.key_principals_last_used
            .entry(KEY.into())
            .or_default()
            .insert(
                "arn:aws:iam::111122223333:role/idle".into(),
                "2026-10-01T00:00:00Z".parse().expect("time"),
            );
        let with = key_access(Some(std::slice::from_ref(&key)), &u, Some(&b), month, 90);
        assert!(with.keys[0].can_but_did_not.is_empty());
        assert!(with.basis.contains("90 days before the end of 2026-10"));
        // Within 20 days it is, with its last use.
        let with = key_access(Some(std::slice::from_ref(&key)), &u, Some(&b), month, 20);
        assert_eq!(
            with.keys[0].can_but_did_not[0].last_used,
            Some("2026-10-01T00:00:00Z".parse().expect("time"))
        );
    }

    #[test]
    fn no_statement_for_the_service_and_wildcards() {
        let mut r = rules(json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"}, "Action": "kms:*", "Resource": "*"}]}));
        r.grants = Some(Vec::new());
        let key = |r: KeyAccessRules| KeyInfo {
            arn: KEY.into(),
            access: Some(r),
            ..KeyInfo::default()
        };
        let u = usage(&[
            (
                KEY,
                "service:cloudtrail.amazonaws.com",
                "GenerateDataKey",
                None,
                true,
                1,
            ),
            (
                KEY,
                "arn:aws:iam::111122223333:role/other",
                "Decrypt",
                None,
                false,
                1,
            ),
        ]);
        let month = Month::parse("2026-10").expect("month");
        let review = key_access(Some(&[key(r)]), &u, None, month, 90);
        let via: Vec<Via> = review.keys[0]
            .did_without_naming
            .iter()
            .map(|d| d.via)
            .collect();
        // No account delegation: another role of the account is unexplained.
        assert_eq!(via, [Via::Unexplained, Via::AwsService]);

        let mut w = rules(json!({"Statement": [
            {"Sid": "Any", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}}}]}));
        w.grants = None;
        let review = key_access(Some(&[key(w)]), &u, None, month, 90);
        let k = &review.keys[0];
        assert!(
            k.did_without_naming
                .iter()
                .all(|d| d.via == Via::WildcardStatement)
        );
        assert!(k.notes[0].starts_with("grants not read"), "{:?}", k.notes);
    }

    #[test]
    fn not_read_and_offline_are_not_checked() {
        let month = Month::parse("2026-10").expect("month");
        let off = key_access(None, &Summary::default(), None, month, 90);
        assert!(!off.checked && off.keys.is_empty());
        assert!(
            off.basis
                .starts_with("Not checked: the key inventory comes from the logs")
        );
        let refused = KeyInfo {
            arn: KEY.into(),
            unavailable: vec!["GetKeyPolicy: AccessDeniedException".into()],
            access: Some(KeyAccessRules::default()),
            ..KeyInfo::default()
        };
        let r = key_access(Some(&[refused]), &Summary::default(), None, month, 90);
        assert!(!r.keys[0].checked);
        assert_eq!(
            r.keys[0].notes,
            [
                "not checked: the key policy was not read",
                "GetKeyPolicy: AccessDeniedException"
            ]
        );
    }

    #[test]
    fn lists_are_capped_and_counted() {
        let mut r = rules(json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]}));
        r.grants = Some(
            (0..30)
                .map(|i| {
                    grant(
                        &format!("g{i}"),
                        &format!("arn:aws:iam::111122223333:role/r{i:02}"),
                        &["Decrypt"],
                        false,
                    )
                })
                .collect(),
        );
        let names: Vec<String> = (0..40)
            .map(|i| format!("arn:aws:iam::111122223333:user/u{i:02}"))
            .collect();
        let cells: Vec<Cell> = names
            .iter()
            .map(|n| (KEY, n.as_str(), "Decrypt", None, false, 1))
            .collect();
        let key = KeyInfo {
            arn: KEY.into(),
            access: Some(r),
            ..KeyInfo::default()
        };
        let month = Month::parse("2026-10").expect("month");
        let review = key_access(Some(&[key]), &usage(&cells), None, month, 90);
        let k = &review.keys[0];
        assert_eq!((k.can_but_did_not.len(), k.can_but_did_not_more), (25, 5));
        assert_eq!(
            (k.did_without_naming.len(), k.did_without_naming_more),
            (25, 15)
        );
        assert_eq!(
            (review.can_but_did_not(), review.did_without_naming()),
            (30, 40)
        );
    }

    #[test]
    fn the_baseline_learns_per_principal_use_with_a_cap() {
        let mut b = Baseline::default();
        let names: Vec<String> = (0..210)
            .map(|i| format!("arn:aws:iam::111122223333:user/u{i:03}"))
            .collect();
        let mut cells: Vec<Cell> = names
            .iter()
            .map(|n| (KEY, n.as_str(), "Decrypt", None, false, 1))
            .collect();
        cells.push((
            KEY,
            "arn:aws:iam::111122223333:role/x",
            "DescribeKey",
            None,
            false,
            1,
        ));
        learn_principal_use(&mut b, &usage(&cells));
        let per = &b.key_principals_last_used[KEY];
        assert_eq!(per.len(), MAX_BASELINE_KEY_PRINCIPALS);
        assert!(!per.contains_key("arn:aws:iam::111122223333:role/x"));
    }

    #[test]
    fn principals_match_across_forms() {
        assert_eq!(
            Who::of("arn:aws:iam::1:role/service-role/app"),
            Who::of("arn:aws:sts::1:assumed-role/app/session")
        );
        assert_eq!(
            Who::of("111122223333"),
            Who::of("arn:aws:iam::111122223333:root")
        );
        assert_eq!(
            Who::of("account:111122223333"),
            Who::Account("111122223333".into())
        );
        assert_eq!(
            Who::of("service:logs.amazonaws.com"),
            Who::of("logs.amazonaws.com")
        );
        assert_ne!(
            Who::of("arn:aws:iam::1:role/app"),
            Who::of("arn:aws:iam::2:role/app")
        );
        assert_ne!(
            Who::of("arn:aws:iam::1:role/app"),
            Who::of("arn:aws:iam::1:user/app")
        );
        assert!(Who::Account("1".into()).covers(&Who::of("arn:aws:iam::1:user/x")));
        assert!(!Who::Account("1".into()).covers(&Who::of("arn:aws:iam::2:user/x")));
    }
}
