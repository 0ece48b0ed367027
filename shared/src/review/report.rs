//! The monthly review: a month of usage summaries, the key inventory and the trail's
//! configuration, turned into a compliance report, plus the baseline carried from
//! month to month (known source IPs per principal, last use per key, monthly totals).
//!
//! Everything here is pure: the Lambda and the CLI gather the inputs (from S3, KMS and
//! CloudTrail, or from local logs alone) and render or store the result.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::cloudtrail::record::is_account_id;
use crate::detect::baseline::{Baseline, MonthTotals, ip_prefix};
use crate::detect::catalog::{RULES, Rule, rule};
use crate::detect::event::ErrorClass;
use crate::detect::keys::arn_account;
use crate::detect::summary::{NO_KEY, Summary};
use crate::review::access::{KeyAccessReview, key_access, learn_principal_use};
use crate::review::inventory::{
    KeyInfo, KeyState, is_cryptographic, kms_arn_account_region, states_from_logs,
};
use crate::review::month::{Coverage, Month};
use crate::review::trail::{CheckStatus, TrailCheck, TrailInfo, trail_checks};

pub const REPORT_SCHEMA: &str = "keytrail.review";

pub const REPORT_VERSION: u32 = 1;

pub const BASELINE_VERSION: u32 = 1;

/// Known IPs and prefixes kept per principal in the baseline.
pub const MAX_BASELINE_IPS: usize = 50;

/// Review settings.
#[derive(Debug, Clone)]
pub struct ReviewSettings {
    pub unused_days: i64,
    pub required_tags: Vec<String>,
    /// The configuration file's suppressions, reported with what they matched.
    pub tuning: std::sync::Arc<crate::detect::tuning::Tuning>,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        ReviewSettings {
            unused_days: 90,
            required_tags: vec!["purpose".into(), "owner".into(), "classification".into()],
            tuning: Default::default(),
        }
    }
}

/// Everything the review needs.
pub struct ReviewInput<'a> {
    pub month: Month,
    pub usage: &'a Summary,
    pub coverage: Coverage,
    /// `None` offline: the inventory is built from the logs.
    pub keys: Option<Vec<KeyInfo>>,
    /// `None` offline: the trail checks are "not checked".
    pub trails: Option<Vec<TrailInfo>>,
    pub baseline: Option<&'a Baseline>,
    pub settings: &'a ReviewSettings,
    pub generated_at: DateTime<Utc>,
    /// The accounts and regions whose logs were read (from the log locations);
    /// empty when unknown, then the report takes them from the key ARNs in the usage.
    pub scope: Scope,
    /// Whether the caller saves the baseline after this review (the Lambda always
    /// does; the CLI with `--baseline-out`).
    pub baseline_saved: bool,
}

/// The accounts and regions a review covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

impl Scope {
    /// Sorted, without duplicates or empty names.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Scope {
        let mut accounts = BTreeSet::new();
        let mut regions = BTreeSet::new();
        for (a, r) in pairs {
            if !a.is_empty() {
                accounts.insert(a.to_owned());
            }
            if !r.is_empty() {
                regions.insert(r.to_owned());
            }
        }
        Scope {
            accounts: accounts.into_iter().collect(),
            regions: regions.into_iter().collect(),
        }
    }
}

/// A customer-managed key whose automatic rotation is off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RotationOff {
    pub key: String,
    pub aliases: Vec<String>,
    pub state: Option<KeyState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessRow {
    pub key: String,
    pub principal: String,
    pub event_name: String,
    pub count: u64,
    pub failures: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryRow {
    pub key: String,
    pub aliases: Vec<String>,
    pub state: Option<KeyState>,
    pub spec: Option<String>,
    pub usage: Option<String>,
    pub manager: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub deletion_date: Option<DateTime<Utc>>,
    pub rotation_enabled: Option<bool>,
    pub tags: BTreeMap<String, String>,
    pub calls_in_period: u64,
    pub last_used: Option<DateTime<Utc>>,
    pub unavailable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnusedKey {
    pub key: String,
    pub aliases: Vec<String>,
    pub last_used: Option<DateTime<Utc>>,
    pub days_unused: Option<i64>,
    pub basis: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingKey {
    pub key: String,
    pub aliases: Vec<String>,
    pub deletion_date: Option<DateTime<Utc>>,
    pub used_in_period: bool,
    pub uses: u64,
    pub severity: PendingSeverity,
}

/// How serious a key pending deletion is: critical when it was still used this
/// month (serialised `critical` / `info`, as the strings it replaced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PendingSeverity {
    Critical,
    Info,
}

/// Code that compared the former string (`severity == "critical"`) still works.
impl PartialEq<&str> for PendingSeverity {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PendingSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            PendingSeverity::Critical => "critical",
            PendingSeverity::Info => "info",
        }
    }
}

/// One kind of key state change on one key this month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleEntry {
    pub key: String,
    pub event_name: String,
    pub count: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Who made the calls (at most [`MAX_LIFECYCLE_PRINCIPALS`]).
    pub principals: Vec<String>,
    pub level: LifecycleLevel,
}

/// How a state change reads in the timeline: `info` for changes that create a key
/// or give it back (`CreateKey`, `EnableKey`, `CancelKeyDeletion`), `warning` for
/// those that take it away (`DisableKey`, `ScheduleKeyDeletion`, `DeleteKey`; the
/// findings have their rules' severities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleLevel {
    Info,
    Warning,
}

impl LifecycleLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleLevel::Info => "info",
            LifecycleLevel::Warning => "warning",
        }
    }

    /// The level of a key state change, `None` for other events.
    pub fn of(event_name: &str) -> Option<LifecycleLevel> {
        match event_name {
            "CreateKey" | "EnableKey" | "CancelKeyDeletion" => Some(LifecycleLevel::Info),
            "DisableKey" | "ScheduleKeyDeletion" | "DeleteKey" => Some(LifecycleLevel::Warning),
            _ => None,
        }
    }
}

