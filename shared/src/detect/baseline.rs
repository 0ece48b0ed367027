//! The baseline the monthly review carries from month to month: known source IPs and
//! networks and active hours per principal, last use per key, monthly totals.
//! Detection reads it (`unfamiliar_source_ip`, `off_hours_use`); the review writes it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Known source IPs (and /24, /48 prefixes) per principal, last use per key, and
/// monthly totals, carried from month to month.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Baseline {
    pub version: u32,
    pub updated_for: Option<String>,
    pub principals: BTreeMap<String, KnownSources>,
    /// Key -> last successful cryptographic use.
    pub keys_last_used: BTreeMap<String, DateTime<Utc>>,
    /// `YYYY-MM` -> totals, for month-over-month trends.
    pub months: BTreeMap<String, MonthTotals>,
    /// Key -> principal -> its last successful cryptographic use of the key, for the
    /// review's "can, but did not" (capped per key). Absent when empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub key_principals_last_used: BTreeMap<String, BTreeMap<String, DateTime<Utc>>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KnownSources {
    pub ips: BTreeSet<String>,
    pub prefixes: BTreeSet<String>,
    /// The month the principal was first seen (so a re-run still calls it new).
    #[serde(default)]
    pub first_seen_month: Option<String>,
    /// `YYYY-MM` -> the UTC hours of day the principal made KMS calls of its own in
    /// that month, for `off_hours_use`. Kept for the last [`ACTIVE_HOURS_MONTHS`]
    /// months; a re-run of a month replaces its entry. Absent in older baselines.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub active_hours: BTreeMap<String, MonthHours>,
}

/// One month of a principal's activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MonthHours {
    /// Bit `h` set: active in the UTC hour `h` (0-23) on some day.
    pub hours: u32,
    /// Distinct UTC days with calls.
    pub days: u32,
    pub calls: u64,
}

/// Months of active hours a baseline keeps per principal.
pub const ACTIVE_HOURS_MONTHS: usize = 3;
/// `off_hours_use` judges only principals active on at least this many days ...
pub const OFF_HOURS_MIN_DAYS: u32 = 5;
/// ... with at least this many calls in the months kept.
pub const OFF_HOURS_MIN_CALLS: u64 = 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonthTotals {
    pub kms_calls: u64,
    pub failures: u64,
    pub principals: u64,
    pub keys_used: u64,
}

/// The /24 (IPv4) or /48 (IPv6) network of an address.
pub fn ip_prefix(ip: &str) -> Option<String> {
    match ip.trim().parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            Some(format!("{}.{}.{}.0/24", o[0], o[1], o[2]))
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
    }
}

impl Baseline {
    /// Whether `ip` is outside the known sources of a principal the baseline knows.
    /// `None` when the baseline does not know the principal.
    pub fn is_unfamiliar(&self, principal: &str, ip: &str) -> Option<bool> {
        let known = self.principals.get(principal)?;
        if known.ips.contains(ip) {
            return Some(false);
        }
        Some(!ip_prefix(ip).is_some_and(|p| known.prefixes.contains(&p)))
    }

    /// The principal's activity over the months kept: hours mask, days, calls.
    pub fn activity(&self, principal: &str) -> Option<MonthHours> {
        let known = self.principals.get(principal)?;
        if known.active_hours.is_empty() {
            return None;
        }
        Some(
            known
                .active_hours
                .values()
                .fold(MonthHours::default(), |a, m| MonthHours {
                    hours: a.hours | m.hours,
                    days: a.days + m.days,
                    calls: a.calls + m.calls,
                }),
        )
    }

    /// Whether `hour` (UTC, 0-23) is outside the hours the principal was active in.
    /// `None` when the baseline does not know the principal or its history is too
    /// short to judge (fewer than [`OFF_HOURS_MIN_DAYS`] days or
    /// [`OFF_HOURS_MIN_CALLS`] calls).
    pub fn off_hours(&self, principal: &str, hour: u32) -> Option<bool> {
        let a = self.activity(principal)?;
        if a.days < OFF_HOURS_MIN_DAYS || a.calls < OFF_HOURS_MIN_CALLS || hour > 23 {
            return None;
        }
        Some(a.hours & (1 << hour) == 0)
    }

    /// Records a month of a principal's activity, keeping the last
    /// [`ACTIVE_HOURS_MONTHS`] months.
    pub fn learn_hours(&mut self, principal: &str, month: &str, hours: MonthHours) {
        let known = self.principals.entry(principal.to_owned()).or_default();
        known.active_hours.insert(month.to_owned(), hours);
        while known.active_hours.len() > ACTIVE_HOURS_MONTHS {
            known.active_hours.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_hours_needs_enough_history() {
        let mut b = Baseline::default();
        let p = "arn:aws:iam::111122223333:role/app";
        let office = (9..18).fold(0u32, |m, h| m | (1 << h));
        b.learn_hours(
            p,
            "2026-09",
            MonthHours {
                hours: office,
                days: 4,
                calls: 400,
            },
        );
        assert_eq!(b.off_hours(p, 3), None, "four days are too few");
        b.learn_hours(
            p,
            "2026-10",
            MonthHours {
                hours: 1 << 20,
                days: 2,
                calls: 10,
            },
        );
        assert_eq!(b.off_hours(p, 3), Some(true));
        assert_eq!(b.off_hours(p, 9), Some(false));
        assert_eq!(b.off_hours(p, 20), Some(false), "hours of both months");
        assert_eq!(b.off_hours("arn:aws:iam::111122223333:role/other", 3), None);
        b.learn_hours(p, "2026-11", MonthHours::default());
        b.learn_hours(p, "2026-12", MonthHours::default());
        assert_eq!(b.principals[p].active_hours.len(), ACTIVE_HOURS_MONTHS);
        assert!(!b.principals[p].active_hours.contains_key("2026-09"));
    }

    #[test]
    fn older_baselines_read_without_hours() {
        let b: Baseline = serde_json::from_str(
            r#"{"version":1,"principals":{"p":{"ips":["203.0.113.5"],"prefixes":[]}}}"#,
        )
        .expect("older baseline");
        assert!(b.principals["p"].active_hours.is_empty());
        assert_eq!(b.off_hours("p", 3), None);
        let text = serde_json::to_string(&b).expect("json");
        assert!(!text.contains("active_hours"), "absent when empty: {text}");
    }
}
