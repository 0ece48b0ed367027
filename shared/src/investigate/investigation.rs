//! Alarm enrichment: from a CloudWatch alarm to an investigation a responder can act on.
//!
//! The alarm's metric is mapped to its catalog rule (or to the per-operation and
//! per-failure-class metrics), the window is derived from the alarm itself, and the
//! events the rule's own predicate selects in that window are summarised: who, from
//! where, which keys, with which encryption context, and what failed. Everything here
//! is pure; the Lambda and the CLI feed it events and print or publish the result.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cloudtrail::layout::log_day_prefix;
use crate::defaults::DEFAULT_DATE_PARTITION;
use crate::detect::catalog::{ErrorClass, KmsEvent, Rule, Severity, rule_for_metric};
use crate::detect::metrics::{
    ERROR_CLASS_DIMENSION, EVENT_NAME_DIMENSION, KEY_ARN_DIMENSION, KMS_API_CALLS, KMS_FAILURES,
    KMS_KEY_CALLS,
};
use crate::detect::principal::{SourceClass, classify_source};
use crate::investigate::alarm::{Alarm, AlarmKind, MetricRef};
use crate::investigate::sanitize::clean;

/// The investigation record's schema name and version.
pub const SCHEMA: &str = "keytrail.investigation";
pub const SCHEMA_VERSION: u32 = 1;
/// Rows kept per count table.
pub const MAX_ROWS: usize = 20;
/// Sample events kept.
pub const MAX_SAMPLES: usize = 10;
/// Session names kept per principal.
pub const MAX_SESSIONS: usize = 10;
/// SNS subjects may be at most 100 characters.
pub const MAX_SUBJECT: usize = 100;
/// SNS messages may be at most 256 KB.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Length cap for attacker-controlled strings.
pub const MAX_FIELD: usize = 256;

/// Selects the events behind one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSelector {
    /// The rule, when the metric is a rule's.
    pub rule: Option<&'static Rule>,
    pub failed_only: bool,
    pub event_name: Option<String>,
    pub error_class: Option<ErrorClass>,
    pub key_arn: Option<String>,
}

impl MetricSelector {
    /// The selector for a metric in `namespace`, or `None` when keytrail does not own it.
    pub fn for_metric(m: &MetricRef, namespace: &str) -> Option<MetricSelector> {
        if m.namespace.as_deref().is_some_and(|ns| ns != namespace) {
            return None;
        }
        let rule = rule_for_metric(&m.name);
        let known = rule.is_some()
            || [KMS_API_CALLS, KMS_FAILURES, KMS_KEY_CALLS].contains(&m.name.as_str());
        if !known {
            return None;
        }
        Some(MetricSelector {
            rule,
            failed_only: m.name == KMS_FAILURES,
            event_name: m.dimension(EVENT_NAME_DIMENSION).map(str::to_owned),
            error_class: m
                .dimension(ERROR_CLASS_DIMENSION)
                .and_then(ErrorClass::parse),
            key_arn: m.dimension(KEY_ARN_DIMENSION).map(str::to_owned),
        })
    }

    pub fn matches(&self, e: &KmsEvent) -> bool {
        self.rule.is_none_or(|r| r.matches(e))
            && (!self.failed_only || e.failed())
            && self
                .event_name
                .as_deref()
                .is_none_or(|n| e.operation_dimension() == n)
            && self.error_class.is_none_or(|c| e.error_class == Some(c))
            && self
                .key_arn
                .as_deref()
                .is_none_or(|k| e.keys.iter().any(|x| x.id == k))
    }
}

/// What to look for, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub selectors: Vec<MetricSelector>,
    pub window: Window,
    /// The review's baseline, for `unfamiliar_source_ip` (none: that rule selects nothing).
    pub baseline: Option<std::sync::Arc<crate::detect::baseline::Baseline>>,
}

impl Plan {
    pub fn matches(&self, e: &KmsEvent) -> bool {
        e.time >= self.window.start
            && e.time <= self.window.end
            && self.selectors.iter().any(|s| s.matches(e))
    }

    /// The rule behind the alarm (the first metric that has one).
    pub fn rule(&self) -> Option<&'static Rule> {
        self.selectors.iter().find_map(|s| s.rule)
    }
}

/// The event window and the delivery window of the log files that can hold it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Log files delivered in [files_from, files_to] are read.
    pub files_from: DateTime<Utc>,
    pub files_to: DateTime<Utc>,
}

impl Window {
    /// [StateChangeTime − Period × EvaluationPeriods − lag, StateChangeTime]; files
    /// delivered up to `lag` after the end.
    pub fn for_alarm(alarm: &Alarm, lag: Duration) -> Window {
        let span = Duration::seconds(
            i64::from(alarm.period()) * i64::from(alarm.evaluation_periods.unwrap_or(1).max(1)),
        );
        let end = alarm.state_change_time;
        let start = end - span - lag;
        Window {
            start,
            end,
            files_from: start,
            files_to: end + lag,
        }
    }

    /// The UTC days whose log folders can hold files of this window.
    pub fn days(&self) -> Vec<NaiveDate> {
        let mut d = self.files_from.date_naive();
        let last = self.files_to.date_naive();
        let mut out = Vec::new();
        while d <= last {
            out.push(d);
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        out
    }

    /// Whether a log file delivered at `t` can hold events of the window.
    pub fn wants_delivery(&self, t: DateTime<Utc>) -> bool {
        t >= self.files_from && t <= self.files_to
    }
}

/// Why an alarm cannot be enriched.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("composite alarm ({0}): enrich its child alarms instead")]
    Composite(String),
    #[error("the alarm names no metric keytrail can read")]
    NoMetric,
    /// The alarm's metrics (`namespace/name`), none of them keytrail's.
    #[error("no keytrail rule owns metric {}", .0.join(", "))]
    NotOurs(Vec<String>),
}

