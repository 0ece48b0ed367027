//! Offline threshold evaluation: what the CloudWatch alarms would have said.
//!
//! Hits are bucketed into the rule's period, aligned to the epoch as CloudWatch
//! aligns them; a bucket alarms when it and the `evaluation_periods - 1` buckets
//! before it all breach the threshold. Consecutive alarming buckets become one finding.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analysis::Hit;
use crate::catalog::{RULES, Severity};

/// Event ids kept per finding.
pub const MAX_EVENT_IDS: usize = 20;

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
}

/// Evaluates every rule's threshold over `hits` (any order) and returns the findings,
/// most severe first, then by time.
pub fn evaluate(hits: &[Hit]) -> Vec<Finding> {
    // rule -> group -> bucket -> hits
    let mut grouped: BTreeMap<usize, BTreeMap<&str, BTreeMap<i64, Vec<&Hit>>>> = BTreeMap::new();
    for h in hits {
        let period = i64::from(RULES[h.rule].period_secs.max(60));
        let bucket = h.time.timestamp().div_euclid(period);
        grouped
            .entry(h.rule)
            .or_default()
            .entry(h.group.as_str())
            .or_default()
            .entry(bucket)
            .or_default()
            .push(h);
    }
    let mut findings = Vec::new();
    for (rule_idx, groups) in grouped {
        let rule = &RULES[rule_idx];
        let n = i64::from(rule.evaluation_periods.max(1));
        for (group, buckets) in groups {
            let breaching: BTreeSet<i64> = buckets
                .iter()
                .filter(|(_, hs)| rule.comparison.breached(hs.len() as f64, rule.threshold))
                .map(|(b, _)| *b)
                .collect();
            let alarming: Vec<i64> = breaching
                .iter()
                .copied()
                .filter(|b| (b - n + 1..=*b).all(|x| breaching.contains(&x)))
                .collect();
            // Split into runs of consecutive alarming buckets.
            let mut runs: Vec<Vec<i64>> = Vec::new();
            for b in alarming {
                match runs.last_mut() {
                    Some(run) if run.last() == Some(&(b - 1)) => run.push(b),
                    _ => runs.push(vec![b]),
                }
            }
            for run in runs {
                // The alarm's evidence is every breaching period that led to it.
                let first = run[0] - n + 1;
                let last = run[run.len() - 1];
                let evidence: Vec<&Hit> = (first..=last)
                    .filter_map(|b| buckets.get(&b))
                    .flatten()
                    .copied()
                    .collect();
                findings.push(finding(rule_idx, group, &evidence));
            }
        }
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.first_seen.cmp(&b.first_seen))
    });
    findings
}

fn finding(rule_idx: usize, group: &str, hits: &[&Hit]) -> Finding {
    let rule = &RULES[rule_idx];
    let set = |f: &dyn Fn(&Hit) -> Vec<String>| -> Vec<String> {
        hits.iter()
            .flat_map(|h| f(h))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let mut sorted: Vec<&&Hit> = hits.iter().collect();
    sorted.sort_by_key(|h| h.time);
    Finding {
        rule: rule.id,
        title: rule.title,
        severity: rule.severity,
        group: (!group.is_empty()).then(|| group.to_owned()),
        first_seen: sorted.first().map(|h| h.time).unwrap_or_default(),
        last_seen: sorted.last().map(|h| h.time).unwrap_or_default(),
        count: hits.len() as u64,
        keys: set(&|h| h.keys.clone()),
        principals: set(&|h| vec![h.principal.clone()]),
        source_ips: set(&|h| h.source_ip.iter().cloned().collect()),
        event_ids: sorted
            .iter()
            .filter_map(|h| h.event_id.clone())
            .take(MAX_EVENT_IDS)
            .collect(),
        notes: set(&|h| h.notes.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::rule;

    fn idx(id: &str) -> usize {
        RULES.iter().position(|r| r.id == id).expect("rule")
    }

    fn hit(rule_id: &str, secs: i64, group: &str) -> Hit {
        Hit {
            rule: idx(rule_id),
            time: DateTime::from_timestamp(1_790_000_000 / 300 * 300 + secs, 0).expect("t"),
            group: group.into(),
            keys: vec!["k".into()],
            principal: "p".into(),
            source_ip: Some("192.0.2.1".into()),
            event_id: Some(format!("e{secs}")),
            notes: vec![],
        }
    }

    #[test]
    fn threshold_within_one_period() {
        let th = rule("decrypt_failures").expect("r").threshold as i64;
        let hits: Vec<Hit> = (0..th)
            .map(|i| hit("decrypt_failures", i * 10, ""))
            .collect();
        let f = evaluate(&hits);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].count, th as u64);
        // One fewer stays quiet.
        assert!(evaluate(&hits[1..]).is_empty());
    }

    #[test]
    fn aligned_periods_like_cloudwatch() {
        // 5 failures either side of a 5-minute boundary: no period reaches 10.
        let hits: Vec<Hit> = (0..10)
            .map(|i| hit("decrypt_failures", 250 + i * 10, ""))
            .collect();
        assert!(evaluate(&hits).is_empty());
    }

    #[test]
    fn greater_than_is_strict_and_groups_are_separate() {
        let mut hits: Vec<Hit> = (0..100).map(|i| hit("data_key_volume", i, "a")).collect();
        assert!(evaluate(&hits).is_empty(), "100 is not over 100");
        hits.push(hit("data_key_volume", 101, "a"));
        hits.extend((0..60).map(|i| hit("data_key_volume", i, "b")));
        let f = evaluate(&hits);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].group.as_deref(), Some("a"));
        assert_eq!(f[0].count, 101);
    }

    #[test]
    fn separate_episodes_are_separate_findings() {
        let hits = vec![hit("key_created", 0, ""), hit("key_created", 3600, "")];
        let f = evaluate(&hits);
        assert_eq!(f.len(), 2);
        assert!(f[0].first_seen < f[1].first_seen);
    }
}
