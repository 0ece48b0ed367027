//! What one event cannot show alone. Some rules need more than the record: the
//! baseline the monthly review wrote (`unfamiliar_source_ip`, `off_hours_use`) or the
//! calls before it in the same file (`kms_enumeration`). [`Marker`] holds that state
//! for one file and sets the event's marks before the catalog's predicates run, so
//! that the predicates stay functions of the event. The log processor, `scan` and the
//! alarm enricher all mark through it, so a rule selects the same events everywhere.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Timelike;

use crate::detect::baseline::Baseline;
use crate::detect::event::KmsEvent;
use crate::detect::operations::{OPERATIONS, OpKind, Operation};
use crate::detect::principal::{SourceClass, classify_source};

/// `kms_enumeration`: this many distinct read operations ...
pub const ENUMERATION_DISTINCT_OPERATIONS: usize = 8;
/// ... by one principal within this many seconds complete a burst.
pub const ENUMERATION_WINDOW_SECS: i64 = 300;
/// Principals whose read calls one file tracks; past this, new principals are not
/// judged (a file is one account and region for 5 minutes: real files hold a
/// handful).
pub const ENUMERATION_MAX_PRINCIPALS: usize = 4096;
/// Read calls kept per principal (the most recent): more than a burst needs.
const ENUMERATION_MAX_CALLS: usize = 64;

const _: () = assert!(
    OPERATIONS.len() <= 256,
    "operation indexes fit the window's table"
);

/// The per-file state behind the marks on [`KmsEvent`].
#[derive(Debug, Default)]
pub struct Marker {
    baseline: Option<Arc<Baseline>>,
    enumeration: Enumeration,
}

impl Marker {
    /// A marker for one file; `baseline` enables the baseline rules.
    pub fn new(baseline: Option<Arc<Baseline>>) -> Marker {
        Marker {
            baseline,
            enumeration: Enumeration::default(),
        }
    }

    /// Sets `e`'s marks. Call it once per event, in the order the file holds them.
    pub fn mark(&mut self, e: &mut KmsEvent) {
        if let Some(b) = &self.baseline {
            mark_unfamiliar(e, b);
            mark_off_hours(e, b);
        }
        self.enumeration.observe(e);
    }

    /// Principals the enumeration tracking had to leave out (past
    /// [`ENUMERATION_MAX_PRINCIPALS`]).
    pub fn untracked_principals(&self) -> u64 {
        self.enumeration.untracked
    }
}

/// Marks a call from a public IP outside the principal's known sources. Calls made
/// through AWS services and from private or unparseable addresses are exempt, and a
/// principal the baseline does not know yet is not judged.
pub fn mark_unfamiliar(e: &mut KmsEvent, baseline: &Baseline) {
    if !e.is_call() {
        return;
    }
    let ip = e.record.source_ip_address.as_deref();
    if e.principal.service_originated || classify_source(ip) != SourceClass::Public {
        return;
    }
    if let Some(ip) = ip {
        e.unfamiliar_source = baseline.is_unfamiliar(&e.principal.id, ip.trim()) == Some(true);
    }
}

/// Marks a cryptographic call at a UTC hour of day in which the baseline never saw
/// its principal active. A principal with too little history
/// ([`Baseline::off_hours`]) and calls AWS services make are not judged.
pub fn mark_off_hours(e: &mut KmsEvent, baseline: &Baseline) {
    if !e.is_call()
        || e.principal.service_originated
        || e.principal.aws_internal
        || !e.operation.is_some_and(Operation::is_cryptographic)
    {
        return;
    }
    e.off_hours = baseline.off_hours(&e.principal.id, e.time.hour()) == Some(true);
}

/// True for the operations `kms_enumeration` counts: the `List*`, `Describe*` and
/// `Get*` reads of the operations table (not `GenerateRandom`, which reads nothing).
pub fn is_enumeration_operation(op: &Operation) -> bool {
    op.kind == OpKind::Read
        && (op.name.starts_with("List")
            || op.name.starts_with("Describe")
            || op.name.starts_with("Get"))
}

/// The recent read calls of one principal.
#[derive(Debug, Default)]
struct Reads {
    /// (epoch seconds, index in `OPERATIONS`), oldest first, at most
    /// `ENUMERATION_MAX_CALLS`.
    calls: std::collections::VecDeque<(i64, u16)>,
    /// No new burst completes before this time (one match per burst and window).
    quiet_until: i64,
}

/// Sliding windows of read calls per principal.
#[derive(Debug, Default)]
struct Enumeration {
    principals: HashMap<String, Reads>,
    untracked: u64,
}

