//! The per-file summary: a small, mergeable aggregate of KMS usage.
//!
//! The log processor writes one per log file; the monthly review merges a month of
//! them instead of re-reading the raw logs. Merging is associative and commutative
//! (sums, min/max, and capped set unions that keep the smallest values), so summaries
//! can be combined in any order or grouping.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::detect::catalog::RuleSet;

use crate::detect::event::{ErrorClass, KmsEvent};
use crate::detect::principal::Principal;
use crate::detect::shared_events::{OwnerCopy, SharedCopy, SharedEvents, copy_of};

/// The summary format version written in every summary (2: usage times in epoch
/// seconds and per-day counts).
pub const SUMMARY_VERSION: u32 = 2;
/// Distinct source IPs kept per principal.
pub const MAX_IPS_PER_PRINCIPAL: usize = 20;
/// Distinct encryption-context keys kept per KMS key.
pub const MAX_CONTEXT_KEYS_PER_KEY: usize = 50;
/// The key column for calls that name no key (ListKeys, CreateKey that failed, ...).
pub const NO_KEY: &str = "-";

#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("summary is not valid gzipped JSON: {0}")]
    Decode(String),
    #[error(
        "summary version {found} is not supported (this build reads version {SUMMARY_VERSION})"
    )]
    Version { found: u32 },
}

/// One usage cell: key × principal × operation × failure class × service-originated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UsageKey {
    pub key: String,
    pub principal: String,
    pub event_name: String,
    pub error_class: Option<ErrorClass>,
    pub service_originated: bool,
}

/// A usage cell to look up without building a [`UsageKey`] (three `String`s) for
/// every event.
trait UsageView {
    fn parts(&self) -> (&str, &str, &str, Option<ErrorClass>, bool);
}

impl UsageView for UsageKey {
    fn parts(&self) -> (&str, &str, &str, Option<ErrorClass>, bool) {
        (
            &self.key,
            &self.principal,
            &self.event_name,
            self.error_class,
            self.service_originated,
        )
    }
}

struct UsageRef<'a> {
    key: &'a str,
    principal: &'a str,
    event_name: &'a str,
    error_class: Option<ErrorClass>,
    service_originated: bool,
}

impl UsageView for UsageRef<'_> {
    fn parts(&self) -> (&str, &str, &str, Option<ErrorClass>, bool) {
        (
            self.key,
            self.principal,
            self.event_name,
            self.error_class,
            self.service_originated,
        )
    }
}

impl UsageRef<'_> {
    fn to_key(&self) -> UsageKey {
        UsageKey {
            key: self.key.to_owned(),
            principal: self.principal.to_owned(),
            event_name: self.event_name.to_owned(),
            error_class: self.error_class,
            service_originated: self.service_originated,
        }
    }
}

// The same order as `UsageKey`'s derived one (its fields in declaration order), so
// that a `UsageRef` finds its `UsageKey` in a `BTreeMap`.
impl Ord for dyn UsageView + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}
borrowed_lookup!(UsageView for UsageKey);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageStats {
    pub count: u64,
    /// Epoch seconds in the JSON (CloudTrail times have whole seconds; integers keep
    /// the monthly merge of thousands of summaries fast).
    #[serde(with = "chrono::serde::ts_seconds")]
    pub first_seen: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_seconds")]
    pub last_seen: DateTime<Utc>,
}

impl UsageStats {
    fn merge(&mut self, o: &UsageStats) {
        self.count += o.count;
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
    }
}

/// A set that keeps at most `cap` values (the smallest), remembering that it overflowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CappedSet {
    pub values: BTreeSet<String>,
    #[serde(default)]
    pub truncated: bool,
}

impl CappedSet {
    fn insert(&mut self, v: &str, cap: usize) {
        if self.values.contains(v) {
            return;
        }
        self.values.insert(v.to_owned());
        self.trim(cap);
    }
    fn merge(&mut self, o: &CappedSet, cap: usize) {
        self.truncated |= o.truncated;
        self.values.extend(o.values.iter().cloned());
        self.trim(cap);
    }
    fn trim(&mut self, cap: usize) {
        while self.values.len() > cap {
            self.truncated = true;
            self.values.pop_last();
        }
    }
}

