//! CloudWatch metrics, aggregated per (metric, dimensions, minute of eventTime).
//!
//! Only bounded values become dimensions: event names from the fixed KMS API list, the
//! bounded error classes, and (opt-in) key ARNs of the trail's own account. IPs, user
//! agents, session names and context values are attacker-controlled and never are.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::detect::catalog::RuleSet;

use crate::detect::event::{EventKind, KmsEvent};

/// Calls per operation, dimension `EventName`.
pub const KMS_API_CALLS: &str = "KMSApiCalls";
/// Failed calls, dimension `ErrorClass`.
pub const KMS_FAILURES: &str = "KMSFailures";
/// Calls per key of the trail's own account, dimension `KeyArn` (opt-in).
pub const KMS_KEY_CALLS: &str = "KMSApiCallsByKey";
/// KMS network-activity events at a VPC endpoint (`AwsVpceEvent`): no dimension,
/// and per `EventName` (the API the request asked for). Not calls: they are not in
/// `KMSApiCalls` or `KMSFailures`.
pub const KMS_VPCE_EVENTS: &str = "KMSVpceEvents";
/// Log files with damaged content.
pub const BAD_LOG_FILES: &str = "KMSAuditBadLogFiles";
/// Rule matches a configured suppression silenced, dimension `Rule`: counted, so
/// that nothing is dropped silently.
pub const SUPPRESSED: &str = "KMSAuditSuppressed";
/// PutMetricData accepts at most this many datums per call.
pub const MAX_DATUMS_PER_CALL: usize = 1000;

/// The dimension of `KMSApiCalls`: the operation ([`operation_dimension`]).
pub const EVENT_NAME_DIMENSION: &str = "EventName";
/// The dimension of `KMSFailures`: the [`ErrorClass`](crate::detect::event::ErrorClass).
pub const ERROR_CLASS_DIMENSION: &str = "ErrorClass";
/// The dimension of `KMSApiCallsByKey`: the key's ARN.
pub const KEY_ARN_DIMENSION: &str = "KeyArn";
/// The dimension of `KMSAuditSuppressed`: the rule id.
pub const RULE_DIMENSION: &str = "Rule";

/// A metric and its dimensions (sorted by name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct MetricId {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

impl MetricId {
    pub fn new(name: &str, dims: &[(&str, &str)]) -> MetricId {
        let mut dimensions: Vec<(String, String)> = dims
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        dimensions.sort();
        MetricId {
            name: name.to_owned(),
            dimensions,
        }
    }
}

/// One aggregated datum: `count` observations of value 1 in the minute starting at `minute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datum {
    pub metric: MetricId,
    pub minute: DateTime<Utc>,
    pub count: u64,
}

/// Options that change which metrics exist.
#[derive(Debug, Clone, Default)]
pub struct MetricOptions {
    /// Emit `KMSApiCallsByKey` for keys of `own_account`.
    pub per_key: bool,
    /// The trail's own account (from the log file's key); per-key metrics need it.
    pub own_account: Option<String>,
}

/// A metric identity to look up without building a [`MetricId`]: the counting path
/// runs for every KMS event, and most events only add to metrics that exist.
trait MetricKey {
    fn name(&self) -> &str;
    fn dimension_count(&self) -> usize;
    fn dimension(&self, i: usize) -> (&str, &str);
}

impl MetricKey for MetricId {
    fn name(&self) -> &str {
        &self.name
    }
    fn dimension_count(&self) -> usize {
        self.dimensions.len()
    }
    fn dimension(&self, i: usize) -> (&str, &str) {
        let (k, v) = &self.dimensions[i];
        (k, v)
    }
}

/// A borrowed metric with at most one dimension (all the counting path needs).
struct MetricRef<'a> {
    name: &'a str,
    dimension: Option<(&'a str, &'a str)>,
}