/// Why an alarm cannot be enriched, or the plan to enrich it.
pub fn plan_for(alarm: &Alarm, namespace: &str, lag: Duration) -> Result<Plan, PlanError> {
    let selectors: Vec<MetricSelector> = match &alarm.kind {
        AlarmKind::Composite { rule } => return Err(PlanError::Composite(rule.clone())),
        AlarmKind::Unknown => return Err(PlanError::NoMetric),
        _ => alarm
            .metrics()
            .into_iter()
            .filter_map(|m| MetricSelector::for_metric(m, namespace))
            .collect(),
    };
    if selectors.is_empty() && alarm.metrics().is_empty() {
        return Err(PlanError::NoMetric);
    }
    if selectors.is_empty() {
        let names: Vec<String> = alarm
            .metrics()
            .iter()
            .map(|m| format!("{}/{}", m.namespace.as_deref().unwrap_or("?"), m.name))
            .collect();
        return Err(PlanError::NotOurs(names));
    }
    Ok(Plan {
        selectors,
        window: Window::for_alarm(alarm, lag),
        baseline: None,
    })
}

/// The evidence one log file holds for a plan.
#[derive(Debug, Default)]
pub struct FileEvidence {
    pub evidence: Evidence,
    pub records: u64,
    /// Set when the file is damaged (its events before the damage are counted).
    pub error: Option<String>,
}

/// Reads one log file and keeps the events the plan selects.
pub fn gather_file<R: std::io::Read>(name: &str, input: R, plan: &Plan) -> FileEvidence {
    let mut evidence = Evidence::default();
    let read = crate::detect::analysis::for_each_kms_event(name, input, |e| {
        if let Some(b) = &plan.baseline {
            crate::detect::analysis::mark_unfamiliar(e, b);
        }
        if plan.matches(e) {
            evidence.observe(e);
        }
    });
    FileEvidence {
        evidence,
        records: read.records,
        error: read.error.map(|e| e.to_string()),
    }
}

/// The S3 folders that hold one account's and region's logs for each day of a window:
/// `<root><account>/CloudTrail/<region>/YYYY/MM/DD/`, where `root` is `[prefix/]AWSLogs/[o-id/]`.
pub fn day_prefixes(root: &str, account: &str, region: &str, window: &Window) -> Vec<String> {
    window
        .days()
        .into_iter()
        .map(|d| log_day_prefix(root, account, region, d))
        .collect()
}

/// A count row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Count {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrincipalRow {
    pub principal: String,
    pub count: u64,
    pub account: Option<String>,
    pub sessions: Vec<String>,
    pub service_originated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpRow {
    pub ip: String,
    pub class: SourceClass,
    pub count: u64,
}

/// A key, with what KMS said about it when asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyEvidenceRow {
    pub key: String,
    pub count: u64,
    pub aliases: Vec<String>,
    pub state: Option<String>,
    pub deletion_date: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// What could not be looked up, and why (e.g. "DescribeKey: AccessDeniedException").
    pub unavailable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRow {
    pub code: String,
    pub message: Option<String>,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub description: String,
    pub playbook: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmInfo {
    pub name: String,
    pub state: String,
    pub previous_state: Option<String>,
    pub reason: Option<String>,
    pub state_change_time: DateTime<Utc>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub arn: Option<String>,
    pub metrics: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailedObject {
    pub key: String,
    pub error: String,
}

/// How the evidence was gathered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GatherInfo {
    pub source: String,
    pub prefixes: Vec<String>,
    pub files_listed: u64,
    pub files_selected: u64,
    pub files_read: u64,
    pub files_failed: Vec<FailedObject>,
    pub records_scanned: u64,
}

/// The investigation record (schema `keytrail.investigation`, version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Investigation {
    pub schema: String,
    pub version: u32,
    pub generated_at: DateTime<Utc>,
    pub alarm: AlarmInfo,
    pub enriched: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_enriched_reason: Option<String>,
    pub rule: Option<RuleInfo>,
    pub window: Option<Window>,
    pub gather: GatherInfo,
    pub count: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub principals: Vec<PrincipalRow>,
    pub source_ips: Vec<IpRow>,
    pub keys: Vec<KeyEvidenceRow>,
    pub event_names: Vec<Count>,
    pub errors: Vec<ErrorRow>,
    pub encryption_context: Vec<Count>,
    pub user_agents: Vec<Count>,
    pub cross_account_events: u64,
    pub samples: Vec<Value>,
    pub athena_query: Option<String>,
    /// Where the record was stored, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_location: Option<String>,
}

/// Accumulates the events of one investigation.
#[derive(Debug, Default)]
pub struct Evidence {
    pub count: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    principals: HashMap<String, (u64, Option<String>, BTreeSet<String>, bool)>,
    ips: HashMap<String, u64>,
    keys: HashMap<String, u64>,
    names: HashMap<String, u64>,
    errors: HashMap<(String, Option<String>), u64>,
    contexts: HashMap<String, u64>,
    agents: HashMap<String, u64>,
    cross_account: u64,
    samples: Vec<(DateTime<Utc>, Value)>,
}

