//! CloudWatch alarm notifications, read tolerantly.
//!
//! An alarm reaches the enricher as an SNS Lambda event whose `Message` is the alarm
//! JSON; the CLI also accepts the SNS message alone or the bare alarm. Single-metric
//! alarms carry `Trigger.MetricName`; metric-math alarms carry `Trigger.Metrics[]`;
//! composite alarms carry `AlarmRule` and no metric. `StateChangeTime` is written as
//! `2026-10-04T03:12:00.123+0000`, which is not RFC 3339.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One metric an alarm watches.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRef {
    pub namespace: Option<String>,
    pub name: String,
    /// Dimensions as (name, value), in the order given.
    pub dimensions: Vec<(String, String)>,
    /// The metric's own period (metric math), if given.
    pub period_secs: Option<u32>,
}

impl MetricRef {
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the alarm evaluates.
#[derive(Debug, Clone, PartialEq)]
pub enum AlarmKind {
    Metric(MetricRef),
    MetricMath {
        expression: Option<String>,
        metrics: Vec<MetricRef>,
    },
    Composite {
        rule: String,
    },
    /// A trigger keytrail cannot read.
    Unknown,
}

/// A CloudWatch alarm state change.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub name: String,
    pub description: Option<String>,
    pub account: Option<String>,
    /// The region as CloudWatch names it in notifications ("US East (N. Virginia)").
    pub region: Option<String>,
    pub arn: Option<String>,
    pub new_state: String,
    pub old_state: Option<String>,
    pub reason: Option<String>,
    pub state_change_time: DateTime<Utc>,
    pub kind: AlarmKind,
    pub period_secs: Option<u32>,
    pub evaluation_periods: Option<u32>,
    pub threshold: Option<f64>,
    pub comparison: Option<String>,
}

impl Alarm {
    /// True for a transition into ALARM.
    pub fn is_alarm_state(&self) -> bool {
        self.new_state == "ALARM"
    }

    /// The metrics the alarm reads.
    pub fn metrics(&self) -> Vec<&MetricRef> {
        match &self.kind {
            AlarmKind::Metric(m) => vec![m],
            AlarmKind::MetricMath { metrics, .. } => metrics.iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The evaluation period: the trigger's, else the longest metric period, else 300 s.
    pub fn period(&self) -> u32 {
        self.period_secs
            .or_else(|| self.metrics().iter().filter_map(|m| m.period_secs).max())
            .unwrap_or(300)
    }

    /// The alarm region as a region code when it can be told (from the alarm ARN).
    pub fn region_code(&self) -> Option<&str> {
        let arn = self.arn.as_deref()?;
        let region = arn.split(':').nth(3)?;
        (!region.is_empty()).then_some(region)
    }
}

/// What a payload turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Alarm(Box<Alarm>),
    /// Not an alarm (subscription confirmation, another message): the reason.
    NotAnAlarm(String),
    /// Claimed to be an alarm but could not be read: the reason.
    Malformed(String),
}

/// The metric a CloudWatch Metrics Insights query reads:
/// `SELECT FUNC(Metric) FROM SCHEMA("Namespace", Dim, ...) [WHERE Dim = 'value' AND ...]`
/// (or `FROM "Namespace"`). The `WHERE` equalities become the dimensions. `None`
/// for anything else (math expressions, `SEARCH`).
pub fn insights_metric(query: &str, period_secs: Option<u32>) -> Option<MetricRef> {
    let q = query.trim();
    let upper = q.to_ascii_uppercase();
    if !upper.starts_with("SELECT") {
        return None;
    }
    let unquote = |t: &str| t.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
    let open = q.find('(')?;
    let close = open + q[open..].find(')')?;
    let name = unquote(&q[open + 1..close]);
    let from = upper[close..].find(" FROM ")? + close + " FROM ".len();
    let rest = q[from..].trim_start();
    let namespace = if rest.to_ascii_uppercase().starts_with("SCHEMA(") {
        let args = &rest["SCHEMA(".len()..];
        let end = args.find([',', ')'])?;
        unquote(&args[..end])
    } else {
        unquote(rest.split_whitespace().next()?)
    };
    let mut dimensions = Vec::new();
    if let Some(w) = upper.find(" WHERE ") {
        let clause = &q[w + " WHERE ".len()..];
        let clause_upper = &upper[w + " WHERE ".len()..];
        let end = [" GROUP BY ", " ORDER BY ", " LIMIT "]
            .iter()
            .filter_map(|k| clause_upper.find(k))
            .min()
            .unwrap_or(clause.len());
        for cond in split_and(&clause[..end]) {
            if let Some((k, v)) = cond.split_once('=')
                && !k.ends_with(['!', '<', '>'])
            {
                dimensions.push((unquote(k), unquote(v)));
            }
        }
    }
    (!name.is_empty() && !namespace.is_empty()).then_some(MetricRef {
        namespace: Some(namespace),
        name,
        dimensions,
        period_secs,
    })
}

/// The conditions of a `WHERE` clause joined by `AND` (any case).
fn split_and(clause: &str) -> Vec<&str> {
    let upper = clause.to_ascii_uppercase();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(i) = upper[start..].find(" AND ") {
        out.push(&clause[start..start + i]);
        start += i + " AND ".len();
    }
    out.push(&clause[start..]);
    out
}

/// Reads an SNS Lambda event, an SNS message, or a bare alarm JSON.
pub fn parse_payload(v: &Value) -> Payload {
    // SNS Lambda event.
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        let Some(sns) = records.first().and_then(|r| r.get("Sns")) else {
            return Payload::NotAnAlarm("Records without an SNS message".into());
        };
        if records.len() > 1 {
            tracing::warn!(
                records = records.len(),
                "SNS event with several records; reading the first"
            );
        }
        return parse_sns_message(sns);
    }
    if v.get("Message").is_some() && v.get("Type").is_some() {
        return parse_sns_message(v);
    }
    if v.get("AlarmName").is_some() {
        return parse_alarm(v);
    }
    Payload::NotAnAlarm("neither an SNS event, an SNS message nor a CloudWatch alarm".into())
}