impl MetricKey for MetricRef<'_> {
    fn name(&self) -> &str {
        self.name
    }
    fn dimension_count(&self) -> usize {
        usize::from(self.dimension.is_some())
    }
    fn dimension(&self, _: usize) -> (&str, &str) {
        self.dimension.unwrap_or_default()
    }
}

impl MetricRef<'_> {
    fn to_id(&self) -> MetricId {
        match self.dimension {
            Some(d) => MetricId::new(self.name, &[d]),
            None => MetricId::new(self.name, &[]),
        }
    }
}

// The same order as `MetricId`'s derived one (name, then the dimensions as a
// sequence), so that a `MetricRef` finds its `MetricId` in a `BTreeMap`.
impl Ord for dyn MetricKey + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name()).then_with(|| {
            let (a, b) = (self.dimension_count(), other.dimension_count());
            (0..a.min(b))
                .map(|i| self.dimension(i).cmp(&other.dimension(i)))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| a.cmp(&b))
        })
    }
}
borrowed_lookup!(MetricKey for MetricId);

/// Aggregated counts: per metric, per minute (epoch seconds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    counts: BTreeMap<MetricId, BTreeMap<i64, u64>>,
}

fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60) * 60
}

impl Metrics {
    /// Adds `n` to a metric in the minute holding `at`.
    pub fn add(&mut self, metric: MetricId, at: DateTime<Utc>, n: u64) {
        *self
            .counts
            .entry(metric)
            .or_default()
            .entry(minute_of(at))
            .or_default() += n;
    }

    /// [`Metrics::add`] by a borrowed identity: allocates only for a new metric.
    fn add_ref(&mut self, metric: MetricRef<'_>, at: DateTime<Utc>, n: u64) {
        let minutes = match self.counts.get_mut(&metric as &dyn MetricKey) {
            Some(m) => m,
            None => self.counts.entry(metric.to_id()).or_default(),
        };
        *minutes.entry(minute_of(at)).or_default() += n;
    }

    /// Counts the rules a suppression silenced for `e` (`KMSAuditSuppressed{Rule}`).
    pub fn observe_suppressed(&mut self, e: &KmsEvent, suppressed: RuleSet) {
        for rule in suppressed.iter() {
            let metric = MetricRef {
                name: SUPPRESSED,
                dimension: Some((RULE_DIMENSION, rule.id)),
            };
            self.add_ref(metric, e.time, 1);
        }
    }

    /// Counts one event into every metric it belongs to: its rules' metrics, and the
    /// counts of its kind (calls, or requests at a VPC endpoint).
    pub fn observe(&mut self, e: &KmsEvent, rules: RuleSet, opts: &MetricOptions) {
        for rule in rules.iter() {
            let metric = MetricRef {
                name: rule.metric,
                dimension: None,
            };
            self.add_ref(metric, e.time, 1);
        }
        match e.kind {
            EventKind::Call => self.observe_call(e, opts),
            EventKind::VpceActivity => {
                // Requests seen at a VPC endpoint: their own count, in total and per
                // API asked for (from the operations table: bounded), never calls.
                self.add_ref(
                    MetricRef {
                        name: KMS_VPCE_EVENTS,
                        dimension: None,
                    },
                    e.time,
                    1,
                );
                self.add_ref(
                    MetricRef {
                        name: KMS_VPCE_EVENTS,
                        dimension: Some((
                            EVENT_NAME_DIMENSION,
                            crate::detect::operations::operation_dimension(e.name()),
                        )),
                    },
                    e.time,
                    1,
                );
            }
            // Only its rules' metrics: an S3 request is not a KMS call.
            EventKind::S3ObjectEncryption => {}
        }
    }