/// The summary of one or more log files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub version: u32,
    pub files: u64,
    pub records: u64,
    pub kms_records: u64,
    pub bad_records: u64,
    pub first_event: Option<DateTime<Utc>>,
    pub last_event: Option<DateTime<Utc>>,
    #[serde(with = "usage_rows")]
    pub usage: BTreeMap<UsageKey, UsageStats>,
    /// Normalised principal -> its distinct source IPs (capped).
    pub principal_ips: BTreeMap<String, CappedSet>,
    /// Key -> the encryption-context keys seen with it (capped).
    pub key_context_keys: BTreeMap<String, CappedSet>,
    /// Per UTC day (`YYYY-MM-DD`) of eventTime: calls, failures, calls per key and
    /// matches per rule, for the review's daily charts and weekly findings.
    #[serde(default)]
    pub days: BTreeMap<String, DayCounts>,
    /// Key ARNs that records listed in `resources[]` past
    /// [`MAX_KEYS_PER_RECORD`](crate::detect::keys::MAX_KEYS_PER_RECORD), counted, not
    /// read (absent when 0, so summaries without it read back the same).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub keys_beyond_cap: u64,
    /// The copies of cross-account calls (`sharedEventID`) this summary counts, so
    /// that the month counts each call once ([`Summary::count_shared_events_once`];
    /// absent when none).
    #[serde(default, skip_serializing_if = "SharedEvents::is_empty")]
    pub shared_events: SharedEvents,
    /// Matches a configured suppression silenced: rule id -> suppression label ->
    /// count (absent when none, so summaries without it read back the same).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub suppressed: BTreeMap<String, BTreeMap<String, u64>>,
    /// Normalised principal -> the UTC hours and days it made KMS calls of its own
    /// (calls by AWS services for it are not its hours), for the baseline's active
    /// hours (`off_hours_use`). Absent when empty, so summaries without it read back
    /// the same.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub principal_hours: BTreeMap<String, ActiveHours>,
}

/// When one principal was active: a 24-bit mask of UTC hours of day, the distinct
/// UTC days (days since 1970-01-01) and the number of calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveHours {
    pub hours: u32,
    pub days: BTreeSet<i32>,
    pub calls: u64,
}

impl ActiveHours {
    /// Counts one call at `at`.
    pub fn observe(&mut self, at: DateTime<Utc>) {
        use chrono::Timelike;
        self.hours |= 1 << at.hour();
        self.days.insert(at.timestamp().div_euclid(86_400) as i32);
        self.calls += 1;
    }

    pub fn merge(&mut self, o: &ActiveHours) {
        self.hours |= o.hours;
        self.days.extend(o.days.iter().copied());
        self.calls += o.calls;
    }

    /// Whether calls of this principal count as its own activity.
    fn counts(p: &Principal) -> bool {
        !p.service_originated && !p.aws_internal
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One day's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounts {
    pub calls: u64,
    pub failures: u64,
    pub by_key: BTreeMap<String, u64>,
    pub rules: BTreeMap<String, u64>,
}

impl DayCounts {
    fn merge(&mut self, o: &DayCounts) {
        self.calls += o.calls;
        self.failures += o.failures;
        for (k, n) in &o.by_key {
            *self.by_key.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &o.rules {
            *self.rules.entry(k.clone()).or_default() += n;
        }
    }
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            version: SUMMARY_VERSION,
            files: 0,
            records: 0,
            kms_records: 0,
            bad_records: 0,
            first_event: None,
            last_event: None,
            usage: BTreeMap::new(),
            principal_ips: BTreeMap::new(),
            key_context_keys: BTreeMap::new(),
            days: BTreeMap::new(),
            keys_beyond_cap: 0,
            shared_events: SharedEvents::default(),
            suppressed: BTreeMap::new(),
            principal_hours: BTreeMap::new(),
        }
    }
}

/// The entry for `key`, inserted (with an owned copy of the key) only when missing.
fn get_or_insert<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    // Present: it was there or has just been inserted.
    map.get_mut(key).expect("entry present")
}

