//! Text formatting shared by the sections: dates, lists, day ranges, deltas, key
//! labels.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::detect::catalog::Rule;
use crate::review::report::{Report, ts};

use super::model::{Cell, c, strong};

pub(super) fn when(t: Option<DateTime<Utc>>, none: &str) -> String {
    t.map_or_else(|| none.to_owned(), ts)
}

pub(super) fn list_or(v: &[String], none: &str) -> String {
    if v.is_empty() {
        none.to_owned()
    } else {
        v.join(", ")
    }
}

pub(super) fn tags(t: &BTreeMap<String, String>) -> String {
    if t.is_empty() {
        return "none".into();
    }
    t.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn rotation(r: Option<bool>) -> Cell {
    match r {
        Some(true) => c("enabled"),
        Some(false) => strong("disabled", "warn"),
        None => c("n/a or unknown"),
    }
}

pub(super) fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "unknown".into())
}

/// `2026-09-01..2026-09-03, 2026-09-07`: consecutive days as ranges.
pub(super) fn day_ranges(days: &[String]) -> String {
    let mut parsed: Vec<(chrono::NaiveDate, &String)> = Vec::new();
    let mut odd: Vec<&String> = Vec::new();
    for d in days {
        match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(p) => parsed.push((p, d)),
            Err(_) => odd.push(d),
        }
    }
    parsed.sort();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < parsed.len() {
        let mut j = i;
        while j + 1 < parsed.len() && parsed[j].0.succ_opt() == Some(parsed[j + 1].0) {
            j += 1;
        }
        out.push(if i == j {
            parsed[i].1.clone()
        } else {
            format!("{}..{}", parsed[i].1, parsed[j].1)
        });
        i = j + 1;
    }
    out.extend(odd.into_iter().cloned());
    if out.is_empty() {
        "none".into()
    } else {
        out.join(", ")
    }
}

/// At most `max` items, then "and N more".
pub(super) fn capped(v: &[String], max: usize) -> String {
    if v.len() <= max {
        return v.join(", ");
    }
    format!(
        "{}, and {} more (see the JSON report)",
        v[..max].join(", "),
        v.len() - max
    )
}

pub(super) fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

pub(super) fn delta(cur: u64, prev: u64) -> String {
    let d = i128::from(cur) - i128::from(prev);
    let sign = if d > 0 { "+" } else { "" };
    if prev == 0 {
        format!("{sign}{d}")
    } else {
        let pct = d as f64 * 100.0 / prev as f64;
        format!("{sign}{d} ({sign}{pct:.1}%)")
    }
}

pub(super) fn rule_info(r: &Rule) -> (String, &'static str) {
    (format!("{} ({})", r.title, r.id), r.severity.as_str())
}

/// First alias of a key, when the report knows one.
pub(super) fn alias_of<'a>(r: &'a Report, key: &str) -> Option<&'a str> {
    r.keys
        .iter()
        .chain(&r.aws_managed_keys)
        .find(|k| k.key == key)
        .and_then(|k| k.aliases.first())
        .map(String::as_str)
}

/// A short label for a key: its alias, else the key id after `:key/`.
pub(super) fn key_label(r: &Report, key: &str) -> String {
    alias_of(r, key).map_or_else(
        || {
            key.rsplit_once(":key/")
                .map_or_else(|| key.to_owned(), |(_, id)| id.to_owned())
        },
        str::to_owned,
    )
}

/// The first `max` characters of `s`, with a trailing ellipsis when cut.
pub(super) fn head(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let kept: String = s.chars().take(max).collect();
    format!("{kept}…")
}

/// A short form of an ARN for a narrow cell: its resource part (`role/app-backend`,
/// `assumed-role/Admin/alice`, `key/1111aaaa…`), after the account when that is not
/// `home`. Anything else (a service, `-`) as it is.
pub(super) fn short_arn(s: &str, home: Option<&str>) -> String {
    let mut p = s.splitn(6, ':');
    let (Some("arn"), Some(_), Some(service), Some(_), Some(account), Some(resource)) =
        (p.next(), p.next(), p.next(), p.next(), p.next(), p.next())
    else {
        return s.to_owned();
    };
    let resource = match resource.strip_prefix("key/") {
        Some(id) if service == "kms" => format!("key/{}", head(id, 8)),
        _ => resource.to_owned(),
    };
    match home {
        Some(h) if !account.is_empty() && account != h => format!("{account}:{resource}"),
        _ => resource,
    }
}

/// The last `max` characters of `s`, with a leading ellipsis when cut.
pub(super) fn tail(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        return s.to_owned();
    }
    let kept: String = s.chars().skip(count - (max - 1)).collect();
    format!("…{kept}")
}