impl Evidence {
    pub fn observe(&mut self, e: &KmsEvent) {
        self.count += 1;
        self.first = Some(self.first.map_or(e.time, |t| t.min(e.time)));
        self.last = Some(self.last.map_or(e.time, |t| t.max(e.time)));
        let p = self
            .principals
            .entry(e.principal.id.clone())
            .or_insert_with(|| (0, e.principal.account.clone(), BTreeSet::new(), false));
        p.0 += 1;
        p.3 |= e.principal.service_originated;
        if let Some(s) = &e.principal.session_name
            && p.2.len() < MAX_SESSIONS
        {
            p.2.insert(clean(s, 64));
        }
        let ip = e
            .record
            .source_ip_address
            .as_deref()
            .map_or_else(|| "-".to_owned(), |s| clean(s, 64));
        *self.ips.entry(ip).or_default() += 1;
        if e.keys.is_empty() {
            *self.keys.entry("-".into()).or_default() += 1;
        }
        for k in &e.keys {
            *self.keys.entry(k.id.clone()).or_default() += 1;
        }
        *self.names.entry(e.name().to_owned()).or_default() += 1;
        if let Some(code) = &e.record.error_code {
            let msg = e
                .record
                .error_message
                .as_deref()
                .map(|m| clean(m, MAX_FIELD));
            *self.errors.entry((clean(code, 64), msg)).or_default() += 1;
        }
        for (k, v) in e.record.encryption_context() {
            *self
                .contexts
                .entry(format!("{}={}", clean(&k, 64), clean(&v, 128)))
                .or_default() += 1;
        }
        if let Some(ua) = &e.record.user_agent {
            *self.agents.entry(clean(ua, MAX_FIELD)).or_default() += 1;
        }
        if e.is_cross_account() {
            self.cross_account += 1;
        }
        // Keep the earliest samples.
        if self.samples.len() < MAX_SAMPLES || self.samples.last().is_some_and(|(t, _)| e.time < *t)
        {
            self.samples.push((e.time, sample(e)));
            self.samples.sort_by_key(|(t, _)| *t);
            self.samples.truncate(MAX_SAMPLES);
        }
    }

    /// Merges evidence gathered from another file.
    pub fn merge(&mut self, o: Evidence) {
        self.count += o.count;
        self.first = [self.first, o.first].into_iter().flatten().min();
        self.last = [self.last, o.last].into_iter().flatten().max();
        for (k, (n, acct, sessions, svc)) in o.principals {
            let p = self
                .principals
                .entry(k)
                .or_insert_with(|| (0, acct, BTreeSet::new(), false));
            p.0 += n;
            p.3 |= svc;
            for s in sessions {
                if p.2.len() < MAX_SESSIONS {
                    p.2.insert(s);
                }
            }
        }
        for (map, other) in [
            (&mut self.ips, o.ips),
            (&mut self.keys, o.keys),
            (&mut self.names, o.names),
            (&mut self.contexts, o.contexts),
            (&mut self.agents, o.agents),
        ] {
            for (k, n) in other {
                *map.entry(k).or_default() += n;
            }
        }
        for (k, n) in o.errors {
            *self.errors.entry(k).or_default() += n;
        }
        self.cross_account += o.cross_account;
        self.samples.extend(o.samples);
        self.samples.sort_by_key(|(t, _)| *t);
        self.samples.truncate(MAX_SAMPLES);
    }

    /// The dominant principal (for the subject and the Athena query).
    pub fn top_principal(&self) -> Option<&str> {
        self.principals
            .iter()
            .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(a.0)))
            .map(|(k, _)| k.as_str())
    }
}

/// A trimmed copy of the event for the record: identity, call and outcome only.
fn sample(e: &KmsEvent) -> Value {
    let r = e.record;
    serde_json::json!({
        "eventTime": e.time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "eventName": r.event_name,
        "eventID": r.event_id,
        "principal": e.principal.id,
        "sessionName": e.principal.session_name.as_deref().map(|s| clean(s, 64)),
        "sourceIPAddress": r.source_ip_address.as_deref().map(|s| clean(s, 64)),
        "userAgent": r.user_agent.as_deref().map(|s| clean(s, 128)),
        "keys": e.keys.iter().map(|k| &k.id).collect::<Vec<_>>(),
        "errorCode": r.error_code.as_deref().map(|s| clean(s, 64)),
        "errorMessage": r.error_message.as_deref().map(|s| clean(s, MAX_FIELD)),
        "encryptionContext": e.record.encryption_context().into_iter()
            .map(|(k, v)| (clean(&k, 64), Value::String(clean(&v, 128))))
            .collect::<serde_json::Map<_, _>>(),
    })
}

fn top(map: HashMap<String, u64>) -> Vec<Count> {
    let mut rows: Vec<Count> = map
        .into_iter()
        .map(|(value, count)| Count { value, count })
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
    rows.truncate(MAX_ROWS);
    rows
}

/// Everything the investigation needs besides the evidence.
pub struct InvestigationInputs<'a> {
    pub alarm: &'a Alarm,
    pub plan: Result<&'a Plan, &'a PlanError>,
    pub gather: GatherInfo,
    pub athena_table: &'a str,
    /// The table's day partition column (`yyyy/MM/dd`, as the template's table and
    /// AWS's partition-projection example have it); `None` when it has none.
    pub athena_date_partition: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Builds the investigation record. Key metadata is filled in later by the caller.
