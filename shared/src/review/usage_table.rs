//! The review's Athena engine, engine-agnostic part: the month's query over the KMS
//! usage table (`shared/sql/review_month.sql`) and the month's summary rebuilt from
//! its result rows, which are the same whether Athena or DuckDB (the tests' stand-in)
//! ran the query. The rows are those of [`crate::detect::usage_rows`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::detect::shared_events::OwnerCopy;
use crate::detect::summary::{
    CappedSet, MAX_CONTEXT_KEYS_PER_KEY, MAX_IPS_PER_PRINCIPAL, Summary, UsageKey, UsageStats,
};
use crate::detect::usage_rows::error_class_of;
use crate::review::month::Month;

/// The month's aggregation (see the file for its placeholders).
pub const REVIEW_MONTH_SQL: &str = include_str!("../../sql/review_month.sql");

/// How long after a month's end its files may still arrive in the table: the
/// partitions (Firehose's arrival hour) read past the month's end. Files the log
/// processor handled later than this (a redriven dead-letter queue, say) are not
/// counted; the summary engine would count them.
pub const LATE_ARRIVAL_DAYS: i64 = 7;

#[derive(Debug, thiserror::Error)]
pub enum UsageTableError {
    #[error(
        "usage table {0:?} is not a table name (database.table: letters, digits and underscores)"
    )]
    TableName(String),
    #[error("the query result has no column {0:?}")]
    MissingColumn(&'static str),
    #[error("section {section:?}: column {column} is {value:?}: {why}")]
    Value {
        section: String,
        column: &'static str,
        value: Option<String>,
        why: &'static str,
    },
    #[error("the query result has an unknown section {0:?}")]
    Section(String),
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Checks a `database.table` (or `table`) name; it goes into the SQL text.
pub fn check_table(table: &str) -> Result<(), UsageTableError> {
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() > 2 || !parts.iter().all(|p| is_identifier(p)) {
        return Err(UsageTableError::TableName(table.to_owned()));
    }
    Ok(())
}

/// The datehour partitions (`yyyy/MM/dd/HH`) that can hold `month`'s files.
pub fn partitions(month: Month) -> (String, String) {
    let from = month.start();
    let to = month.end() + Duration::days(LATE_ARRIVAL_DAYS) - Duration::hours(1);
    (
        from.format("%Y/%m/%d/%H").to_string(),
        to.format("%Y/%m/%d/%H").to_string(),
    )
}

/// The month's query over `table`.
pub fn month_query(table: &str, month: Month) -> Result<String, UsageTableError> {
    check_table(table)?;
    let (from, to) = partitions(month);
    let days = month.days();
    let first = month.first_day();
    let last = days.last().copied().unwrap_or(first);
    Ok(REVIEW_MONTH_SQL
        .replace("{table}", table)
        .replace("{from}", &from)
        .replace("{to}", &to)
        .replace("{first_day}", &first.to_string())
        .replace("{last_day}", &last.to_string())
        .replace("{max_ips}", &MAX_IPS_PER_PRINCIPAL.to_string())
        .replace("{max_context_keys}", &MAX_CONTEXT_KEYS_PER_KEY.to_string()))
}

/// What the month's rows say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonthUsage {
    /// The month merged, each cross-account call counted once.
    pub summary: Summary,
    /// The accounts and Regions that delivered files, with their file counts.
    pub scope: Vec<(String, String, u64)>,
    /// Files per delivery hour (`YYYY-MM-DDTHH`), for the delivery coverage.
    pub delivered_hours: BTreeMap<String, u64>,
}

impl MonthUsage {
    /// The delivery hours as times (the hour's start), with their file counts.
    pub fn deliveries(&self) -> impl Iterator<Item = (DateTime<Utc>, u64)> + '_ {
        self.delivered_hours.iter().filter_map(|(h, n)| {
            let t =
                chrono::NaiveDateTime::parse_from_str(&format!("{h}:00"), "%Y-%m-%dT%H:%M").ok()?;
            Some((t.and_utc(), *n))
        })
    }
}