/// Principals listed per lifecycle entry.
pub const MAX_LIFECYCLE_PRINCIPALS: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissingTags {
    pub key: String,
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossAccount {
    pub principal: String,
    pub account: String,
    pub keys: Vec<String>,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeeklyFindings {
    /// The Monday that starts the ISO week.
    pub week: String,
    #[serde(with = "crate::detect::catalog::rule_by_id")]
    pub rule: &'static Rule,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailingPrincipal {
    pub principal: String,
    pub failures: u64,
    pub top_error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub previous_month: String,
    pub previous: Option<MonthTotals>,
    pub current: MonthTotals,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<u64>,
}

/// Data for the HTML charts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Charts {
    pub days: Vec<String>,
    pub calls_per_key: Vec<Series>,
    pub failures_per_day: Vec<u64>,
    /// Per principal: operation -> calls.
    pub operations_per_principal: Vec<(String, Vec<(String, u64)>)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Numbers {
    pub kms_calls: u64,
    pub failures: u64,
    pub keys_in_inventory: u64,
    pub customer_managed_keys: u64,
    pub aws_managed_keys: u64,
    pub keys_used: u64,
    pub unused_keys: u64,
    pub keys_pending_deletion: u64,
    pub pending_deletion_used: u64,
    pub principals: u64,
    pub new_principals: u64,
    pub cross_account_principals: u64,
    pub trail_checks_failed: u64,
    /// Customer-managed keys (not pending deletion) whose automatic rotation is off;
    /// 0 also when rotation was not checked (offline).
    #[serde(default)]
    pub rotation_disabled: u64,
    /// Key ARNs that records listed past the per-record cap, not read (the summary's
    /// `keys_beyond_cap`); absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub keys_beyond_cap: u64,
    /// Cross-account calls delivered to both accounts and counted once (the key
    /// owner's copy taken out, the caller's kept); absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub calls_counted_once: u64,
    /// Principals a key policy statement or grant names that did not use the key
    /// (`key_access`); 0 also when not checked (offline).
    #[serde(default)]
    pub can_but_did_not: u64,
    /// Principals that used a key with no statement or grant naming them.
    #[serde(default)]
    pub did_without_naming: u64,
    /// Copies of cross-account calls past the tracking cap, which may be counted
    /// twice; absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub copies_not_deduplicated: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The report (schema `keytrail.review`, version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub version: u32,
    pub generated_at: DateTime<Utc>,
    pub month: String,
    pub inventory_source: String,
    /// The accounts and regions reviewed.
    #[serde(default)]
    pub scope: Scope,
    pub coverage: Coverage,
    pub summary: Numbers,
    pub trail_checks: Vec<TrailCheck>,
    pub keys: Vec<InventoryRow>,
    pub aws_managed_keys: Vec<InventoryRow>,
    pub access_inventory: Vec<AccessRow>,
    pub unused_keys: Vec<UnusedKey>,
    pub keys_pending_deletion: Vec<PendingKey>,
    pub keys_missing_tags: Vec<MissingTags>,
    pub new_principals: Vec<String>,
    pub baseline_available: bool,
    /// Whether the baseline after this review is saved (and so used next month).
    #[serde(default)]
    pub baseline_saved: bool,
    /// Customer-managed keys whose rotation is off (not checked offline: empty).
    #[serde(default)]
    pub keys_rotation_disabled: Vec<RotationOff>,
    pub cross_account_principals: Vec<CrossAccount>,
    pub findings_per_week: Vec<WeeklyFindings>,
    pub top_failing_principals: Vec<FailingPrincipal>,
    /// Each configured suppression with the rule matches it silenced this month,
    /// and any that silenced matches but is no longer configured. Absent when there
    /// are none, so reviews without a configuration file are unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressions: Vec<SuppressionUse>,
    /// The month's successful key state changes, per key and event, in time order
    /// (`CreateKey`, `EnableKey`, `DisableKey`, `ScheduleKeyDeletion`,
    /// `CancelKeyDeletion`, `DeleteKey`). Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_lifecycle: Vec<LifecycleEntry>,
    pub trend: Trend,
    pub charts: Charts,
    /// Accounts and Regions whose key inventory could not be read (the member role
    /// was refused, or KMS was): their keys are missing from the inventory. Absent
    /// when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory_refusals: Vec<crate::review::inventory::InventoryRefusal>,
    /// Who can use each key (key policy and grants) against who did this month;
    /// not checked offline.
    #[serde(default)]
    pub key_access: KeyAccessReview,
}

/// Builds the report: each section from the month's usage, the key inventory and the
/// trail configuration, then the summary numbers that count them.
/// A suppression and what it silenced in the month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressionUse {
    /// Its `id`, or `#N`.
    pub suppression: String,
    /// Its reason; empty when it is no longer configured.
    pub reason: String,
    /// `active`, `expired` (its `expires` day has passed: it no longer applies) or
    /// `not configured` (in the month's summaries, no longer in the file).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Matches silenced, over all rules.
    pub matches: u64,
    /// Matches silenced per rule id.
    pub by_rule: BTreeMap<String, u64>,
}

/// The month's silenced matches per suppression: configured ones first (in file
/// order, with 0 when they matched nothing: candidates for removal), then labels
/// the summaries hold that the file no longer has.
fn suppression_uses(
    u: &Summary,
    tuning: &crate::detect::tuning::Tuning,
    now: DateTime<Utc>,
) -> Vec<SuppressionUse> {
    let mut by_label: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    for (rule, per) in &u.suppressed {
        for (label, n) in per {
            *by_label
                .entry(label.as_str())
                .or_default()
                .entry(rule.clone())
                .or_default() += n;
        }
    }
    let mut out: Vec<SuppressionUse> = tuning
        .suppressions
        .iter()
        .map(|s| {
            let by_rule = by_label.remove(s.label.as_str()).unwrap_or_default();
            SuppressionUse {
                suppression: s.label.clone(),
                reason: s.spec.reason.clone(),
                status: if s.expired(now) { "expired" } else { "active" }.into(),
                expires: s.spec.expires.clone(),
                matches: by_rule.values().sum(),
                by_rule,
            }
        })
        .collect();
    out.extend(by_label.into_iter().map(|(label, by_rule)| SuppressionUse {
        suppression: label.to_owned(),
        reason: String::new(),
        status: "not configured".into(),
        expires: None,
        matches: by_rule.values().sum(),
        by_rule,
    }));
    out
}

pub fn build_report(input: &ReviewInput) -> Report {
    let u = input.usage;
    let month = input.month;
    let key_use = KeyUse::of(u);
    let principals = principals(u);
    let (inventory_source, infos) = key_inventory(input, &key_use);
    let (customer, aws): (Vec<&KeyInfo>, Vec<&KeyInfo>) =
        infos.iter().partition(|k| k.is_customer_managed());
    let (pending, active): (Vec<&KeyInfo>, Vec<&KeyInfo>) = customer
        .iter()
        .copied()
        .partition(|k| is_pending_deletion(k));
    let row = |k: &&KeyInfo| inventory_row(k, &key_use, input.baseline);
    let mut report = Report {
        schema: REPORT_SCHEMA.into(),
        version: REPORT_VERSION,
        generated_at: input.generated_at,
        month: month.to_string(),
        inventory_source: inventory_source.into(),
        scope: scope(input),
        coverage: input.coverage.clone(),
        // Counted from the sections once they are built (below).
        summary: Numbers::default(),
        trail_checks: checks(input.trails.as_deref()),
        keys: customer.iter().map(row).collect(),
        aws_managed_keys: aws.iter().map(row).collect(),
        access_inventory: access_inventory(u),
        unused_keys: unused_keys(&active, input, &key_use),
        keys_pending_deletion: keys_pending_deletion(&pending, &key_use),
        keys_missing_tags: keys_missing_tags(&active, input),
        new_principals: new_principals(&principals, input.baseline, month),
        baseline_available: input.baseline.is_some(),
        baseline_saved: input.baseline_saved,
        keys_rotation_disabled: keys_rotation_disabled(&active, input),
        cross_account_principals: cross_account_principals(u),
        findings_per_week: findings_per_week(u),
        top_failing_principals: top_failing_principals(u),
        suppressions: suppression_uses(u, &input.settings.tuning, input.generated_at),
        key_lifecycle: key_lifecycle(u),
        trend: trend(
            month,
            month_totals(u, &principals, &key_use),
            input.baseline,
        ),
        charts: charts(month, u, &key_use),
        // The sources fill it in (the organisation inventory's refusals).
        inventory_refusals: Vec::new(),
        key_access: key_access(
            input.keys.as_deref(),
            u,
            input.baseline,
            month,
            input.settings.unused_days,
        ),
    };
    report.summary = numbers(&report, &key_use, u);
    report
}

/// What the month's usage says about each key.
struct KeyUse {
    /// Calls naming the key, of any operation.
    calls: BTreeMap<String, u64>,
    /// Cryptographic calls (successful or not).
    crypto_calls: BTreeMap<String, u64>,
    /// The last successful cryptographic call.
    last_crypto: BTreeMap<String, DateTime<Utc>>,
}

impl KeyUse {
    fn of(u: &Summary) -> KeyUse {
        let mut k = KeyUse {
            calls: BTreeMap::new(),
            crypto_calls: BTreeMap::new(),
            last_crypto: BTreeMap::new(),
        };
        for (c, s) in u.usage.iter().filter(|(c, _)| c.key != NO_KEY) {
            *k.calls.entry(c.key.clone()).or_default() += s.count;
            if is_cryptographic(&c.event_name) {
                *k.crypto_calls.entry(c.key.clone()).or_default() += s.count;
                if c.error_class.is_none() {
                    let e = k.last_crypto.entry(c.key.clone()).or_insert(s.last_seen);
                    *e = (*e).max(s.last_seen);
                }
            }
        }
        k
    }

    /// The key's last cryptographic use: this month's, the baseline's or KMS's own.
    fn last_used(&self, key: &KeyInfo, baseline: Option<&Baseline>) -> Option<DateTime<Utc>> {
        [
            self.last_crypto.get(&key.arn).copied(),
            baseline.and_then(|b| b.keys_last_used.get(&key.arn).copied()),
            key.kms_last_used,
        ]
        .into_iter()
        .flatten()
        .max()
    }
}

/// Every principal that made a call.
fn principals(u: &Summary) -> BTreeSet<String> {
    u.usage.keys().map(|k| k.principal.clone()).collect()
}

/// The month's calls and failures (per event: an event naming two keys is one call).
fn month_totals(u: &Summary, principals: &BTreeSet<String>, key_use: &KeyUse) -> MonthTotals {
    let (mut calls, mut failures) = (0u64, 0u64);
    for d in u.days.values() {
        calls += d.calls;
        failures += d.failures;
    }
    MonthTotals {
        kms_calls: calls,
        failures,
        principals: principals.len() as u64,
        keys_used: key_use.last_crypto.len() as u64,
    }
}

/// The key inventory and where it comes from: KMS, or (offline) the key ARNs in the
/// logs with the state their lifecycle calls leave.
fn key_inventory(input: &ReviewInput, key_use: &KeyUse) -> (&'static str, Vec<KeyInfo>) {
    if let Some(k) = &input.keys {
        return ("kms", k.clone());
    }
    let states = states_from_logs(input.usage);
    let infos = key_use
        .calls
        .keys()
        .filter(|k| k.contains(":key/"))
        .map(|k| KeyInfo {
            arn: k.clone(),
            state: states.get(k.as_str()).cloned(),
            unavailable: vec![
                "state inferred from lifecycle events; rotation and tags: not checked (offline)"
                    .into(),
            ],
            ..KeyInfo::default()
        })
        .collect();
    ("logs (offline)", infos)
}

fn inventory_row(k: &KeyInfo, key_use: &KeyUse, baseline: Option<&Baseline>) -> InventoryRow {
    InventoryRow {
        key: k.arn.clone(),
        aliases: k.aliases.clone(),
        state: k.state.clone(),
        spec: k.spec.clone(),
        usage: k.usage.clone(),
        manager: k.manager.clone(),
        created: k.created,
        deletion_date: k.deletion_date,
        rotation_enabled: k.rotation_enabled,
        tags: k.tags.clone(),
        calls_in_period: key_use.calls.get(&k.arn).copied().unwrap_or(0),
        last_used: key_use.last_used(k, baseline),
        unavailable: k.unavailable.clone(),
    }
}

/// The month's successful key state changes, per key and event, in time order.
fn key_lifecycle(u: &Summary) -> Vec<LifecycleEntry> {
    let mut by: BTreeMap<(&str, &str), LifecycleEntry> = BTreeMap::new();
    for (k, s) in u.usage.iter().filter(|(k, _)| k.error_class.is_none()) {
        let Some(level) = LifecycleLevel::of(&k.event_name) else {
            continue;
        };
        if k.key == NO_KEY {
            continue;
        }
        let e = by
            .entry((k.key.as_str(), k.event_name.as_str()))
            .or_insert_with(|| LifecycleEntry {
                key: k.key.clone(),
                event_name: k.event_name.clone(),
                count: 0,
                first_seen: s.first_seen,
                last_seen: s.last_seen,
                principals: Vec::new(),
                level,
            });
        e.count += s.count;
        e.first_seen = e.first_seen.min(s.first_seen);
        e.last_seen = e.last_seen.max(s.last_seen);
        if e.principals.len() < MAX_LIFECYCLE_PRINCIPALS && !e.principals.contains(&k.principal) {
            e.principals.push(k.principal.clone());
        }
    }
    let mut out: Vec<LifecycleEntry> = by.into_values().collect();
    out.sort_by(|a, b| {
        (a.key.as_str(), a.first_seen, a.event_name.as_str()).cmp(&(
            b.key.as_str(),
            b.first_seen,
            b.event_name.as_str(),
        ))
    });
    out
}

/// A key whose state is not known counts as enabled.
fn is_pending_deletion(k: &KeyInfo) -> bool {
    k.state.as_ref().is_some_and(KeyState::is_pending_deletion)
}

/// Customer-managed keys pending deletion; critical when still used this month.
fn keys_pending_deletion(pending: &[&KeyInfo], key_use: &KeyUse) -> Vec<PendingKey> {
    pending
        .iter()
        .map(|k| {
            let uses = key_use.crypto_calls.get(&k.arn).copied().unwrap_or(0);
            PendingKey {
                key: k.arn.clone(),
                aliases: k.aliases.clone(),
                deletion_date: k.deletion_date,
                used_in_period: uses > 0,
                uses,
                severity: if uses > 0 {
                    PendingSeverity::Critical
                } else {
                    PendingSeverity::Info
                },
            }
        })
        .collect()
}

/// Enabled customer-managed keys (of those not pending deletion) with no cryptographic
/// use in the last `unused_days` before the end of the month.
fn unused_keys(active: &[&KeyInfo], input: &ReviewInput, key_use: &KeyUse) -> Vec<UnusedKey> {
    let as_of = input.month.end();
    let cutoff = as_of - Duration::days(input.settings.unused_days);
    let mut unused = Vec::new();
    for k in active {
        if k.state.as_ref().is_some_and(|s| *s != KeyState::Enabled) {
            continue;
        }
        let last = key_use.last_used(k, input.baseline);
        let too_young = k.created.is_some_and(|c| c > cutoff);
        let is_unused = last.is_none_or(|t| t < cutoff) && !too_young;
        // KMS's own tracking only proves "never used" from its tracking start.
        let tracking_covers = k.kms_tracking_start.is_none_or(|t| t <= cutoff) || last.is_some();
        if is_unused && (input.keys.is_none() || tracking_covers || input.baseline.is_some()) {
            unused.push(UnusedKey {
                key: k.arn.clone(),
                aliases: k.aliases.clone(),
                last_used: last,
                days_unused: last.map(|t| (as_of - t).num_days()),
                basis: if last.is_some() {
                    format!(
                        "last cryptographic use more than {} days before the end of {}",
                        input.settings.unused_days, input.month
                    )
                } else {
                    "no cryptographic use recorded (CloudTrail, baseline or GetKeyLastUsage)".into()
                },
            });
        }
    }
    unused
}

/// Keys (not pending deletion) whose automatic rotation is off, where it applies; not
/// checked offline.
fn keys_rotation_disabled(active: &[&KeyInfo], input: &ReviewInput) -> Vec<RotationOff> {
    if input.keys.is_none() {
        return Vec::new();
    }
    active
        .iter()
        .filter(|k| k.rotation_applies() && k.rotation_enabled == Some(false))
        .map(|k| RotationOff {
            key: k.arn.clone(),
            aliases: k.aliases.clone(),
            state: k.state.clone(),
        })
        .collect()
}

/// Keys (not pending deletion) without some of the required tags; not checked offline.
fn keys_missing_tags(active: &[&KeyInfo], input: &ReviewInput) -> Vec<MissingTags> {
    if input.keys.is_none() {
        return Vec::new();
    }
    active
        .iter()
        .filter_map(|k| {
            let missing: Vec<String> = input
                .settings
                .required_tags
                .iter()
                .filter(|t| !k.tags.contains_key(*t))
                .cloned()
                .collect();
            (!missing.is_empty()).then(|| MissingTags {
                key: k.arn.clone(),
                missing,
            })
        })
        .collect()
}

/// Key x principal x operation, by key, then most calls first.
fn access_inventory(u: &Summary) -> Vec<AccessRow> {
    let mut access: BTreeMap<(&str, &str, &str), AccessRow> = BTreeMap::new();
    for (k, s) in &u.usage {
        let row = access
            .entry((&k.key, &k.principal, &k.event_name))
            .or_insert(AccessRow {
                key: k.key.clone(),
                principal: k.principal.clone(),
                event_name: k.event_name.clone(),
                count: 0,
                failures: 0,
                first_seen: s.first_seen,
                last_seen: s.last_seen,
            });
        row.count += s.count;
        row.first_seen = row.first_seen.min(s.first_seen);
        row.last_seen = row.last_seen.max(s.last_seen);
        if k.error_class.is_some() {
            row.failures += s.count;
        }
    }
    let mut rows: Vec<AccessRow> = access.into_values().collect();
    rows.sort_by(|a, b| {
        a.key
            .cmp(&b.key)
            .then(b.count.cmp(&a.count))
            .then(a.principal.cmp(&b.principal))
    });
    rows
}

/// Principals first seen this month (or in no month the baseline knows); none
/// without a baseline.
fn new_principals(
    principals: &BTreeSet<String>,
    baseline: Option<&Baseline>,
    month: Month,
) -> Vec<String> {
    let Some(b) = baseline else {
        return Vec::new();
    };
    let month = month.to_string();
    principals
        .iter()
        .filter(|p| {
            b.principals.get(*p).is_none_or(|k| {
                k.first_seen_month
                    .as_deref()
                    .is_none_or(|m| m >= month.as_str())
            })
        })
        .cloned()
        .collect()
}

fn principal_account(p: &str) -> Option<String> {
    p.strip_prefix("account:")
        .map(str::to_owned)
        .or_else(|| arn_account(p).map(str::to_owned))
        .filter(|a| is_account_id(a))
}

/// Principals that used keys of another account, with the keys and their calls.
fn cross_account_principals(u: &Summary) -> Vec<CrossAccount> {
    let mut cross: BTreeMap<&str, (String, BTreeSet<&str>, u64)> = BTreeMap::new();
    for (k, s) in u.usage.iter().filter(|(k, _)| k.key != NO_KEY) {
        if let (Some(pa), Some(ka)) = (principal_account(&k.principal), arn_account(&k.key))
            && pa != ka
        {
            let c = cross
                .entry(&k.principal)
                .or_insert_with(|| (pa, BTreeSet::new(), 0));
            c.1.insert(&k.key);
            c.2 += s.count;
        }
    }
    cross
        .into_iter()
        .map(|(principal, (account, keys, count))| CrossAccount {
            principal: principal.to_owned(),
            account,
            keys: keys.into_iter().map(str::to_owned).collect(),
            count,
        })
        .collect()
}

/// Rule matches per ISO week (its Monday), in week order, then catalog order.
fn findings_per_week(u: &Summary) -> Vec<WeeklyFindings> {
    // (week, catalog index): a summary's rule ids come from the same catalog; an id it
    // no longer has (a summary written by another version) has no rule to report.
    let mut weekly: BTreeMap<(String, usize), u64> = BTreeMap::new();
    for (day, c) in &u.days {
        let Ok(d) = NaiveDate::parse_from_str(day, "%Y-%m-%d") else {
            continue;
        };
        let monday = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
        for (id, n) in &c.rules {
            if let Some(rule) = rule(id) {
                *weekly
                    .entry((monday.to_string(), rule.index()))
                    .or_default() += n;
            }
        }
    }
    weekly
        .into_iter()
        .map(|((week, i), count)| WeeklyFindings {
            week,
            rule: &RULES[i],
            count,
        })
        .collect()
}

/// The ten principals with the most failed calls, each with its most frequent error.
fn top_failing_principals(u: &Summary) -> Vec<FailingPrincipal> {
    let mut failing: BTreeMap<&str, BTreeMap<ErrorClass, u64>> = BTreeMap::new();
    for (k, s) in &u.usage {
        if let Some(class) = k.error_class {
            *failing
                .entry(&k.principal)
                .or_default()
                .entry(class)
                .or_default() += s.count;
        }
    }
    let mut top: Vec<FailingPrincipal> = failing
        .into_iter()
        .map(|(principal, classes)| FailingPrincipal {
            principal: principal.to_owned(),
            failures: classes.values().sum(),
            top_error: classes
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(c, _)| c.as_str().to_owned())
                .unwrap_or_default(),
        })
        .collect();
    top.sort_by(|a, b| {
        b.failures
            .cmp(&a.failures)
            .then(a.principal.cmp(&b.principal))
    });
    top.truncate(10);
    top
}