    /// The call counts of one KMS API call.
    fn observe_call(&mut self, e: &KmsEvent, opts: &MetricOptions) {
        self.add_ref(
            MetricRef {
                name: KMS_API_CALLS,
                dimension: Some((EVENT_NAME_DIMENSION, e.operation_dimension())),
            },
            e.time,
            1,
        );
        if let Some(class) = e.error_class {
            self.add_ref(
                MetricRef {
                    name: KMS_FAILURES,
                    dimension: Some((ERROR_CLASS_DIMENSION, class.as_str())),
                },
                e.time,
                1,
            );
        }
        if opts.per_key
            && let Some(own) = opts.own_account.as_deref()
        {
            for key in e
                .keys
                .iter()
                .filter(|k| k.is_key_arn() && k.account() == Some(own))
            {
                let metric = MetricRef {
                    name: KMS_KEY_CALLS,
                    dimension: Some((KEY_ARN_DIMENSION, &key.id)),
                };
                self.add_ref(metric, e.time, 1);
            }
        }
    }

    pub fn merge(&mut self, other: &Metrics) {
        for (metric, minutes) in &other.counts {
            let mine = match self.counts.get_mut(metric) {
                Some(m) => m,
                None => self.counts.entry(metric.clone()).or_default(),
            };
            for (minute, n) in minutes {
                *mine.entry(*minute).or_default() += n;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The datums to publish, in a deterministic order (metric, then minute), so
    /// that batch `n` of a re-run holds exactly what batch `n` held before.
    pub fn datums(&self) -> Vec<Datum> {
        self.counts
            .iter()
            .flat_map(|(metric, minutes)| {
                minutes.iter().map(move |(minute, count)| Datum {
                    metric: metric.clone(),
                    minute: DateTime::from_timestamp(*minute, 0).unwrap_or_default(),
                    count: *count,
                })
            })
            .collect()
    }

    /// Totals per metric over all minutes.
    pub fn totals(&self) -> BTreeMap<MetricId, u64> {
        self.counts
            .iter()
            .map(|(metric, minutes)| (metric.clone(), minutes.values().sum()))
            .collect()
    }

    /// Drops datums before `cutoff` (CloudWatch rejects timestamps older than two
    /// weeks); returns how many observations were dropped.
    pub fn drop_before(&mut self, cutoff: DateTime<Utc>) -> u64 {
        let cut = cutoff.timestamp();
        let mut dropped = 0;
        self.counts.retain(|_, minutes| {
            minutes.retain(|minute, n| {
                let keep = *minute >= cut;
                if !keep {
                    dropped += *n;
                }
                keep
            });
            !minutes.is_empty()
        });
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::record::Record;
    use crate::detect::catalog::RULES;
    use crate::detect::operations::{OPERATIONS, OTHER_OPERATION};
    use serde_json::json;

    #[test]
    fn borrowed_metric_lookup_orders_like_the_id() {
        let mut refs = Vec::new();
        for name in ["KMSApiCalls", "KMSApiCallsByKey", "KMSFailures", "K"] {
            refs.push(MetricRef {
                name,
                dimension: None,
            });
            for dim in [
                ("EventName", "Decrypt"),
                ("EventName", "Encrypt"),
                ("KeyArn", "a"),
            ] {
                refs.push(MetricRef {
                    name,
                    dimension: Some(dim),
                });
            }
        }
        let ids: Vec<MetricId> = refs.iter().map(MetricRef::to_id).collect();
        let two = MetricId::new("KMSApiCalls", &[("EventName", "Decrypt"), ("X", "y")]);
        for (a, ia) in refs.iter().zip(&ids) {
            for (b, ib) in refs.iter().zip(&ids) {
                let (a, b): (&dyn MetricKey, &dyn MetricKey) = (a, b);
                assert_eq!(a.cmp(b), ia.cmp(ib));
            }
            let (a, t): (&dyn MetricKey, &dyn MetricKey) = (a, &two);
            assert_eq!(a.cmp(t), ia.cmp(&two));
        }
        let mut m = Metrics::default();
        let at = DateTime::from_timestamp(120, 0).expect("time");
        for r in &refs {
            m.add_ref(
                MetricRef {
                    name: r.name,
                    dimension: r.dimension,
                },
                at,
                1,
            );
            m.add(r.to_id(), at, 2);
        }
        assert_eq!(m.datums().len(), refs.len());
        assert!(m.datums().iter().all(|d| d.count == 3));
    }

    fn event_record(name: &str, time: &str, error: Option<&str>) -> Record {
        let mut v = json!({"eventSource": "kms.amazonaws.com", "eventName": name, "eventTime": time,
            "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/a", "accountId": "111122223333"},
            "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k1", "type": "AWS::KMS::Key"}]});
        if let Some(code) = error {
            v["errorCode"] = json!(code);
        }
        Record::from_value(v).expect("record")
    }

    #[test]
    fn aggregates_per_minute_with_bounded_dimensions() {
        let recs = [
            event_record(
                "Decrypt",
                "2026-10-04T03:00:01Z",
                Some("InvalidCiphertextException"),
            ),
            event_record(
                "Decrypt",
                "2026-10-04T03:00:59Z",
                Some("InvalidCiphertextException"),
            ),
            event_record("Decrypt", "2026-10-04T03:01:00Z", None),
            event_record("MadeUpApi", "2026-10-04T03:01:00Z", None),
        ];
        let mut m = Metrics::default();
        let opts = MetricOptions::default();
        for r in &recs {
            let e = KmsEvent::analyse(r).expect("event");
            m.observe(&e, RuleSet::of(&e), &opts);
        }
        let totals = m.totals();
        assert_eq!(
            totals[&MetricId::new(KMS_API_CALLS, &[("EventName", "Decrypt")])],
            3
        );
        assert_eq!(
            totals[&MetricId::new(KMS_API_CALLS, &[("EventName", "Other")])],
            1
        );
        assert_eq!(totals[&MetricId::new("KMSDecryptFailures", &[])], 2);
        assert_eq!(
            totals[&MetricId::new(KMS_FAILURES, &[("ErrorClass", "InvalidCiphertext")])],
            2
        );
        let failures: Vec<_> = m
            .datums()
            .into_iter()
            .filter(|d| d.metric.name == "KMSDecryptFailures")
            .collect();
        assert_eq!(failures.len(), 1, "both failures fall in minute 03:00");
        assert_eq!(failures[0].count, 2);
        assert_eq!(failures[0].minute.to_rfc3339(), "2026-10-04T03:00:00+00:00");
        assert!(!totals.keys().any(|k| k.name == KMS_KEY_CALLS));
    }

    #[test]
    fn vpce_and_s3_events_are_not_calls() {
        let vpce = |code: Option<&str>| {
            let mut v = serde_json::json!({"eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
                "eventType": "AwsVpceEvent", "eventCategory": "NetworkActivity",
                "eventTime": "2026-10-04T03:00:01Z", "recipientAccountId": "111122223333",
                "userIdentity": {"type": "AWSAccount", "accountId": "444455556666"},
                "vpcEndpointId": "vpce-1"});
            if let Some(c) = code {
                v["errorCode"] = serde_json::json!(c);
            }
            crate::cloudtrail::record::Record::from_value(v).expect("record")
        };
        let s3 = crate::cloudtrail::record::Record::from_value(serde_json::json!({
            "eventSource": "s3.amazonaws.com", "eventName": "PutObject", "eventTime": "2026-10-04T03:00:02Z",
            "recipientAccountId": "111122223333",
            "requestParameters": {"bucketName": "b", "key": "k",
                "x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:999999999999:key/x"}}))
        .expect("record");
        let recs = [vpce(Some("VpceAccessDenied")), vpce(None), s3];
        let mut m = Metrics::default();
        let mut summary = crate::detect::summary::Summary::default();
        for r in &recs {
            let e = KmsEvent::analyse(r).expect("event");
            m.observe(&e, RuleSet::of(&e), &MetricOptions::default());
            summary.observe(&e, RuleSet::of(&e));
        }
        let totals = m.totals();
        assert_eq!(totals[&MetricId::new(KMS_VPCE_EVENTS, &[])], 2);
        assert_eq!(
            totals[&MetricId::new(KMS_VPCE_EVENTS, &[("EventName", "Decrypt")])],
            2
        );
        assert_eq!(totals[&MetricId::new("KMSVpceAccessDenied", &[])], 1);
        assert_eq!(totals[&MetricId::new("KMSS3ForeignKeyEncryption", &[])], 1);
        for name in [
            KMS_API_CALLS,
            KMS_FAILURES,
            "KMSDecryptFailures",
            "KMSAccessDenied",
            "KMSCrossAccountUse",
        ] {
            assert!(!totals.keys().any(|k| k.name == name), "{name}: {totals:?}");
        }
        // Not in the review's usage either: only the rule matches of their day.
        assert!(summary.usage.is_empty() && summary.principal_ips.is_empty());
        let day = &summary.days["2026-10-04"];
        assert_eq!((day.calls, day.failures), (0, 0));
        assert_eq!(day.rules["vpce_access_denied"], 1);
        assert_eq!(day.rules["s3_foreign_kms_key"], 1);
    }

    #[test]
    fn per_key_metrics_only_for_own_account() {
        let r = event_record("Encrypt", "2026-10-04T03:00:01Z", None);
        let e = KmsEvent::analyse(&r).expect("event");
        for (own, counted) in [("111122223333", true), ("444455556666", false)] {
            let mut m = Metrics::default();
            let opts = MetricOptions {
                per_key: true,
                own_account: Some(own.into()),
            };
            m.observe(&e, RuleSet::of(&e), &opts);
            assert_eq!(
                m.totals().keys().any(|k| k.name == KMS_KEY_CALLS),
                counted,
                "{own}"
            );
        }
    }

    #[test]
    fn dimension_count_is_bounded_whatever_the_input() {
        let mut m = Metrics::default();
        for i in 0..5000 {
            let r = event_record(
                &format!("Api{i}"),
                "2026-10-04T03:00:01Z",
                Some(&format!("Err{i}")),
            );
            let e = KmsEvent::analyse(&r).expect("event");
            m.observe(&e, RuleSet::of(&e), &MetricOptions::default());
        }
        assert!(m.totals().len() <= 3 + RULES.len());
    }

    /// A file of 20,000 KMS records in which every source IP, user agent, session
    /// name, encryption-context value, request ID and event ID is distinct (and every
    /// fifth event name and every error code is made up), read through the real
    /// reader and analysis, yields at most a fixed number of datums per minute:
    ///
    /// (OPERATIONS.len() + 1) `KMSApiCalls{EventName}` values ("Other" included)
    /// + ErrorClass::ALL.len() `KMSFailures{ErrorClass}` values
    /// + RULES.len() rule metrics without dimensions,
    ///
    /// times the minutes the file spans (10 here). Attacker-controlled values never
    /// become dimensions, so the number of PutMetricData calls per file is bounded
    /// by the catalog and the file's time span, not by its content.
    #[test]
    fn attacker_controlled_values_never_become_datums() {
        use crate::detect::analysis::{AnalysisOptions, analyse};
        use crate::detect::event::ErrorClass;

        const RECORDS: usize = 20_000;
        const MINUTES: usize = 10;
        let start: DateTime<Utc> = "2026-10-04T03:00:00Z".parse().expect("t");
        let names = ["Decrypt", "Encrypt", "GenerateDataKey", "ReEncrypt"];
        let records: Vec<serde_json::Value> = (0..RECORDS)
            .map(|i| {
                let time = start + chrono::Duration::seconds((i * MINUTES * 60 / RECORDS) as i64);
                let name = match i % 5 {
                    4 => format!("Forged{i}"),
                    k => names[k].to_owned(),
                };
                let mut v = json!({
                    "eventVersion": "1.10",
                    "eventTime": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "eventSource": "kms.amazonaws.com", "eventName": name,
                    "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
                    "sourceIPAddress": format!("198.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255),
                    "userAgent": format!("agent-{i}/1.0 (attacker)"),
                    "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
                        "principalId": format!("AROAEXAMPLE:session-{i}"),
                        "arn": format!("arn:aws:sts::111122223333:assumed-role/app/session-{i}"),
                        "sessionContext": {"sessionIssuer": {"type": "Role", "accountId": "111122223333",
                            "arn": "arn:aws:iam::111122223333:role/app", "userName": "app"}}},
                    "requestParameters": {"encryptionContext": {"tenant": format!("ctx-{i}")},
                        "keyId": "arn:aws:kms:us-east-1:111122223333:key/k1"},
                    "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k1", "type": "AWS::KMS::Key"}],
                    "requestID": format!("req-{i}"),
                    "eventID": format!("00000000-0000-4000-8000-{i:012}"),
                    "eventType": "AwsApiCall", "managementEvent": true
                });
                if i % 3 == 0 {
                    v["errorCode"] = json!(format!("Forged{i}Exception"));
                    v["errorMessage"] = json!(format!("message-{i}"));
                }
                v
            })
            .collect();
        let file = serde_json::to_vec(&json!({ "Records": records })).expect("json");
        let fa = analyse(
            "111122223333_CloudTrail_us-east-1_20261004T0310Z_forged.json",
            &file[..],
            &AnalysisOptions::default(),
        );
        assert_eq!(fa.kms_records, RECORDS as u64, "every record was analysed");
        assert_eq!(fa.bad_records, 0);

