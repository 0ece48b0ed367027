//! Renderers for the monthly review [`Report`]: Markdown (for terminals, tickets and
//! pull requests) and one self-contained HTML5 file (inline CSS and SVG charts, no
//! scripts, nothing loaded from anywhere).
//!
//! Every string in a report may come from CloudTrail (principal names, user agents,
//! key aliases, event names) and is therefore attacker-controlled: the Markdown
//! renderer escapes table and inline syntax, the HTML renderer escapes `& < > " '`
//! everywhere, SVG text and attributes included, and the page carries a
//! Content-Security-Policy that forbids scripts and remote loads as a second line of
//! defence.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::detect::baseline::MonthTotals;
use crate::detect::catalog::Rule;
use crate::review::report::{CheckStatus, InventoryRow, Report, ts};

// ------------------------------------------------------------------ document model

/// One cell: text, optionally emphasised, optionally with a CSS class.
#[derive(Debug, Clone, Default)]
struct Cell {
    text: String,
    strong: bool,
    class: Option<&'static str>,
}

fn c(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        ..Cell::default()
    }
}

fn n(v: u64) -> Cell {
    Cell {
        text: v.to_string(),
        class: Some("num"),
        ..Cell::default()
    }
}

/// A number that is emphasised when non-zero (something to look at).
fn n_alert(v: u64) -> Cell {
    Cell {
        text: v.to_string(),
        strong: v > 0,
        class: Some(if v > 0 { "num alert" } else { "num" }),
    }
}

fn strong(text: impl Into<String>, class: &'static str) -> Cell {
    Cell {
        text: text.into(),
        strong: true,
        class: Some(class),
    }
}

struct Table {
    id: &'static str,
    /// Column titles; `true` for numeric (right-aligned) columns.
    head: Vec<(String, bool)>,
    rows: Vec<Vec<Cell>>,
    /// Shown instead of an empty table.
    empty: String,
}

/// Inline text: (emphasised, text).
type Inline = Vec<(bool, String)>;

enum Block {
    Para(Inline),
    /// A paragraph that flags a problem.
    Warn(Inline),
    List(&'static str, Vec<String>),
    Table(Table),
    Sub(String),
    /// HTML only.
    Chart(String),
}

struct Section {
    id: &'static str,
    title: &'static str,
    blocks: Vec<Block>,
}

fn cols(c: &[(&str, bool)]) -> Vec<(String, bool)> {
    c.iter().map(|(t, num)| ((*t).to_owned(), *num)).collect()
}

fn plain(s: impl Into<String>) -> Inline {
    vec![(false, s.into())]
}

// ------------------------------------------------------------------ formatting

fn when(t: Option<DateTime<Utc>>, none: &str) -> String {
    t.map_or_else(|| none.to_owned(), ts)
}

fn list_or(v: &[String], none: &str) -> String {
    if v.is_empty() {
        none.to_owned()
    } else {
        v.join(", ")
    }
}

fn tags(t: &BTreeMap<String, String>) -> String {
    if t.is_empty() {
        return "none".into();
    }
    t.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn rotation(r: Option<bool>) -> Cell {
    match r {
        Some(true) => c("enabled"),
        Some(false) => strong("disabled", "warn"),
        None => c("n/a or unknown"),
    }
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "unknown".into())
}

/// `2026-09-01..2026-09-03, 2026-09-07`: consecutive days as ranges.
fn day_ranges(days: &[String]) -> String {
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
fn capped(v: &[String], max: usize) -> String {
    if v.len() <= max {
        return v.join(", ");
    }
    format!(
        "{}, and {} more (see the JSON report)",
        v[..max].join(", "),
        v.len() - max
    )
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn delta(cur: u64, prev: u64) -> String {
    let d = i128::from(cur) - i128::from(prev);
    let sign = if d > 0 { "+" } else { "" };
    if prev == 0 {
        format!("{sign}{d}")
    } else {
        let pct = d as f64 * 100.0 / prev as f64;
        format!("{sign}{d} ({sign}{pct:.1}%)")
    }
}

fn rule_info(r: &Rule) -> (String, &'static str) {
    (format!("{} ({})", r.title, r.id), r.severity.as_str())
}

/// First alias of a key, when the report knows one.
fn alias_of<'a>(r: &'a Report, key: &str) -> Option<&'a str> {
    r.keys
        .iter()
        .chain(&r.aws_managed_keys)
        .find(|k| k.key == key)
        .and_then(|k| k.aliases.first())
        .map(String::as_str)
}

/// A short label for a key: its alias, else the key id after `:key/`.
fn key_label(r: &Report, key: &str) -> String {
    alias_of(r, key).map_or_else(
        || {
            key.rsplit_once(":key/")
                .map_or_else(|| key.to_owned(), |(_, id)| id.to_owned())
        },
        str::to_owned,
    )
}

/// The last `max` characters of `s`, with a leading ellipsis when cut.
fn tail(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        return s.to_owned();
    }
    let kept: String = s.chars().skip(count - (max - 1)).collect();
    format!("…{kept}")
}

// ------------------------------------------------------------------ the sections