pub fn build_investigation(ctx: InvestigationInputs, ev: Evidence) -> Investigation {
    let alarm = ctx.alarm;
    let (plan, reason) = match ctx.plan {
        Ok(p) => (Some(p), None),
        Err(r) => (None, Some(r)),
    };
    let rule = plan.and_then(Plan::rule);
    let athena = plan.map(|p| {
        athena_query(
            ctx.athena_table,
            ctx.athena_date_partition,
            &p.window,
            ev.top_principal(),
            top_ip(&ev).as_deref(),
        )
    });
    let mut principals: Vec<PrincipalRow> = ev
        .principals
        .iter()
        .map(|(k, (n, acct, sessions, svc))| PrincipalRow {
            principal: k.clone(),
            count: *n,
            account: acct.clone(),
            sessions: sessions.iter().cloned().collect(),
            service_originated: *svc,
        })
        .collect();
    principals.sort_by(|a, b| b.count.cmp(&a.count).then(a.principal.cmp(&b.principal)));
    principals.truncate(MAX_ROWS);
    let source_ips = top(ev.ips)
        .into_iter()
        .map(|c| IpRow {
            class: classify_source((c.value != "-").then_some(c.value.as_str())),
            ip: c.value,
            count: c.count,
        })
        .collect();
    let keys = top(ev.keys)
        .into_iter()
        .map(|c| KeyEvidenceRow {
            key: c.value,
            count: c.count,
            aliases: Vec::new(),
            state: None,
            deletion_date: None,
            description: None,
            tags: BTreeMap::new(),
            unavailable: Vec::new(),
        })
        .collect();
    let mut errors: Vec<ErrorRow> = ev
        .errors
        .into_iter()
        .map(|((code, message), count)| ErrorRow {
            code,
            message,
            count,
        })
        .collect();
    errors.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    errors.truncate(MAX_ROWS);
    Investigation {
        schema: SCHEMA.into(),
        version: SCHEMA_VERSION,
        generated_at: ctx.now,
        alarm: AlarmInfo {
            // Every alarm field is printed in the notification: all are cleaned.
            name: clean(&alarm.name, MAX_FIELD),
            state: clean(&alarm.new_state, 32),
            previous_state: alarm.old_state.as_deref().map(|s| clean(s, 32)),
            reason: alarm.reason.as_deref().map(|r| clean(r, 1024)),
            state_change_time: alarm.state_change_time,
            account: alarm.account.as_deref().map(|s| clean(s, 64)),
            region: alarm.region.as_deref().map(|s| clean(s, 64)),
            arn: alarm.arn.as_deref().map(|s| clean(s, MAX_FIELD)),
            metrics: alarm
                .metrics()
                .iter()
                .map(|m| {
                    let dims: Vec<String> = m
                        .dimensions
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    let ns = m.namespace.as_deref().unwrap_or("?");
                    let text = if dims.is_empty() {
                        format!("{ns}/{}", m.name)
                    } else {
                        format!("{ns}/{} {{{}}}", m.name, dims.join(", "))
                    };
                    clean(&text, MAX_FIELD)
                })
                .collect(),
        },
        enriched: plan.is_some(),
        not_enriched_reason: reason.map(|r| clean(&r.to_string(), 1024)),
        rule: rule.map(|r| RuleInfo {
            id: r.id.into(),
            title: r.title.into(),
            severity: r.severity,
            description: r.description.into(),
            playbook: r.playbook.iter().map(|s| (*s).to_owned()).collect(),
        }),
        window: plan.map(|p| p.window),
        gather: ctx.gather,
        count: ev.count,
        first_seen: ev.first,
        last_seen: ev.last,
        principals,
        source_ips,
        keys,
        event_names: top(ev.names),
        errors,
        encryption_context: top(ev.contexts),
        user_agents: top(ev.agents).into_iter().take(10).collect(),
        cross_account_events: ev.cross_account,
        samples: ev.samples.into_iter().map(|(_, v)| v).collect(),
        athena_query: athena,
        record_location: None,
    }
}

fn top_ip(ev: &Evidence) -> Option<String> {
    ev.ips
        .iter()
        .filter(|(ip, _)| *ip != "-" && classify_source(Some(ip)) != SourceClass::AwsService)
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(k, _)| k.clone())
}

fn sql_str(s: &str) -> String {
    format!("'{}'", clean(s, MAX_FIELD).replace('\'', "''"))
}

/// True for a name Athena takes unquoted as a column: a letter or `_`, then
/// letters, digits or `_`.
pub fn is_column_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// The Athena table's day partition column from its setting: unset is the default,
/// `none` is no column, anything else must be a plain column name.
pub fn date_partition(setting: Option<String>) -> Result<Option<String>, String> {
    match setting.as_deref() {
        None => Ok(Some(DEFAULT_DATE_PARTITION.into())),
        Some(s) if s.eq_ignore_ascii_case("none") => Ok(None),
        Some(s) if is_column_name(s) => Ok(Some(s.to_owned())),
        Some(s) => Err(format!(
            "{s:?} is not a column name (letters, digits, _) or `none`"
        )),
    }
}

