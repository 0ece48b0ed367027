//! The engine: one pass over one log file produces its metrics, its summary and
//! (for offline use) the rule hits. The Lambda and the CLI both call [`analyse`].

use std::io::Read;

use chrono::{DateTime, Utc};

use crate::cloudtrail::reader::{Item, ReadError, ReadLimits, Select, read_with};
use crate::cloudtrail::record::Record;
use crate::detect::catalog::RuleSet;
use crate::detect::event::{EventKind, KmsEvent};
use crate::detect::findings::{Hit, Hits};
use crate::detect::key_facts::{KeyFacts, is_alias_event};
use crate::detect::marks::Marker;
use crate::detect::metrics::{MetricOptions, Metrics};
use crate::detect::summary::Summary;

/// What to compute.
#[derive(Debug, Clone, Default)]
pub struct AnalysisOptions {
    pub metrics: MetricOptions,
    /// Keep every rule hit (the CLI evaluates thresholds over them). Off in Lambda.
    pub collect_hits: bool,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
    /// Known sources and active hours per principal; enables `unfamiliar_source_ip`
    /// and `off_hours_use`.
    pub baseline: Option<std::sync::Arc<crate::detect::baseline::Baseline>>,
    /// What one file may make the reader hold.
    pub limits: ReadLimits,
    /// The configuration file's rule settings and suppressions (default: the catalog).
    pub tuning: std::sync::Arc<crate::detect::tuning::Tuning>,
    /// Leave alias events the file's own key facts do not settle in
    /// [`FileAnalysis::deferred`] (for [`observe_deferred`] with more facts) instead
    /// of judging them with what the file shows. `scan` sets it; the log processor,
    /// which reads one file, does not.
    pub defer_alias_events: bool,
}

pub use crate::detect::marks::mark_unfamiliar;

/// How many bad-record reasons are kept per file.
pub const MAX_BAD_SAMPLES: usize = 5;

/// The result of analysing one file.
#[derive(Debug, Default)]
pub struct FileAnalysis {
    pub records: u64,
    pub kms_records: u64,
    pub bad_records: u64,
    pub duplicates: u64,
    /// The first few bad-record reasons, for the warning log.
    pub bad_samples: Vec<String>,
    pub metrics: Metrics,
    pub summary: Summary,
    /// Rule hits, aggregated per period (only with `collect_hits`).
    pub hits: Hits,
    /// Set when the content is not a CloudTrail log.
    pub not_a_log: Option<String>,
    /// Set when the file is damaged; everything before the damage is counted.
    pub error: Option<ReadError>,
    /// Decompressed bytes read.
    pub decompressed_bytes: u64,
    /// What the file says about keys and aliases (for `alias_repointed`).
    pub key_facts: KeyFacts,
    /// Alias events left for [`observe_deferred`] (only with
    /// [`AnalysisOptions::defer_alias_events`]); not yet counted anywhere.
    pub deferred: Vec<Record>,
}

impl FileAnalysis {
    /// True when the file had damage worth the `KMSAuditBadLogFiles` metric.
    pub fn is_bad(&self) -> bool {
        self.error.is_some() || self.bad_records > 0
    }
}

/// Alias events one file may hold back until it is read (past this, an alias event
/// is judged at once with the facts learned so far).
pub const MAX_DEFERRED_PER_FILE: usize = 10_000;

/// Counts one event into the file's metrics, summary and hits, after the baseline
/// and the rules have judged it.
fn observe(out: &mut FileAnalysis, e: &mut KmsEvent, opts: &AnalysisOptions, marker: &mut Marker) {
    marker.mark(e);
    let summary = &mut out.summary;
    let applied = opts.tuning.apply(e, RuleSet::of(e), |rule, s| {
        summary.note_suppressed(rule.id, &s.label);
    });
    let rules = applied.rules;
    out.metrics.observe(e, rules, &opts.metrics);
    out.metrics.observe_suppressed(e, applied.suppressed);
    out.summary.observe(e, rules);
    if opts.collect_hits {
        for rule in rules.iter() {
            out.hits.add(&Hit::of(rule, e), &opts.tuning);
        }
    }
}