fn sections(r: &Report, charts: bool) -> Vec<Section> {
    let mut out = Vec::new();
    let s = &r.summary;

    // Summary.
    let rows = vec![
        vec![c("KMS calls"), n(s.kms_calls)],
        vec![c("failed calls"), n(s.failures)],
        vec![c("principals"), n(s.principals)],
        vec![
            c(if r.baseline_available {
                "new principals (not in the baseline)"
            } else {
                "new principals (no baseline yet)"
            }),
            n(s.new_principals),
        ],
        vec![
            c("cross-account principals"),
            n_alert(s.cross_account_principals),
        ],
        vec![c("keys in the inventory"), n(s.keys_in_inventory)],
        vec![c("customer-managed keys"), n(s.customer_managed_keys)],
        vec![c("AWS-managed keys"), n(s.aws_managed_keys)],
        vec![c("customer-managed keys used"), n(s.keys_used)],
        vec![c("unused keys"), n_alert(s.unused_keys)],
        vec![c("keys pending deletion"), n_alert(s.keys_pending_deletion)],
        vec![
            c("keys pending deletion and used this month"),
            n_alert(s.pending_deletion_used),
        ],
        vec![c("failed trail checks"), n_alert(s.trail_checks_failed)],
    ];
    out.push(Section {
        id: "s-summary",
        title: "Summary",
        blocks: vec![Block::Table(Table {
            id: "summary-numbers",
            head: cols(&[("measure", false), ("value", true)]),
            rows,
            empty: String::new(),
        })],
    });

    if charts {
        out.push(Section {
            id: "s-charts",
            title: "Activity",
            blocks: vec![
                Block::Sub("Daily calls for the most used keys".into()),
                Block::Chart(chart_calls_per_key(r)),
                Block::Sub("Failed calls per day".into()),
                Block::Chart(chart_failures_per_day(r)),
                Block::Sub("Operations per principal (top principals)".into()),
                Block::Chart(chart_operations_per_principal(r)),
            ],
        });
    }

    // Coverage.
    let cov = &r.coverage;
    let mut blocks = vec![Block::Table(Table {
        id: "coverage",
        head: cols(&[("source", false), ("days", true), ("which", false)]),
        rows: vec![
            vec![
                c("days in the month"),
                n(u64::from(cov.days_in_month)),
                c(""),
            ],
            vec![
                c("days from daily summaries"),
                n(cov.days_from_summaries.len() as u64),
                c(day_ranges(&cov.days_from_summaries)),
            ],
            vec![
                c("days backfilled from the raw logs"),
                n(cov.days_backfilled.len() as u64),
                c(day_ranges(&cov.days_backfilled)),
            ],
            vec![
                c("days without log deliveries"),
                n_alert(cov.days_without_deliveries.len() as u64),
                c(day_ranges(&cov.days_without_deliveries)),
            ],
            vec![
                c("hours without log deliveries (on days with some)"),
                n_alert(cov.hours_without_deliveries.len() as u64),
                c(if cov.hours_without_deliveries.is_empty() {
                    "none".to_owned()
                } else {
                    capped(&cov.hours_without_deliveries, 48)
                }),
            ],
        ],
        empty: String::new(),
    })];
    blocks.push(Block::Para(plain(format!(
        "{} log files and {} summaries were read.",
        cov.log_files, cov.summaries
    ))));
    if cov.days_without_deliveries.is_empty() && cov.hours_without_deliveries.is_empty() {
        blocks.push(Block::Para(plain(
            "Every hour of the month had log deliveries: no logging gaps.",
        )));
    } else {
        blocks.push(Block::Warn(vec![
            (true, "Possible logging gaps: ".into()),
            (
                false,
                format!(
                    "{} and {} without any log delivery. A trail that stopped logging is itself a finding: check the trail's logging status (aws cloudtrail get-trail-status) and its delivery errors for these periods, and treat the usage numbers above as incomplete.",
                    plural(cov.days_without_deliveries.len(), "day"),
                    plural(cov.hours_without_deliveries.len(), "hour")
                ),
            ),
        ]));
    }
    out.push(Section {
        id: "s-coverage",
        title: "Coverage",
        blocks,
    });

    // Trail checks.
    let rows = r
        .trail_checks
        .iter()
        .map(|t| {
            vec![
                c(&t.trail),
                c(&t.check),
                match t.status {
                    CheckStatus::Pass => Cell {
                        text: "pass".into(),
                        class: Some("pass"),
                        strong: false,
                    },
                    CheckStatus::Fail => strong("FAIL", "fail"),
                    CheckStatus::NotChecked => Cell {
                        text: "not checked".into(),
                        class: Some("skip"),
                        strong: false,
                    },
                },
                c(&t.detail),
                c(if t.status == CheckStatus::Fail {
                    t.remediation.as_str()
                } else {
                    ""
                }),
            ]
        })
        .collect();
    out.push(Section {
        id: "s-trail-checks",
        title: "Trail checks",
        blocks: vec![Block::Table(Table {
            id: "trail-checks",
            head: cols(&[
                ("trail", false),
                ("check", false),
                ("status", false),
                ("detail", false),
                ("remediation", false),
            ]),
            rows,
            empty: "No trail was found: nothing records KMS calls. That is itself a finding."
                .into(),
        })],
    });

    // Keys pending deletion.
    let rows = r
        .keys_pending_deletion
        .iter()
        .map(|p| {
            vec![
                c(&p.key),
                c(list_or(&p.aliases, "-")),
                c(when(p.deletion_date, "unknown")),
                n_alert(p.uses),
                if p.used_in_period || p.severity == "critical" {
                    strong(p.severity.to_uppercase(), "critical")
                } else {
                    c(&p.severity)
                },
            ]
        })
        .collect();
    let mut blocks = vec![Block::Table(Table {
        id: "pending-deletion",
        head: cols(&[
            ("key", false),
            ("aliases", false),
            ("deletion date", false),
            ("cryptographic uses this month", true),
            ("severity", false),
        ]),
        rows,
        empty: "No key is pending deletion.".into(),
    })];
    if r.keys_pending_deletion.iter().any(|p| p.used_in_period) {
        blocks.push(Block::Warn(vec![
            (true, "Critical: ".into()),
            (
                false,
                "a key pending deletion was still used this month. Once deleted, whatever it encrypted cannot be decrypted: cancel the deletion (aws kms cancel-key-deletion --key-id <key>) until its callers have moved to another key.".into(),
            ),
        ]));
    }
    out.push(Section {
        id: "s-pending-deletion",
        title: "Keys pending deletion",
        blocks,
    });

    // Unused keys.
    let rows = r
        .unused_keys
        .iter()
        .map(|u| {
            vec![
                c(&u.key),
                c(list_or(&u.aliases, "-")),
                c(when(u.last_used, "never recorded")),
                u.days_unused.map_or_else(
                    || c("-"),
                    |d| Cell {
                        text: d.to_string(),
                        class: Some("num"),
                        strong: false,
                    },
                ),
                c(&u.basis),
            ]
        })
        .collect();
    out.push(Section {
        id: "s-unused-keys",
        title: "Unused keys",
        blocks: vec![Block::Table(Table {
            id: "unused-keys",
            head: cols(&[
                ("key", false),
                ("aliases", false),
                ("last used", false),
                ("days unused", true),
                ("basis", false),
            ]),
            rows,
            empty: "No enabled customer-managed key is unused.".into(),
        })],
    });

    // Missing tags.
    let rows = r
        .keys_missing_tags
        .iter()
        .map(|m| vec![c(&m.key), c(m.missing.join(", "))])
        .collect();
    out.push(Section {
        id: "s-missing-tags",
        title: "Keys missing required tags",
        blocks: vec![Block::Table(Table {
            id: "missing-tags",
            head: cols(&[("key", false), ("missing tags", false)]),
            rows,
            empty: if r.inventory_source == "kms" {
                "Every customer-managed key has the required tags.".into()
            } else {
                "Not checked: tags need KMS API access (the inventory comes from the logs).".into()
            },
        })],
    });

    // Key inventory.
    let key_rows = |keys: &[InventoryRow]| -> Vec<Vec<Cell>> {
        keys.iter()
            .map(|k| {
                vec![
                    c(&k.key),
                    c(list_or(&k.aliases, "-")),
                    match k.state.as_deref() {
                        Some(st @ ("PendingDeletion" | "PendingReplicaDeletion" | "Disabled")) => {
                            strong(st, "warn")
                        }
                        _ => c(opt(&k.state)),
                    },
                    c(opt(&k.spec)),
                    rotation(k.rotation_enabled),
                    c(tags(&k.tags)),
                    n(k.calls_in_period),
                    c(when(k.last_used, "never recorded")),
                    c(k.unavailable.join("; ")),
                ]
            })
            .collect()
    };
    let key_head = cols(&[
        ("key", false),
        ("aliases", false),
        ("state", false),
        ("spec", false),
        ("rotation", false),
        ("tags", false),
        ("calls", true),
        ("last used", false),
        ("not available", false),
    ]);
    out.push(Section {
        id: "s-keys",
        title: "Key inventory",
        blocks: vec![
            Block::Para(plain(format!("Inventory source: {}.", r.inventory_source))),
            Block::Table(Table {
                id: "keys",
                head: key_head.clone(),
                rows: key_rows(&r.keys),
                empty: "No customer-managed key.".into(),
            }),
            Block::Sub("AWS-managed keys".into()),
            Block::Para(plain(
                "Listed apart: AWS rotates them and they cannot be tagged, disabled or deleted, so the rotation, tag and unused-key checks do not apply.",
            )),
            Block::Table(Table {
                id: "aws-managed-keys",
                head: key_head,
                rows: key_rows(&r.aws_managed_keys),
                empty: "No AWS-managed key.".into(),
            }),
        ],
    });

    // Access inventory.
    let rows = r
        .access_inventory
        .iter()
        .map(|a| {
            vec![
                c(&a.key),
                c(&a.principal),
                c(&a.event_name),
                n(a.count),
                n_alert(a.failures),
                c(ts(a.first_seen)),
                c(ts(a.last_seen)),
            ]
        })
        .collect();
    out.push(Section {
        id: "s-access-inventory",
        title: "Access inventory",
        blocks: vec![
            Block::Para(plain(
                "Who used which key for what (\"-\" is a call without a key, such as ListKeys).",
            )),
            Block::Table(Table {
                id: "access-inventory",
                head: cols(&[
                    ("key", false),
                    ("principal", false),
                    ("operation", false),
                    ("calls", true),
                    ("failures", true),
                    ("first seen", false),
                    ("last seen", false),
                ]),
                rows,
                empty: "No KMS call was recorded this month.".into(),
            }),
        ],
    });

    // New principals.
    let blocks = if !r.baseline_available {
        vec![Block::Para(plain(
            "No baseline yet: this is the first reviewed month, so there is nothing to compare with. The baseline saved with this review is used next month.",
        ))]
    } else if r.new_principals.is_empty() {
        vec![Block::Para(plain(
            "No new principal: every principal was seen in earlier months.",
        ))]
    } else {
        vec![
            Block::Para(plain("Principals not seen in any earlier month:")),
            Block::List("new-principals", r.new_principals.clone()),
        ]
    };
    out.push(Section {
        id: "s-new-principals",
        title: "New principals",
        blocks,
    });

    // Cross-account principals.
    let rows = r
        .cross_account_principals
        .iter()
        .map(|x| {
            vec![
                c(&x.principal),
                c(&x.account),
                c(x.keys.join(", ")),
                n(x.count),
            ]
        })
        .collect();
    out.push(Section {
        id: "s-cross-account",
        title: "Cross-account principals",
        blocks: vec![Block::Table(Table {
            id: "cross-account",
            head: cols(&[
                ("principal", false),
                ("account", false),
                ("keys", false),
                ("calls", true),
            ]),
            rows,
            empty: "No principal from another account used a key.".into(),
        })],
    });

    // Findings per rule per week.
    let mut weeks: Vec<&str> = r
        .findings_per_week
        .iter()
        .map(|f| f.week.as_str())
        .collect();
    weeks.sort_unstable();
    weeks.dedup();
    let mut rules: Vec<&'static Rule> = Vec::new();
    for f in &r.findings_per_week {
        if !rules.contains(&f.rule) {
            rules.push(f.rule);
        }
    }
    rules.sort_by_key(|r| r.index());
    let rows: Vec<Vec<Cell>> = rules
        .iter()
        .map(|rule| {
            let (title, severity) = rule_info(rule);
            let mut row = vec![c(title), c(severity)];
            let mut total = 0;
            for w in &weeks {
                let v: u64 = r
                    .findings_per_week
                    .iter()
                    .filter(|f| f.rule == *rule && f.week == *w)
                    .map(|f| f.count)
                    .sum();
                total += v;
                row.push(n(v));
            }
            row.push(n(total));
            row
        })
        .collect();
    let mut head = cols(&[("rule", false), ("severity", false)]);
    head.extend(weeks.iter().map(|w| (format!("week of {w}"), true)));
    head.push(("total".into(), true));
    out.push(Section {
        id: "s-findings",
        title: "Findings per rule and week",
        blocks: vec![Block::Table(Table {
            id: "findings-per-week",
            head,
            rows,
            empty: "No detection rule matched this month.".into(),
        })],
    });

    // Top failing principals.
    let rows = r
        .top_failing_principals
        .iter()
        .map(|f| vec![c(&f.principal), n(f.failures), c(&f.top_error)])
        .collect();
    out.push(Section {
        id: "s-top-failing",
        title: "Top failing principals",
        blocks: vec![Block::Table(Table {
            id: "top-failing",
            head: cols(&[
                ("principal", false),
                ("failed calls", true),
                ("most frequent error", false),
            ]),
            rows,
            empty: "No failed call.".into(),
        })],
    });

    // Trend.
    let t = &r.trend;
    let measures = |m: &MonthTotals| [m.kms_calls, m.failures, m.principals, m.keys_used];
    let names = ["KMS calls", "failed calls", "principals", "keys used"];
    let cur = measures(&t.current);
    let blocks = match &t.previous {
        Some(p) => {
            let prev = measures(p);
            vec![Block::Table(Table {
                id: "trend",
                head: cols(&[
                    ("measure", false),
                    ("this month", true),
                    ("previous month", true),
                    ("change", true),
                ]),
                rows: (0..4)
                    .map(|i| {
                        vec![
                            c(names[i]),
                            n(cur[i]),
                            n(prev[i]),
                            Cell {
                                text: delta(cur[i], prev[i]),
                                class: Some("num"),
                                strong: false,
                            },
                        ]
                    })
                    .collect(),
                empty: String::new(),
            })]
        }
        None => vec![
            Block::Para(plain(format!(
                "No previous month: the baseline has no totals for {}.",
                t.previous_month
            ))),
            Block::Table(Table {
                id: "trend",
                head: cols(&[("measure", false), ("this month", true)]),
                rows: (0..4).map(|i| vec![c(names[i]), n(cur[i])]).collect(),
                empty: String::new(),
            }),
        ],
    };
    out.push(Section {
        id: "s-trend",
        title: "Month-over-month trend",
        blocks,
    });
    out
}

