//! Offline threshold evaluation: what the CloudWatch alarms would have said.
//!
//! Rule hits are aggregated as they stream past into buckets of the rule's period,
//! aligned to the epoch as CloudWatch aligns them, per threshold group. Memory grows
//! with the number of (rule, group, period) cells, not with the number of events, and
//! bucket sets merge across files in any order. A bucket alarms when it and the
//! `evaluation_periods - 1` buckets before it all breach the threshold; consecutive
//! alarming buckets become one finding.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::detect::catalog::{GroupBy, RULES, Rule, Severity};
use crate::detect::tuning::Tuning;

use crate::detect::event::KmsEvent;

/// Event ids kept per finding (the earliest).
pub const MAX_EVENT_IDS: usize = 20;
/// Keys, principals and source IPs kept per bucket.
pub const MAX_VALUES: usize = 50;
/// Encryption-context pairs kept per finding (the smallest, in key then value order).
pub const MAX_CONTEXT_PAIRS: usize = 20;

/// One event selected by a rule, as evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rule: &'static Rule,
    pub time: DateTime<Utc>,
    /// The threshold group (see [`GroupBy`]); empty for whole-trail rules.
    pub group: String,
    pub keys: Vec<String>,
    pub principal: String,
    pub source_ip: Option<String>,
    pub event_id: Option<String>,
    pub notes: Vec<String>,
    /// The call's encryption context, as sorted (key, value) pairs.
    pub context: Vec<(String, String)>,
}

impl Hit {
    /// The evidence of `e` for `rule`.
    pub fn of(rule: &'static Rule, e: &KmsEvent) -> Hit {
        let ip = e.record.source_ip_address.clone();
        let group = match rule.group_by {
            GroupBy::All => String::new(),
            GroupBy::Source => format!(
                "{} from {}",
                e.principal.id,
                ip.as_deref().unwrap_or("unknown")
            ),
        };
        Hit {
            rule,
            time: e.time,
            group,
            keys: e.keys.iter().map(|k| k.id.clone()).collect(),
            principal: e.principal.id.clone(),
            source_ip: ip,
            event_id: e.record.event_id.clone(),
            notes: rule.notes(e),
            context: e.record.encryption_context(),
        }
    }
}

/// The hits of one period of one rule and group.
#[derive(Debug, Clone, Default, PartialEq)]
struct Bucket {
    count: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    keys: Vec<String>,
    principals: Vec<String>,
    source_ips: Vec<String>,
    event_ids: Vec<(DateTime<Utc>, String)>,
    notes: Vec<String>,
    context: Vec<(String, String)>,
    /// Distinct context pairs past [`MAX_CONTEXT_PAIRS`] were seen.
    context_truncated: bool,
}

/// Inserts into a sorted, deduplicated vector that keeps the `cap` smallest values.
/// (A sorted Vec, not a BTreeSet: most buckets hold one or two values, and a B-tree
/// node per set per bucket would dominate memory when sources are many.)
/// Returns true when a distinct value was left out (or pushed out) by the cap.
fn capped_insert<T: Ord>(set: &mut Vec<T>, v: T, cap: usize) -> bool {
    if let Err(at) = set.binary_search(&v) {
        if at >= cap {
            return true;
        }
        set.insert(at, v);
        let over = set.len() > cap;
        set.truncate(cap);
        return over;
    }
    false
}

impl Bucket {
    fn add(&mut self, h: &Hit) {
        self.count += 1;
        self.first = Some(self.first.map_or(h.time, |t| t.min(h.time)));
        self.last = Some(self.last.map_or(h.time, |t| t.max(h.time)));
        for k in &h.keys {
            capped_insert(&mut self.keys, k.clone(), MAX_VALUES);
        }
        capped_insert(&mut self.principals, h.principal.clone(), MAX_VALUES);
        if let Some(ip) = &h.source_ip {
            capped_insert(&mut self.source_ips, ip.clone(), MAX_VALUES);
        }
        if let Some(id) = &h.event_id {
            capped_insert(&mut self.event_ids, (h.time, id.clone()), MAX_EVENT_IDS);
        }
        for n in &h.notes {
            capped_insert(&mut self.notes, n.clone(), MAX_VALUES);
        }
        for pair in &h.context {
            self.context_truncated |=
                capped_insert(&mut self.context, pair.clone(), MAX_CONTEXT_PAIRS);
        }
    }

