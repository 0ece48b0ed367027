//! The report's sections, one function each, in the document model: both renderers
//! show the same sections, the HTML one with the charts.

use crate::detect::baseline::MonthTotals;
use crate::detect::catalog::Rule;
use crate::detect::keys::arn_account;
use crate::review::access::Via;
use crate::review::inventory::{KeyState, state_name};
use crate::review::report::{InventoryRow, LifecycleLevel, PendingSeverity, Report, ts};
use crate::review::trail::CheckStatus;

use super::charts::{chart_calls_per_key, chart_failures_per_day, chart_operations_per_principal};
use super::format::*;
use super::model::*;

/// The sections in document order; `charts` adds the activity charts (HTML).
pub(super) fn sections(r: &Report, charts: bool) -> Vec<Section> {
    let mut out = Vec::with_capacity(15);
    out.push(summary(r));
    if charts {
        out.push(activity(r));
    }
    out.push(coverage(r));
    out.push(trail_checks(r));
    out.push(pending_deletion(r));
    if !r.key_lifecycle.is_empty() {
        out.push(key_lifecycle(r));
    }
    out.push(unused_keys(r));
    out.push(key_rotation(r));
    out.push(missing_tags(r));
    out.push(key_inventory(r));
    out.push(access_inventory(r));
    out.push(key_access(r));
    out.push(new_principals(r));
    out.push(cross_account(r));
    out.push(findings_per_week(r));
    out.push(top_failing(r));
    if !r.suppressions.is_empty() {
        out.push(suppressions(r));
    }
    out.push(trend(r));
    out
}

/// The headline numbers.
fn summary(r: &Report) -> Section {
    let s = &r.summary;
    let rows = vec![
        vec![
            c("accounts reviewed"),
            c(list_or(&r.scope.accounts, "unknown")),
        ],
        vec![
            c("regions reviewed"),
            c(list_or(&r.scope.regions, "unknown")),
        ],
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
            c("customer-managed keys with rotation off"),
            if r.inventory_source == "kms" {
                n_alert(s.rotation_disabled)
            } else {
                c("not checked (offline)")
            },
        ],
        vec![
            c("keys pending deletion and used this month"),
            n_alert(s.pending_deletion_used),
        ],
        vec![c("failed trail checks"), n_alert(s.trail_checks_failed)],
        vec![
            c("principals that can use a key but did not"),
            if r.key_access.checked {
                n_alert(s.can_but_did_not)
            } else {
                c("not checked (offline)")
            },
        ],
        vec![
            c("principals that used a key no statement or grant names"),
            if r.key_access.checked {
                n_alert(s.did_without_naming)
            } else {
                c("not checked (offline)")
            },
        ],
    ];
    Section {
        id: "s-summary",
        title: "Summary",
        blocks: vec![Block::Table(Table {
            id: "summary-numbers",
            head: cols(&[("measure", false), ("value", true)]),
            rows,
            empty: String::new(),
        })],
    }
}

/// The three charts (HTML only).
fn activity(r: &Report) -> Section {
    Section {
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
    }
}