impl Summary {
    /// Adds one KMS event. Called for every KMS record of every file, so it looks
    /// entries up by borrowed strings and allocates only for new ones.
    pub fn observe(&mut self, e: &KmsEvent, rules: RuleSet) {
        use chrono::Datelike;
        if !e.is_call() {
            // Not a KMS call: only its rule matches, on its day.
            self.observe_rules(e, rules);
            return;
        }
        let date = e.time.date_naive();
        let mut day_buf = String::with_capacity(10);
        {
            use std::fmt::Write as _;
            // Writing into a String cannot fail.
            let _ = write!(
                day_buf,
                "{:04}-{:02}-{:02}",
                date.year(),
                date.month(),
                date.day()
            );
        }
        let day = get_or_insert(&mut self.days, &day_buf);
        day.calls += 1;
        if e.failed() {
            day.failures += 1;
        }
        for k in &e.keys {
            *get_or_insert(&mut day.by_key, &k.id) += 1;
        }
        for rule in rules.iter() {
            *get_or_insert(&mut day.rules, rule.id) += 1;
        }
        self.keys_beyond_cap += e.keys_beyond_cap;
        self.first_event = Some(self.first_event.map_or(e.time, |t| t.min(e.time)));
        self.last_event = Some(self.last_event.map_or(e.time, |t| t.max(e.time)));
        let stats = UsageStats {
            count: 1,
            first_seen: e.time,
            last_seen: e.time,
        };
        let no_key = [NO_KEY];
        let keys: Box<dyn Iterator<Item = &str>> = if e.keys.is_empty() {
            Box::new(no_key.into_iter())
        } else {
            Box::new(e.keys.iter().map(|k| k.id.as_str()))
        };
        for key in keys {
            let cell = UsageRef {
                key,
                principal: &e.principal.id,
                event_name: e.name(),
                error_class: e.error_class,
                service_originated: e.principal.service_originated,
            };
            match self.usage.get_mut(&cell as &dyn UsageView) {
                Some(s) => s.merge(&stats),
                None => {
                    self.usage.insert(cell.to_key(), stats);
                }
            }
        }
        match copy_of(e) {
            Some((SharedCopy::Caller, id)) => self.shared_events.note_caller(id),
            Some((SharedCopy::Owner, id)) => self.shared_events.note_owner(id, || OwnerCopy {
                keys: e.keys.iter().map(|k| k.id.clone()).collect(),
                principal: e.principal.id.clone(),
                event_name: e.name().to_owned(),
                error_class: e.error_class,
                service_originated: e.principal.service_originated,
                day: day_buf.clone(),
                rules: rules.iter().map(|r| r.id.to_owned()).collect(),
            }),
            None => {}
        }
        if let Some(ip) = e.record.source_ip_address.as_deref() {
            get_or_insert(&mut self.principal_ips, &e.principal.id)
                .insert(ip, MAX_IPS_PER_PRINCIPAL);
        }
        if ActiveHours::counts(&e.principal) {
            get_or_insert(&mut self.principal_hours, &e.principal.id).observe(e.time);
        }
        // The context's keys, sorted (as `Record::encryption_context` gives them).
        if let Some(serde_json::Value::Object(ctx)) = e
            .record
            .request_parameters
            .as_ref()
            .and_then(|p| p.get("encryptionContext"))
            && !ctx.is_empty()
        {
            let mut names: Vec<&str> = ctx.keys().map(String::as_str).collect();
            names.sort_unstable();
            for key in e.keys.iter().map(|k| k.id.as_str()) {
                let set = get_or_insert(&mut self.key_context_keys, key);
                for k in &names {
                    set.insert(k, MAX_CONTEXT_KEYS_PER_KEY);
                }
            }
        }
    }

    /// The rule matches of an event that is not a KMS call (see
    /// [`EventKind`](crate::detect::event::EventKind)): per day, and nothing else.
    fn observe_rules(&mut self, e: &KmsEvent, rules: RuleSet) {
        if rules.is_empty() {
            return;
        }
        let day = get_or_insert(&mut self.days, &e.time.format("%Y-%m-%d").to_string());
        for rule in rules.iter() {
            *get_or_insert(&mut day.rules, rule.id) += 1;
        }
    }

    /// Counts one match of `rule` that the suppression `label` silenced.
    pub fn note_suppressed(&mut self, rule: &str, label: &str) {
        *self
            .suppressed
            .entry(rule.to_owned())
            .or_default()
            .entry(label.to_owned())
            .or_default() += 1;
    }