fn title(r: &Report) -> String {
    format!("KMS key usage review: {}", r.month)
}

fn meta(r: &Report) -> String {
    format!(
        "Generated {} (schema {} v{}); key inventory from {}.",
        ts(r.generated_at),
        r.schema,
        r.version,
        r.inventory_source
    )
}

// ------------------------------------------------------------------ Markdown

/// Escapes text for Markdown, inside table cells and out: `|` and the characters
/// that start links, code, emphasis or inline HTML are backslash-escaped or
/// replaced by entities, and line breaks become spaces, so a value from the logs
/// cannot break the table or inject markup.
pub fn md_escape(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &ch) in chars.iter().enumerate() {
        match ch {
            '\r' | '\n' | '\u{2028}' | '\u{2029}' => out.push(' '),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '|' | '`' | '*' | '[' | ']' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(ch);
            }
            // An underscore between two alphanumerics never starts emphasis: keep
            // role names such as AWSReservedSSO_Admin readable.
            '_' => {
                let alnum = |j: Option<&char>| j.is_some_and(|c| c.is_alphanumeric());
                if !(i > 0 && alnum(chars.get(i - 1)) && alnum(chars.get(i + 1))) {
                    out.push('\\');
                }
                out.push('_');
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn md_inline(parts: &Inline) -> String {
    parts
        .iter()
        .map(|(b, t)| {
            if *b {
                format!("**{}**", md_escape(t.trim_end())) + if t.ends_with(' ') { " " } else { "" }
            } else {
                md_escape(t)
            }
        })
        .collect()
}

fn md_cell(cell: &Cell) -> String {
    let t = md_escape(&cell.text);
    if cell.strong && !t.is_empty() {
        format!("**{t}**")
    } else {
        t
    }
}

fn md_table(out: &mut String, t: &Table) {
    if t.rows.is_empty() {
        let _ = writeln!(out, "{}\n", md_escape(&t.empty));
        return;
    }
    out.push('|');
    for (h, _) in &t.head {
        let _ = write!(out, " {} |", md_escape(h));
    }
    out.push_str("\n|");
    for (_, num) in &t.head {
        out.push_str(if *num { " ---: |" } else { " --- |" });
    }
    out.push('\n');
    for row in &t.rows {
        out.push('|');
        for cell in row {
            let _ = write!(out, " {} |", md_cell(cell));
        }
        out.push('\n');
    }
    out.push('\n');
}

/// The report as Markdown (GitHub-flavoured tables).
pub fn render_markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", md_escape(&title(r)));
    let _ = writeln!(out, "{}\n", md_escape(&meta(r)));
    for s in sections(r, false) {
        let _ = writeln!(out, "## {}\n", s.title);
        for b in &s.blocks {
            match b {
                Block::Para(p) => {
                    let _ = writeln!(out, "{}\n", md_inline(p));
                }
                Block::Warn(p) => {
                    let _ = writeln!(out, "> {}\n", md_inline(p));
                }
                Block::List(_, items) => {
                    for i in items {
                        let _ = writeln!(out, "- {}", md_escape(i));
                    }
                    out.push('\n');
                }
                Block::Table(t) => md_table(&mut out, t),
                Block::Sub(h) => {
                    let _ = writeln!(out, "### {}\n", md_escape(h));
                }
                Block::Chart(_) => {}
            }
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

// ------------------------------------------------------------------ HTML

/// Escapes text for HTML element content and quoted attribute values (HTML and
/// SVG alike). Control characters other than tab and line breaks, which are not
/// allowed in documents, become U+FFFD.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --head: #f6f8fa;
        --fail: #b42318; --pass: #1a7f37; --warn: #9a6700; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: var(--bg); margin: 0; }
header { padding: 20px 32px 8px; border-bottom: 1px solid var(--line); }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 8px; }
.meta { color: var(--muted); margin: 0 0 8px; }
nav ul { list-style: none; padding: 0; margin: 8px 0 4px; display: flex; flex-wrap: wrap; gap: 4px 14px; }
nav a { color: #0969da; text-decoration: none; }
main { padding: 0 32px 40px; max-width: 1400px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; max-width: 36em; }
th { background: var(--head); font-weight: 600; }
tbody tr:nth-child(even) { background: #fbfcfd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.alert { color: var(--fail); }
td.fail, td.critical { color: #fff; background: var(--fail); font-weight: 700; }
td.pass { color: var(--pass); }
td.skip { color: var(--muted); font-style: italic; }
td.warn { color: var(--warn); font-weight: 600; }
td.empty { color: var(--muted); font-style: italic; }
p.warn { border-left: 4px solid var(--fail); background: #fff5f5; padding: 8px 12px; }
figure { margin: 8px 0 16px; }
svg.chart { width: 100%; max-width: 1000px; height: auto; background: #fff; border: 1px solid var(--line); }
svg.chart text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: var(--fg); }
svg.chart .axis { stroke: #59636e; stroke-width: 1; }
svg.chart .grid { stroke: #e6e9ed; stroke-width: 1; }
svg.chart .none { fill: var(--muted); font-size: 14px; }
@media print { nav { display: none; } .scroll { overflow: visible; } }
"#;

/// The report as one self-contained HTML5 page.
pub fn render_html(r: &Report) -> String {
    let secs = sections(r, true);
    let mut out = String::with_capacity(64 * 1024);
    let t = esc(&title(r));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n\
<meta name=\"referrer\" content=\"no-referrer\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"generator\" content=\"keytrail {}\">\n\
<title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{t}</h1>\n<p class=\"meta\">{}</p>\n<nav><ul>",
        esc(env!("CARGO_PKG_VERSION")),
        esc(&meta(r)),
    );
    for s in &secs {
        let _ = write!(out, "<li><a href=\"#{}\">{}</a></li>", s.id, esc(s.title));
    }
    out.push_str("</ul></nav>\n</header>\n<main>\n");
    for s in &secs {
        let _ = writeln!(out, "<section id=\"{}\">\n<h2>{}</h2>", s.id, esc(s.title));
        for b in &s.blocks {
            match b {
                Block::Para(p) => {
                    let _ = writeln!(out, "<p>{}</p>", html_inline(p));
                }
                Block::Warn(p) => {
                    let _ = writeln!(out, "<p class=\"warn\">{}</p>", html_inline(p));
                }
                Block::List(id, items) => {
                    let _ = write!(out, "<ul id=\"{id}\">");
                    for i in items {
                        let _ = write!(out, "<li>{}</li>", esc(i));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Table(tb) => html_table(&mut out, tb),
                Block::Sub(h) => {
                    let _ = writeln!(out, "<h3>{}</h3>", esc(h));
                }
                Block::Chart(svg) => {
                    let _ = writeln!(out, "<figure>{svg}</figure>");
                }
            }
        }
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn html_inline(parts: &Inline) -> String {
    parts
        .iter()
        .map(|(b, t)| {
            if *b {
                format!("<strong>{}</strong>", esc(t))
            } else {
                esc(t)
            }
        })
        .collect()
}

fn html_table(out: &mut String, t: &Table) {
    let _ = write!(
        out,
        "<div class=\"scroll\"><table id=\"{}\" class=\"data\">\n<thead><tr>",
        t.id
    );
    for (h, num) in &t.head {
        let _ = write!(
            out,
            "<th scope=\"col\"{}>{}</th>",
            if *num { " class=\"num\"" } else { "" },
            esc(h)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    if t.rows.is_empty() {
        let _ = writeln!(
            out,
            "<tr><td class=\"empty\" colspan=\"{}\">{}</td></tr>",
            t.head.len().max(1),
            esc(&t.empty)
        );
    }
    for row in &t.rows {
        out.push_str("<tr>");
        for cell in row {
            let class = cell
                .class
                .map(|c| format!(" class=\"{c}\""))
                .unwrap_or_default();
            let text = esc(&cell.text);
            if cell.strong {
                let _ = write!(out, "<td{class}><strong>{text}</strong></td>");
            } else {
                let _ = write!(out, "<td{class}>{text}</td>");
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

// ------------------------------------------------------------------ SVG charts

const PALETTE: [&str; 8] = [
    "#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#8c6d31", "#7f7f7f",
];
const W: f64 = 960.0;

/// A round axis maximum and tick step for values up to `max` (never zero).
fn nice_scale(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let raw = max.div_ceil(4);
    let mut base = 1u64;
    while base.saturating_mul(10) <= raw {
        base *= 10;
    }
    let step = [1, 2, 5, 10]
        .iter()
        .map(|m| base.saturating_mul(*m))
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    let step = step.max(1);
    (max.div_ceil(step).max(1) * step, step)
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

fn day_label(day: Option<&String>, i: usize) -> String {
    match day {
        Some(d) if d.len() == 10 => d[8..].trim_start_matches('0').to_owned(),
        Some(d) => d.clone(),
        None => (i + 1).to_string(),
    }
}

fn svg_open(out: &mut String, id: &str, h: f64, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\">\
<title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>\
<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        W,
        f(h),
        W,
        f(h),
        esc(title),
        esc(desc),
        W,
        f(h),
    );
}

/// Plot area: left, top, width, height.
type Area = (f64, f64, f64, f64);

/// Horizontal grid lines and the value axis of a vertical chart.
fn y_axis(out: &mut String, (left, top, pw, ph): Area, (top_val, step): (u64, u64), label: &str) {
    let mut v = 0;
    while v <= top_val {
        let y = top + ph - ph * v as f64 / top_val as f64;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v}</text>",
            f(left),
            f(y),
            f(left + pw),
            f(y),
            f(left - 6.0),
            f(y + 4.0),
        );
        v += step;
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\"/><line class=\"axis\" x1=\"{l}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/>\
<text x=\"14\" y=\"{m}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {m})\">{}</text>",
        esc(label),
        l = f(left),
        t = f(top),
        b = f(top + ph),
        r = f(left + pw),
        m = f(top + ph / 2.0),
    );
}

fn x_label(out: &mut String, left: f64, pw: f64, y: f64, label: &str) {
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        f(left + pw / 2.0),
        f(y),
        esc(label)
    );
}

fn no_data(out: &mut String, x: f64, y: f64, msg: &str) {
    let _ = write!(
        out,
        "<text class=\"none\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        f(x),
        f(y),
        esc(msg)
    );
}

/// Daily calls of the top keys: one line per key, with a legend.
fn chart_calls_per_key(r: &Report) -> String {
    let ch = &r.charts;
    let series = &ch.calls_per_key;
    let n = series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0)
        .max(ch.days.len());
    let (left, top, right) = (64.0, 16.0, 16.0);
    let (pw, ph) = (W - left - right, 220.0);
    let legend_top = top + ph + 52.0;
    let h = legend_top + series.len().max(1) as f64 * 18.0 + 6.0;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let (top_val, step) = nice_scale(max);
    let x = |i: usize| {
        if n <= 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: u64| top + ph - ph * v as f64 / top_val as f64;

    let mut out = String::new();
    svg_open(
        &mut out,
        "chart-calls-per-key",
        h,
        &format!("Daily KMS calls for the top keys, {}", r.month),
        "One line per key; hover a point for the day's count.",
    );
    y_axis(
        &mut out,
        (left, top, pw, ph),
        (top_val, step),
        "calls per day",
    );
    for i in 0..n {
        if n <= 10 || i % 5 == 0 || i + 1 == n {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                f(x(i)),
                f(top + ph + 16.0),
                esc(&day_label(ch.days.get(i), i))
            );
        }
    }
    x_label(
        &mut out,
        left,
        pw,
        top + ph + 36.0,
        &format!("day of {}", r.month),
    );
    if series.is_empty() || n == 0 {
        no_data(
            &mut out,
            left + pw / 2.0,
            top + ph / 2.0,
            "no key was used this month",
        );
    }
    for (si, s) in series.iter().enumerate() {
        let colour = PALETTE[si % PALETTE.len()];
        let label = key_label(r, &s.name);
        let total: u64 = s.values.iter().sum();
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{},{}", f(x(i)), f(y(*v))))
            .collect();
        let _ = write!(
            out,
            "<g class=\"series\"><title>{} ({}): {total} calls</title><polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            esc(&label),
            esc(&s.name),
            points.join(" ")
        );
        for (i, v) in s.values.iter().enumerate() {
            let day = ch
                .days
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("day {}", i + 1));
            let _ = write!(
                out,
                "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{colour}\"><title>{}, {}: {v} calls</title></circle>",
                f(x(i)),
                f(y(*v)),
                esc(&label),
                esc(&day)
            );
        }
        let ly = legend_top + si as f64 * 18.0;
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{} — {total} calls<title>{}</title></text></g>",
            f(left),
            f(ly - 10.0),
            f(left + 18.0),
            f(ly),
            esc(&tail(&label, 60)),
            esc(&s.name)
        );
    }
    out.push_str("</svg>");
    out
}

/// Failed calls per day, as bars.
fn chart_failures_per_day(r: &Report) -> String {
    let ch = &r.charts;
    let vals = &ch.failures_per_day;
    let n = vals.len();
    let (left, top, right) = (64.0, 16.0, 16.0);
    let (pw, ph) = (W - left - right, 180.0);
    let h = top + ph + 48.0;
    let max = vals.iter().copied().max().unwrap_or(0);
    let (top_val, step) = nice_scale(max);
    let band = pw / n.max(1) as f64;
    let mut out = String::new();
    let total: u64 = vals.iter().sum();
    svg_open(
        &mut out,
        "chart-failures-per-day",
        h,
        &format!("Failed KMS calls per day, {}: {total} in all", r.month),
        "One bar per day; hover a bar for the day's count.",
    );
    y_axis(
        &mut out,
        (left, top, pw, ph),
        (top_val, step),
        "failed calls",
    );
    for (i, v) in vals.iter().enumerate() {
        let bh = ph * *v as f64 / top_val as f64;
        let day = ch
            .days
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("day {}", i + 1));
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#d55e00\"><title>{}: {v} failed calls</title></rect>",
            f(left + band * i as f64 + band * 0.15),
            f(top + ph - bh),
            f(band * 0.7),
            f(bh),
            esc(&day)
        );
        if n <= 10 || i % 5 == 0 || i + 1 == n {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                f(left + band * (i as f64 + 0.5)),
                f(top + ph + 16.0),
                esc(&day_label(ch.days.get(i), i))
            );
        }
    }
    if n == 0 {
        no_data(
            &mut out,
            left + pw / 2.0,
            top + ph / 2.0,
            "no data for this month",
        );
    } else if total == 0 {
        no_data(
            &mut out,
            left + pw / 2.0,
            top + ph / 2.0,
            "no failed call this month",
        );
    }
    x_label(
        &mut out,
        left,
        pw,
        top + ph + 36.0,
        &format!("day of {}", r.month),
    );
    out.push_str("</svg>");
    out
}

/// Calls per principal, stacked by operation (the 7 most frequent operations get
/// their own colour, the rest is "other").
fn chart_operations_per_principal(r: &Report) -> String {
    let rows = &r.charts.operations_per_principal;
    let mut op_totals: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, ops) in rows {
        for (op, v) in ops {
            *op_totals.entry(op.as_str()).or_default() += v;
        }
    }
    let mut ops: Vec<(&str, u64)> = op_totals.into_iter().collect();
    ops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let named: Vec<&str> = ops.iter().take(7).map(|o| o.0).collect();
    let has_other = ops.len() > named.len();
    let colour = |op: &str| {
        named
            .iter()
            .position(|o| *o == op)
            .map_or(PALETTE[7], |i| PALETTE[i])
    };

    let (left, top, right, row_h) = (230.0, 16.0, 24.0, 24.0);
    let pw = W - left - right;
    let ph = row_h * rows.len().max(1) as f64;
    let legend_items = named.len() + usize::from(has_other);
    let per_line = 4;
    let legend_top = top + ph + 50.0;
    let h = legend_top + legend_items.div_ceil(per_line).max(1) as f64 * 18.0 + 6.0;
    let max = rows
        .iter()
        .map(|(_, o)| o.iter().map(|x| x.1).sum::<u64>())
        .max()
        .unwrap_or(0);
    let (top_val, step) = nice_scale(max);
    let x = |v: u64| pw * v as f64 / top_val as f64;

    let mut out = String::new();
    svg_open(
        &mut out,
        "chart-operations-per-principal",
        h,
        &format!("KMS operations per principal, {}", r.month),
        "One bar per principal, split by operation; hover a segment for its count.",
    );
    let mut v = 0;
    while v <= top_val {
        let gx = left + x(v);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{v}</text>",
            f(gx),
            f(top),
            f(gx),
            f(top + ph),
            f(gx),
            f(top + ph + 16.0)
        );
        v += step;
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\"/><line class=\"axis\" x1=\"{l}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/>",
        l = f(left),
        t = f(top),
        b = f(top + ph),
        r = f(left + pw),
    );
    x_label(&mut out, left, pw, top + ph + 36.0, "calls this month");
    if rows.is_empty() {
        no_data(
            &mut out,
            left + pw / 2.0,
            top + ph / 2.0 + 4.0,
            "no KMS call this month",
        );
    }
    for (ri, (principal, pops)) in rows.iter().enumerate() {
        let y = top + ri as f64 * row_h + 4.0;
        let total: u64 = pops.iter().map(|o| o.1).sum();
        let _ = write!(
            out,
            "<g class=\"principal\"><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}<title>{}: {total} calls</title></text>",
            f(left - 8.0),
            f(y + 12.0),
            esc(&tail(principal, 32)),
            esc(principal)
        );
        let mut acc = 0u64;
        for (op, v) in pops {
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}: {} {v} calls</title></rect>",
                f(left + x(acc)),
                f(y),
                f(x(*v)),
                f(row_h - 8.0),
                colour(op),
                esc(principal),
                esc(op)
            );
            acc += v;
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\">{total}</text></g>",
            f(left + x(acc) + 4.0),
            f(y + 12.0)
        );
    }
    let legend: Vec<(&str, &str)> = named
        .iter()
        .map(|o| (*o, colour(o)))
        .chain(has_other.then_some(("other operations", PALETTE[7])))
        .collect();
    for (i, (op, col)) in legend.iter().enumerate() {
        let lx = left + (i % per_line) as f64 * (pw / per_line as f64);
        let ly = legend_top + (i / per_line) as f64 * 18.0;
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{col}\"/><text x=\"{}\" y=\"{}\">{}<title>{}</title></text>",
            f(lx),
            f(ly - 10.0),
            f(lx + 18.0),
            f(ly),
            esc(&tail(op, 30)),
            esc(op)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::report::{
        AccessRow, Charts, Coverage, CrossAccount, FailingPrincipal, MissingTags, Numbers,
        PendingKey, Series, TrailCheck, Trend, UnusedKey, WeeklyFindings,
    };
    use chrono::TimeZone;

    const XSS: &str = "<script>alert(1)</script>";
    const K1: &str = "arn:aws:kms:eu-west-1:111122223333:key/1111aaaa-0000-0000-0000-000000000001";
    const K2: &str = "arn:aws:kms:eu-west-1:111122223333:key/2222bbbb-0000-0000-0000-000000000002";
    const K3: &str = "arn:aws:kms:eu-west-1:111122223333:key/3333cccc-0000-0000-0000-000000000003";
    const K4: &str = "arn:aws:kms:eu-west-1:111122223333:key/4444dddd-0000-0000-0000-000000000004";
    const KAWS: &str =
        "arn:aws:kms:eu-west-1:111122223333:key/aaaa5555-0000-0000-0000-000000000005";
    const APP: &str = "arn:aws:iam::111122223333:role/app-backend";
    const ETL: &str = "arn:aws:iam::111122223333:role/etl_nightly";
    const EXT: &str = "arn:aws:iam::999988887777:role/partner|reader";

    fn t(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 9, d, h, 0, 0)
            .single()
            .expect("valid time")
    }

    fn key(
        arn: &str,
        alias: &str,
        state: &str,
        calls: u64,
        last: Option<DateTime<Utc>>,
    ) -> InventoryRow {
        InventoryRow {
            key: arn.into(),
            aliases: vec![alias.into()],
            state: Some(state.into()),
            spec: Some("SYMMETRIC_DEFAULT".into()),
            usage: Some("ENCRYPT_DECRYPT".into()),
            manager: Some("CUSTOMER".into()),
            created: Some(
                Utc.with_ymd_and_hms(2025, 1, 10, 9, 0, 0)
                    .single()
                    .expect("time"),
            ),
            deletion_date: None,
            rotation_enabled: Some(true),
            tags: [("owner", "payments"), ("purpose", "db")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            calls_in_period: calls,
            last_used: last,
            unavailable: vec![],
        }
    }

    fn access(k: &str, p: &str, op: &str, count: u64, failures: u64, a: u32, b: u32) -> AccessRow {
        AccessRow {
            key: k.into(),
            principal: p.into(),
            event_name: op.into(),
            count,
            failures,
            first_seen: t(a, 8),
            last_seen: t(b, 17),
        }
    }

    /// A small but complete report, with hostile strings where the logs could
    /// put them (a principal, an alias, an event name).
    pub(crate) fn fixture() -> Report {
        let days: Vec<String> = (1..=30).map(|d| format!("2026-09-{d:02}")).collect();
        let wave = |base: u64, k: u64| -> Vec<u64> {
            (0..30u64)
                .map(|i| {
                    if i % 7 == 5 || i % 7 == 6 {
                        k
                    } else {
                        base + (i * k) % 9
                    }
                })
                .collect()
        };
        let mut k2 = key(K2, "alias/reports", "Enabled", 120, Some(t(29, 10)));
        k2.rotation_enabled = Some(false);
        k2.tags.clear();
        let mut k3 = key(K3, "alias/legacy-archive", "Enabled", 0, None);
        k3.aliases.push(format!("alias/{XSS}"));
        let mut k4 = key(
            K4,
            "alias/old-exports",
            "PendingDeletion",
            6,
            Some(t(12, 4)),
        );
        k4.deletion_date = Some(
            Utc.with_ymd_and_hms(2026, 10, 7, 0, 0, 0)
                .single()
                .expect("time"),
        );
        let mut kaws = key(KAWS, "alias/aws/s3", "Enabled", 40, Some(t(30, 23)));
        kaws.manager = Some("AWS".into());
        kaws.tags.clear();
        Report {
            schema: "keytrail.review".into(),
            version: 1,
            generated_at: Utc
                .with_ymd_and_hms(2026, 10, 1, 3, 0, 0)
                .single()
                .expect("time"),
            month: "2026-09".into(),
            inventory_source: "kms".into(),
            coverage: Coverage {
                days_in_month: 30,
                days_from_summaries: days[..27]
                    .iter()
                    .filter(|d| *d != "2026-09-14")
                    .cloned()
                    .collect(),
                days_backfilled: vec![
                    "2026-09-28".into(),
                    "2026-09-29".into(),
                    "2026-09-30".into(),
                ],
                days_without_deliveries: vec!["2026-09-14".into()],
                hours_without_deliveries: vec!["2026-09-13T22".into(), "2026-09-13T23".into()],
                log_files: 8_412,
                summaries: 26,
            },
            summary: Numbers {
                kms_calls: 1_496,
                failures: 31,
                keys_in_inventory: 5,
                customer_managed_keys: 4,
                aws_managed_keys: 1,
                keys_used: 3,
                unused_keys: 1,
                keys_pending_deletion: 1,
                pending_deletion_used: 1,
                principals: 4,
                new_principals: 1,
                cross_account_principals: 1,
                trail_checks_failed: 2,
            },
            trail_checks: vec![
                TrailCheck {
                    trail: "org-trail".into(),
                    check: "kms_encryption".into(),
                    status: CheckStatus::Pass,
                    detail: format!("SSE-KMS with {K1}"),
                    remediation:
                        "aws cloudtrail update-trail --name org-trail --kms-key-id <key ARN>".into(),
                },
                TrailCheck {
                    trail: "org-trail".into(),
                    check: "log_file_validation".into(),
                    status: CheckStatus::Fail,
                    detail: "log file integrity validation is off".into(),
                    remediation:
                        "aws cloudtrail update-trail --name org-trail --enable-log-file-validation"
                            .into(),
                },
                TrailCheck {
                    trail: "org-trail".into(),
                    check: "kms_events_recorded".into(),
                    status: CheckStatus::Fail,
                    detail: "ExcludeManagementEventSources lists kms.amazonaws.com".into(),
                    remediation: "aws cloudtrail put-event-selectors --trail-name org-trail ..."
                        .into(),
                },
                TrailCheck {
                    trail: "org-trail".into(),
                    check: "logging".into(),
                    status: CheckStatus::NotChecked,
                    detail: "GetTrailStatus was not available".into(),
                    remediation: String::new(),
                },
            ],
            keys: vec![
                key(K1, "alias/payments-db", "Enabled", 1_324, Some(t(30, 22))),
                k2,
                k3,
                k4,
            ],
            aws_managed_keys: vec![kaws],
            access_inventory: vec![
                access(K1, APP, "Decrypt", 1_100, 12, 1, 30),
                access(K1, APP, "GenerateDataKey", 200, 0, 1, 30),
                access(K1, XSS, XSS, 24, 19, 3, 21),
                access(K2, ETL, "Encrypt", 80, 0, 2, 29),
                access(K2, EXT, "Decrypt", 40, 0, 5, 26),
                access(K4, ETL, "Decrypt", 6, 0, 9, 12),
                access("-", APP, "ListKeys", 6, 0, 1, 1),
            ],
            unused_keys: vec![UnusedKey {
                key: K3.into(),
                aliases: vec!["alias/legacy-archive".into(), format!("alias/{XSS}")],
                last_used: None,
                days_unused: None,
                basis: "no cryptographic use recorded (CloudTrail, baseline or GetKeyLastUsage)"
                    .into(),
            }],
            keys_pending_deletion: vec![PendingKey {
                key: K4.into(),
                aliases: vec!["alias/old-exports".into()],
                deletion_date: Some(
                    Utc.with_ymd_and_hms(2026, 10, 7, 0, 0, 0)
                        .single()
                        .expect("time"),
                ),
                used_in_period: true,
                uses: 6,
                severity: "critical".into(),
            }],
            keys_missing_tags: vec![MissingTags {
                key: K2.into(),
                missing: vec!["purpose".into(), "owner".into(), "classification".into()],
            }],
            new_principals: vec![XSS.into()],
            baseline_available: true,
            cross_account_principals: vec![CrossAccount {
                principal: EXT.into(),
                account: "999988887777".into(),
                keys: vec![K2.into()],
                count: 40,
            }],
            findings_per_week: vec![
                WeeklyFindings {
                    week: "2026-08-31".into(),
                    rule: crate::detect::catalog::rule("decrypt_failures").expect("rule"),
                    count: 4,
                },
                WeeklyFindings {
                    week: "2026-08-31".into(),
                    rule: crate::detect::catalog::rule("access_denied").expect("rule"),
                    count: 2,
                },
                WeeklyFindings {
                    week: "2026-09-07".into(),
                    rule: crate::detect::catalog::rule("pending_deletion_use").expect("rule"),
                    count: 6,
                },
                WeeklyFindings {
                    week: "2026-09-14".into(),
                    rule: crate::detect::catalog::rule("cross_account_use").expect("rule"),
                    count: 40,
                },
            ],
            top_failing_principals: vec![
                FailingPrincipal {
                    principal: XSS.into(),
                    failures: 19,
                    top_error: "AccessDenied".into(),
                },
                FailingPrincipal {
                    principal: APP.into(),
                    failures: 12,
                    top_error: "InvalidCiphertext".into(),
                },
            ],
            trend: Trend {
                previous_month: "2026-08".into(),
                previous: Some(MonthTotals {
                    kms_calls: 1_210,
                    failures: 40,
                    principals: 3,
                    keys_used: 3,
                }),
                current: MonthTotals {
                    kms_calls: 1_496,
                    failures: 31,
                    principals: 4,
                    keys_used: 3,
                },
            },
            charts: Charts {
                days: days.clone(),
                calls_per_key: vec![
                    Series {
                        name: K1.into(),
                        values: wave(40, 5),
                    },
                    Series {
                        name: K2.into(),
                        values: wave(2, 3),
                    },
                    Series {
                        name: KAWS.into(),
                        values: wave(1, 1),
                    },
                ],
                failures_per_day: (0..30u64)
                    .map(|i| if i % 4 == 2 { i % 5 } else { 0 })
                    .collect(),
                operations_per_principal: vec![
                    (
                        APP.into(),
                        vec![
                            ("Decrypt".into(), 1_100),
                            ("GenerateDataKey".into(), 200),
                            ("ListKeys".into(), 6),
                        ],
                    ),
                    (
                        ETL.into(),
                        vec![("Encrypt".into(), 80), ("Decrypt".into(), 6)],
                    ),
                    (EXT.into(), vec![("Decrypt".into(), 40)]),
                    (XSS.into(), vec![(XSS.into(), 24)]),
                ],
            },
        }
    }

    fn fixture_path(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/review")
            .join(name)
    }

    /// Compares with a checked-in snapshot; `KEYTRAIL_UPDATE_SNAPSHOTS=1` rewrites it.
    fn snapshot(name: &str, actual: &str) {
        let path = fixture_path(name);
        if std::env::var_os("KEYTRAIL_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, actual).expect("write snapshot");
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; review the output and create it with KEYTRAIL_UPDATE_SNAPSHOTS=1",
                path.display()
            )
        });
        if expected != actual {
            let line = expected
                .lines()
                .zip(actual.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
            panic!(
                "{} differs from the rendered output (first difference at line {}):\n  expected: {:?}\n  actual:   {:?}\nIf the change is intended, review it and rerun with KEYTRAIL_UPDATE_SNAPSHOTS=1.",
                path.display(),
                line + 1,
                expected.lines().nth(line),
                actual.lines().nth(line)
            );
        }
    }

    #[test]
    fn html_escapes_hostile_strings() {
        let page = render_html(&fixture());
        assert!(
            !page.to_ascii_lowercase().contains("<script"),
            "the page must not contain a script element"
        );
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        // In SVG text and <title> tooltips as well as in table cells.
        let chart = page
            .split("id=\"chart-operations-per-principal\"")
            .nth(1)
            .expect("chart present");
        assert!(chart.contains("&lt;script&gt;"));
        assert!(page.contains("<td>alias/payments-db</td>") || page.contains("alias/payments-db"));
        // Quotes cannot leave an attribute.
        assert_eq!(esc("a\"b'c&<>"), "a&quot;b&#39;c&amp;&lt;&gt;");
        assert_eq!(esc("x\u{0}y"), "x\u{FFFD}y");
    }

    #[test]
    fn html_is_self_contained() {
        let page = render_html(&fixture());
        let lower = page.to_ascii_lowercase();
        for banned in [
            "<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "http://", "https://",
        ] {
            let hits: Vec<usize> = lower.match_indices(banned).map(|(i, _)| i).collect();
            // The SVG namespace URI is an identifier, not a load.
            let real = hits
                .iter()
                .filter(|i| !lower[**i..].starts_with("http://www.w3.org/2000/svg"))
                .count();
            assert_eq!(real, 0, "{banned} in the page");
        }
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("Content-Security-Policy"));
        for id in [
            "access-inventory",
            "trail-checks",
            "keys",
            "pending-deletion",
            "unused-keys",
            "aws-managed-keys",
            "chart-calls-per-key",
            "chart-failures-per-day",
            "chart-operations-per-principal",
        ] {
            assert_eq!(page.matches(&format!("id=\"{id}\"")).count(), 1, "id {id}");
        }
    }

    #[test]
    fn charts_survive_empty_and_zero_data() {
        let mut r = fixture();
        r.charts = Charts::default();
        let page = render_html(&r);
        assert!(
            !page.contains("NaN") && !page.contains("inf"),
            "no NaN/inf coordinates"
        );
        assert!(page.contains("no key was used this month"));
        assert!(page.contains("no KMS call this month"));
        r.charts.days = (1..=30).map(|d| format!("2026-09-{d:02}")).collect();
        r.charts.failures_per_day = vec![0; 30];
        r.charts.calls_per_key = vec![Series {
            name: K1.into(),
            values: vec![0; 30],
        }];
        r.charts.operations_per_principal = vec![(APP.into(), vec![("Decrypt".into(), 0)])];
        let page = render_html(&r);
        assert!(!page.contains("NaN") && !page.contains("inf"));
        assert!(page.contains("no failed call this month"));
        // A single day, a single point.
        r.charts.days.truncate(1);
        r.charts.failures_per_day = vec![3];
        r.charts.calls_per_key = vec![Series {
            name: K1.into(),
            values: vec![7],
        }];
        let page = render_html(&r);
        assert!(!page.contains("NaN") && !page.contains("inf"));
    }

    #[test]
    fn markdown_escapes_cells() {
        let md = render_markdown(&fixture());
        assert!(md.contains("role/partner\\|reader"), "pipe escaped");
        assert!(!md.contains("<script"), "no raw HTML");
        assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert_eq!(md_escape("a|b\nc\r\nd"), "a\\|b c  d");
        assert_eq!(md_escape("[x](javascript:y)"), "\\[x\\](javascript:y)");
        assert_eq!(
            md_escape("role/etl_nightly _x_"),
            "role/etl_nightly \\_x\\_"
        );
        // Every table row has as many cells as its header.
        for block in md.split("\n\n") {
            let rows: Vec<&str> = block.lines().filter(|l| l.starts_with('|')).collect();
            if let Some(head) = rows.first() {
                let cells = |l: &str| l.replace("\\|", "").matches('|').count();
                for row in &rows {
                    assert_eq!(cells(row), cells(head), "row {row:?}");
                }
            }
        }
    }

    #[test]
    fn markdown_without_baseline_or_previous_month() {
        let mut r = fixture();
        r.baseline_available = false;
        r.new_principals.clear();
        r.trend.previous = None;
        r.keys_pending_deletion.clear();
        let md = render_markdown(&r);
        assert!(md.contains("No baseline yet"));
        assert!(md.contains("No previous month"));
        assert!(md.contains("No key is pending deletion."));
    }

    #[test]
    fn markdown_snapshot() {
        snapshot("report.md", &render_markdown(&fixture()));
    }

    #[test]
    fn json_snapshot() {
        let json = serde_json::to_string_pretty(&fixture()).expect("json") + "\n";
        snapshot("report.json", &json);
        // The snapshot reads back as the same report (the browser test uses it).
        let back: Report = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, fixture());
    }

    #[test]
    fn helpers() {
        assert_eq!(nice_scale(0), (1, 1));
        assert_eq!(nice_scale(7), (8, 2));
        assert_eq!(nice_scale(1_306), (1_500, 500));
        assert_eq!(delta(110, 100), "+10 (+10.0%)");
        assert_eq!(delta(0, 0), "0");
        assert_eq!(
            day_ranges(&[
                "2026-09-03".into(),
                "2026-09-01".into(),
                "2026-09-02".into(),
                "2026-09-05".into()
            ]),
            "2026-09-01..2026-09-03, 2026-09-05"
        );
        assert_eq!(tail("abcdef", 4), "…def");
    }
}
