//! The evidence of an investigation: the events a plan selects, counted by
//! principal, source, key, error and context, with capped samples and sessions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::detect::event::KmsEvent;
use crate::detect::principal::SourceClass;
use crate::investigate::plan::Plan;
use crate::investigate::sanitize::clean;

/// Rows kept per count table.
pub const MAX_ROWS: usize = 20;

/// Sample events kept.
pub const MAX_SAMPLES: usize = 10;

/// Session names kept per principal.
pub const MAX_SESSIONS: usize = 10;

/// Length cap for attacker-controlled strings.
pub const MAX_FIELD: usize = 256;

/// The evidence one log file holds for a plan.
#[derive(Debug, Default)]
pub struct FileEvidence {
    pub evidence: Evidence,
    pub records: u64,
    /// Set when the file is damaged (its events before the damage are counted).
    pub error: Option<String>,
}

/// Reads one log file and keeps the events the plan selects.
/// `limits` bound what one file may make the reader hold.
pub fn gather_file<R: std::io::Read>(
    name: &str,
    input: R,
    plan: &Plan,
    limits: crate::cloudtrail::reader::ReadLimits,
) -> FileEvidence {
    let mut evidence = Evidence::default();
    let marker = crate::detect::marks::Marker::new(plan.baseline.clone());
    let read = crate::detect::analysis::for_each_marked_event(name, input, limits, marker, |e| {
        if plan.matches(e) {
            match plan.suppression_for(e) {
                Some(s) => *evidence.suppressed.entry(s.label.clone()).or_default() += 1,
                None => evidence.observe(e),
            }
        }
    });
    FileEvidence {
        evidence,
        records: read.records,
        error: read.error.map(|e| e.to_string()),
    }
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailedObject {
    pub key: String,
    pub error: String,
}

/// Accumulates the events of one investigation.
#[derive(Debug, Default)]
pub struct Evidence {
    pub count: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub(crate) principals: HashMap<String, (u64, Option<String>, BTreeSet<String>, bool)>,
    pub(crate) ips: HashMap<String, u64>,
    pub(crate) keys: HashMap<String, u64>,
    pub(crate) names: HashMap<String, u64>,
    pub(crate) errors: HashMap<(String, Option<String>), u64>,
    pub(crate) contexts: HashMap<String, u64>,
    pub(crate) agents: HashMap<String, u64>,
    pub(crate) cross_account: u64,
    pub(crate) samples: Vec<(DateTime<Utc>, Value)>,
    /// Matching events a suppression silenced, per suppression label.
    pub(crate) suppressed: std::collections::BTreeMap<String, u64>,
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
        for (label, n) in o.suppressed {
            *self.suppressed.entry(label).or_default() += n;
        }
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

pub(crate) fn top(map: HashMap<String, u64>) -> Vec<Count> {
    let mut rows: Vec<Count> = map
        .into_iter()
        .map(|(value, count)| Count { value, count })
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
    rows.truncate(MAX_ROWS);
    rows
}