    /// Merges another summary into this one.
    pub fn merge(&mut self, o: &Summary) {
        self.files += o.files;
        self.records += o.records;
        self.kms_records += o.kms_records;
        self.bad_records += o.bad_records;
        self.keys_beyond_cap += o.keys_beyond_cap;
        self.shared_events.merge(o.shared_events.clone());
        for (rule, by) in &o.suppressed {
            let mine = self.suppressed.entry(rule.clone()).or_default();
            for (label, n) in by {
                *mine.entry(label.clone()).or_default() += n;
            }
        }
        self.first_event = min_opt(self.first_event, o.first_event);
        self.last_event = max_opt(self.last_event, o.last_event);
        for (k, s) in &o.usage {
            match self.usage.get_mut(k) {
                Some(m) => m.merge(s),
                None => {
                    self.usage.insert(k.clone(), *s);
                }
            }
        }
        for (p, ips) in &o.principal_ips {
            self.principal_ips
                .entry(p.clone())
                .or_default()
                .merge(ips, MAX_IPS_PER_PRINCIPAL);
        }
        for (d, c) in &o.days {
            self.days.entry(d.clone()).or_default().merge(c);
        }
        for (k, c) in &o.key_context_keys {
            self.key_context_keys
                .entry(k.clone())
                .or_default()
                .merge(c, MAX_CONTEXT_KEYS_PER_KEY);
        }
        for (p, h) in &o.principal_hours {
            self.principal_hours.entry(p.clone()).or_default().merge(h);
        }
    }

    /// Counts each cross-account call once: takes out every key owner's copy whose
    /// caller's copy this summary also holds (see [`crate::detect::shared_events`]).
    /// The review calls it once the month is merged; it returns how many copies it
    /// took out. Usage cells, daily calls, failures, per-key and per-rule counts lose
    /// the owner's copy; `kms_records` still counts the records delivered.
    pub fn count_shared_events_once(&mut self) -> u64 {
        let copies = self.shared_events.owner_copies_to_remove();
        for c in &copies {
            self.remove_owner_copy(c);
        }
        copies.len() as u64
    }

    /// Takes one key owner's copy of a cross-account call out of the usage cells and
    /// the day's counts (the caller's copy counts the call). The Athena review finds
    /// the copies in SQL and takes them out through this too.
    pub fn remove_owner_copy(&mut self, c: &OwnerCopy) {
        let no_key = [NO_KEY.to_owned()];
        let keys: &[String] = if c.keys.is_empty() { &no_key } else { &c.keys };
        for key in keys {
            let cell = UsageKey {
                key: key.clone(),
                principal: c.principal.clone(),
                event_name: c.event_name.clone(),
                error_class: c.error_class,
                service_originated: c.service_originated,
            };
            if let Some(s) = self.usage.get_mut(&cell) {
                s.count = s.count.saturating_sub(1);
                if s.count == 0 {
                    self.usage.remove(&cell);
                }
            }
        }
        if let Some(d) = self.days.get_mut(&c.day) {
            d.calls = d.calls.saturating_sub(1);
            if c.error_class.is_some() {
                d.failures = d.failures.saturating_sub(1);
            }
            for key in &c.keys {
                decrement(&mut d.by_key, key);
            }
            for rule in &c.rules {
                decrement(&mut d.rules, rule);
            }
        }
    }

    /// Serialises as gzipped JSON.
    pub fn to_gzip_json(&self) -> Vec<u8> {
        // Serialised first, then compressed in one write: serde_json's many small
        // writes straight into the encoder cost more than the compression itself.
        // Writing JSON of plain data into a Vec cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::default());
        let _ = enc.write_all(&json);
        enc.finish().unwrap_or_default()
    }