/// The trail checks; offline, one "not checked" line.
fn checks(trails: Option<&[TrailInfo]>) -> Vec<TrailCheck> {
    match trails {
        Some(t) => trail_checks(t),
        None => vec![TrailCheck {
            trail: "-".into(),
            check: "all".into(),
            status: CheckStatus::NotChecked,
            detail: "not checked (offline): the trail configuration needs CloudTrail API access (keytrail review --aws)".into(),
            remediation: String::new(),
        }],
    }
}

/// This month's totals beside the previous month's, from the baseline.
fn trend(month: Month, current: MonthTotals, baseline: Option<&Baseline>) -> Trend {
    let prev = month.prev().to_string();
    Trend {
        previous: baseline.and_then(|b| b.months.get(&prev).cloned()),
        previous_month: prev,
        current,
    }
}

/// The chart data: calls per day of the five most used keys, failures per day, and the
/// operations of the eight busiest principals.
fn charts(month: Month, u: &Summary, key_use: &KeyUse) -> Charts {
    let days: Vec<String> = month.days().iter().map(|d| d.to_string()).collect();
    let mut top_keys: Vec<(&String, &u64)> = key_use.calls.iter().collect();
    top_keys.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let calls_per_key = top_keys
        .iter()
        .take(5)
        .map(|(k, _)| Series {
            name: (*k).clone(),
            values: days
                .iter()
                .map(|d| {
                    u.days
                        .get(d)
                        .and_then(|c| c.by_key.get(*k))
                        .copied()
                        .unwrap_or(0)
                })
                .collect(),
        })
        .collect();
    let failures_per_day = days
        .iter()
        .map(|d| u.days.get(d).map_or(0, |c| c.failures))
        .collect();
    Charts {
        days,
        calls_per_key,
        failures_per_day,
        operations_per_principal: operations_per_principal(u),
    }
}