/// Reads and analyses one file. `name` identifies it in errors.
///
/// `UpdateAlias` and `CreateAlias` events are judged once the whole file is read,
/// with the key facts it holds (see [`crate::detect::key_facts`]); with
/// [`AnalysisOptions::defer_alias_events`], those its facts do not settle are left
/// in [`FileAnalysis::deferred`] for [`observe_deferred`] instead.
pub fn analyse<R: Read>(name: &str, input: R, opts: &AnalysisOptions) -> FileAnalysis {
    let mut out = FileAnalysis::default();
    let mut no_time = 0u64;
    let mut held: Vec<Box<Record>> = Vec::new();
    let mut marker = Marker::new(opts.baseline.clone());
    let read = read_with(name, input, Select::Kms, opts.limits, |item| match item {
        Item::Record(r) => {
            if EventKind::of(&r).is_none() {
                return;
            }
            // KMS records, network activity included; not S3's.
            if r.is_kms() {
                out.kms_records += 1;
            }
            let Some(mut e) = KmsEvent::analyse(&r) else {
                no_time += 1;
                if out.bad_samples.len() < MAX_BAD_SAMPLES {
                    out.bad_samples.push(format!(
                        "{} record {} has no usable eventTime",
                        if r.is_kms() { "KMS" } else { "S3" },
                        r.event_id.as_deref().unwrap_or("(no eventID)")
                    ));
                }
                return;
            };
            if opts.since.is_some_and(|s| e.time < s) || opts.until.is_some_and(|u| e.time >= u) {
                return;
            }
            out.key_facts.learn(&e);
            if is_alias_event(&e) {
                if held.len() < MAX_DEFERRED_PER_FILE {
                    drop(e);
                    held.push(r);
                    return;
                }
                e.alias_target = out.key_facts.alias_target(&e);
            }
            observe(&mut out, &mut e, opts, &mut marker);
        }
        Item::Bad { index, reason } => {
            if out.bad_samples.len() < MAX_BAD_SAMPLES {
                out.bad_samples.push(format!("record #{index}: {reason}"));
            }
        }
    });
    for r in held {
        let Some(mut e) = KmsEvent::analyse(&r) else {
            continue;
        };
        if opts.defer_alias_events && !out.key_facts.settles(&e) {
            drop(e);
            out.deferred.push(*r);
            continue;
        }
        e.alias_target = out.key_facts.alias_target(&e);
        observe(&mut out, &mut e, opts, &mut marker);
    }
    out.records = read.records;
    out.bad_records = read.bad_records + no_time;
    out.duplicates = read.duplicates;
    out.not_a_log = read.not_a_log;
    out.error = read.error;
    out.decompressed_bytes = read.bytes;
    out.summary.files = 1;
    out.summary.records = out.records;
    out.summary.kms_records = out.kms_records;
    out.summary.bad_records = out.bad_records;
    out
}

/// Judges alias events a file held back ([`FileAnalysis::deferred`]) with the facts
/// of more files (`scan` merges the whole tree's), and counts them as [`analyse`]
/// would have. The result holds only their metrics, summary cells and hits: merge it
/// into the totals.
pub fn observe_deferred(
    records: &[Record],
    facts: &KeyFacts,
    opts: &AnalysisOptions,
) -> FileAnalysis {
    let mut out = FileAnalysis::default();
    let mut marker = Marker::new(opts.baseline.clone());
    for r in records {
        if let Some(mut e) = KmsEvent::analyse(r) {
            e.alias_target = facts.alias_target(&e);
            observe(&mut out, &mut e, opts, &mut marker);
        }
    }
    out
}