    /// Reads a summary written by [`Summary::to_gzip_json`].
    pub fn from_gzip_json(data: &[u8]) -> Result<Summary, SummaryError> {
        let mut json = Vec::new();
        MultiGzDecoder::new(data)
            .read_to_end(&mut json)
            .map_err(|e| SummaryError::Decode(e.to_string()))?;
        #[derive(Deserialize)]
        struct Version {
            #[serde(default)]
            version: u32,
        }
        match serde_json::from_slice::<Summary>(&json) {
            Ok(s) if s.version == SUMMARY_VERSION => Ok(s),
            Ok(s) => Err(SummaryError::Version { found: s.version }),
            Err(e) => match serde_json::from_slice::<Version>(&json) {
                Ok(v) if v.version != SUMMARY_VERSION => {
                    Err(SummaryError::Version { found: v.version })
                }
                _ => Err(SummaryError::Decode(e.to_string())),
            },
        }
    }

    /// Merges a summary that is no longer needed, moving its entries instead of
    /// copying them (the monthly review merges thousands).
    pub fn merge_owned(&mut self, o: Summary) {
        self.files += o.files;
        self.records += o.records;
        self.kms_records += o.kms_records;
        self.bad_records += o.bad_records;
        self.keys_beyond_cap += o.keys_beyond_cap;
        self.shared_events.merge(o.shared_events);
        self.first_event = min_opt(self.first_event, o.first_event);
        self.last_event = max_opt(self.last_event, o.last_event);
        merge_map(&mut self.suppressed, o.suppressed, |m, s| {
            for (label, n) in s {
                *m.entry(label).or_default() += n;
            }
        });
        merge_map(&mut self.usage, o.usage, |m, s| m.merge(&s));
        merge_map(&mut self.principal_ips, o.principal_ips, |m, s| {
            m.merge(&s, MAX_IPS_PER_PRINCIPAL)
        });
        merge_map(&mut self.key_context_keys, o.key_context_keys, |m, s| {
            m.merge(&s, MAX_CONTEXT_KEYS_PER_KEY)
        });
        merge_map(&mut self.days, o.days, |m, s| m.merge(&s));
        merge_map(&mut self.principal_hours, o.principal_hours, |m, s| {
            m.merge(&s)
        });
    }
}

/// Takes one off a count, dropping it at 0.
fn decrement(m: &mut BTreeMap<String, u64>, k: &str) {
    if let Some(n) = m.get_mut(k) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            m.remove(k);
        }
    }
}