        let per_minute = (OPERATIONS.len() + 1) + ErrorClass::ALL.len() + RULES.len();
        let bound = per_minute * MINUTES;
        let datums = fa.metrics.datums();
        assert!(
            datums.len() <= bound,
            "{} datums > bound {bound} ({per_minute} per minute x {MINUTES} minutes)",
            datums.len()
        );
        // And ceil(bound / 1000) PutMetricData calls at most, whatever the content.
        assert!(datums.len().div_ceil(MAX_DATUMS_PER_CALL) <= bound.div_ceil(MAX_DATUMS_PER_CALL));

        // Every dimension value comes from a fixed list.
        let allowed: Vec<&str> = OPERATIONS
            .iter()
            .map(|o| o.name)
            .chain([OTHER_OPERATION])
            .chain(ErrorClass::ALL.iter().map(|c| c.as_str()))
            .collect();
        for d in &datums {
            match d.metric.name.as_str() {
                KMS_API_CALLS | KMS_FAILURES => {
                    assert_eq!(d.metric.dimensions.len(), 1, "{d:?}");
                    let (_, value) = &d.metric.dimensions[0];
                    assert!(allowed.contains(&value.as_str()), "{d:?}");
                }
                name => {
                    assert!(RULES.iter().any(|r| r.metric == name), "{d:?}");
                    assert!(d.metric.dimensions.is_empty(), "{d:?}");
                }
            }
        }
        // The records were all counted, just not spread over new dimensions.
        let calls: u64 = datums
            .iter()
            .filter(|d| d.metric.name == KMS_API_CALLS)
            .map(|d| d.count)
            .sum();
        assert_eq!(calls, RECORDS as u64);
        let minutes: std::collections::BTreeSet<_> = datums.iter().map(|d| d.minute).collect();
        assert_eq!(minutes.len(), MINUTES);
    }

    #[test]
    fn drop_before_counts_dropped() {
        let mut m = Metrics::default();
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("t")
                .with_timezone(&Utc)
        };
        m.add(MetricId::new("A", &[]), t("2026-01-01T00:00:00Z"), 3);
        m.add(MetricId::new("A", &[]), t("2026-02-01T00:00:00Z"), 1);
        assert_eq!(m.drop_before(t("2026-01-15T00:00:00Z")), 3);
        assert_eq!(m.datums().len(), 1);
    }
}