const COLUMNS: [&str; 24] = [
    "section",
    "account",
    "region",
    "key",
    "principal",
    "operation",
    "error_class",
    "service_originated",
    "day",
    "rule",
    "label",
    "value",
    "n",
    "failures",
    "first_seen",
    "last_seen",
    "truncated",
    "keys",
    "rules",
    "records",
    "kms_records",
    "bad_records",
    "keys_beyond_cap",
    "untracked",
];

/// Builds [`MonthUsage`] from the query's result rows, a page at a time (the
/// result of an organisation's month is aggregated, but can still be long).
pub struct MonthUsageBuilder {
    /// Result column of each of [`COLUMNS`].
    at: [usize; 24],
    out: MonthUsage,
    duplicates: Vec<(OwnerCopy, u64)>,
}

/// One result row, read by column name.
struct Row<'a> {
    section: &'a str,
    at: &'a [usize; 24],
    cells: &'a [Option<String>],
}

impl<'a> Row<'a> {
    fn get(&self, column: &'static str) -> Option<&'a str> {
        let i = COLUMNS.iter().position(|c| *c == column)?;
        self.cells.get(self.at[i])?.as_deref()
    }
    fn bad(&self, column: &'static str, why: &'static str) -> UsageTableError {
        UsageTableError::Value {
            section: self.section.to_owned(),
            column,
            value: self.get(column).map(str::to_owned),
            why,
        }
    }
    fn text(&self, column: &'static str) -> Result<String, UsageTableError> {
        self.get(column)
            .map(str::to_owned)
            .ok_or_else(|| self.bad(column, "missing"))
    }
    fn number(&self, column: &'static str) -> Result<u64, UsageTableError> {
        match self.get(column) {
            None => Ok(0),
            Some(v) => v.parse().map_err(|_| self.bad(column, "not a count")),
        }
    }
    fn integer(&self, column: &'static str) -> Result<i64, UsageTableError> {
        self.get(column)
            .ok_or_else(|| self.bad(column, "missing"))?
            .parse()
            .map_err(|_| self.bad(column, "not an integer"))
    }
    fn flag(&self, column: &'static str) -> Result<bool, UsageTableError> {
        match self.get(column) {
            None => Ok(false),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(self.bad(column, "not true or false")),
        }
    }
    fn time(&self, column: &'static str) -> Result<DateTime<Utc>, UsageTableError> {
        DateTime::from_timestamp(self.integer(column)?, 0)
            .ok_or_else(|| self.bad(column, "not a time"))
    }
    fn optional_time(
        &self,
        column: &'static str,
    ) -> Result<Option<DateTime<Utc>>, UsageTableError> {
        match self.get(column) {
            None => Ok(None),
            Some(_) => self.time(column).map(Some),
        }
    }
    fn error_class(&self) -> Result<Option<crate::detect::event::ErrorClass>, UsageTableError> {
        match self.get("error_class") {
            None | Some("") => Ok(None),
            Some(v) => error_class_of(v)
                .map(Some)
                .ok_or_else(|| self.bad("error_class", "not an error class")),
        }
    }
    fn words(&self, column: &'static str) -> Vec<String> {
        self.get(column)
            .unwrap_or("")
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl MonthUsageBuilder {
    /// `columns`: the result's column names (Athena's column info, DuckDB's
    /// description).
    pub fn new(columns: &[String]) -> Result<MonthUsageBuilder, UsageTableError> {
        let mut at = [0; 24];
        for (i, c) in COLUMNS.iter().enumerate() {
            at[i] = columns
                .iter()
                .position(|n| n.eq_ignore_ascii_case(c))
                .ok_or(UsageTableError::MissingColumn(c))?;
        }
        Ok(MonthUsageBuilder {
            at,
            out: MonthUsage::default(),
            duplicates: Vec::new(),
        })
    }

    /// Adds one result row.
    pub fn add(&mut self, cells: &[Option<String>]) -> Result<(), UsageTableError> {
        let section = cells
            .get(self.at[0])
            .and_then(|c| c.as_deref())
            .unwrap_or("");
        let r = Row {
            section,
            at: &self.at,
            cells,
        };
        let s = &mut self.out.summary;
        match section {
            "files" => {
                s.files += r.number("n")?;
                s.records += r.number("records")?;
                s.kms_records += r.number("kms_records")?;
                s.bad_records += r.number("bad_records")?;
                s.keys_beyond_cap += r.number("keys_beyond_cap")?;
                s.shared_events.untracked += r.number("untracked")?;
                s.first_event = r.optional_time("first_seen")?;
                s.last_event = r.optional_time("last_seen")?;
            }
            "scope" => self
                .out
                .scope
                .push((r.text("account")?, r.text("region")?, r.number("n")?)),
            "delivered" => {
                *self.out.delivered_hours.entry(r.text("day")?).or_default() += r.number("n")?;
            }
            "usage" => {
                let cell = UsageKey {
                    key: r.text("key")?,
                    principal: r.text("principal")?,
                    event_name: r.text("operation")?,
                    error_class: r.error_class()?,
                    service_originated: r.flag("service_originated")?,
                };
                let stats = UsageStats {
                    count: r.number("n")?,
                    first_seen: r.time("first_seen")?,
                    last_seen: r.time("last_seen")?,
                };
                s.usage.insert(cell, stats);
            }
            "ip" => capped(s.principal_ips.entry(r.text("principal")?).or_default(), &r)?,
            "context" => capped(s.key_context_keys.entry(r.text("key")?).or_default(), &r)?,
            "day" => {
                let d = s.days.entry(r.text("day")?).or_default();
                d.calls += r.number("n")?;
                d.failures += r.number("failures")?;
            }
            "day_key" => {
                let n = r.number("n")?;
                *s.days
                    .entry(r.text("day")?)
                    .or_default()
                    .by_key
                    .entry(r.text("key")?)
                    .or_default() += n;
            }
            "day_rule" => {
                let n = r.number("n")?;
                *s.days
                    .entry(r.text("day")?)
                    .or_default()
                    .rules
                    .entry(r.text("rule")?)
                    .or_default() += n;
            }
            "active_hour" => {
                let hour = r.integer("value")?;
                if !(0..24).contains(&hour) {
                    return Err(r.bad("value", "not an hour of the day"));
                }
                s.principal_hours
                    .entry(r.text("principal")?)
                    .or_default()
                    .hours |= 1 << hour;
            }
            "active_day" => {
                let day = i32::try_from(r.integer("value")?)
                    .map_err(|_| r.bad("value", "not a day number"))?;
                s.principal_hours
                    .entry(r.text("principal")?)
                    .or_default()
                    .days
                    .insert(day);
            }
            "active_calls" => {
                s.principal_hours
                    .entry(r.text("principal")?)
                    .or_default()
                    .calls += r.number("n")?;
            }
            "suppressed" => {
                *s.suppressed
                    .entry(r.text("rule")?)
                    .or_default()
                    .entry(r.text("label")?)
                    .or_default() += r.number("n")?;
            }
            "shared_duplicate" => self.duplicates.push((
                OwnerCopy {
                    keys: r.words("keys"),
                    principal: r.text("principal")?,
                    event_name: r.text("operation")?,
                    error_class: r.error_class()?,
                    service_originated: r.flag("service_originated")?,
                    day: r.text("day")?,
                    rules: r.words("rules"),
                },
                r.number("n")?,
            )),
            other => return Err(UsageTableError::Section(other.to_owned())),
        }
        Ok(())
    }

    /// The month, each cross-account call counted once.
    pub fn finish(mut self) -> MonthUsage {
        let s = &mut self.out.summary;
        for (copy, n) in &self.duplicates {
            for _ in 0..*n {
                s.remove_owner_copy(copy);
            }
            s.shared_events.counted_once += n;
        }
        self.out.scope.sort();
        self.out
    }
}

/// One value of a capped set (the query already kept the smallest), or its
/// overflow.
fn capped(set: &mut CappedSet, r: &Row) -> Result<(), UsageTableError> {
    set.truncated |= r.flag("truncated")?;
    if let Some(v) = r.get("value") {
        set.values.insert(v.to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_the_month_and_its_partitions() {
        let m = Month::parse("2026-02").expect("month");
        let q = month_query("keytrail.kms_usage", m).expect("query");
        assert!(q.contains("FROM keytrail.kms_usage"));
        assert!(q.contains("datehour BETWEEN '2026/02/01/00' AND '2026/03/07/23'"));
        assert!(q.contains("file_date BETWEEN '2026-02-01' AND '2026-02-28'"));
        assert!(q.contains("rn <= 20"));
        assert!(q.contains("rn <= 50"));
        assert!(!q.contains('{'), "a placeholder is left: {q}");
    }

    #[test]
    fn only_table_names_go_into_the_sql() {
        for bad in ["", "a.b.c", "t; DROP TABLE x", "db.t'--", "db..t", "t\""] {
            assert!(
                month_query(bad, Month::parse("2026-02").expect("m")).is_err(),
                "{bad}"
            );
        }
        assert!(check_table("kms_usage").is_ok());
    }

    fn columns() -> Vec<String> {
        COLUMNS.iter().map(|c| (*c).to_owned()).collect()
    }

    fn row(pairs: &[(&str, &str)]) -> Vec<Option<String>> {
        COLUMNS
            .iter()
            .map(|c| {
                pairs
                    .iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| (*v).to_owned())
            })
            .collect()
    }

    #[test]
    fn rows_rebuild_the_summary() {
        let mut b = MonthUsageBuilder::new(&columns()).expect("columns");
        b.add(&row(&[
            ("section", "files"),
            ("n", "2"),
            ("records", "10"),
            ("kms_records", "7"),
            ("bad_records", "1"),
            ("first_seen", "1790000000"),
            ("last_seen", "1790000600"),
        ]))
        .expect("files");
        let usage = [
            ("section", "usage"),
            ("key", "arn:aws:kms:us-east-1:111122223333:key/k"),
            ("principal", "arn:aws:iam::111122223333:role/app"),
            ("operation", "Decrypt"),
            ("error_class", "AccessDenied"),
            ("service_originated", "false"),
            ("n", "3"),
            ("first_seen", "1790000000"),
            ("last_seen", "1790000500"),
        ];
        b.add(&row(&usage)).expect("usage");
        b.add(&row(&[
            ("section", "day"),
            ("day", "2026-09-21"),
            ("n", "3"),
            ("failures", "3"),
        ]))
        .expect("day");
        b.add(&row(&[
            ("section", "shared_duplicate"),
            ("keys", "arn:aws:kms:us-east-1:111122223333:key/k"),
            ("principal", "arn:aws:iam::111122223333:role/app"),
            ("operation", "Decrypt"),
            ("error_class", "AccessDenied"),
            ("service_originated", "false"),
            ("day", "2026-09-21"),
            ("n", "1"),
        ]))
        .expect("duplicate");
        b.add(&row(&[
            ("section", "ip"),
            ("principal", "p"),
            ("value", "10.0.0.1"),
            ("truncated", "false"),
        ]))
        .expect("ip");
        b.add(&row(&[
            ("section", "ip"),
            ("principal", "p"),
            ("truncated", "true"),
        ]))
        .expect("ip overflow");
        let m = b.finish();
        let s = &m.summary;
        assert_eq!(
            (s.files, s.records, s.kms_records, s.bad_records),
            (2, 10, 7, 1)
        );
        let (cell, stats) = s.usage.iter().next().expect("cell");
        assert_eq!(cell.event_name, "Decrypt");
        assert_eq!(stats.count, 2, "the owner's copy is taken out");
        assert_eq!(s.days["2026-09-21"].calls, 2);
        assert_eq!(s.days["2026-09-21"].failures, 2);
        assert_eq!(s.shared_events.counted_once, 1);
        assert!(s.principal_ips["p"].truncated);
        assert_eq!(s.principal_ips["p"].values.len(), 1);
    }

    #[test]
    fn a_bad_value_names_its_section_and_column() {
        let mut b = MonthUsageBuilder::new(&columns()).expect("columns");
        let e = b
            .add(&row(&[
                ("section", "usage"),
                ("key", "k"),
                ("principal", "p"),
                ("operation", "Decrypt"),
                ("n", "many"),
                ("first_seen", "1"),
                ("last_seen", "1"),
            ]))
            .expect_err("bad count");
        assert_eq!(
            e.to_string(),
            "section \"usage\": column n is Some(\"many\"): not a count"
        );
        assert!(matches!(
            MonthUsageBuilder::new(&columns()[1..]),
            Err(UsageTableError::MissingColumn("section"))
        ));
        assert!(matches!(
            b.add(&row(&[("section", "other")])),
            Err(UsageTableError::Section(_))
        ));
    }
}