/// Which days the usage data covers, and the logging gaps.
fn coverage(r: &Report) -> Section {
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
    if r.summary.calls_counted_once > 0 {
        blocks.push(Block::Para(plain(format!(
            "{} delivered to both the caller's and the key owner's account {} counted once, as the caller's copy (the two share a sharedEventID).",
            plural(r.summary.calls_counted_once as usize, "cross-account call"),
            if r.summary.calls_counted_once == 1 { "is" } else { "are" }
        ))));
    }
    if r.summary.copies_not_deduplicated > 0 {
        blocks.push(Block::Warn(vec![
            (true, "Calls possibly counted twice: ".into()),
            (
                false,
                format!(
                    "{} past the first {} tracked this month {} not matched with {} other copy: a cross-account call among them may be counted in both accounts.",
                    plural(r.summary.copies_not_deduplicated as usize, "copy of a cross-account call"),
                    crate::detect::shared_events::MAX_SHARED_EVENTS,
                    if r.summary.copies_not_deduplicated == 1 { "was" } else { "were" },
                    if r.summary.copies_not_deduplicated == 1 { "its" } else { "their" }
                ),
            ),
        ]));
    }
    if r.summary.keys_beyond_cap > 0 {
        blocks.push(Block::Warn(vec![
            (true, "Keys not read: ".into()),
            (
                false,
                format!(
                    "{} beyond the first {} of a record's resources[] {} counted, not read. CloudTrail lists one key per KMS call (ReEncrypt: two): look for forged or broken log files.",
                    plural(r.summary.keys_beyond_cap as usize, "key ARN"),
                    crate::detect::keys::MAX_KEYS_PER_RECORD,
                    if r.summary.keys_beyond_cap == 1 { "was" } else { "were" }
                ),
            ),
        ]));
    }
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
    Section {
        id: "s-coverage",
        title: "Coverage",
        blocks,
    }
}

/// The trail configuration checks.
fn trail_checks(r: &Report) -> Section {
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
                        full: None,
                    },
                    CheckStatus::Fail => strong("FAIL", "fail"),
                    CheckStatus::NotChecked => Cell {
                        text: "not checked".into(),
                        class: Some("skip"),
                        strong: false,
                        full: None,
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
    Section {
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
    }
}