/// An Athena query over the standard CloudTrail table for the window and the main
/// principal or IP. The key comes from `requestParameters.keyId` or, when the call
/// names none (symmetric Decrypt), from `resources[]`. With `date_partition`, the
/// days of the log files read (`yyyy/MM/dd`) restrict the partitions: without it a
/// partition-projected table is read from its first day, at Athena's price per byte.
pub fn athena_query(
    table: &str,
    date_partition: Option<&str>,
    w: &Window,
    principal: Option<&str>,
    ip: Option<&str>,
) -> String {
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let days = match date_partition.filter(|c| is_column_name(c)) {
        Some(col) => format!(
            "\n  AND {col} BETWEEN '{}' AND '{}'",
            w.files_from.format("%Y/%m/%d"),
            w.files_to.format("%Y/%m/%d")
        ),
        None => String::new(),
    };
    let mut who = Vec::new();
    if let Some(p) = principal {
        who.push(if let Some(acct) = p.strip_prefix("account:") {
            format!("useridentity.accountid = {}", sql_str(acct))
        } else if let Some(svc) = p.strip_prefix("service:") {
            format!("useridentity.invokedby = {}", sql_str(svc))
        } else if p.contains(":role/") {
            format!(
                "useridentity.sessioncontext.sessionissuer.arn = {}",
                sql_str(p)
            )
        } else {
            format!("useridentity.arn = {}", sql_str(p))
        });
    }
    if let Some(ip) = ip {
        who.push(format!("sourceipaddress = {}", sql_str(ip)));
    }
    let who = if who.is_empty() {
        String::new()
    } else {
        format!("\n  AND ({})", who.join("\n       OR "))
    };
    format!(
        "SELECT eventtime, eventname, errorcode, errormessage,\n\
         \x20      useridentity.arn AS caller_arn,\n\
         \x20      useridentity.sessioncontext.sessionissuer.arn AS role_arn,\n\
         \x20      sourceipaddress, useragent,\n\
         \x20      coalesce(json_extract_scalar(requestparameters, '$.keyId'),\n\
         \x20               element_at(transform(filter(resources, r -> r.type = 'AWS::KMS::Key'), r -> r.arn), 1)) AS key,\n\
         \x20      json_extract(requestparameters, '$.encryptionContext') AS encryption_context\n\
         FROM {table}\n\
         WHERE eventsource = 'kms.amazonaws.com'{days}\n\
         \x20 AND eventtime BETWEEN '{}' AND '{}'{who}\n\
         ORDER BY eventtime;",
        ts(w.start),
        ts(w.end),
    )
}

/// The SNS subject: at most 100 characters naming the rule, the key and the principal.
pub fn notification_subject(inv: &Investigation) -> String {
    let short = |s: &str| -> String {
        if let Some((_, a)) = s.rsplit_once(":alias/") {
            return format!("alias/{a}");
        }
        if let Some((_, k)) = s.rsplit_once(":key/") {
            // Key ids are long; the first block is enough to recognise one.
            return format!("key/{}", k.split('-').next().unwrap_or(k));
        }
        for kind in [":role/", ":user/"] {
            if let Some((_, name)) = s.rsplit_once(kind) {
                return format!("{}{}", &kind[1..], name.rsplit('/').next().unwrap_or(name));
            }
        }
        s.to_owned()
    };
    let text = if inv.enriched {
        let key = inv
            .keys
            .iter()
            .find(|k| k.key != "-")
            .map(|k| k.aliases.first().cloned().unwrap_or_else(|| short(&k.key)));
        let who = inv.principals.first().map(|p| short(&p.principal));
        let mut s = match &inv.rule {
            Some(rule) => format!(
                "[{}] {}: {} events",
                rule.severity.as_str().to_uppercase(),
                rule.id,
                inv.count
            ),
            None => format!(
                "[{}] {}: {} events",
                inv.alarm.state,
                clean(&inv.alarm.name, 40),
                inv.count
            ),
        };
        if let Some(k) = key {
            s.push_str(&format!(" on {k}"));
        }
        if let Some(w) = who {
            s.push_str(&format!(" by {w}"));
        }
        s
    } else {
        let head = format!("[{}] ", inv.alarm.state);
        let tail = " (not enriched)";
        let room = (MAX_SUBJECT - 1)
            .saturating_sub(head.chars().count() + tail.chars().count())
            .saturating_sub(1);
        format!("{head}{}{tail}", clean(&inv.alarm.name, room))
    };
    clean(&text, MAX_SUBJECT - 1)
}

