//! Tuning without forking: one configuration file (TOML) that adjusts the catalog's
//! rules, silences known-noisy activity with a reason, and names trusted accounts.
//!
//! ```toml
//! trusted_accounts = ["444455556666"]
//!
//! [rules.data_key_volume]
//! threshold = 500          # enabled, threshold, period_secs, severity
//!
//! [[suppressions]]
//! reason = "S3 Bucket Keys generate data keys for every upload"
//! rules = ["data_key_volume"]          # default: every rule
//! principal = "arn:aws:iam::111122223333:role/ingest-*"
//! expires = "2027-03-31"               # optional; after it, it stops applying
//! ```
//!
//! A suppression matches an event when every criterion it gives matches (principal
//! ARN or pattern with `*`, account, source CIDR, key ARN or alias, operation, user
//! agent pattern, encryption-context pair). Nothing is dropped silently: suppressed
//! matches are counted per rule and per suppression.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::cloudtrail::record::is_account_id;
use crate::detect::catalog::{RULES, Rule, RuleSet, Severity, rule};
use crate::detect::event::KmsEvent;

/// A configuration file that cannot be used: the file, the line and the field.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub struct TuningError {
    pub file: String,
    /// 1-based; 0 when the file could not be read at all.
    pub line: usize,
    /// The setting at fault, as written (`rules.data_key_volume.threshold`), or
    /// `(file)` when no setting can be named.
    pub field: String,
    pub message: String,
}

impl TuningError {
    fn describe(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file, self.message)
        } else {
            format!(
                "{}: line {}: {}: {}",
                self.file, self.line, self.field, self.message
            )
        }
    }
}

/// Overrides for one rule; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_secs: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// One suppression as written in the file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionSpec {
    /// Why this activity is expected. Mandatory.
    pub reason: String,
    /// A short name for reports; default `#N` (its position, from 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The rules it silences; default every rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// The last day it applies (UTC, inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Principal ARN (the role for assumed-role sessions), `*` matches any run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The caller's 12-digit account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Source address range (`10.0.0.0/8`, `2001:db8::/32`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_cidr: Option<String>,
    /// A key ARN or alias the call names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The KMS operation (`eventName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// User agent, `*` matches any run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// An encryption-context pair, `key=value` (`*` in the value matches any run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<String>,
}

/// The file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    trusted_accounts: Vec<String>,
    #[serde(default)]
    rules: BTreeMap<String, RuleOverride>,
    #[serde(default)]
    suppressions: Vec<SuppressionSpec>,
}

/// A checked suppression.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    pub spec: SuppressionSpec,
    /// `id`, or `#N`.
    pub label: String,
    rules: Option<RuleSet>,
    expires: Option<NaiveDate>,
    cidr: Option<IpNet>,
    context: Option<(String, String)>,
}

impl Suppression {
    /// Whether it has expired at `now` (it applies through its `expires` day).
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|d| now.date_naive() > d)
    }

    /// Whether it silences `rule`.
    pub fn covers(&self, rule: &'static Rule) -> bool {
        self.rules.is_none_or(|s| s.contains(rule))
    }

    /// Whether the event matches every criterion given (the expiry is checked
    /// against the event's time, so a re-scan of old logs behaves as then).
    pub fn matches(&self, e: &KmsEvent) -> bool {
        if self.expired(e.time) {
            return false;
        }
        let s = &self.spec;
        let r = e.record;
        s.principal
            .as_deref()
            .is_none_or(|p| wildcard(p, &e.principal.id))
            && s.account
                .as_deref()
                .is_none_or(|a| e.principal.account.as_deref() == Some(a))
            && self.cidr.is_none_or(|net| {
                r.source_ip_address
                    .as_deref()
                    .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
                    .is_some_and(|ip| net.contains(&ip))
            })
            && s.key
                .as_deref()
                .is_none_or(|k| e.keys.iter().any(|kr| kr.id == k) || key_alias_named(r, k))
            && s.operation.as_deref().is_none_or(|op| e.name() == op)
            && s.user_agent
                .as_deref()
                .is_none_or(|ua| r.user_agent.as_deref().is_some_and(|a| wildcard(ua, a)))
            && self.context.as_ref().is_none_or(|(k, v)| {
                r.encryption_context()
                    .iter()
                    .any(|(ck, cv)| ck == k && wildcard(v, cv))
            })
    }
}

/// The alias a call names by `keyId` (`alias/x` or its ARN), for `key = "alias/x"`.
fn key_alias_named(r: &crate::cloudtrail::record::Record, want: &str) -> bool {
    r.request_parameters
        .as_ref()
        .and_then(|p| p.get("keyId"))
        .and_then(|v| v.as_str())
        .is_some_and(|id| id == want || id.ends_with(&format!(":{want}")))
}