/// Keys pending deletion, and whether they were still used.
fn pending_deletion(r: &Report) -> Section {
    let rows = r
        .keys_pending_deletion
        .iter()
        .map(|p| {
            vec![
                id(&p.key),
                c(list_or(&p.aliases, "-")),
                time(when(p.deletion_date, "unknown")),
                n_alert(p.uses),
                if p.used_in_period || p.severity == PendingSeverity::Critical {
                    strong(p.severity.as_str().to_uppercase(), "critical")
                } else {
                    c(p.severity.as_str())
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
    Section {
        id: "s-pending-deletion",
        title: "Keys pending deletion",
        blocks,
    }
}

/// The month's key state changes, per key in time order.
fn key_lifecycle(r: &Report) -> Section {
    let rows = r
        .key_lifecycle
        .iter()
        .map(|e| {
            vec![
                id(&e.key),
                c(&e.event_name),
                n(e.count),
                time(ts(e.first_seen)),
                time(ts(e.last_seen)),
                c(list_or(&e.principals, "-")),
                match e.level {
                    LifecycleLevel::Info => c(e.level.as_str()),
                    LifecycleLevel::Warning => strong(e.level.as_str(), "warn"),
                },
            ]
        })
        .collect();
    Section {
        id: "s-key-lifecycle",
        title: "Key lifecycle",
        blocks: vec![
            Block::Para(plain(
                "Successful state changes this month: keys created, enabled, disabled, scheduled for deletion, restored (CancelKeyDeletion leaves a key disabled) and deleted by KMS at the end of their waiting period.",
            )),
            Block::Table(Table {
                id: "key-lifecycle",
                head: cols(&[
                    ("key", false),
                    ("event", false),
                    ("calls", true),
                    ("first", false),
                    ("last", false),
                    ("principals", false),
                    ("level", false),
                ]),
                rows,
                empty: "No key changed state.".into(),
            }),
        ],
    }
}

/// Enabled customer-managed keys without recent cryptographic use.
fn unused_keys(r: &Report) -> Section {
    let rows = r
        .unused_keys
        .iter()
        .map(|u| {
            vec![
                id(&u.key),
                c(list_or(&u.aliases, "-")),
                time(when(u.last_used, "never recorded")),
                u.days_unused.map_or_else(
                    || c("-"),
                    |d| Cell {
                        text: d.to_string(),
                        class: Some("num"),
                        strong: false,
                        full: None,
                    },
                ),
                c(&u.basis),
            ]
        })
        .collect();
    Section {
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
    }
}

/// Customer-managed keys whose automatic rotation is off.
fn key_rotation(r: &Report) -> Section {
    let rows: Vec<Vec<Cell>> = r
        .keys_rotation_disabled
        .iter()
        .map(|k| {
            vec![
                id(&k.key),
                c(list_or(&k.aliases, "-")),
                c(state_name(&k.state)),
            ]
        })
        .collect();
    let mut blocks = Vec::new();
    if r.inventory_source != "kms" {
        blocks.push(Block::Para(plain(
            "Not checked: the rotation status needs KMS API access (keytrail review --aws); the inventory comes from the logs.",
        )));
    } else {
        blocks.push(Block::Para(plain(format!(
            "{} with automatic rotation off (symmetric keys with KMS key material, not pending deletion). Enable it: aws kms enable-key-rotation --key-id <key>.",
            plural(r.keys_rotation_disabled.len(), "customer-managed key")
        ))));
        blocks.push(Block::Table(Table {
            id: "rotation-disabled",
            head: cols(&[("key", false), ("aliases", false), ("state", false)]),
            rows,
            empty: "Every customer-managed key that can be rotated has rotation on.".into(),
        }));
    }
    Section {
        id: "s-rotation",
        title: "Key rotation",
        blocks,
    }
}

/// Customer-managed keys without the required tags.
fn missing_tags(r: &Report) -> Section {
    let rows = r
        .keys_missing_tags
        .iter()
        .map(|m| vec![id(&m.key), c(m.missing.join(", "))])
        .collect();
    Section {
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
    }
}

/// The customer-managed and the AWS-managed keys.
fn key_inventory(r: &Report) -> Section {
    let key_rows = |keys: &[InventoryRow]| -> Vec<Vec<Cell>> {
        keys.iter()
            .map(|k| {
                vec![
                    id(&k.key),
                    c(list_or(&k.aliases, "-")),
                    match &k.state {
                        Some(st) if st.is_pending_deletion() || *st == KeyState::Disabled => {
                            strong(st.as_str(), "warn")
                        }
                        _ => c(state_name(&k.state)),
                    },
                    c(opt(&k.spec)),
                    rotation(k.rotation_enabled),
                    c(tags(&k.tags)),
                    n(k.calls_in_period),
                    time(when(k.last_used, "never recorded")),
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
    let mut refused = Vec::new();
    if !r.inventory_refusals.is_empty() {
        let names: Vec<String> = r
            .inventory_refusals
            .iter()
            .map(|x| match &x.region {
                Some(region) => format!("{} {region}: {}", x.account, x.reason),
                None => format!("{}: {}", x.account, x.reason),
            })
            .collect();
        refused.push(Block::Warn(vec![
            (true, "Inventory incomplete: ".into()),
            (
                false,
                format!(
                    "{} could not be read, so {} keys are missing below: {}.",
                    plural(names.len(), "account or Region"),
                    if names.len() == 1 { "its" } else { "their" },
                    capped(&names, 20)
                ),
            ),
        ]));
    }
    Section {
        id: "s-keys",
        title: "Key inventory",
        blocks: std::iter::once(Block::Para(plain(format!(
            "Inventory source: {}.",
            r.inventory_source
        ))))
        .chain(refused)
        .chain([
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
        ])
        .collect(),
    }
}

/// Who used which key for what.
fn access_inventory(r: &Report) -> Section {
    let rows = r
        .access_inventory
        .iter()
        .map(|a| {
            vec![
                arn(&a.key, short_arn(&a.key, None)),
                arn(
                    &a.principal,
                    short_arn(
                        &a.principal,
                        arn_account(&a.key).or(r.scope.accounts.first().map(String::as_str)),
                    ),
                ),
                c(&a.event_name),
                n(a.count),
                n_alert(a.failures),
                time(ts(a.first_seen)),
                time(ts(a.last_seen)),
            ]
        })
        .collect();
    Section {
        id: "s-access-inventory",
        title: "Access inventory",
        blocks: vec![
            Block::Para(plain(
                "Who used which key for what (\"-\" is a call without a key, such as ListKeys). In the HTML report, keys and principals are shown by the last part of their ARN (after the account when it is not the key's), with the full ARN as a tooltip.",
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
    }
}

/// Who can use each key (key policy and grants), against who did.
fn key_access(r: &Report) -> Section {
    let a = &r.key_access;
    let title = "Who can use each key, against who did";
    let id = "s-key-access";
    if !a.checked {
        return Section {
            id,
            title,
            blocks: vec![Block::Para(plain(&a.basis))],
        };
    }
    let who = |key: &str, p: &str| {
        let home = arn_account(key).or(r.scope.accounts.first().map(String::as_str));
        arn(p, short_arn(p, home))
    };
    let key_cell = |key: &str| arn(key, key_label(r, key));
    let mut blocks = vec![
        Block::Para(plain(&a.basis)),
        Block::Para(plain(
            "Can: an Allow statement of the key policy for a cryptographic action (Decrypt, Encrypt, GenerateDataKey*, ReEncrypt*, Sign, Verify, GenerateMac, VerifyMac, ...), or a grant for one, names the principal; an unconditional Deny for every cryptographic action takes it out. \"Via IAM\": the key policy names the principal's account (its root), so the account's IAM policies decide. \"Wildcard statement\": a statement allows any principal, under conditions not evaluated here. \"AWS service\": AWS itself, with no statement naming the service. \"Unexplained\": none of these; look at it. Calls an AWS service made for a principal count as the principal's. Not weighed: Allow conditions and grant constraints (marked), other Deny statements (listed per key), SCPs and permission boundaries.",
        )),
    ];
    let keys: Vec<Vec<Cell>> = a
        .keys
        .iter()
        .map(|k| {
            let status = if k.checked {
                c("checked")
            } else {
                Cell {
                    text: "not checked".into(),
                    class: Some("skip"),
                    strong: false,
                    full: None,
                }
            };
            vec![
                key_cell(&k.key),
                status,
                n(k.named),
                c(list_or(&k.iam_delegation, "-")),
                n_alert(k.can_but_did_not.len() as u64 + k.can_but_did_not_more),
                n_alert(k.did_without_naming.len() as u64 + k.did_without_naming_more),
                c(k.notes.join("; ")),
            ]
        })
        .collect();
    blocks.push(Block::Table(Table {
        id: "key-access",
        head: cols(&[
            ("key", false),
            ("policy and grants", false),
            ("principals named", true),
            ("IAM delegation (accounts)", false),
            ("can, did not", true),
            ("did, not named", true),
            ("notes", false),
        ]),
        rows: keys,
        empty: "No enabled customer-managed key to check.".into(),
    }));
    blocks.push(Block::Sub(
        "Can, but did not: least-privilege candidates".into(),
    ));
    let rows: Vec<Vec<Cell>> = a
        .keys
        .iter()
        .flat_map(|k| {
            k.can_but_did_not.iter().map(|u| {
                vec![
                    key_cell(&k.key),
                    who(&k.key, &u.principal),
                    c(u.via.join(", ")),
                    c(if u.conditional { "yes" } else { "no" }),
                    time(when(u.last_used, "none recorded")),
                ]
            })
        })
        .collect();
    blocks.push(Block::Table(Table {
        id: "can-but-did-not",
        head: cols(&[
            ("key", false),
            ("principal", false),
            ("named by", false),
            ("conditional", false),
            ("last used", false),
        ]),
        rows,
        empty: "Every principal a statement or grant names used its key.".into(),
    }));
    blocks.push(Block::Sub(
        "Did, with no statement or grant naming them".into(),
    ));
    let rows: Vec<Vec<Cell>> = a
        .keys
        .iter()
        .flat_map(|k| {
            k.did_without_naming.iter().map(|d| {
                vec![
                    key_cell(&k.key),
                    who(&k.key, &d.principal),
                    n(d.calls),
                    n(d.through_service),
                    if d.via == Via::Unexplained {
                        strong(d.via.as_str(), "fail")
                    } else {
                        c(d.via.as_str())
                    },
                    c(d.statement.as_deref().unwrap_or("-")),
                ]
            })
        })
        .collect();
    blocks.push(Block::Table(Table {
        id: "did-without-naming",
        head: cols(&[
            ("key", false),
            ("principal", false),
            ("calls", true),
            ("through a service", true),
            ("via", false),
            ("statement", false),
        ]),
        rows,
        empty: "Every principal that used a key is named by a statement or grant.".into(),
    }));
    let more: u64 = a
        .keys
        .iter()
        .map(|k| k.can_but_did_not_more + k.did_without_naming_more)
        .sum();
    if more > 0 {
        blocks.push(Block::Para(plain(format!(
            "{} not listed (at most {} per list and key): see the JSON report (key_access).",
            plural(more as usize, "row"),
            crate::review::access::MAX_ACCESS_ROWS
        ))));
    }
    Section { id, title, blocks }
}

/// Principals not in the baseline.
fn new_principals(r: &Report) -> Section {
    let blocks = if !r.baseline_available {
        vec![Block::Para(plain(if r.baseline_saved {
            "No baseline yet: this is the first reviewed month, so there is nothing to compare with. The baseline saved with this review is used next month."
        } else {
            "No baseline yet, so there is nothing to compare with, and none is saved with this review: run keytrail review --baseline-out FILE to save one, and pass it next month with --baseline FILE."
        }))]
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
    Section {
        id: "s-new-principals",
        title: "New principals",
        blocks,
    }
}

/// Principals from other accounts.
fn cross_account(r: &Report) -> Section {
    let rows = r
        .cross_account_principals
        .iter()
        .map(|x| {
            vec![
                id(&x.principal),
                c(&x.account),
                id(x.keys.join(", ")),
                n(x.count),
            ]
        })
        .collect();
    Section {
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
    }
}

/// Detection rule matches per rule and ISO week.
fn findings_per_week(r: &Report) -> Section {
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
    Section {
        id: "s-findings",
        title: "Findings per rule and week",
        blocks: vec![Block::Table(Table {
            id: "findings-per-week",
            head,
            rows,
            empty: "No detection rule matched this month.".into(),
        })],
    }
}

/// The principals with the most failed calls.
fn top_failing(r: &Report) -> Section {
    let rows = r
        .top_failing_principals
        .iter()
        .map(|f| vec![c(&f.principal), n(f.failures), c(&f.top_error)])
        .collect();
    Section {
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
    }
}

/// The configuration file's suppressions and what they silenced.
fn suppressions(r: &Report) -> Section {
    let rows = r
        .suppressions
        .iter()
        .map(|s| {
            let rules: Vec<String> = s.by_rule.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            vec![
                c(&s.suppression),
                c(&s.reason),
                c(match &s.expires {
                    Some(d) => format!("{} (until {d})", s.status),
                    None => s.status.clone(),
                }),
                n(s.matches),
                c(rules.join(", ")),
            ]
        })
        .collect();
    Section {
        id: "s-suppressions",
        title: "Suppressions",
        blocks: vec![
            Block::Para(plain(
                "Matches a suppression silenced are not alarmed but still counted. One that matched nothing may be stale; an expired one no longer applies.",
            )),
            Block::Table(Table {
                id: "suppressions",
                head: cols(&[
                    ("suppression", false),
                    ("reason", false),
                    ("status", false),
                    ("matches silenced", true),
                    ("per rule", false),
                ]),
                rows,
                empty: "No suppression.".into(),
            }),
        ],
    }
}

/// This month against the previous one.
fn trend(r: &Report) -> Section {
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
                                full: None,
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
    Section {
        id: "s-trend",
        title: "Month-over-month trend",
        blocks,
    }
}