/// Moves every entry of `from` into `into`, combining values under the same key.
fn merge_map<K: Ord, V>(
    into: &mut BTreeMap<K, V>,
    from: BTreeMap<K, V>,
    combine: impl Fn(&mut V, V),
) {
    for (k, v) in from {
        match into.entry(k) {
            std::collections::btree_map::Entry::Occupied(mut e) => combine(e.get_mut(), v),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(v);
            }
        }
    }
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// `usage` is written as a list of flat rows; JSON object keys must be strings.
mod usage_rows {
    use super::*;
    use serde::{Deserializer, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Row {
        #[serde(flatten)]
        key: UsageKey,
        #[serde(flatten)]
        stats: UsageStats,
    }

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<UsageKey, UsageStats>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter().map(|(k, v)| Row {
            key: k.clone(),
            stats: *v,
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<UsageKey, UsageStats>, D::Error> {
        let rows = Vec::<Row>::deserialize(d)?;
        let mut m: BTreeMap<UsageKey, UsageStats> = BTreeMap::new();
        for r in rows {
            m.entry(r.key)
                .and_modify(|s| s.merge(&r.stats))
                .or_insert(r.stats);
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::record::Record;
    use serde_json::json;

    #[test]
    fn borrowed_usage_lookup_orders_like_the_key() {
        let mut cells = Vec::new();
        for key in [
            "arn:aws:kms:us-east-1:1:key/a",
            "arn:aws:kms:us-east-1:1:key/ab",
            "b",
        ] {
            for principal in ["role/x", "role/x2", ""] {
                for event_name in ["Decrypt", "Encrypt"] {
                    for error_class in [
                        None,
                        Some(ErrorClass::AccessDenied),
                        Some(ErrorClass::Other),
                    ] {
                        for service_originated in [false, true] {
                            cells.push(UsageRef {
                                key,
                                principal,
                                event_name,
                                error_class,
                                service_originated,
                            });
                        }
                    }
                }
            }
        }
        let keys: Vec<UsageKey> = cells.iter().map(UsageRef::to_key).collect();
        for (a, ka) in cells.iter().zip(&keys) {
            for (b, kb) in cells.iter().zip(&keys) {
                let (a, b): (&dyn UsageView, &dyn UsageView) = (a, b);
                assert_eq!(a.cmp(b), ka.cmp(kb));
            }
        }
        let map: BTreeMap<UsageKey, usize> = keys.iter().cloned().zip(0..).collect();
        for (i, cell) in cells.iter().enumerate() {
            assert_eq!(map.get(cell as &dyn UsageView), Some(&i));
        }
    }

    fn summary_of(records: &[serde_json::Value]) -> Summary {
        let mut s = Summary {
            files: 1,
            ..Summary::default()
        };
        for v in records {
            let r = Record::from_value(v.clone()).expect("record");
            s.records += 1;
            if let Some(e) = KmsEvent::analyse(&r) {
                s.kms_records += 1;
                s.observe(&e, crate::detect::catalog::RuleSet::of(&e));
            }
        }
        s
    }

    fn rec(name: &str, t: &str, user: &str, ip: &str, ctx: serde_json::Value) -> serde_json::Value {
        json!({"eventSource": "kms.amazonaws.com", "eventName": name, "eventTime": t, "sourceIPAddress": ip,
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{user}"), "accountId": "111122223333"},
            "requestParameters": {"encryptionContext": ctx},
            "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k1", "type": "AWS::KMS::Key"}]})
    }

    fn samples() -> Vec<Summary> {
        vec![
            summary_of(&[
                rec(
                    "Decrypt",
                    "2026-10-04T03:00:00Z",
                    "a",
                    "10.0.0.1",
                    json!({"tenant": "x"}),
                ),
                rec(
                    "Decrypt",
                    "2026-10-04T03:05:00Z",
                    "a",
                    "10.0.0.2",
                    json!({}),
                ),
            ]),
            summary_of(&[rec(
                "Decrypt",
                "2026-10-03T01:00:00Z",
                "a",
                "10.0.0.3",
                json!({"db": "y"}),
            )]),
            summary_of(
                &(0..30)
                    .map(|i| {
                        rec(
                            "Encrypt",
                            "2026-10-05T00:00:00Z",
                            "b",
                            &format!("192.0.2.{i}"),
                            json!({}),
                        )
                    })
                    .collect::<Vec<_>>(),
            ),
        ]
    }

    fn merged(parts: &[&Summary]) -> Summary {
        let mut m = Summary::default();
        for p in parts {
            m.merge(p);
        }
        m
    }

    #[test]
    fn merge_is_associative_and_commutative() {
        let s = samples();
        let (a, b, c) = (&s[0], &s[1], &s[2]);
        let abc = merged(&[a, b, c]);
        assert_eq!(abc, merged(&[c, b, a]));
        assert_eq!(abc, merged(&[b, a, c]));
        let ab = merged(&[a, b]);
        let bc = merged(&[b, c]);
        assert_eq!(merged(&[&ab, c]), merged(&[a, &bc]));
        let decrypts = abc
            .usage
            .iter()
            .find(|(k, _)| k.event_name == "Decrypt")
            .expect("row")
            .1;
        assert_eq!(decrypts.count, 3);
        assert_eq!(
            decrypts.first_seen.to_rfc3339(),
            "2026-10-03T01:00:00+00:00"
        );
        assert_eq!(decrypts.last_seen.to_rfc3339(), "2026-10-04T03:05:00+00:00");
        assert_eq!(abc.files, 3);
    }

    #[test]
    fn owned_merge_equals_borrowed_merge() {
        let s = samples();
        let borrowed = merged(&[&s[0], &s[1], &s[2]]);
        let mut owned = Summary::default();
        for x in s {
            owned.merge_owned(x);
        }
        assert_eq!(owned, borrowed);
    }

    #[test]
    fn ip_sets_are_capped_and_flagged() {
        let s = &samples()[2];
        let ips = &s.principal_ips["arn:aws:iam::111122223333:user/b"];
        assert_eq!(ips.values.len(), MAX_IPS_PER_PRINCIPAL);
        assert!(ips.truncated);
        let a = &samples()[0].principal_ips["arn:aws:iam::111122223333:user/a"];
        assert!(!a.truncated);
    }

    #[test]
    fn context_keys_per_key() {
        let m = merged(&[&samples()[0], &samples()[1]]);
        let keys: Vec<_> = m.key_context_keys["arn:aws:kms:us-east-1:111122223333:key/k1"]
            .values
            .iter()
            .cloned()
            .collect();
        assert_eq!(keys, vec!["db", "tenant"]);
    }

    #[test]
    fn gzip_json_round_trip_and_version_check() {
        let s = merged(&[&samples()[0], &samples()[2]]);
        let bytes = s.to_gzip_json();
        assert_eq!(Summary::from_gzip_json(&bytes).expect("decodes"), s);
        let mut v = serde_json::to_value(&s).expect("json");
        v["version"] = json!(99);
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(v.to_string().as_bytes()).expect("write");
        let err = Summary::from_gzip_json(&enc.finish().expect("gz")).expect_err("version");
        assert!(err.to_string().contains("version 99"));
        assert!(Summary::from_gzip_json(b"nope").is_err());
    }
}

#[cfg(test)]
mod shared_event_tests {
    use super::*;
    use crate::cloudtrail::record::Record;
    use serde_json::json;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/app-data";

    /// One cross-account Decrypt as CloudTrail delivers it to `to`: the caller's
    /// copy names the role, the key owner's only the calling account.
    fn copy(shared: &str, to: &str) -> Record {
        let identity = if to == "444455556666" {
            json!({"type": "AssumedRole", "accountId": "444455556666",
                "arn": "arn:aws:sts::444455556666:assumed-role/eu-analytics/s",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::444455556666:role/eu-analytics"}}})
        } else {
            json!({"type": "AWSAccount", "accountId": "444455556666", "principalId": "AROAX:s"})
        };
        Record::from_value(json!({
            "eventTime": "2026-10-04T03:40:00Z", "eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
            "awsRegion": "us-east-1", "recipientAccountId": to, "sharedEventID": shared,
            "eventID": format!("{shared}-{to}"), "userIdentity": identity,
            "resources": [{"ARN": KEY, "accountId": "111122223333"}]
        }))
        .expect("record")
    }

    fn summary_of(records: &[Record]) -> Summary {
        let mut s = Summary::default();
        for r in records {
            let e = KmsEvent::analyse(r).expect("event");
            s.observe(&e, RuleSet::of(&e));
        }
        s
    }

    #[test]
    fn a_cross_account_call_in_both_trails_counts_once_as_the_callers_copy() {
        let owner_files = summary_of(&[copy("s1", "111122223333"), copy("s2", "111122223333")]);
        let caller_files = summary_of(&[copy("s1", "444455556666")]);
        for order in [[&owner_files, &caller_files], [&caller_files, &owner_files]] {
            let mut month = Summary::default();
            for s in order {
                // Through the stored form, as the monthly review reads summaries.
                month.merge(&Summary::from_gzip_json(&s.to_gzip_json()).expect("decode"));
            }
            assert_eq!(month.count_shared_events_once(), 1);
            let calls: BTreeMap<&str, u64> = month
                .usage
                .iter()
                .map(|(k, s)| (k.principal.as_str(), s.count))
                .collect();
            // s1 is the role's (its own copy kept); s2's caller copy is not in the
            // logs read, so the owner's copy is its only record.
            assert_eq!(
                calls,
                BTreeMap::from([
                    ("account:444455556666", 1),
                    ("arn:aws:iam::444455556666:role/eu-analytics", 1)
                ])
            );
            let day = &month.days["2026-10-04"];
            assert_eq!((day.calls, day.by_key[KEY]), (2, 2));
            assert_eq!(day.rules["cross_account_use"], 2);
            assert_eq!(month.shared_events.counted_once, 1);
            // Once is once: a second pass takes nothing more out.
            assert_eq!(month.count_shared_events_once(), 0);
        }
    }

    #[test]
    fn calls_without_a_shared_event_id_are_not_tracked() {
        let mut r = copy("s1", "111122223333");
        r.shared_event_id = None;
        let s = summary_of(&[r]);
        assert!(s.shared_events.is_empty());
        assert!(
            !String::from_utf8_lossy(&serde_json::to_vec(&s).expect("json"))
                .contains("shared_events")
        );
    }
}