/// The notification body: plain text, read top-down, at most 256 KB.
pub fn notification_body(inv: &Investigation) -> String {
    use std::fmt::Write;
    let mut b = String::new();
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let a = &inv.alarm;
    let _ = writeln!(
        b,
        "CloudWatch alarm {} is {} (was {}) since {}.",
        a.name,
        a.state,
        a.previous_state.as_deref().unwrap_or("?"),
        ts(a.state_change_time)
    );
    if let Some(r) = &a.reason {
        let _ = writeln!(b, "Reason: {r}");
    }
    let _ = writeln!(
        b,
        "Metric: {}",
        if a.metrics.is_empty() {
            "-".to_owned()
        } else {
            a.metrics.join("; ")
        }
    );
    if let Some(acct) = &a.account {
        let _ = writeln!(
            b,
            "Account: {acct}   Region: {}",
            a.region.as_deref().unwrap_or("?")
        );
    }
    b.push('\n');
    match (&inv.rule, inv.enriched) {
        (Some(rule), true) => {
            let _ = writeln!(
                b,
                "RULE {} ({}): {}",
                rule.id,
                rule.severity.as_str(),
                rule.title
            );
            let _ = writeln!(b, "{}", rule.description);
        }
        (None, true) => {
            let _ = writeln!(
                b,
                "The metric is keytrail's own; the events below are those its dimensions select."
            );
        }
        _ => {
            let _ = writeln!(
                b,
                "NOT ENRICHED: {}",
                inv.not_enriched_reason
                    .as_deref()
                    .unwrap_or("the alarm's metric is not a keytrail rule's")
            );
            let _ = writeln!(
                b,
                "What is known is listed above; investigate from the alarm's metric."
            );
        }
    }
    if let Some(w) = &inv.window {
        let _ = writeln!(
            b,
            "\nWINDOW {} to {} (log files delivered until {})",
            ts(w.start),
            ts(w.end),
            ts(w.files_to)
        );
        match (inv.first_seen, inv.last_seen) {
            (Some(f), Some(l)) => {
                let _ = writeln!(
                    b,
                    "{} matching events, first {} last {}",
                    inv.count,
                    ts(f),
                    ts(l)
                );
            }
            _ => {
                let _ = writeln!(
                    b,
                    "No matching events found in the logs read (CloudTrail may not have delivered them yet)."
                );
            }
        }
    }
    let g = &inv.gather;
    if inv.enriched {
        let _ = writeln!(
            b,
            "Read {} of {} selected log files ({} listed, {} records) from {}.",
            g.files_read, g.files_selected, g.files_listed, g.records_scanned, g.source
        );
        if !g.files_failed.is_empty() {
            let _ = writeln!(
                b,
                "PARTIAL: {} log files could not be read; the counts below miss their events:",
                g.files_failed.len()
            );
            for f in g.files_failed.iter().take(20) {
                let _ = writeln!(b, "  - {}: {}", f.key, f.error);
            }
        }
    }
    if !inv.principals.is_empty() {
        let _ = writeln!(b, "\nWHO");
        for p in &inv.principals {
            let mut line = format!("  {:>6}  {}", p.count, p.principal);
            if !p.sessions.is_empty() {
                line.push_str(&format!("  sessions: {}", p.sessions.join(", ")));
            }
            if p.service_originated {
                line.push_str("  (via AWS service)");
            }
            let _ = writeln!(b, "{line}");
        }
    }
    if !inv.source_ips.is_empty() {
        let _ = writeln!(b, "\nFROM");
        for ip in &inv.source_ips {
            let class = serde_json::to_value(ip.class)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                b,
                "  {:>6}  {}  ({})",
                ip.count,
                ip.ip,
                class.replace('_', " ")
            );
        }
    }
    if !inv.keys.is_empty() {
        let _ = writeln!(b, "\nKEYS");
        for k in &inv.keys {
            let mut line = format!("  {:>6}  {}", k.count, k.key);
            if !k.aliases.is_empty() {
                line.push_str(&format!("  {}", k.aliases.join(", ")));
            }
            if let Some(s) = &k.state {
                line.push_str(&format!("  state {s}"));
            }
            if let Some(d) = &k.deletion_date {
                line.push_str(&format!(" (deletion {d})"));
            }
            let _ = writeln!(b, "{line}");
            if !k.tags.is_empty() {
                let tags: Vec<String> = k.tags.iter().map(|(t, v)| format!("{t}={v}")).collect();
                let _ = writeln!(b, "          tags: {}", tags.join(", "));
            }
            for u in &k.unavailable {
                let _ = writeln!(b, "          not available: {u}");
            }
        }
    }
    let counts = |b: &mut String, title: &str, rows: &[Count]| {
        if !rows.is_empty() {
            let _ = writeln!(b, "\n{title}");
            for r in rows {
                let _ = writeln!(b, "  {:>6}  {}", r.count, r.value);
            }
        }
    };
    counts(&mut b, "OPERATIONS", &inv.event_names);
    if !inv.errors.is_empty() {
        let _ = writeln!(b, "\nERRORS");
        for e in &inv.errors {
            let _ = writeln!(
                b,
                "  {:>6}  {}  {}",
                e.count,
                e.code,
                e.message.as_deref().unwrap_or("")
            );
        }
    }
    counts(&mut b, "ENCRYPTION CONTEXT", &inv.encryption_context);
    counts(&mut b, "USER AGENTS", &inv.user_agents);
    if inv.cross_account_events > 0 {
        let _ = writeln!(
            b,
            "\nCROSS-ACCOUNT: {} events by a caller outside the key's account.",
            inv.cross_account_events
        );
    }
    if !inv.samples.is_empty() {
        let _ = writeln!(b, "\nSAMPLE EVENTS");
        for s in &inv.samples {
            let f = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
            let _ = writeln!(
                b,
                "  {} {} {} from {} {} {}",
                f("eventTime"),
                f("eventName"),
                f("principal"),
                f("sourceIPAddress"),
                f("errorCode"),
                f("eventID")
            );
        }
    }
    if let Some(rule) = &inv.rule {
        let _ = writeln!(b, "\nPLAYBOOK");
        for (i, step) in rule.playbook.iter().enumerate() {
            let _ = writeln!(b, "  {}. {step}", i + 1);
        }
    }
    if let Some(q) = &inv.athena_query {
        let _ = writeln!(b, "\nATHENA QUERY (standard CloudTrail table)\n{q}");
    }
    if let Some(loc) = &inv.record_location {
        let _ = writeln!(b, "\nInvestigation record: {loc}");
    }
    truncate_body(b)
}