fn parse_sns_message(sns: &Value) -> Payload {
    let kind = sns
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or("Notification");
    if kind != "Notification" {
        return Payload::NotAnAlarm(format!("SNS {kind} message"));
    }
    let Some(message) = sns.get("Message").and_then(Value::as_str) else {
        return Payload::Malformed("SNS message without a Message string".into());
    };
    match serde_json::from_str::<Value>(message) {
        Ok(inner) if inner.get("AlarmName").is_some() => parse_alarm(&inner),
        Ok(_) => Payload::NotAnAlarm("SNS message that is not a CloudWatch alarm".into()),
        Err(e) if message.trim_start().starts_with('{') => {
            Payload::Malformed(format!("alarm message is not valid JSON: {e}"))
        }
        Err(_) => Payload::NotAnAlarm("SNS message that is not JSON".into()),
    }
}

fn s(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn num(v: &Value, k: &str) -> Option<f64> {
    match v.get(k)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn dims(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| {
                    let name = s(d, "name").or_else(|| s(d, "Name"))?;
                    let value = s(d, "value").or_else(|| s(d, "Value")).unwrap_or_default();
                    Some((name, value))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parses `StateChangeTime`: `2026-10-04T03:12:00.123+0000`, or RFC 3339.
pub fn parse_state_change_time(t: &str) -> Option<DateTime<Utc>> {
    let t = t.trim();
    DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(t))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn parse_alarm(v: &Value) -> Payload {
    let Some(name) = s(v, "AlarmName") else {
        return Payload::Malformed("alarm without AlarmName".into());
    };
    let Some(new_state) = s(v, "NewStateValue") else {
        return Payload::Malformed(format!("alarm {name:?} without NewStateValue"));
    };
    let Some(when) = s(v, "StateChangeTime")
        .as_deref()
        .and_then(parse_state_change_time)
    else {
        return Payload::Malformed(format!("alarm {name:?} without a readable StateChangeTime"));
    };
    let trigger = v.get("Trigger").filter(|t| t.is_object());
    let kind = if let Some(rule) = s(v, "AlarmRule") {
        AlarmKind::Composite { rule }
    } else if let Some(t) = trigger {
        if let Some(metric) = s(t, "MetricName") {
            AlarmKind::Metric(MetricRef {
                namespace: s(t, "Namespace"),
                name: metric,
                dimensions: dims(t.get("Dimensions")),
                period_secs: None,
            })
        } else if let Some(list) = t.get("Metrics").and_then(Value::as_array) {
            let expression = list
                .iter()
                .find(|m| m.get("ReturnData").and_then(Value::as_bool) == Some(true))
                .and_then(|m| s(m, "Expression"));
            let metrics = list
                .iter()
                .filter_map(|m| {
                    let Some(stat) = m.get("MetricStat") else {
                        // A Metrics Insights query names its metric in SQL.
                        let period = num(m, "Period").map(|p| p as u32);
                        return insights_metric(&s(m, "Expression")?, period);
                    };
                    let metric = stat.get("Metric")?;
                    Some(MetricRef {
                        namespace: s(metric, "Namespace"),
                        name: s(metric, "MetricName")?,
                        dimensions: dims(metric.get("Dimensions")),
                        period_secs: num(stat, "Period").map(|p| p as u32),
                    })
                })
                .collect();
            AlarmKind::MetricMath {
                expression,
                metrics,
            }
        } else {
            AlarmKind::Unknown
        }
    } else {
        AlarmKind::Unknown
    };
    let t = trigger.cloned().unwrap_or(Value::Null);
    Payload::Alarm(Box::new(Alarm {
        name,
        description: s(v, "AlarmDescription"),
        account: s(v, "AWSAccountId"),
        region: s(v, "Region"),
        arn: s(v, "AlarmArn"),
        new_state,
        old_state: s(v, "OldStateValue"),
        reason: s(v, "NewStateReason"),
        state_change_time: when,
        kind,
        period_secs: num(&t, "Period").map(|p| p as u32).filter(|p| *p > 0),
        evaluation_periods: num(&t, "EvaluationPeriods")
            .map(|p| p as u32)
            .filter(|p| *p > 0),
        threshold: num(&t, "Threshold"),
        comparison: s(&t, "ComparisonOperator"),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn metrics_insights_queries_name_their_metric() {
        let m = insights_metric(
            r#"SELECT MIN(SecondsUntilKeyMaterialExpiration) FROM SCHEMA("AWS/KMS", KeyId)"#,
            Some(300),
        )
        .expect("query");
        assert_eq!(m.namespace.as_deref(), Some("AWS/KMS"));
        assert_eq!(m.name, "SecondsUntilKeyMaterialExpiration");
        assert!(m.dimensions.is_empty());
        assert_eq!(m.period_secs, Some(300));
        let m = insights_metric(
            "select min(SecondsUntilKeyMaterialExpiration) from schema(\"AWS/KMS\", KeyId) where KeyId = 'e5d7f9a1' and Other != 'x' group by KeyId",
            None,
        )
        .expect("query");
        assert_eq!(m.dimensions, [("KeyId".to_owned(), "e5d7f9a1".to_owned())]);
        assert!(insights_metric("m1 * 2", None).is_none());
        assert!(insights_metric("SELECT", None).is_none());
    }

    use super::*;
    use serde_json::json;

    fn alarm(v: Value) -> Alarm {
        match parse_payload(&v) {
            Payload::Alarm(a) => *a,
            other => panic!("not an alarm: {other:?}"),
        }
    }

    fn single() -> Value {
        json!({"AlarmName": "keytrail-decrypt-failures", "NewStateValue": "ALARM", "OldStateValue": "OK",
            "StateChangeTime": "2026-10-04T02:50:00.123+0000", "AWSAccountId": "111122223333",
            "AlarmArn": "arn:aws:cloudwatch:us-east-1:111122223333:alarm:keytrail-decrypt-failures",
            "Trigger": {"MetricName": "KMSDecryptFailures", "Namespace": "KMSAudit", "Statistic": "SUM",
                "Dimensions": [{"value": "Decrypt", "name": "EventName"}], "Period": 300, "EvaluationPeriods": 2,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 10.0}})
    }

    #[test]
    fn bare_single_metric_alarm() {
        let a = alarm(single());
        assert_eq!(
            a.state_change_time.to_rfc3339(),
            "2026-10-04T02:50:00.123+00:00"
        );
        assert_eq!(a.period(), 300);
        assert_eq!(a.evaluation_periods, Some(2));
        assert_eq!(a.region_code(), Some("us-east-1"));
        let AlarmKind::Metric(m) = &a.kind else {
            panic!("metric")
        };
        assert_eq!(m.dimension("EventName"), Some("Decrypt"));
    }

    #[test]
    fn sns_event_and_sns_message_wrappers() {
        let msg = json!({"Type": "Notification", "Message": single().to_string()});
        assert!(matches!(parse_payload(&msg), Payload::Alarm(_)));
        let ev = json!({"Records": [{"EventSource": "aws:sns", "Sns": msg}]});
        assert!(matches!(parse_payload(&ev), Payload::Alarm(_)));
    }

    #[test]
    fn metric_math_and_composite() {
        let mut v = single();
        v["Trigger"] = json!({"Period": 0, "EvaluationPeriods": 1, "Metrics": [
            {"Expression": "m1+m2", "Id": "e1", "ReturnData": true},
            {"Id": "m1", "ReturnData": false, "MetricStat": {"Period": 300, "Stat": "Sum",
                "Metric": {"Namespace": "KMSAudit", "MetricName": "KMSFailures", "Dimensions": [{"name": "ErrorClass", "value": "AccessDenied"}]}}},
            {"Id": "m2", "ReturnData": false, "MetricStat": {"Period": 600, "Stat": "Sum",
                "Metric": {"Namespace": "KMSAudit", "MetricName": "KMSFailures", "Dimensions": [{"name": "ErrorClass", "value": "InvalidCiphertext"}]}}}]});
        let a = alarm(v);
        assert_eq!(a.metrics().len(), 2);
        assert_eq!(a.period(), 600);
        let AlarmKind::MetricMath { expression, .. } = &a.kind else {
            panic!("math")
        };
        assert_eq!(expression.as_deref(), Some("m1+m2"));

        let mut c = single();
        c.as_object_mut().expect("obj").remove("Trigger");
        c["AlarmRule"] = json!("ALARM(\"a\") OR ALARM(\"b\")");
        assert!(matches!(alarm(c).kind, AlarmKind::Composite { .. }));
    }

    #[test]
    fn not_alarms_and_malformed() {
        let confirm = json!({"Records": [{"Sns": {"Type": "SubscriptionConfirmation", "Message": "You have chosen..."}}]});
        assert!(matches!(parse_payload(&confirm), Payload::NotAnAlarm(_)));
        let text = json!({"Records": [{"Sns": {"Type": "Notification", "Message": "hello"}}]});
        assert!(matches!(parse_payload(&text), Payload::NotAnAlarm(_)));
        let cut = json!({"Records": [{"Sns": {"Type": "Notification", "Message": "{\"AlarmName\": \"x\", \"NewSt"}}]});
        assert!(matches!(parse_payload(&cut), Payload::Malformed(_)));
        let mut no_time = single();
        no_time["StateChangeTime"] = json!("yesterday");
        assert!(matches!(parse_payload(&no_time), Payload::Malformed(_)));
        assert!(matches!(
            parse_payload(&json!({"foo": 1})),
            Payload::NotAnAlarm(_)
        ));
    }

    #[test]
    fn state_change_time_forms() {
        let t = |s: &str| parse_state_change_time(s).map(|d| d.to_rfc3339());
        assert_eq!(
            t("2026-12-31T23:59:59.999+0000").as_deref(),
            Some("2026-12-31T23:59:59.999+00:00")
        );
        assert_eq!(
            t("2026-10-04T03:12:00Z").as_deref(),
            Some("2026-10-04T03:12:00+00:00")
        );
        assert_eq!(
            t("2026-10-04T05:12:00.000+0200").as_deref(),
            Some("2026-10-04T03:12:00+00:00")
        );
        assert_eq!(t("nope"), None);
    }
}
