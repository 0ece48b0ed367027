//! The month a review covers, and its delivery coverage: days and hours without
//! log deliveries.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.trim().split_once('-')?;
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        (y.len() == 4 && m.len() == 2 && (1..=12).contains(&month)).then_some(Month { year, month })
    }
    /// The month before the one holding `now` (what the schedule reviews).
    pub fn previous_of(now: DateTime<Utc>) -> Month {
        Month {
            year: now.year(),
            month: now.month(),
        }
        .prev()
    }
    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }
    pub fn days(self) -> Vec<NaiveDate> {
        let end = self.next().first_day();
        let mut d = self.first_day();
        let mut out = Vec::new();
        while d < end {
            out.push(d);
            d = d.succ_opt().unwrap_or(end);
        }
        out
    }
    pub fn start(self) -> DateTime<Utc> {
        Utc.from_utc_datetime(&self.first_day().and_hms_opt(0, 0, 0).unwrap_or_default())
    }
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Where the usage data came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Where the usage came from: `summaries` (the per-file summaries, raw logs for
    /// days without them), `athena` (the KMS usage table) or `logs` (the CLI, from
    /// a local tree).
    #[serde(default)]
    pub engine: String,
    pub days_in_month: u32,
    pub days_from_summaries: Vec<String>,
    pub days_backfilled: Vec<String>,
    pub days_without_deliveries: Vec<String>,
    /// Hours (`YYYY-MM-DDTHH`) with no log delivery at all, on days that had some.
    pub hours_without_deliveries: Vec<String>,
    pub log_files: u64,
    pub summaries: u64,
}

/// Delivery coverage of a month from the delivery times of its log files: days with
/// no delivery at all, and on days with deliveries, hours with none (possible gaps:
/// a trail that stopped logging is itself a finding).
pub fn delivery_coverage(
    month: Month,
    deliveries: impl IntoIterator<Item = DateTime<Utc>>,
) -> Coverage {
    delivery_coverage_counted(month, deliveries.into_iter().map(|t| (t, 1)))
}

/// [`delivery_coverage`] from delivery times with their numbers of files (the Athena
/// engine counts files per delivery hour).
pub fn delivery_coverage_counted(
    month: Month,
    deliveries: impl IntoIterator<Item = (DateTime<Utc>, u64)>,
) -> Coverage {
    let mut hours: BTreeSet<String> = BTreeSet::new();
    let mut days: BTreeSet<String> = BTreeSet::new();
    let mut files = 0;
    for (t, n) in deliveries {
        if t < month.start() || t >= month.end() || n == 0 {
            continue;
        }
        files += n;
        days.insert(t.format("%Y-%m-%d").to_string());
        hours.insert(t.format("%Y-%m-%dT%H").to_string());
    }
    let mut c = Coverage {
        days_in_month: month.days().len() as u32,
        log_files: files,
        ..Coverage::default()
    };
    for d in month.days() {
        let day = d.to_string();
        if !days.contains(&day) {
            c.days_without_deliveries.push(day);
            continue;
        }
        for h in 0..24 {
            let hour = format!("{day}T{h:02}");
            if !hours.contains(&hour) {
                c.hours_without_deliveries.push(hour);
            }
        }
    }
    c
}

/// The month's usage, as both review engines report it: each cross-account call
/// counted once (as the caller's copy), and only the month's events (a delivery can
/// straddle midnight at a month's ends).
pub fn keep_month(usage: &mut crate::detect::summary::Summary, month: Month) {
    usage.count_shared_events_once();
    let inside = |t: DateTime<Utc>| t >= month.start() && t < month.end();
    usage
        .usage
        .retain(|_, s| inside(s.first_seen) || inside(s.last_seen));
    let prefix = month.to_string();
    usage.days.retain(|d, _| d.starts_with(&prefix));
}