    fn merge(&mut self, o: &Bucket) {
        self.count += o.count;
        self.first = [self.first, o.first].into_iter().flatten().min();
        self.last = [self.last, o.last].into_iter().flatten().max();
        for (mine, theirs, cap) in [
            (&mut self.keys, &o.keys, MAX_VALUES),
            (&mut self.principals, &o.principals, MAX_VALUES),
            (&mut self.source_ips, &o.source_ips, MAX_VALUES),
            (&mut self.notes, &o.notes, MAX_VALUES),
        ] {
            for v in theirs {
                capped_insert(mine, v.clone(), cap);
            }
        }
        for v in &o.event_ids {
            capped_insert(&mut self.event_ids, v.clone(), MAX_EVENT_IDS);
        }
        self.context_truncated |= o.context_truncated;
        for pair in &o.context {
            self.context_truncated |=
                capped_insert(&mut self.context, pair.clone(), MAX_CONTEXT_PAIRS);
        }
    }
}

/// Rule hits aggregated per (rule, group, aligned period); the rule by its catalog index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hits {
    buckets: BTreeMap<(usize, String, i64), Bucket>,
}

impl Hits {
    /// Adds one hit, in the rule's period as `tuning` sets it.
    pub fn add(&mut self, h: &Hit, tuning: &Tuning) {
        let period = i64::from(tuning.settings(h.rule).period_secs.max(60));
        let bucket = h.time.timestamp().div_euclid(period);
        self.buckets
            .entry((h.rule.index(), h.group.clone(), bucket))
            .or_default()
            .add(h);
    }

    /// Merges hits from another file.
    pub fn merge(&mut self, o: &Hits) {
        for (k, b) in &o.buckets {
            self.buckets.entry(k.clone()).or_default().merge(b);
        }
    }

    /// Total hits.
    pub fn len(&self) -> u64 {
        self.buckets.values().map(|b| b.count).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// The threshold group for per-source rules (principal and IP), else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub count: u64,
    pub keys: Vec<String>,
    pub principals: Vec<String>,
    pub source_ips: Vec<String>,
    pub event_ids: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The encryption context of the matching calls: key -> its distinct values, at
    /// most [`MAX_CONTEXT_PAIRS`] pairs in all (the smallest); absent when the calls
    /// had none. Seed 000's forensic handle: which object, secret or table the key
    /// protected in these calls.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub encryption_context: BTreeMap<String, Vec<String>>,
    /// True when more distinct pairs were seen than kept.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub encryption_context_truncated: bool,
}

/// Evaluates every rule's threshold and returns the findings, most severe first,
/// then by time.
/// Thresholds, periods and severities are the rules' as `tuning` sets them (the
/// one the hits were added with).
pub fn evaluate_findings(hits: &Hits, tuning: &Tuning) -> Vec<Finding> {
    // (rule, group) -> bucket -> aggregate
    let mut grouped: BTreeMap<(usize, &str), BTreeMap<i64, &Bucket>> = BTreeMap::new();
    for ((rule, group, bucket), agg) in &hits.buckets {
        grouped
            .entry((*rule, group.as_str()))
            .or_default()
            .insert(*bucket, agg);
    }
    let mut findings = Vec::new();
    for ((rule_idx, group), buckets) in grouped {
        let rule = &RULES[rule_idx];
        let settings = tuning.settings(rule);
        let n = i64::from(rule.evaluation_periods.max(1));
        let m = rule
            .datapoints_to_alarm
            .clamp(1, rule.evaluation_periods.max(1)) as usize;
        let breaching: BTreeSet<i64> = buckets
            .iter()
            .filter(|(_, b)| rule.comparison.breached(b.count as f64, settings.threshold))
            .map(|(k, _)| *k)
            .collect();
        // CloudWatch's "M out of N": an evaluation at period b alarms when at least
        // `datapoints_to_alarm` of the `evaluation_periods` periods ending at b breach.
        // Only periods that hold or follow a breach can alarm.
        let candidates: BTreeSet<i64> = breaching.iter().flat_map(|b| *b..*b + n).collect();
        let alarming = candidates
            .into_iter()
            .filter(|b| breaching.range(b - n + 1..=*b).count() >= m);
        // Split into runs of consecutive alarming buckets.
        let mut runs: Vec<(i64, i64)> = Vec::new();
        for b in alarming {
            match runs.last_mut() {
                Some((_, end)) if *end == b - 1 => *end = b,
                _ => runs.push((b, b)),
            }
        }
        for (first, last) in runs {
            // The alarm's evidence is every breaching period of the episode.
            let mut evidence = Bucket::default();
            for b in breaching.range(first - n + 1..=last) {
                if let Some(agg) = buckets.get(b) {
                    evidence.merge(agg);
                }
            }
            findings.push(Finding {
                rule: rule.id,
                title: rule.title,
                severity: settings.severity,
                group: (!group.is_empty()).then(|| group.to_owned()),
                first_seen: evidence.first.unwrap_or_default(),
                last_seen: evidence.last.unwrap_or_default(),
                count: evidence.count,
                keys: evidence.keys,
                principals: evidence.principals,
                source_ips: evidence.source_ips,
                event_ids: evidence.event_ids.into_iter().map(|(_, id)| id).collect(),
                notes: evidence.notes,
                encryption_context: context_map(evidence.context),
                encryption_context_truncated: evidence.context_truncated,
            });
        }
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.first_seen.cmp(&b.first_seen))
    });
    findings
}

