//! The baseline the monthly review carries from month to month: known source IPs and
//! networks per principal, last use per key, monthly totals. Detection reads it
//! (`unfamiliar_source_ip`); the review writes it.

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
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KnownSources {
    pub ips: BTreeSet<String>,
    pub prefixes: BTreeSet<String>,
    /// The month the principal was first seen (so a re-run still calls it new).
    #[serde(default)]
    pub first_seen_month: Option<String>,
}

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
}