/// `pattern` with `*` matching any run of characters (none included), else equal.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for m in middle {
        match rest.find(m) {
            Some(i) => rest = &rest[i + m.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// The effective settings: the catalog's defaults with a configuration file's
/// changes. [`Tuning::default`] is the catalog as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tuning {
    /// Where the settings came from, for messages (`None`: the defaults).
    pub source: Option<String>,
    pub trusted_accounts: Vec<String>,
    overrides: BTreeMap<&'static str, RuleOverride>,
    pub suppressions: Vec<Suppression>,
}

/// One rule's effective settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RuleSettings {
    pub enabled: bool,
    pub threshold: f64,
    pub period_secs: u32,
    pub severity: Severity,
}

/// What [`Tuning::apply`] decided for one event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// The rules that count the event.
    pub rules: RuleSet,
    /// The rules a suppression silenced for it.
    pub suppressed: RuleSet,
}

impl Tuning {
    /// Parses a configuration file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Tuning, TuningError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let raw: File = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(s.start));
            let message = e.message().to_owned();
            TuningError {
                file: file.to_owned(),
                line,
                field: field_of(text, e.span().map(|s| s.start)),
                message,
            }
        })?;
        // Positions of settings, for errors found after parsing.
        let find = |needle: &str, nth: usize| -> usize {
            text.match_indices(needle)
                .nth(nth)
                .map_or(1, |(i, _)| line_of(i))
        };
        let fail = |line: usize, field: String, message: String| TuningError {
            file: file.to_owned(),
            line,
            field,
            message,
        };
        let mut tuning = Tuning {
            source: Some(file.to_owned()),
            ..Tuning::default()
        };
        for (i, a) in raw.trusted_accounts.iter().enumerate() {
            if !is_account_id(a) {
                return Err(fail(
                    find("trusted_accounts", 0),
                    format!("trusted_accounts[{i}]"),
                    format!("{a:?} is not a 12-digit account id"),
                ));
            }
        }
        tuning.trusted_accounts = raw.trusted_accounts;
        for (id, o) in raw.rules {
            let line = find(&format!("[rules.{id}]"), 0);
            let Some(r) = rule(&id) else {
                return Err(fail(
                    line,
                    format!("rules.{id}"),
                    format!("no rule {id:?} in the catalog (see docs/catalog.md)"),
                ));
            };
            if let Some(t) = o.threshold
                && !(t.is_finite() && t >= 0.0)
            {
                return Err(fail(
                    line,
                    format!("rules.{id}.threshold"),
                    format!("{t} is not a count (0 or more)"),
                ));
            }
            if let Some(p) = o.period_secs
                && (p < 60 || p % 60 != 0 || p > 86_400)
            {
                return Err(fail(
                    line,
                    format!("rules.{id}.period_secs"),
                    format!(
                        "{p} is not a CloudWatch alarm period: a multiple of 60 from 60 to 86400"
                    ),
                ));
            }
            tuning.overrides.insert(r.id, o);
        }
        for (n, spec) in raw.suppressions.into_iter().enumerate() {
            let line = find("[[suppressions]]", n);
            let field = |f: &str| format!("suppressions[{n}].{f}");
            if spec.reason.trim().is_empty() {
                return Err(fail(
                    line,
                    field("reason"),
                    "must say why (it is mandatory)".into(),
                ));
            }
            let no_criteria = spec.principal.is_none()
                && spec.account.is_none()
                && spec.source_cidr.is_none()
                && spec.key.is_none()
                && spec.operation.is_none()
                && spec.user_agent.is_none()
                && spec.encryption_context.is_none();
            if no_criteria {
                return Err(fail(
                    line,
                    format!("suppressions[{n}]"),
                    "names nothing to match (principal, account, source_cidr, key, operation, user_agent or encryption_context): it would silence everything".into(),
                ));
            }
            let rules = if spec.rules.is_empty() {
                None
            } else {
                let mut set = RuleSet::default();
                for id in &spec.rules {
                    let Some(r) = rule(id) else {
                        return Err(fail(
                            line,
                            field("rules"),
                            format!("no rule {id:?} in the catalog"),
                        ));
                    };
                    set.insert(r);
                }
                Some(set)
            };
            let expires = match &spec.expires {
                None => None,
                Some(d) => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                    fail(
                        line,
                        field("expires"),
                        format!("{d:?} is not a date (YYYY-MM-DD)"),
                    )
                })?),
            };
            if let Some(a) = &spec.account
                && !is_account_id(a)
            {
                return Err(fail(
                    line,
                    field("account"),
                    format!("{a:?} is not a 12-digit account id"),
                ));
            }
            let cidr = match &spec.source_cidr {
                None => None,
                Some(c) => Some(
                    c.parse::<IpNet>()
                        .or_else(|_| c.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            fail(
                                line,
                                field("source_cidr"),
                                format!(
                                    "{c:?} is not an address range (10.0.0.0/8, 2001:db8::/32)"
                                ),
                            )
                        })?,
                ),
            };
            let context = match &spec.encryption_context {
                None => None,
                Some(p) => Some(
                    p.split_once('=')
                        .filter(|(k, _)| !k.is_empty())
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| {
                            fail(
                                line,
                                field("encryption_context"),
                                format!("{p:?} is not a key=value pair"),
                            )
                        })?,
                ),
            };
            if let Some(op) = &spec.operation
                && crate::detect::operations::operation(op).is_none()
            {
                return Err(fail(
                    line,
                    field("operation"),
                    format!("{op:?} is not a KMS operation keytrail knows"),
                ));
            }
            let label = spec.id.clone().unwrap_or_else(|| format!("#{}", n + 1));
            tuning.suppressions.push(Suppression {
                spec,
                label,
                rules,
                expires,
                cidr,
                context,
            });
        }
        Ok(tuning)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &std::path::Path) -> Result<Tuning, TuningError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| TuningError {
            file: file.clone(),
            line: 0,
            field: "(file)".into(),
            message: format!("cannot read: {e}"),
        })?;
        Tuning::parse(&file, &text)
    }

    /// A rule's effective settings.
    pub fn settings(&self, rule: &'static Rule) -> RuleSettings {
        let o = self.overrides.get(rule.id);
        RuleSettings {
            enabled: o.and_then(|o| o.enabled).unwrap_or(true),
            threshold: o.and_then(|o| o.threshold).unwrap_or(rule.threshold),
            period_secs: o.and_then(|o| o.period_secs).unwrap_or(rule.period_secs),
            severity: o.and_then(|o| o.severity).unwrap_or(rule.severity),
        }
    }

    /// The first suppression that silences `rule` for `e`, if one does.
    pub fn suppression_for(&self, rule: &'static Rule, e: &KmsEvent) -> Option<&Suppression> {
        self.suppressions
            .iter()
            .find(|s| s.covers(rule) && s.matches(e))
    }

    /// How many rules the file changes.
    pub fn changed_rules(&self) -> usize {
        self.overrides.len()
    }

    /// Whether `account` is one the cross-account and grant rules treat as inside.
    pub fn is_trusted(&self, account: &str) -> bool {
        self.trusted_accounts.iter().any(|a| a == account)
    }

    /// The rules that count `e` out of those that match it (`matched`): disabled
    /// rules drop out, and a matching suppression moves a rule to `suppressed`.
    /// `on_suppressed(rule, suppression)` is called for each suppressed match (the
    /// first suppression that covers it).
    pub fn apply(
        &self,
        e: &KmsEvent,
        matched: RuleSet,
        mut on_suppressed: impl FnMut(&'static Rule, &Suppression),
    ) -> Applied {
        if self.overrides.is_empty()
            && self.suppressions.is_empty()
            && self.trusted_accounts.is_empty()
        {
            return Applied {
                rules: matched,
                suppressed: RuleSet::default(),
            };
        }
        let mut out = Applied::default();
        for rule in matched.iter() {
            if !self.settings(rule).enabled {
                continue;
            }
            // Another account, but a trusted one: inside, no match. A rule may name
            // several accounts, comma-separated: all of them must be trusted.
            if rule
                .outside_account(e)
                .is_some_and(|a| a.split(',').all(|a| self.is_trusted(a.trim())))
            {
                continue;
            }
            match self.suppression_for(rule, e) {
                Some(s) => {
                    out.suppressed.insert(rule);
                    on_suppressed(rule, s);
                }
                None => out.rules.insert(rule),
            }
        }
        out
    }

    /// The effective settings, as `keytrail config show` prints them: every rule's
    /// settings, the trusted accounts and the suppressions.
    pub fn show(&self) -> serde_json::Value {
        let rules: serde_json::Map<String, serde_json::Value> = RULES
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(self.settings(r)).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert(
                        "changed".into(),
                        serde_json::Value::Bool(self.overrides.contains_key(r.id)),
                    );
                }
                (r.id.to_owned(), v)
            })
            .collect();
        serde_json::json!({
            "source": self.source.as_deref().unwrap_or("(catalog defaults)"),
            "trusted_accounts": self.trusted_accounts,
            "rules": rules,
            "suppressions": self.suppressions.iter().map(|s| {
                let mut v = serde_json::to_value(&s.spec).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("label".into(), s.label.clone().into());
                }
                v
            }).collect::<Vec<_>>(),
        })
    }
}

/// The dotted name of the setting at `offset` in a TOML text, as far as its table
/// header and key show it.
fn field_of(text: &str, offset: Option<usize>) -> String {
    let Some(offset) = offset else {
        return "(file)".into();
    };
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default();
    let key = line
        .split('=')
        .next()
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    let header = |l: &str| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned();
    let table = if line.trim_start().starts_with('[') {
        Some(header(line.trim()))
    } else {
        before
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(header)
    };
    match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k}"),
        (Some(t), None) => t,
        (None, Some(k)) => k.to_owned(),
        (None, None) => "(file)".into(),
    }
}

#[cfg(test)]
mod tests;