fn truncate_body(mut b: String) -> String {
    const NOTE: &str = "\n[truncated: the message exceeded 256 KB; see the investigation record]\n";
    if b.len() <= MAX_BODY_BYTES {
        return b;
    }
    let mut cut = MAX_BODY_BYTES - NOTE.len();
    while !b.is_char_boundary(cut) {
        cut -= 1;
    }
    b.truncate(cut);
    b.push_str(NOTE);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::record::Record;
    use crate::investigate::alarm::{Payload, parse_payload};
    use serde_json::json;

    fn alarm(metric: &str, dims: Value, when: &str, period: u32, evals: u32) -> Alarm {
        let v = json!({"AlarmName": "a", "NewStateValue": "ALARM", "StateChangeTime": when,
            "Trigger": {"MetricName": metric, "Namespace": "KMSAudit", "Dimensions": dims, "Period": period, "EvaluationPeriods": evals}});
        match parse_payload(&v) {
            Payload::Alarm(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn window_arithmetic() {
        let a = alarm(
            "KMSDecryptFailures",
            json!([]),
            "2026-10-04T02:50:00.000+0000",
            300,
            2,
        );
        let w = Window::for_alarm(&a, Duration::minutes(15));
        assert_eq!(w.start, t("2026-10-04T02:25:00Z"));
        assert_eq!(w.end, t("2026-10-04T02:50:00Z"));
        assert_eq!(w.files_to, t("2026-10-04T03:05:00Z"));
        assert_eq!(w.days().len(), 1);
    }

    #[test]
    fn window_across_day_month_and_year() {
        let a = alarm(
            "KMSDecryptFailures",
            json!([]),
            "2027-01-01T00:05:00.000+0000",
            300,
            1,
        );
        let w = Window::for_alarm(&a, Duration::minutes(15));
        assert_eq!(w.start, t("2026-12-31T23:45:00Z"));
        let days: Vec<String> = w.days().iter().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2026-12-31", "2027-01-01"]);
        let prefixes = day_prefixes("AWSLogs/o-abc/", "111122223333", "us-east-1", &w);
        assert_eq!(
            prefixes,
            [
                "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2026/12/31/",
                "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2027/01/01/"
            ]
        );
        let a = alarm(
            "KMSDecryptFailures",
            json!([]),
            "2026-03-01T00:10:00.000+0000",
            3600,
            1,
        );
        let w = Window::for_alarm(&a, Duration::minutes(15));
        let days: Vec<String> = w.days().iter().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2026-02-28", "2026-03-01"]);
        // A file delivered 20 minutes after the alarm cannot hold its events (lag 15).
        assert!(w.wants_delivery(t("2026-03-01T00:25:00Z")));
        assert!(!w.wants_delivery(t("2026-03-01T00:25:01Z")));
        assert!(!w.wants_delivery(t("2026-02-28T22:54:59Z")));
    }

    fn ev(v: Value) -> Record {
        Record::from_value(v).expect("record")
    }

    fn kms(name: &str, error: Option<&str>) -> Value {
        let mut v = json!({"eventSource": "kms.amazonaws.com", "eventName": name, "eventTime": "2026-10-04T02:45:00Z",
            "sourceIPAddress": "203.0.113.9", "userAgent": "\u{1b}[31mevil\nagent",
            "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
                "arn": "arn:aws:sts::111122223333:assumed-role/app/sess\u{7}1",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/app"}}},
            "requestParameters": {"encryptionContext": {"tenant": "cust-98765"}},
            "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k1", "type": "AWS::KMS::Key"}]});
        if let Some(code) = error {
            v["errorCode"] = json!(code);
            v["errorMessage"] = json!("line1\nline2");
        }
        v
    }

    #[test]
    fn selectors_follow_rules_and_dimensions() {
        let ns = "KMSAudit";
        let lag = Duration::minutes(15);
        let failure = ev(kms("Decrypt", Some("InvalidCiphertextException")));
        let ok = ev(kms("Decrypt", None));
        let enc_fail = ev(kms("Encrypt", Some("AccessDeniedException")));
        fn e(r: &Record) -> KmsEvent<'_> {
            KmsEvent::analyse(r).expect("event")
        }
        let p = plan_for(
            &alarm(
                "KMSDecryptFailures",
                json!([]),
                "2026-10-04T02:50:00.000+0000",
                300,
                1,
            ),
            ns,
            lag,
        )
        .expect("plan");
        assert!(p.matches(&e(&failure)) && !p.matches(&e(&ok)) && !p.matches(&e(&enc_fail)));
        assert_eq!(p.rule().map(|r| r.id), Some("decrypt_failures"));
        let p = plan_for(
            &alarm(
                "KMSFailures",
                json!([{"name": "ErrorClass", "value": "AccessDenied"}]),
                "2026-10-04T02:50:00.000+0000",
                300,
                1,
            ),
            ns,
            lag,
        )
        .expect("plan");
        assert!(p.matches(&e(&enc_fail)) && !p.matches(&e(&failure)));
        let p = plan_for(
            &alarm(
                "KMSApiCalls",
                json!([{"name": "EventName", "value": "Encrypt"}]),
                "2026-10-04T02:50:00.000+0000",
                300,
                1,
            ),
            ns,
            lag,
        )
        .expect("plan");
        assert!(p.matches(&e(&enc_fail)) && !p.matches(&e(&ok)));
        // Outside the window.
        let p = plan_for(
            &alarm(
                "KMSDecryptFailures",
                json!([]),
                "2026-10-04T02:30:00.000+0000",
                300,
                1,
            ),
            ns,
            lag,
        )
        .expect("plan");
        assert!(!p.matches(&e(&failure)));
        let unowned = alarm(
            "SecondsUntilKeyMaterialExpiration",
            json!([]),
            "2026-10-04T02:50:00.000+0000",
            300,
            1,
        );
        assert!(
            plan_for(&unowned, ns, lag)
                .expect_err("unowned")
                .to_string()
                .contains("no keytrail rule owns")
        );
    }

    #[test]
    fn investigation_is_sanitised_and_rendered() {
        let a = alarm(
            "KMSDecryptFailures",
            json!([]),
            "2026-10-04T02:50:00.000+0000",
            300,
            1,
        );
        let plan = plan_for(&a, "KMSAudit", Duration::minutes(15)).expect("plan");
        let mut evd = Evidence::default();
        let recs: Vec<Record> = (0..3)
            .map(|_| ev(kms("Decrypt", Some("InvalidCiphertextException"))))
            .collect();
        for r in &recs {
            evd.observe(&KmsEvent::analyse(r).expect("e"));
        }
        let inv = build_investigation(
            InvestigationInputs {
                alarm: &a,
                plan: Ok(&plan),
                gather: GatherInfo::default(),
                athena_table: "cloudtrail_logs",
                athena_date_partition: Some("logdate"),
                now: t("2026-10-04T02:51:00Z"),
            },
            evd,
        );
        assert_eq!(inv.count, 3);
        assert_eq!(
            inv.principals[0].principal,
            "arn:aws:iam::111122223333:role/app"
        );
        assert_eq!(inv.principals[0].sessions, ["sess1"]);
        assert_eq!(inv.user_agents[0].value, "evil agent");
        assert_eq!(inv.errors[0].message.as_deref(), Some("line1 line2"));
        assert_eq!(inv.encryption_context[0].value, "tenant=cust-98765");
        assert_eq!(inv.source_ips[0].class, SourceClass::Public);
        let s = notification_subject(&inv);
        assert!(s.len() <= MAX_SUBJECT, "{s}");
        assert_eq!(
            s,
            "[MEDIUM] decrypt_failures: 3 events on key/k1 by role/app"
        );
        let b = notification_body(&inv);
        for needle in [
            "WHO",
            "arn:aws:iam::111122223333:role/app",
            "203.0.113.9",
            "PLAYBOOK",
            "ATHENA QUERY",
            "3 matching events",
        ] {
            assert!(b.contains(needle), "missing {needle} in\n{b}");
        }
        assert!(!b.contains('\u{1b}'));
        let q = inv.athena_query.clone().expect("query");
        assert!(
            q.contains("filter(resources, r -> r.type = 'AWS::KMS::Key')"),
            "{q}"
        );
        assert!(q.contains("useridentity.sessioncontext.sessionissuer.arn = 'arn:aws:iam::111122223333:role/app'"), "{q}");
        assert!(
            q.contains("BETWEEN '2026-10-04T02:30:00Z' AND '2026-10-04T02:50:00Z'"),
            "{q}"
        );
        assert!(
            q.contains("AND logdate BETWEEN '2026/10/04' AND '2026/10/04'"),
            "{q}"
        );
        let round: Investigation =
            serde_json::from_value(serde_json::to_value(&inv).expect("json")).expect("parse");
        assert_eq!(round.schema, SCHEMA);
    }

    #[test]
    fn not_enriched_and_limits() {
        let mut a = alarm(
            "Whatever",
            json!([]),
            "2026-10-04T02:50:00.000+0000",
            300,
            1,
        );
        a.name = format!("x\u{1b}[2J\nBcc: evil{}", "n".repeat(300));
        let inv = build_investigation(
            InvestigationInputs {
                alarm: &a,
                plan: Err(&PlanError::NotOurs(vec!["KMSAudit/Whatever".into()])),
                gather: GatherInfo::default(),
                athena_table: "t",
                athena_date_partition: None,
                now: t("2026-10-04T02:51:00Z"),
            },
            Evidence::default(),
        );
        assert!(!inv.enriched);
        let s = notification_subject(&inv);
        assert!(
            s.chars().count() <= MAX_SUBJECT && s.contains("not enriched") && !s.contains('\u{1b}'),
            "{s}"
        );
        assert!(notification_body(&inv).contains("NOT ENRICHED"));
        let huge = truncate_body("é".repeat(MAX_BODY_BYTES));
        assert!(huge.len() <= MAX_BODY_BYTES && huge.ends_with("investigation record]\n"));
    }

    #[test]
    fn sql_values_are_escaped() {
        let w = Window {
            start: t("2026-10-04T02:30:00Z"),
            end: t("2026-10-04T02:50:00Z"),
            files_from: t("2026-10-04T02:30:00Z"),
            files_to: t("2026-10-04T03:05:00Z"),
        };
        let q = athena_query(
            "cloudtrail_logs",
            Some("logdate"),
            &w,
            Some("arn:aws:iam::1:user/o'brien"),
            Some("10.0.0.1' OR '1'='1"),
        );
        assert!(q.contains("'arn:aws:iam::1:user/o''brien'"), "{q}");
        assert!(q.contains("'10.0.0.1'' OR ''1''=''1'"), "{q}");
    }

    #[test]
    fn athena_query_reads_only_the_days_of_the_files() {
        // A window across midnight reads the partitions of both days; the files
        // (delivered up to the lag after the end) decide, not the events.
        let w = Window {
            start: t("2026-10-04T23:40:00Z"),
            end: t("2026-10-04T23:55:00Z"),
            files_from: t("2026-10-04T23:40:00Z"),
            files_to: t("2026-10-05T00:10:00Z"),
        };
        let q = athena_query("db.cloudtrail_logs", Some("logdate"), &w, None, None);
        assert!(
            q.contains("WHERE eventsource = 'kms.amazonaws.com'\n  AND logdate BETWEEN '2026/10/04' AND '2026/10/05'\n"),
            "{q}"
        );
        assert!(q.contains("FROM db.cloudtrail_logs\n"), "{q}");
        // No partition column (a table without one), or a name that is not a
        // column: no partition predicate, never injected text.
        for col in [None, Some("logdate; DROP TABLE x"), Some(""), Some("1day")] {
            let q = athena_query("t", col, &w, None, None);
            assert!(!q.contains("logdate") && !q.contains("DROP"), "{q}");
            assert!(
                q.contains("eventtime BETWEEN '2026-10-04T23:40:00Z' AND '2026-10-04T23:55:00Z'"),
                "{q}"
            );
        }
        assert!(is_column_name("logdate") && is_column_name("_d1") && !is_column_name("a-b"));
    }
}