/// Sorted pairs as key -> values (both sorted).
fn context_map(pairs: Vec<(String, String)>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        out.entry(k).or_default().push(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::catalog::rule;

    fn hit(rule_id: &str, secs: i64, group: &str) -> Hit {
        Hit {
            rule: rule(rule_id).expect("rule"),
            time: DateTime::from_timestamp(1_790_000_000 / 300 * 300 + secs, 0).expect("t"),
            group: group.into(),
            keys: vec!["k".into()],
            principal: "p".into(),
            source_ip: Some("192.0.2.1".into()),
            event_id: Some(format!("e{secs}")),
            notes: vec![],
            context: vec![],
        }
    }

    fn agg(hits: &[Hit]) -> Hits {
        let mut h = Hits::default();
        for x in hits {
            h.add(x, &Tuning::default());
        }
        h
    }

    #[test]
    fn threshold_within_one_period() {
        let th = rule("decrypt_failures").expect("r").threshold as i64;
        let hits: Vec<Hit> = (0..th)
            .map(|i| hit("decrypt_failures", i * 10, ""))
            .collect();
        let f = evaluate_findings(&agg(&hits), &Tuning::default());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].count, th as u64);
        assert_eq!(f[0].event_ids.first().map(String::as_str), Some("e0"));
        // One fewer stays quiet.
        assert!(evaluate_findings(&agg(&hits[1..]), &Tuning::default()).is_empty());
    }

    #[test]
    fn findings_carry_the_encryption_context_capped() {
        let hits: Vec<Hit> = (0..12)
            .map(|i| Hit {
                context: vec![
                    (
                        "aws:s3:arn".into(),
                        format!("arn:aws:s3:::payroll/{i:02}.csv"),
                    ),
                    ("dataset".into(), "payroll-2026".into()),
                ],
                ..hit("decrypt_failures", i * 10, "")
            })
            .collect();
        let f = evaluate_findings(&agg(&hits), &Tuning::default());
        assert_eq!(f.len(), 1);
        let ctx = &f[0].encryption_context;
        // 24 pairs, 13 distinct: all kept.
        assert_eq!(ctx["dataset"], ["payroll-2026"]);
        assert_eq!(ctx["aws:s3:arn"].len(), 12);
        assert!(!f[0].encryption_context_truncated);
        // Split over two files, merged: the same.
        let (a, b) = hits.split_at(5);
        let mut merged = agg(a);
        merged.merge(&agg(b));
        assert_eq!(evaluate_findings(&merged, &Tuning::default()), f);

        let many: Vec<Hit> = (0..30)
            .map(|i| Hit {
                context: vec![("aws:s3:arn".into(), format!("arn:aws:s3:::b/{i:02}"))],
                ..hit("decrypt_failures", i, "")
            })
            .collect();
        let f = evaluate_findings(&agg(&many), &Tuning::default());
        assert_eq!(
            f[0].encryption_context["aws:s3:arn"].len(),
            MAX_CONTEXT_PAIRS
        );
        assert_eq!(
            f[0].encryption_context["aws:s3:arn"][0],
            "arn:aws:s3:::b/00"
        );
        assert!(f[0].encryption_context_truncated);
        let json = serde_json::to_value(&f[0]).expect("json");
        assert_eq!(json["encryption_context_truncated"], true);
    }

    #[test]
    fn merging_across_files_equals_one_pass() {
        let hits: Vec<Hit> = (0..12)
            .map(|i| hit("decrypt_failures", i * 10, ""))
            .collect();
        let (a, b) = hits.split_at(5);
        let mut merged = agg(b);
        merged.merge(&agg(a));
        assert_eq!(merged, agg(&hits));
        assert_eq!(
            evaluate_findings(&merged, &Tuning::default()),
            evaluate_findings(&agg(&hits), &Tuning::default())
        );
        assert_eq!(merged.len(), 12);
    }

    #[test]
    fn capped_sets_keep_the_smallest_values_once() {
        let mut v = Vec::new();
        for x in [5, 3, 9, 3, 1, 7] {
            capped_insert(&mut v, x, 3);
        }
        assert_eq!(v, vec![1, 3, 5]);
    }

    #[test]
    fn aligned_periods_like_cloudwatch() {
        // 5 failures either side of a 5-minute boundary: no period reaches 10.
        let hits: Vec<Hit> = (0..10)
            .map(|i| hit("decrypt_failures", 250 + i * 10, ""))
            .collect();
        assert!(evaluate_findings(&agg(&hits), &Tuning::default()).is_empty());
    }

    #[test]
    fn greater_than_is_strict_and_groups_are_separate() {
        let mut hits: Vec<Hit> = (0..100).map(|i| hit("data_key_volume", i, "a")).collect();
        assert!(
            evaluate_findings(&agg(&hits), &Tuning::default()).is_empty(),
            "100 is not over 100"
        );
        hits.push(hit("data_key_volume", 101, "a"));
        hits.extend((0..60).map(|i| hit("data_key_volume", i, "b")));
        let f = evaluate_findings(&agg(&hits), &Tuning::default());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].group.as_deref(), Some("a"));
        assert_eq!(f[0].count, 101);
    }

    #[test]
    fn one_of_four_periods_joins_nearby_breaches_into_one_episode() {
        // decrypt_failures: 10 in 300 s, 1 of 4 periods. Two breaching periods with a
        // quiet and a sub-threshold period between them are one alarm episode; the
        // sub-threshold period's hits are not evidence.
        let r = rule("decrypt_failures").expect("r");
        assert_eq!((r.evaluation_periods, r.datapoints_to_alarm), (4, 1));
        let mut hits: Vec<Hit> = (0..10).map(|i| hit("decrypt_failures", i, "")).collect();
        hits.extend((0..3).map(|i| hit("decrypt_failures", 600 + i, "")));
        hits.extend((0..10).map(|i| hit("decrypt_failures", 900 + i, "")));
        let f = evaluate_findings(&agg(&hits), &Tuning::default());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].count, 20);
        // Four periods later the alarm still looks at the last breach: one episode.
        let mut joined = hits.clone();
        joined.extend((0..10).map(|i| hit("decrypt_failures", 900 + 4 * 300 + i, "")));
        assert_eq!(
            evaluate_findings(&agg(&joined), &Tuning::default()).len(),
            1
        );
        // Five periods later one evaluation saw no breach: a new episode.
        hits.extend((0..10).map(|i| hit("decrypt_failures", 900 + 5 * 300 + i, "")));
        assert_eq!(evaluate_findings(&agg(&hits), &Tuning::default()).len(), 2);
    }

    #[test]
    fn separate_episodes_are_separate_findings() {
        let hits = vec![hit("key_created", 0, ""), hit("key_created", 3600, "")];
        let f = evaluate_findings(&agg(&hits), &Tuning::default());
        assert_eq!(f.len(), 2);
        assert!(f[0].first_seen < f[1].first_seen);
    }
}
