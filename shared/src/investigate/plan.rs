//! An alarm becomes a plan: the metrics' selectors (the catalog rule, or the
//! dimensions of KMSApiCalls and KMSFailures) and the window of events and deliveries.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::cloudtrail::layout::log_day_prefix;
use crate::detect::catalog::{AlarmSource, Rule, rule_for_aws_metric, rule_for_metric};
use crate::detect::event::{ErrorClass, KmsEvent};
use crate::detect::metrics::{
    ERROR_CLASS_DIMENSION, EVENT_NAME_DIMENSION, KEY_ARN_DIMENSION, KMS_API_CALLS, KMS_FAILURES,
    KMS_KEY_CALLS,
};
use crate::investigate::alarm::{Alarm, AlarmKind, MetricRef};

/// Selects the events behind one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSelector {
    /// The rule, when the metric is a rule's.
    pub rule: Option<&'static Rule>,
    pub failed_only: bool,
    pub event_name: Option<String>,
    pub error_class: Option<ErrorClass>,
    pub key_arn: Option<String>,
    /// The `KeyId` dimension of a metric AWS KMS publishes: a key id, or a key ARN.
    pub key_id: Option<String>,
}

impl MetricSelector {
    /// The selector for a metric in `namespace`, or `None` when keytrail does not own it.
    pub fn for_metric(m: &MetricRef, namespace: &str) -> Option<MetricSelector> {
        if let Some(ns) = m.namespace.as_deref()
            && ns != namespace
        {
            // A metric of AWS KMS itself that a rule is about.
            let rule = rule_for_aws_metric(ns, &m.name)?;
            return Some(MetricSelector {
                rule: Some(rule),
                failed_only: false,
                event_name: None,
                error_class: None,
                key_arn: None,
                key_id: m
                    .dimension(KEY_ID_DIMENSION)
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned),
            });
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
            key_id: None,
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
            && self
                .key_id
                .as_deref()
                .is_none_or(|k| e.keys.iter().any(|x| key_is(&x.id, k)))
    }

    /// The key ARN an AWS/KMS metric's `KeyId` dimension names, built with the
    /// alarm's account and region when it is a bare id.
    pub fn key_arn_for(&self, account: Option<&str>, region: Option<&str>) -> Option<String> {
        let id = self.key_id.as_deref()?;
        if id.starts_with("arn:") {
            return Some(id.to_owned());
        }
        let (account, region) = (account?, region?);
        Some(format!(
            "arn:{}:kms:{region}:{account}:key/{id}",
            crate::detect::keys::partition_for_region(region)
        ))
    }
}

/// Whether the key ARN `arn` is the key `id` names (a key id, or the ARN itself).
fn key_is(arn: &str, id: &str) -> bool {
    arn == id || arn.rsplit_once(":key/").is_some_and(|(_, k)| k == id)
}

/// The dimension AWS KMS publishes its key metrics with.
pub const KEY_ID_DIMENSION: &str = "KeyId";

/// What to look for, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub selectors: Vec<MetricSelector>,
    pub window: Window,
    /// The review's baseline, for `unfamiliar_source_ip` (none: that rule selects nothing).
    pub baseline: Option<std::sync::Arc<crate::detect::baseline::Baseline>>,
    /// The configuration file's suppressions: the events they silence for the
    /// alarm's rule did not raise it, and are counted apart.
    pub tuning: std::sync::Arc<crate::detect::tuning::Tuning>,
}

impl Plan {
    pub fn matches(&self, e: &KmsEvent) -> bool {
        e.time >= self.window.start
            && e.time <= self.window.end
            && self.selectors.iter().any(|s| s.matches(e))
    }

    /// The suppression that silences `e` for the alarm's rule, if one does.
    pub fn suppression_for(&self, e: &KmsEvent) -> Option<&crate::detect::tuning::Suppression> {
        self.tuning.suppression_for(self.rule()?, e)
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
    let mut window = Window::for_alarm(alarm, lag);
    // A rule over an AWS metric: its evidence happened before the metric fell.
    if let Some(AlarmSource::AwsKms { lookback_secs, .. }) =
        selectors.iter().find_map(|s| s.rule).map(|r| r.alarm)
    {
        window.start = window
            .start
            .min(window.end - Duration::seconds(i64::from(lookback_secs)));
        window.files_from = window.start;
    }
    Ok(Plan {
        selectors,
        window,
        baseline: None,
        tuning: Default::default(),
    })
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