/// Per principal, its calls per operation (most first); the eight busiest principals.
fn operations_per_principal(u: &Summary) -> Vec<(String, Vec<(String, u64)>)> {
    let mut per: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for (k, s) in &u.usage {
        *per.entry(&k.principal)
            .or_default()
            .entry(&k.event_name)
            .or_default() += s.count;
    }
    let mut opp: Vec<(String, Vec<(String, u64)>)> = per
        .into_iter()
        .map(|(p, ops)| {
            let mut ops: Vec<(String, u64)> =
                ops.into_iter().map(|(o, n)| (o.to_owned(), n)).collect();
            ops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            (p.to_owned(), ops)
        })
        .collect();
    opp.sort_by(|a, b| {
        let ta: u64 = a.1.iter().map(|x| x.1).sum();
        let tb: u64 = b.1.iter().map(|x| x.1).sum();
        tb.cmp(&ta).then(a.0.cmp(&b.0))
    });
    opp.truncate(8);
    opp
}

/// The accounts and regions reviewed: the log locations say what was read; without
/// them, the key ARNs in the usage.
fn scope(input: &ReviewInput) -> Scope {
    if input.scope.accounts.is_empty() && input.scope.regions.is_empty() {
        Scope::from_pairs(
            input
                .usage
                .usage
                .keys()
                .filter_map(|k| kms_arn_account_region(&k.key)),
        )
    } else {
        input.scope.clone()
    }
}