impl Enumeration {
    fn observe(&mut self, e: &mut KmsEvent) {
        let Some(op) = e.operation.filter(|o| is_enumeration_operation(o)) else {
            return;
        };
        if !e.is_call() || e.principal.service_originated || e.principal.aws_internal {
            return;
        }
        let Some(index) = OPERATIONS.iter().position(|o| std::ptr::eq(o, op)) else {
            return;
        };
        if !self.principals.contains_key(&e.principal.id) {
            if self.principals.len() >= ENUMERATION_MAX_PRINCIPALS {
                self.untracked += 1;
                return;
            }
            self.principals
                .insert(e.principal.id.clone(), Reads::default());
        }
        let Some(reads) = self.principals.get_mut(&e.principal.id) else {
            return;
        };
        let t = e.time.timestamp();
        if reads.calls.len() == ENUMERATION_MAX_CALLS {
            reads.calls.pop_front();
        }
        // Kept in time order, so that a file's slightly unordered records still
        // form the same windows.
        let at = reads.calls.partition_point(|&(s, _)| s <= t);
        reads.calls.insert(at, (t, index as u16));
        if t < reads.quiet_until {
            return;
        }
        // The window is the 5 minutes that end with this call.
        let mut seen = [false; 256];
        let mut distinct = 0;
        for &(s, i) in reads.calls.iter().rev() {
            if s > t {
                continue;
            }
            if s <= t - ENUMERATION_WINDOW_SECS {
                break;
            }
            let slot = &mut seen[usize::from(i)];
            if !*slot {
                *slot = true;
                distinct += 1;
            }
        }
        if distinct >= ENUMERATION_DISTINCT_OPERATIONS {
            e.completes_enumeration = true;
            reads.quiet_until = t + ENUMERATION_WINDOW_SECS;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::record::Record;
    use serde_json::json;

    fn call(name: &str, secs: u32, user: &str) -> Record {
        let t = chrono::DateTime::from_timestamp(1_790_000_000 + i64::from(secs), 0)
            .expect("t")
            .to_rfc3339();
        Record::from_value(
            json!({"eventSource": "kms.amazonaws.com", "eventName": name,
            "eventTime": t, "sourceIPAddress": "203.0.113.9",
            "userIdentity": {"type": "IAMUser", "accountId": "111122223333",
                "arn": format!("arn:aws:iam::111122223333:user/{user}")}}),
        )
        .expect("record")
    }

    const READS: [&str; 9] = [
        "ListKeys",
        "ListAliases",
        "DescribeKey",
        "GetKeyPolicy",
        "ListGrants",
        "GetKeyRotationStatus",
        "ListResourceTags",
        "ListKeyPolicies",
        "GetPublicKey",
    ];

    fn marks(records: &[Record]) -> Vec<bool> {
        let mut m = Marker::new(None);
        records
            .iter()
            .map(|r| {
                let mut e = KmsEvent::analyse(r).expect("event");
                m.mark(&mut e);
                e.completes_enumeration
            })
            .collect()
    }

    #[test]
    fn the_eighth_distinct_read_in_five_minutes_completes_a_burst() {
        let recs: Vec<Record> = READS
            .iter()
            .enumerate()
            .map(|(i, n)| call(n, i as u32 * 30, "alice"))
            .collect();
        let m = marks(&recs);
        assert_eq!(m.iter().filter(|b| **b).count(), 1, "one match per burst");
        assert!(m[7], "the eighth distinct operation completes it");
    }

    #[test]
    fn repeats_slow_reads_other_principals_and_random_do_not() {
        // The same operation many times is not enumeration.
        let same: Vec<Record> = (0..20).map(|i| call("DescribeKey", i, "app")).collect();
        assert!(!marks(&same).contains(&true));
        // Eight distinct reads spread over more than five minutes.
        let slow: Vec<Record> = READS[..8]
            .iter()
            .enumerate()
            .map(|(i, n)| call(n, i as u32 * 60, "alice"))
            .collect();
        assert!(!marks(&slow).contains(&true));
        // Four each by two principals.
        let split: Vec<Record> = READS[..8]
            .iter()
            .enumerate()
            .map(|(i, n)| call(n, i as u32, if i % 2 == 0 { "a" } else { "b" }))
            .collect();
        assert!(!marks(&split).contains(&true));
        // GenerateRandom reads no key metadata.
        let mut with_random: Vec<Record> = READS[..7].iter().map(|n| call(n, 1, "alice")).collect();
        with_random.push(call("GenerateRandom", 2, "alice"));
        assert!(!marks(&with_random).contains(&true));
    }

    #[test]
    fn a_second_burst_after_the_window_matches_again() {
        let mut recs: Vec<Record> = READS[..8].iter().map(|n| call(n, 0, "alice")).collect();
        recs.extend(READS[..8].iter().map(|n| call(n, 100, "alice")));
        recs.extend(READS[..8].iter().map(|n| call(n, 400, "alice")));
        let m = marks(&recs);
        assert_eq!(m.iter().filter(|b| **b).count(), 2, "{m:?}");
        assert!(m[7] && m[23]);
    }

    #[test]
    fn services_are_not_enumerating() {
        let recs: Vec<Record> = READS
            .iter()
            .map(|n| {
                let mut r = call(n, 0, "alice");
                if let Some(u) = r.user_identity.as_mut() {
                    u.invoked_by = Some("cloudformation.amazonaws.com".into());
                }
                r
            })
            .collect();
        assert!(!marks(&recs).contains(&true));
    }
}