/// Streams the events of one file to `f` (KMS calls and the other kinds the catalog
/// reads, see [`EventKind`]; records without a usable eventTime are skipped), marked
/// as [`analyse`] marks them without a baseline; returns what the reader saw.
pub fn for_each_kms_event<R: Read>(
    name: &str,
    input: R,
    f: impl FnMut(&mut KmsEvent),
) -> crate::cloudtrail::reader::ReadSummary {
    for_each_kms_event_with(name, input, ReadLimits::default(), f)
}

/// [`for_each_kms_event`] with explicit reader limits.
pub fn for_each_kms_event_with<R: Read>(
    name: &str,
    input: R,
    limits: ReadLimits,
    f: impl FnMut(&mut KmsEvent),
) -> crate::cloudtrail::reader::ReadSummary {
    for_each_marked_event(name, input, limits, Marker::new(None), f)
}

/// [`for_each_kms_event_with`], marking the events with `marker` (give it the
/// baseline to select what the baseline rules select).
pub fn for_each_marked_event<R: Read>(
    name: &str,
    input: R,
    limits: ReadLimits,
    mut marker: Marker,
    mut f: impl FnMut(&mut KmsEvent),
) -> crate::cloudtrail::reader::ReadSummary {
    read_with(name, input, Select::Kms, limits, |item| {
        if let Item::Record(r) = item
            && let Some(mut e) = KmsEvent::analyse(&r)
        {
            marker.mark(&mut e);
            f(&mut e);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_kms_records_and_bad_ones() {
        let data = br#"{"Records":[
            {"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2026-10-04T03:00:00Z","errorCode":"IncorrectKeyException"},
            {"eventSource":"kms.amazonaws.com","eventName":"Decrypt"},
            {"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"2026-10-04T03:00:00Z"},
            42
        ]}"#;
        let a = analyse(
            "t.json",
            &data[..],
            &AnalysisOptions {
                collect_hits: true,
                ..Default::default()
            },
        );
        assert_eq!((a.records, a.kms_records, a.bad_records), (4, 2, 2));
        assert_eq!(a.bad_samples.len(), 2);
        assert!(a.is_bad());
        assert_eq!(a.hits.len(), 1);
        let f = crate::detect::findings::evaluate_findings(&a.hits, &Default::default());
        assert!(
            f.is_empty(),
            "one failure is under the decrypt_failures threshold"
        );
        assert_eq!(a.summary.kms_records, 2);
    }

    #[test]
    fn unfamiliar_source_needs_a_baseline_and_a_public_ip() {
        let mut b = crate::detect::baseline::Baseline::default();
        let role = "arn:aws:iam::111122223333:role/app";
        b.principals
            .entry(role.into())
            .or_default()
            .ips
            .insert("203.0.113.5".into());
        b.principals
            .entry(role.into())
            .or_default()
            .prefixes
            .insert("198.51.100.0/24".into());
        let rec = |ip: &str, invoked: bool| {
            let mut v = serde_json::json!({"eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
                "eventTime": "2026-10-04T03:00:00Z", "sourceIPAddress": ip,
                "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/s",
                    "sessionContext": {"sessionIssuer": {"arn": role}}}});
            if invoked {
                v["userIdentity"]["invokedBy"] = serde_json::json!("s3.amazonaws.com");
            }
            crate::cloudtrail::record::Record::from_value(v).expect("record")
        };
        let unfamiliar = |r: &crate::cloudtrail::record::Record| {
            let mut e = KmsEvent::analyse(r).expect("event");
            mark_unfamiliar(&mut e, &b);
            crate::detect::catalog::rule("unfamiliar_source_ip")
                .expect("rule")
                .matches(&e)
        };
        assert!(unfamiliar(&rec("192.0.2.99", false)));
        assert!(!unfamiliar(&rec("203.0.113.5", false)), "known IP");
        assert!(!unfamiliar(&rec("198.51.100.77", false)), "known /24");
        assert!(
            !unfamiliar(&rec("10.1.2.3", false)),
            "private addresses are exempt"
        );
        assert!(
            !unfamiliar(&rec("192.0.2.99", true)),
            "service-originated calls are exempt"
        );
        // Without a baseline the rule never fires.
        let r = rec("192.0.2.99", false);
        let e = KmsEvent::analyse(&r).expect("event");
        assert!(
            !crate::detect::catalog::rule("unfamiliar_source_ip")
                .expect("rule")
                .matches(&e)
        );
    }

    fn alias_file(records: &[serde_json::Value]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "Records": records })).expect("json")
    }

    fn kms(
        name: &str,
        time: &str,
        params: serde_json::Value,
        resources: &[&str],
    ) -> serde_json::Value {
        serde_json::json!({
            "eventTime": time, "eventSource": "kms.amazonaws.com", "eventName": name,
            "eventID": format!("{name}-{time}"),
            "awsRegion": "us-west-2", "recipientAccountId": "111122223333", "sourceIPAddress": "192.0.2.0",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/Alice", "accountId": "111122223333"},
            "requestParameters": params,
            "resources": resources.iter().map(|a| serde_json::json!({"ARN": a, "accountId": "111122223333", "type": "AWS::KMS::Key"})).collect::<Vec<_>>(),
        })
    }

    fn repointed(a: &FileAnalysis) -> u64 {
        let rule = crate::detect::catalog::rule("alias_repointed").expect("rule");
        a.metrics
            .totals()
            .into_iter()
            .find(|(id, _)| id.name == rule.metric && id.dimensions.is_empty())
            .map_or(0, |(_, v)| v)
    }

    #[test]
    fn alias_moves_are_judged_with_the_files_key_facts() {
        const NEW: &str =
            "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        const OLD: &str =
            "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
        const ALIAS: &str = "arn:aws:kms:us-west-2:111122223333:alias/payments";
        let update = |key: &str| {
            kms(
                "UpdateAlias",
                "2026-10-04T12:00:00Z",
                serde_json::json!({"aliasName": "alias/payments", "targetKeyId": key}),
                &[ALIAS, key],
            )
        };
        // The alias event comes before the CreateKey in the file: still judged with it.
        let data = alias_file(&[
            update(NEW),
            kms(
                "CreateKey",
                "2026-10-04T10:00:00Z",
                serde_json::json!({}),
                &[NEW],
            ),
            kms(
                "CreateKey",
                "2026-08-01T10:00:00Z",
                serde_json::json!({}),
                &[OLD],
            ),
            kms(
                "CreateAlias",
                "2026-10-04T10:05:00Z",
                serde_json::json!({"aliasName": "alias/fresh", "targetKeyId": NEW}),
                &[NEW],
            ),
        ]);
        let opts = AnalysisOptions {
            collect_hits: true,
            ..Default::default()
        };
        let a = analyse("a.json", &data[..], &opts);
        assert_eq!(
            repointed(&a),
            1,
            "onto the new key; a new alias is not a move"
        );
        let f = crate::detect::findings::evaluate_findings(&a.hits, &Default::default());
        let f = f
            .iter()
            .find(|f| f.rule == "alias_repointed")
            .expect("finding");
        assert!(
            f.notes
                .iter()
                .any(|n| n.starts_with("target key created 2 h 0 min")),
            "{:?}",
            f.notes
        );
        assert_eq!(a.summary.kms_records, 4);

        // Onto an old key with the default policy: no match.
        let data = alias_file(&[
            kms(
                "CreateKey",
                "2026-08-01T10:00:00Z",
                serde_json::json!({}),
                &[OLD],
            ),
            update(OLD),
        ]);
        assert_eq!(repointed(&analyse("b.json", &data[..], &opts)), 0);

        // A key the file knows nothing about: the processor matches (fail-safe) ...
        let data = alias_file(&[update(OLD)]);
        let a = analyse("c.json", &data[..], &opts);
        assert_eq!(repointed(&a), 1);
        let f = crate::detect::findings::evaluate_findings(&a.hits, &Default::default());
        assert!(
            f.iter()
                .find(|f| f.rule == "alias_repointed")
                .expect("finding")
                .notes
                .iter()
                .any(|n| n.starts_with("target key's age and policy were not in the logs read"))
        );
        // ... while scan holds it back and judges it with another file's facts.
        let deferring = AnalysisOptions {
            collect_hits: true,
            defer_alias_events: true,
            ..Default::default()
        };
        let a = analyse("c.json", &data[..], &deferring);
        assert_eq!((repointed(&a), a.deferred.len()), (0, 1));
        assert_eq!(a.summary.usage.values().map(|u| u.count).sum::<u64>(), 0);
        let other = alias_file(&[kms(
            "CreateKey",
            "2026-08-01T10:00:00Z",
            serde_json::json!({}),
            &[OLD],
        )]);
        let facts = analyse("d.json", &other[..], &deferring).key_facts;
        let late = observe_deferred(&a.deferred, &facts, &deferring);
        assert_eq!(repointed(&late), 0);
        assert_eq!(late.summary.usage.values().map(|u| u.count).sum::<u64>(), 1);
        let late = observe_deferred(&a.deferred, &KeyFacts::default(), &deferring);
        assert_eq!(repointed(&late), 1);
    }

    #[test]
    fn off_hours_use_needs_a_baseline_with_enough_history() {
        let mut b = crate::detect::baseline::Baseline::default();
        let alice = "arn:aws:iam::111122223333:user/alice";
        let office = (8..19).fold(0u32, |m, h| m | (1 << h));
        b.learn_hours(
            alice,
            "2026-09",
            crate::detect::baseline::MonthHours {
                hours: office,
                days: 20,
                calls: 500,
            },
        );
        let data = br#"{"Records":[
            {"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2026-10-04T03:12:00Z","eventID":"1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}},
            {"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2026-10-04T10:12:00Z","eventID":"2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}},
            {"eventSource":"kms.amazonaws.com","eventName":"ListKeys","eventTime":"2026-10-04T03:13:00Z","eventID":"3","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}},
            {"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2026-10-04T03:14:00Z","eventID":"4","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333"}}
        ]}"#;
        let count = |baseline| {
            let a = analyse(
                "t.json",
                &data[..],
                &AnalysisOptions {
                    baseline,
                    ..Default::default()
                },
            );
            a.metrics
                .totals()
                .get(&crate::detect::metrics::MetricId::new(
                    "KMSOffHoursUse",
                    &[],
                ))
                .copied()
                .unwrap_or(0)
        };
        assert_eq!(count(Some(std::sync::Arc::new(b))), 1);
        assert_eq!(count(None), 0, "inactive without a baseline");
        // The summary learns the hours the review writes into the next baseline.
        let a = analyse("t.json", &data[..], &AnalysisOptions::default());
        let h = &a.summary.principal_hours[alice];
        assert_eq!(h.hours, (1 << 3) | (1 << 10));
        assert_eq!((h.days.len(), h.calls), (1, 3));
    }

    #[test]
    fn time_filters() {
        let data = br#"{"Records":[
            {"eventSource":"kms.amazonaws.com","eventName":"Encrypt","eventTime":"2026-10-04T02:59:59Z"},
            {"eventSource":"kms.amazonaws.com","eventName":"Encrypt","eventTime":"2026-10-04T03:00:00Z"},
            {"eventSource":"kms.amazonaws.com","eventName":"Encrypt","eventTime":"2026-10-04T04:00:00Z"}
        ]}"#;
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("t")
                .with_timezone(&Utc)
        };
        let a = analyse(
            "t.json",
            &data[..],
            &AnalysisOptions {
                since: Some(t("2026-10-04T03:00:00Z")),
                until: Some(t("2026-10-04T04:00:00Z")),
                ..Default::default()
            },
        );
        assert_eq!(a.summary.usage.values().map(|s| s.count).sum::<u64>(), 1);
    }
}