/// The summary numbers: what the report's sections count, and the keys not read.
fn numbers(r: &Report, key_use: &KeyUse, u: &Summary) -> Numbers {
    Numbers {
        kms_calls: r.trend.current.kms_calls,
        failures: r.trend.current.failures,
        keys_in_inventory: (r.keys.len() + r.aws_managed_keys.len()) as u64,
        customer_managed_keys: r.keys.len() as u64,
        aws_managed_keys: r.aws_managed_keys.len() as u64,
        keys_used: r
            .keys
            .iter()
            .filter(|k| key_use.last_crypto.contains_key(&k.key))
            .count() as u64,
        unused_keys: r.unused_keys.len() as u64,
        keys_pending_deletion: r.keys_pending_deletion.len() as u64,
        pending_deletion_used: r
            .keys_pending_deletion
            .iter()
            .filter(|p| p.used_in_period)
            .count() as u64,
        principals: r.trend.current.principals,
        new_principals: r.new_principals.len() as u64,
        cross_account_principals: r.cross_account_principals.len() as u64,
        trail_checks_failed: r
            .trail_checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .count() as u64,
        rotation_disabled: r.keys_rotation_disabled.len() as u64,
        can_but_did_not: r.key_access.can_but_did_not(),
        did_without_naming: r.key_access.did_without_naming(),
        keys_beyond_cap: u.keys_beyond_cap,
        calls_counted_once: u.shared_events.counted_once,
        copies_not_deduplicated: u.shared_events.untracked,
    }
}

/// The baseline after this month: previous knowledge plus this month's sources,
/// last uses and totals.
pub fn updated_baseline(
    prev: Option<&Baseline>,
    month: Month,
    usage: &Summary,
    report: &Report,
) -> Baseline {
    let mut b = prev.cloned().unwrap_or_default();
    b.version = BASELINE_VERSION;
    b.updated_for = Some(month.to_string());
    for (principal, ips) in &usage.principal_ips {
        let known = b.principals.entry(principal.clone()).or_default();
        known
            .first_seen_month
            .get_or_insert_with(|| month.to_string());
        for ip in &ips.values {
            if crate::detect::principal::is_service_source(ip) {
                continue;
            }
            if known.ips.len() < MAX_BASELINE_IPS {
                known.ips.insert(ip.clone());
            }
            if let Some(p) = ip_prefix(ip)
                && known.prefixes.len() < MAX_BASELINE_IPS
            {
                known.prefixes.insert(p);
            }
        }
    }
    for (principal, h) in &usage.principal_hours {
        let hours = crate::detect::baseline::MonthHours {
            hours: h.hours,
            days: h.days.len() as u32,
            calls: h.calls,
        };
        b.learn_hours(principal, &month.to_string(), hours);
    }
    for p in report.access_inventory.iter().map(|r| &r.principal) {
        b.principals
            .entry(p.clone())
            .or_default()
            .first_seen_month
            .get_or_insert_with(|| month.to_string());
    }
    for k in report.keys.iter().chain(&report.aws_managed_keys) {
        if let Some(t) = k.last_used {
            let e = b.keys_last_used.entry(k.key.clone()).or_insert(t);
            *e = (*e).max(t);
        }
    }
    for (k, s) in &usage.usage {
        if k.key != NO_KEY && k.error_class.is_none() && is_cryptographic(&k.event_name) {
            let e = b.keys_last_used.entry(k.key.clone()).or_insert(s.last_seen);
            *e = (*e).max(s.last_seen);
        }
    }
    learn_principal_use(&mut b, usage);
    b.months
        .insert(month.to_string(), report.trend.current.clone());
    b
}

