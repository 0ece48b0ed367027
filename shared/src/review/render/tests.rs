use super::charts::nice_scale;
use super::charts::{LEGEND_GAP, legend_entry_width, legend_layout};
use super::format::short_arn;
use super::format::{day_ranges, delta, tail};
use super::markdown::md_escape;
use super::*;
use crate::detect::baseline::MonthTotals;
use crate::review::access::{KeyAccess, KeyAccessReview, UnnamedUse, UnusedAccess, Via};
use crate::review::month::Coverage;
use crate::review::report::{
    AccessRow, Charts, CrossAccount, FailingPrincipal, MissingTags, Numbers, PendingKey, Series,
    Trend, UnusedKey, WeeklyFindings,
};
use crate::review::report::{InventoryRow, RotationOff, Scope};
use crate::review::trail::CheckStatus;
use crate::review::trail::TrailCheck;
use chrono::TimeZone;
use chrono::{DateTime, Utc};

const XSS: &str = "<script>alert(1)</script>";
const K1: &str = "arn:aws:kms:eu-west-1:111122223333:key/1111aaaa-0000-0000-0000-000000000001";
const K2: &str = "arn:aws:kms:eu-west-1:111122223333:key/2222bbbb-0000-0000-0000-000000000002";
const K3: &str = "arn:aws:kms:eu-west-1:111122223333:key/3333cccc-0000-0000-0000-000000000003";
const K4: &str = "arn:aws:kms:eu-west-1:111122223333:key/4444dddd-0000-0000-0000-000000000004";
const KAWS: &str = "arn:aws:kms:eu-west-1:111122223333:key/aaaa5555-0000-0000-0000-000000000005";
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
        scope: Scope {
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-west-1".into()],
        },
        coverage: Coverage {
            engine: "summaries".into(),
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
            rotation_disabled: 1,
            can_but_did_not: 1,
            did_without_naming: 3,
            keys_beyond_cap: 0,
            calls_counted_once: 0,
            copies_not_deduplicated: 0,
        },
        trail_checks: vec![
            TrailCheck {
                trail: "org-trail".into(),
                check: "kms_encryption".into(),
                status: CheckStatus::Pass,
                detail: format!("SSE-KMS with {K1}"),
                remediation: "aws cloudtrail update-trail --name org-trail --kms-key-id <key ARN>"
                    .into(),
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
                remediation: "aws cloudtrail put-event-selectors --trail-name org-trail ...".into(),
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
            basis: "no cryptographic use recorded (CloudTrail, baseline or GetKeyLastUsage)".into(),
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
            severity: crate::review::report::PendingSeverity::Critical,
        }],
        keys_missing_tags: vec![MissingTags {
            key: K2.into(),
            missing: vec!["purpose".into(), "owner".into(), "classification".into()],
        }],
        new_principals: vec![XSS.into()],
        baseline_available: true,
        baseline_saved: true,
        keys_rotation_disabled: vec![RotationOff {
            key: K2.into(),
            aliases: vec!["alias/reports".into()],
            state: Some("Enabled".into()),
        }],
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
        suppressions: Vec::new(),
        key_lifecycle: Vec::new(),
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
        inventory_refusals: Vec::new(),
        key_access: KeyAccessReview {
            checked: true,
            basis: "\"Did\" is a successful cryptographic call on the key in this month's logs only (the baseline has no per-principal history yet): \"did not\" means not used in 2026-09, not in 90 days. Only customer-managed keys that are enabled are listed: AWS-managed keys' policies are AWS's.".into(),
            keys: vec![
                KeyAccess {
                    key: K1.into(),
                    aliases: vec!["alias/app-data".into()],
                    checked: true,
                    named: 2,
                    iam_delegation: vec!["111122223333".into()],
                    can_but_did_not: vec![UnusedAccess {
                        principal: "arn:aws:iam::111122223333:role/break-glass".into(),
                        via: vec!["statement \"BreakGlass\"".into(), "grant 0a1b2c".into()],
                        conditional: false,
                        last_used: None,
                    }],
                    can_but_did_not_more: 0,
                    did_without_naming: vec![
                        UnnamedUse {
                            principal: ETL.into(),
                            calls: 86,
                            through_service: 80,
                            via: Via::Iam,
                            statement: Some("statement \"Enable IAM User Permissions\"".into()),
                        },
                        UnnamedUse {
                            principal: XSS.into(),
                            calls: 5,
                            through_service: 0,
                            via: Via::Unexplained,
                            statement: None,
                        },
                    ],
                    did_without_naming_more: 1,
                    notes: vec![format!("statement \"{XSS}\" (Deny kms:*): not weighed, it has conditions")],
                },
                KeyAccess {
                    key: K2.into(),
                    aliases: vec!["alias/reports".into()],
                    checked: false,
                    named: 0,
                    iam_delegation: Vec::new(),
                    can_but_did_not: Vec::new(),
                    can_but_did_not_more: 0,
                    did_without_naming: Vec::new(),
                    did_without_naming_more: 0,
                    notes: vec![
                        "not checked: the key policy was not read".into(),
                        "GetKeyPolicy: AccessDeniedException".into(),
                    ],
                },
            ],
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

/// Compares with the checked-in insta snapshot `shared/tests/fixtures/review/<name>.snap`
/// (the browser test reads `report.json.snap` too). A difference fails the test and
/// writes nothing (`.config/insta.yaml`: `update: no`); review the change and rerun
/// with `INSTA_UPDATE=always` to accept it.
fn snapshot(name: &str, actual: &str) {
    insta::with_settings!({
        snapshot_path => "../../../tests/fixtures/review",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, actual);
    });
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
    // Quotes cannot leave an attribute; control characters do not reach the page.
    let mut r = fixture();
    r.new_principals = vec!["a\"b'c&<>".into(), "x\u{0}y".into()];
    let page = render_html(&r);
    assert!(
        page.contains("<li>a&quot;b'c&amp;&lt;&gt;</li>"),
        "escaped text"
    );
    assert!(page.contains("<li>x\u{FFFD}y</li>"), "NUL replaced");
    r.charts.calls_per_key[0].name = "k\"><script>".into();
    let page = render_html(&r);
    assert!(page.contains("k&quot;&gt;&lt;script&gt;"), "escaped in SVG");
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
fn access_inventory_shows_short_arns_with_the_full_one_as_tooltip() {
    let page = render_html(&fixture());
    let access = &page[page.find("id=\"access-inventory\"").expect("table")..];
    let access = &access[..access.find("</table>").expect("end")];
    assert!(access.contains(&format!(
        "<td class=\"arn\" title=\"{APP}\">role/app-backend</td>"
    )));
    assert!(access.contains(&format!(
        "<td class=\"arn\" title=\"{K1}\">key/1111aaaa…</td>"
    )));
    // Another account's principal keeps its account.
    assert!(access.contains("999988887777:role/partner|reader</td>"));
    assert!(!access.contains(">arn:aws:"), "no full ARN as cell text");
    // Markdown keeps the full ARNs.
    let md = render_markdown(&fixture());
    assert!(md.contains(&format!(
        "| {K1} | arn:aws:iam::111122223333:role/app-backend | Decrypt |"
    )));
    assert_eq!(
        short_arn(
            "arn:aws:sts::111122223333:assumed-role/Admin/alice",
            Some("111122223333")
        ),
        "assumed-role/Admin/alice"
    );
    assert_eq!(short_arn("ec2.amazonaws.com", None), "ec2.amazonaws.com");
    assert_eq!(short_arn("-", Some("1")), "-");
}

#[test]
fn scope_is_shown_in_markdown_and_html() {
    let md = render_markdown(&fixture());
    assert!(md.contains("| accounts reviewed | 111122223333 |"), "{md}");
    assert!(md.contains("| regions reviewed | eu-west-1 |"));
    let page = render_html(&fixture());
    assert!(page.contains("<td>accounts reviewed</td><td>111122223333</td>"));
    let mut r = fixture();
    r.scope = Scope::default();
    assert!(render_markdown(&r).contains("| accounts reviewed | unknown |"));
}

#[test]
fn rotation_section_lists_the_keys_with_rotation_off() {
    let md = render_markdown(&fixture());
    assert!(md.contains("## Key rotation"));
    assert!(md.contains("1 customer-managed key with automatic rotation off"));
    assert!(md.contains(&format!("| {K2} | alias/reports | Enabled |")));
    assert!(md.contains("| customer-managed keys with rotation off | **1** |"));
    let page = render_html(&fixture());
    assert_eq!(page.matches("id=\"rotation-disabled\"").count(), 1);
    assert!(page.contains("href=\"#s-rotation\""));
    let mut r = fixture();
    r.keys_rotation_disabled.clear();
    r.summary.rotation_disabled = 0;
    assert!(
        render_markdown(&r)
            .contains("Every customer-managed key that can be rotated has rotation on.")
    );
    r.inventory_source = "logs (offline)".into();
    let md = render_markdown(&r);
    assert!(md.contains("Not checked: the rotation status needs KMS API access"));
    assert!(md.contains("| customer-managed keys with rotation off | not checked (offline) |"));
}

#[test]
fn first_month_text_says_whether_a_baseline_is_saved() {
    let mut r = fixture();
    r.baseline_available = false;
    r.baseline_saved = true;
    assert!(
        render_markdown(&r).contains("The baseline saved with this review is used next month.")
    );
    r.baseline_saved = false;
    let md = render_markdown(&r);
    assert!(!md.contains("saved with this review is used"), "{md}");
    assert!(md.contains("keytrail review --baseline-out FILE"));
    assert!(render_html(&r).contains("keytrail review --baseline-out FILE"));
}

#[test]
fn legend_entries_do_not_overlap() {
    let labels: Vec<String> = [
        "GenerateDataKeyWithoutPlaintext",
        "Decrypt",
        "…airWithoutPlaintextAndMore",
        "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
        "ReEncrypt",
        "GetPublicKey",
        "Sign",
        "other operations",
    ]
    .map(String::from)
    .to_vec();
    let width = 706.0;
    let places = legend_layout(&labels, width);
    for (i, (l, (x, row))) in labels.iter().zip(&places).enumerate() {
        let end = x + legend_entry_width(l);
        assert!(end <= width || *x == 0.0, "{l} leaves the row");
        if let Some((nx, nrow)) = places.get(i + 1)
            && nrow == row
        {
            assert!(
                end + LEGEND_GAP <= *nx + 0.001,
                "{l} overlaps the next entry"
            );
        }
    }
    assert!(places.last().expect("places").1 >= 2, "wrapped over rows");
    // The page: the legend is taller when it needs more rows, never cut off.
    let mut r = fixture();
    r.charts.operations_per_principal =
        vec![(APP.into(), labels.iter().map(|l| (l.clone(), 5)).collect())];
    let page = render_html(&r);
    assert_eq!(page.matches("<g class=\"legend\">").count(), 8);
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
    let json = serde_json::to_string_pretty(&fixture()).expect("json");
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