/// `2026-10-04T03:00:00Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::record::Record;
    use crate::detect::event::KmsEvent;
    use crate::review::inventory::*;
    use crate::review::month::*;
    use crate::review::trail::*;
    use serde_json::json;

    const K1: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";
    const K2: &str = "arn:aws:kms:us-east-1:111122223333:key/k2";
    const K3: &str = "arn:aws:kms:us-east-1:111122223333:key/k3";

    fn usage(events: &[(&str, &str, &str, &str, Option<&str>)]) -> Summary {
        let mut s = Summary::default();
        for (time, name, key, who, error) in events {
            let mut v = json!({"eventSource": "kms.amazonaws.com", "eventName": name, "eventTime": time,
                "sourceIPAddress": "203.0.113.5",
                "userIdentity": {"type": "IAMUser", "arn": who, "accountId": arn_account(who)},
                "resources": [{"ARN": key, "type": "AWS::KMS::Key"}]});
            if let Some(code) = error {
                v["errorCode"] = json!(code);
                v["errorMessage"] = json!(format!("{key} is pending deletion."));
            }
            let r = Record::from_value(v).expect("record");
            let e = KmsEvent::analyse(&r).expect("event");
            s.observe(&e, crate::detect::catalog::RuleSet::of(&e));
        }
        s
    }

    fn key(arn: &str, state: &str, created: &str) -> KeyInfo {
        KeyInfo {
            arn: arn.into(),
            state: Some(state.into()),
            spec: Some("SYMMETRIC_DEFAULT".into()),
            usage: Some("ENCRYPT_DECRYPT".into()),
            manager: Some("CUSTOMER".into()),
            created: Some(created.parse().expect("t")),
            rotation_enabled: Some(true),
            tags: [("purpose", "x"), ("owner", "y")]
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect(),
            ..KeyInfo::default()
        }
    }

    fn report(month: &str, u: &Summary, keys: Vec<KeyInfo>, baseline: Option<&Baseline>) -> Report {
        build_report(&ReviewInput {
            month: Month::parse(month).expect("month"),
            usage: u,
            coverage: Coverage::default(),
            keys: Some(keys),
            trails: Some(Vec::new()),
            baseline,
            settings: &ReviewSettings::default(),
            generated_at: "2026-11-01T06:00:00Z".parse().expect("t"),
            scope: Scope::default(),
            baseline_saved: false,
        })
    }

    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

    #[test]
    fn access_inventory_and_pending_deletion_in_use() {
        let u = usage(&[
            ("2026-10-03T10:00:00Z", "Decrypt", K1, ALICE, None),
            ("2026-10-05T10:00:00Z", "Decrypt", K1, ALICE, None),
            (
                "2026-10-20T10:00:00Z",
                "Decrypt",
                K3,
                ALICE,
                Some("KMSInvalidStateException"),
            ),
        ]);
        let mut pending = key(K3, "PendingDeletion", "2025-01-01T00:00:00Z");
        pending.deletion_date = Some("2026-11-10T00:00:00Z".parse().expect("t"));
        let r = report(
            "2026-10",
            &u,
            vec![key(K1, "Enabled", "2025-01-01T00:00:00Z"), pending],
            None,
        );
        let row = r
            .access_inventory
            .iter()
            .find(|a| a.key == K1)
            .expect("row");
        assert_eq!(
            (row.count, row.principal.as_str(), row.event_name.as_str()),
            (2, ALICE, "Decrypt")
        );
        assert_eq!(ts(row.first_seen), "2026-10-03T10:00:00Z");
        assert_eq!(ts(row.last_seen), "2026-10-05T10:00:00Z");
        assert_eq!(r.keys_pending_deletion.len(), 1);
        let p = &r.keys_pending_deletion[0];
        assert!(
            p.used_in_period && p.uses == 1 && p.severity == PendingSeverity::Critical,
            "{p:?}"
        );
        assert_eq!(r.summary.pending_deletion_used, 1);
        assert_eq!(
            r.keys_missing_tags.len(),
            1,
            "keys pending deletion are not asked for tags"
        );
        assert_eq!(r.keys_missing_tags[0].missing, ["classification"]);
        assert_eq!(r.top_failing_principals[0].top_error, "PendingDeletion");
    }

    #[test]
    fn unused_keys_across_months_use_the_baseline() {
        // September: k1 used, k2 not. The baseline carries k1's last use forward.
        let sept = usage(&[("2026-09-10T10:00:00Z", "Encrypt", K1, ALICE, None)]);
        let keys = || {
            vec![
                key(K1, "Enabled", "2025-01-01T00:00:00Z"),
                key(K2, "Enabled", "2025-01-01T00:00:00Z"),
            ]
        };
        let r9 = report("2026-09", &sept, keys(), None);
        let names: Vec<&str> = r9.unused_keys.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(names, [K2]);
        let b9 = updated_baseline(None, Month::parse("2026-09").expect("m"), &sept, &r9);
        assert!(b9.keys_last_used.contains_key(K1));
        // October: no use at all. k1 was used 51 days before the end of October: not unused.
        let empty = Summary::default();
        let r10 = report("2026-10", &empty, keys(), Some(&b9));
        let names: Vec<&str> = r10.unused_keys.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(names, [K2]);
        // January: k1's last use is now more than 90 days old.
        let b10 = updated_baseline(Some(&b9), Month::parse("2026-10").expect("m"), &empty, &r10);
        let r1 = report("2027-01", &empty, keys(), Some(&b10));
        let unused: Vec<&UnusedKey> = r1.unused_keys.iter().collect();
        assert_eq!(unused.len(), 2);
        assert_eq!(
            unused
                .iter()
                .find(|u| u.key == K1)
                .and_then(|u| u.days_unused),
            Some(143)
        );
        // A key created recently is not "unused" yet.
        let young = report(
            "2026-10",
            &empty,
            vec![key(K2, "Enabled", "2026-10-20T00:00:00Z")],
            None,
        );
        assert!(young.unused_keys.is_empty());
    }

    #[test]
    fn new_principals_and_trend_come_from_the_baseline() {
        let sept = usage(&[("2026-09-10T10:00:00Z", "Encrypt", K1, ALICE, None)]);
        let r9 = report("2026-09", &sept, vec![], None);
        assert!(r9.new_principals.is_empty() && !r9.baseline_available);
        let b9 = updated_baseline(None, Month::parse("2026-09").expect("m"), &sept, &r9);
        let bob = "arn:aws:iam::111122223333:user/bob";
        let oct = usage(&[
            ("2026-10-10T10:00:00Z", "Encrypt", K1, ALICE, None),
            ("2026-10-11T10:00:00Z", "Decrypt", K1, bob, None),
        ]);
        let r10 = report("2026-10", &oct, vec![], Some(&b9));
        assert_eq!(r10.new_principals, [bob]);
        assert_eq!(r10.trend.previous.as_ref().map(|p| p.kms_calls), Some(1));
        assert_eq!(r10.trend.current.kms_calls, 2);
        assert_eq!(b9.is_unfamiliar(ALICE, "203.0.113.5"), Some(false));
        assert_eq!(
            b9.is_unfamiliar(ALICE, "203.0.113.77"),
            Some(false),
            "same /24"
        );
        assert_eq!(b9.is_unfamiliar(ALICE, "192.0.2.1"), Some(true));
        assert_eq!(b9.is_unfamiliar(bob, "192.0.2.1"), None);
    }

    #[test]
    fn findings_per_week_and_cross_account() {
        let outsider = "arn:aws:iam::444455556666:role/partner";
        let u = usage(&[
            ("2026-10-05T10:00:00Z", "Decrypt", K1, outsider, None),
            ("2026-10-06T10:00:00Z", "Decrypt", K1, outsider, None),
            ("2026-10-13T10:00:00Z", "Decrypt", K1, outsider, None),
        ]);
        let r = report("2026-10", &u, vec![], None);
        let weeks: Vec<(&str, &str, u64)> = r
            .findings_per_week
            .iter()
            .map(|w| (w.week.as_str(), w.rule.id, w.count))
            .collect();
        assert_eq!(
            weeks,
            [
                ("2026-10-05", "cross_account_use", 2),
                ("2026-10-12", "cross_account_use", 1)
            ]
        );
        assert_eq!(r.cross_account_principals[0].account, "444455556666");
        assert_eq!(r.charts.days.len(), 31);
        assert_eq!(r.charts.calls_per_key[0].values.iter().sum::<u64>(), 3);
    }

    fn trail(basic: Vec<BasicSelector>, advanced: Vec<Vec<FieldSelector>>) -> TrailInfo {
        TrailInfo {
            name: "t".into(),
            kms_key_id: Some("arn:aws:kms:us-east-1:1:key/x".into()),
            log_file_validation: true,
            multi_region: true,
            is_logging: Some(true),
            basic_selectors: basic,
            advanced_selectors: advanced,
            ..TrailInfo::default()
        }
    }

    fn fs(field: &str, equals: &[&str], not_equals: &[&str]) -> FieldSelector {
        FieldSelector {
            field: field.into(),
            equals: equals.iter().map(|s| (*s).to_owned()).collect(),
            not_equals: not_equals.iter().map(|s| (*s).to_owned()).collect(),
            ..FieldSelector::default()
        }
    }

    #[test]
    fn kms_exclusion_in_basic_and_advanced_selectors() {
        let ok = BasicSelector {
            read_write_type: Some("All".into()),
            include_management_events: Some(true),
            ..BasicSelector::default()
        };
        assert!(kms_events_logged(&trail(vec![ok.clone()], vec![])).is_ok());
        assert!(
            kms_events_logged(&trail(vec![], vec![])).is_ok(),
            "no selectors: all management events"
        );
        let excluded = BasicSelector {
            exclude_management_event_sources: vec!["kms.amazonaws.com".into()],
            ..ok.clone()
        };
        let err = kms_events_logged(&trail(vec![excluded], vec![])).expect_err("excluded");
        assert_eq!(err.reasons, [SelectorGap::KmsSourceExcluded]);
        assert!(
            err.to_string().contains("ExcludeManagementEventSources"),
            "{err}"
        );
        let write_only = BasicSelector {
            read_write_type: Some("WriteOnly".into()),
            ..ok.clone()
        };
        assert!(kms_events_logged(&trail(vec![write_only], vec![])).is_err());
        let no_mgmt = BasicSelector {
            include_management_events: Some(false),
            ..ok
        };
        assert!(kms_events_logged(&trail(vec![no_mgmt], vec![])).is_err());

        let mgmt = fs("eventCategory", &["Management"], &[]);
        assert!(kms_events_logged(&trail(vec![], vec![vec![mgmt.clone()]])).is_ok());
        let adv_excluded = vec![mgmt.clone(), fs("eventSource", &[], &["kms.amazonaws.com"])];
        let err =
            kms_events_logged(&trail(vec![], vec![adv_excluded.clone()])).expect_err("excluded");
        assert!(
            err.to_string()
                .contains("excludes eventSource kms.amazonaws.com"),
            "{err}"
        );
        // Every selector's reason, in order, joined in the check's detail.
        let two = vec![adv_excluded, vec![fs("eventCategory", &["Data"], &[])]];
        let err = kms_events_logged(&trail(vec![], two.clone())).expect_err("excluded");
        assert_eq!(err.reasons, [SelectorGap::AdvancedExcludesKms]);
        let write_too = vec![
            two[0].clone(),
            vec![
                fs("eventCategory", &["Management"], &[]),
                fs("readOnly", &["false"], &[]),
            ],
        ];
        let err = kms_events_logged(&trail(vec![], write_too)).expect_err("excluded");
        assert_eq!(
            err.reasons,
            [
                SelectorGap::AdvancedExcludesKms,
                SelectorGap::AdvancedWriteOnly
            ]
        );
        assert_eq!(
            err.to_string(),
            "an advanced selector excludes eventSource kms.amazonaws.com; an advanced selector keeps write events only: Decrypt, Encrypt and GenerateDataKey are read-only events"
        );
        let data_only = vec![fs("eventCategory", &["Data"], &[])];
        assert!(kms_events_logged(&trail(vec![], vec![data_only])).is_err());
        // Read-only events only: blind to key changes (7 of the rules need writes).
        let read_only = BasicSelector {
            read_write_type: Some("ReadOnly".into()),
            include_management_events: Some(true),
            ..BasicSelector::default()
        };
        let err = kms_events_logged(&trail(vec![read_only.clone()], vec![])).expect_err("reads");
        assert_eq!(err.reasons, [SelectorGap::ReadOnly]);
        assert!(err.to_string().contains("ScheduleKeyDeletion"), "{err}");
        // Together, a read-only and a write-only selector record everything.
        let write_only_too = BasicSelector {
            read_write_type: Some("WriteOnly".into()),
            ..read_only.clone()
        };
        assert!(kms_events_logged(&trail(vec![read_only, write_only_too], vec![])).is_ok());
        let adv_reads = vec![mgmt.clone(), fs("readOnly", &["true"], &[])];
        let err = kms_events_logged(&trail(vec![], vec![adv_reads.clone()])).expect_err("reads");
        assert_eq!(err.reasons, [SelectorGap::AdvancedReadOnly]);
        let adv_not_reads = vec![mgmt.clone(), fs("readOnly", &[], &["true"])];
        assert_eq!(
            kms_events_logged(&trail(vec![], vec![adv_not_reads.clone()]))
                .expect_err("writes")
                .reasons,
            [SelectorGap::AdvancedWriteOnly]
        );
        assert!(kms_events_logged(&trail(vec![], vec![adv_reads, adv_not_reads])).is_ok());
        let write = vec![mgmt, fs("readOnly", &["false"], &[])];
        assert!(kms_events_logged(&trail(vec![], vec![write])).is_err());

        let checks = trail_checks(&[TrailInfo {
            name: "plain".into(),
            is_logging: Some(false),
            ..TrailInfo::default()
        }]);
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| c.check.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "kms_encryption",
                "log_file_validation",
                "multi_region",
                "logging"
            ]
        );
        assert!(checks.iter().all(|c| !c.remediation.is_empty()));
    }

    #[test]
    fn rerun_keeps_new_principals_and_unknown_selectors_are_not_checked() {
        let bob = "arn:aws:iam::111122223333:user/bob";
        let oct = usage(&[("2026-10-11T10:00:00Z", "Decrypt", K1, bob, None)]);
        let first = report("2026-10", &oct, vec![], Some(&Baseline::default()));
        assert_eq!(first.new_principals, [bob]);
        let after = updated_baseline(
            Some(&Baseline::default()),
            Month::parse("2026-10").expect("m"),
            &oct,
            &first,
        );
        let rerun = report("2026-10", &oct, vec![], Some(&after));
        assert_eq!(
            rerun.new_principals,
            [bob],
            "a re-run of the month still reports it"
        );
        let nov = report("2026-11", &Summary::default(), vec![], Some(&after));
        assert!(nov.new_principals.is_empty());

        let t = TrailInfo {
            unavailable: vec!["GetEventSelectors: AccessDeniedException".into()],
            ..trail(vec![], vec![])
        };
        let checks = trail_checks(&[t]);
        let c = checks
            .iter()
            .find(|c| c.check == "kms_events_recorded")
            .expect("check");
        assert_eq!(c.status, CheckStatus::NotChecked);
    }

    #[test]
    fn rotation_off_and_scope() {
        let u = usage(&[("2026-10-03T10:00:00Z", "Decrypt", K1, ALICE, None)]);
        let mut off = key(K2, "Enabled", "2025-01-01T00:00:00Z");
        off.rotation_enabled = Some(false);
        off.aliases = vec!["alias/reports".into()];
        let mut asymmetric = key(K3, "Enabled", "2025-01-01T00:00:00Z");
        asymmetric.rotation_enabled = Some(false);
        asymmetric.spec = Some("RSA_2048".into());
        let mut pending = key(
            "arn:aws:kms:us-east-1:111122223333:key/k4",
            "PendingDeletion",
            "2025-01-01T00:00:00Z",
        );
        pending.rotation_enabled = Some(false);
        let r = report(
            "2026-10",
            &u,
            vec![
                key(K1, "Enabled", "2025-01-01T00:00:00Z"),
                off,
                asymmetric,
                pending,
            ],
            None,
        );
        let keys: Vec<&str> = r
            .keys_rotation_disabled
            .iter()
            .map(|k| k.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [K2],
            "asymmetric and pending-deletion keys do not count"
        );
        assert_eq!(r.keys_rotation_disabled[0].aliases, ["alias/reports"]);
        assert_eq!(r.summary.rotation_disabled, 1);
        // Without log locations, the scope comes from the key ARNs in the usage.
        assert_eq!(r.scope.accounts, ["111122223333"]);
        assert_eq!(r.scope.regions, ["us-east-1"]);
        let given = build_report(&ReviewInput {
            month: Month::parse("2026-10").expect("month"),
            usage: &u,
            coverage: Coverage::default(),
            keys: None,
            trails: None,
            baseline: None,
            settings: &ReviewSettings::default(),
            generated_at: "2026-11-01T06:00:00Z".parse().expect("t"),
            scope: Scope::from_pairs([
                ("222233334444", "eu-west-1"),
                ("111122223333", "eu-west-1"),
                ("111122223333", "us-east-1"),
            ]),
            baseline_saved: true,
        });
        assert_eq!(given.scope.accounts, ["111122223333", "222233334444"]);
        assert_eq!(given.scope.regions, ["eu-west-1", "us-east-1"]);
        assert!(given.baseline_saved && !r.baseline_saved);
        assert!(
            given.keys_rotation_disabled.is_empty(),
            "offline: not checked"
        );
        // A report written before these fields reads back with their defaults.
        let mut old = serde_json::to_value(&r).expect("json");
        for f in ["scope", "baseline_saved", "keys_rotation_disabled"] {
            old.as_object_mut().expect("object").remove(f);
        }
        old["summary"]
            .as_object_mut()
            .expect("summary")
            .remove("rotation_disabled");
        let back: Report = serde_json::from_value(old).expect("old report");
        assert_eq!(back.scope, Scope::default());
    }

    fn offline(month: &str, u: &Summary) -> Report {
        build_report(&ReviewInput {
            month: Month::parse(month).expect("month"),
            usage: u,
            coverage: Coverage::default(),
            keys: None,
            trails: None,
            baseline: None,
            settings: &ReviewSettings::default(),
            generated_at: "2026-11-01T06:00:00Z".parse().expect("t"),
            scope: Scope::default(),
            baseline_saved: false,
        })
    }

    #[test]
    fn offline_key_states_follow_deletion_cancel_and_delete_key() {
        const KMS: &str = "arn:aws:iam::111122223333:root";
        let u = usage(&[
            ("2026-10-01T10:00:00Z", "Encrypt", K1, ALICE, None),
            (
                "2026-10-02T10:00:00Z",
                "ScheduleKeyDeletion",
                K1,
                ALICE,
                None,
            ),
            ("2026-10-09T10:00:00Z", "DeleteKey", K1, KMS, None),
            ("2026-10-01T10:00:00Z", "Encrypt", K2, ALICE, None),
            (
                "2026-10-02T10:00:00Z",
                "ScheduleKeyDeletion",
                K2,
                ALICE,
                None,
            ),
            ("2026-10-03T10:00:00Z", "CancelKeyDeletion", K2, ALICE, None),
            ("2026-10-01T10:00:00Z", "Encrypt", K3, ALICE, None),
            (
                "2026-10-02T10:00:00Z",
                "ScheduleKeyDeletion",
                K3,
                ALICE,
                None,
            ),
            ("2026-10-03T10:00:00Z", "CancelKeyDeletion", K3, ALICE, None),
            ("2026-10-04T10:00:00Z", "EnableKey", K3, ALICE, None),
        ]);
        let r = offline("2026-10", &u);
        let state = |k: &str| {
            r.keys
                .iter()
                .find(|row| row.key == k)
                .and_then(|row| row.state.clone())
        };
        assert_eq!(state(K1), Some(KeyState::Deleted), "DeleteKey ends it");
        assert_eq!(
            state(K2),
            Some(KeyState::Disabled),
            "a cancelled deletion leaves the key disabled"
        );
        assert_eq!(state(K3), Some(KeyState::Enabled));
        assert!(
            r.keys_pending_deletion.is_empty(),
            "{:?}",
            r.keys_pending_deletion
        );
        // The lifecycle timeline: per key in time order, restoring changes as info.
        let k3: Vec<(&str, &str)> = r
            .key_lifecycle
            .iter()
            .filter(|e| e.key == K3)
            .map(|e| (e.event_name.as_str(), e.level.as_str()))
            .collect();
        assert_eq!(
            k3,
            [
                ("ScheduleKeyDeletion", "warning"),
                ("CancelKeyDeletion", "info"),
                ("EnableKey", "info")
            ]
        );
        assert!(
            r.key_lifecycle
                .iter()
                .any(|e| e.key == K1 && e.event_name == "DeleteKey")
        );
        let md = crate::review::render::render_markdown(&r);
        assert!(md.contains("## Key lifecycle"), "{md}");
        // A review without state changes has no timeline in its JSON.
        let quiet = offline(
            "2026-10",
            &usage(&[("2026-10-01T10:00:00Z", "Encrypt", K1, ALICE, None)]),
        );
        let json = serde_json::to_value(&quiet).expect("json");
        assert!(json.get("key_lifecycle").is_none());
    }

    #[test]
    fn a_key_used_only_by_ml_kem_decapsulate_is_used() {
        let u = usage(&[
            ("2026-10-20T10:00:00Z", "Decapsulate", K1, ALICE, None),
            ("2026-10-20T10:00:00Z", "DescribeKey", K2, ALICE, None),
        ]);
        let r = offline("2026-10", &u);
        let unused: Vec<&str> = r.unused_keys.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(
            unused,
            [K2],
            "Decapsulate is cryptographic use; DescribeKey is not"
        );
        assert_eq!(r.summary.keys_used, 1);
    }

    #[test]
    fn months() {
        let m = Month::parse("2024-02").expect("m");
        assert_eq!(m.days().len(), 29);
        assert_eq!(m.prev().to_string(), "2024-01");
        assert_eq!(
            Month::parse("2024-12").expect("m").next().to_string(),
            "2025-01"
        );
        assert!(Month::parse("2024-2").is_none() && Month::parse("24-02").is_none());
        assert_eq!(ip_prefix("203.0.113.77").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(
            ip_prefix("2001:db8:abcd:12::1").as_deref(),
            Some("2001:db8:abcd::/48")
        );
    }
}
