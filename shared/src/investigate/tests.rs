//! Tests of the investigation: plan, evidence, record, query and notification.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::alarm::*;
use super::athena::*;
use super::evidence::*;
use super::notification::*;
use super::plan::*;
use super::record::*;
use crate::cloudtrail::record::Record;
use crate::detect::event::KmsEvent;
use crate::detect::principal::SourceClass;
use crate::investigate::alarm::{Payload, parse_payload};
use serde_json::json;

fn alarm(metric: &str, dims: Value, when: &str, period: u32, evals: u32) -> Alarm {
    let v = json!({"AlarmName": "a", "NewStateValue": "ALARM", "StateChangeTime": when,
        "Trigger": {"MetricName": metric, "Namespace": "KMSAudit", "Dimensions": dims, "Period": period, "EvaluationPeriods": evals}});
    match parse_payload(&v) {
        Payload::Alarm(a) => *a,
        other => panic!("{other:?}"),
    }
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

#[test]
fn window_arithmetic() {
    let a = alarm(
        "KMSDecryptFailures",
        json!([]),
        "2026-10-04T02:50:00.000+0000",
        300,
        2,
    );
    let w = Window::for_alarm(&a, Duration::minutes(15));
    assert_eq!(w.start, t("2026-10-04T02:25:00Z"));
    assert_eq!(w.end, t("2026-10-04T02:50:00Z"));
    assert_eq!(w.files_to, t("2026-10-04T03:05:00Z"));
    assert_eq!(w.days().len(), 1);
}

#[test]
fn window_across_day_month_and_year() {
    let a = alarm(
        "KMSDecryptFailures",
        json!([]),
        "2027-01-01T00:05:00.000+0000",
        300,
        1,
    );
    let w = Window::for_alarm(&a, Duration::minutes(15));
    assert_eq!(w.start, t("2026-12-31T23:45:00Z"));
    let days: Vec<String> = w.days().iter().map(|d| d.to_string()).collect();
    assert_eq!(days, ["2026-12-31", "2027-01-01"]);
    let prefixes = day_prefixes("AWSLogs/o-abc/", "111122223333", "us-east-1", &w);
    assert_eq!(
        prefixes,
        [
            "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2026/12/31/",
            "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2027/01/01/"
        ]
    );
    let a = alarm(
        "KMSDecryptFailures",
        json!([]),
        "2026-03-01T00:10:00.000+0000",
        3600,
        1,
    );
    let w = Window::for_alarm(&a, Duration::minutes(15));
    let days: Vec<String> = w.days().iter().map(|d| d.to_string()).collect();
    assert_eq!(days, ["2026-02-28", "2026-03-01"]);
    // A file delivered 20 minutes after the alarm cannot hold its events (lag 15).
    assert!(w.wants_delivery(t("2026-03-01T00:25:00Z")));
    assert!(!w.wants_delivery(t("2026-03-01T00:25:01Z")));
    assert!(!w.wants_delivery(t("2026-02-28T22:54:59Z")));
}

fn ev(v: Value) -> Record {
    Record::from_value(v).expect("record")
}

fn kms(name: &str, error: Option<&str>) -> Value {
    let mut v = json!({"eventSource": "kms.amazonaws.com", "eventName": name, "eventTime": "2026-10-04T02:45:00Z",
        "sourceIPAddress": "203.0.113.9", "userAgent": "\u{1b}[31mevil\nagent",
        "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
            "arn": "arn:aws:sts::111122223333:assumed-role/app/sess\u{7}1",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/app"}}},
        "requestParameters": {"encryptionContext": {"tenant": "cust-98765"}},
        "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k1", "type": "AWS::KMS::Key"}]});
    if let Some(code) = error {
        v["errorCode"] = json!(code);
        v["errorMessage"] = json!("line1\nline2");
    }
    v
}

#[test]
fn selectors_follow_rules_and_dimensions() {
    let ns = "KMSAudit";
    let lag = Duration::minutes(15);
    let failure = ev(kms("Decrypt", Some("InvalidCiphertextException")));
    let ok = ev(kms("Decrypt", None));
    let enc_fail = ev(kms("Encrypt", Some("AccessDeniedException")));
    fn e(r: &Record) -> KmsEvent<'_> {
        KmsEvent::analyse(r).expect("event")
    }
    let p = plan_for(
        &alarm(
            "KMSDecryptFailures",
            json!([]),
            "2026-10-04T02:50:00.000+0000",
            300,
            1,
        ),
        ns,
        lag,
    )
    .expect("plan");
    assert!(p.matches(&e(&failure)) && !p.matches(&e(&ok)) && !p.matches(&e(&enc_fail)));
    assert_eq!(p.rule().map(|r| r.id), Some("decrypt_failures"));
    let p = plan_for(
        &alarm(
            "KMSFailures",
            json!([{"name": "ErrorClass", "value": "AccessDenied"}]),
            "2026-10-04T02:50:00.000+0000",
            300,
            1,
        ),
        ns,
        lag,
    )
    .expect("plan");
    assert!(p.matches(&e(&enc_fail)) && !p.matches(&e(&failure)));
    let p = plan_for(
        &alarm(
            "KMSApiCalls",
            json!([{"name": "EventName", "value": "Encrypt"}]),
            "2026-10-04T02:50:00.000+0000",
            300,
            1,
        ),
        ns,
        lag,
    )
    .expect("plan");
    assert!(p.matches(&e(&enc_fail)) && !p.matches(&e(&ok)));
    // Outside the window.
    let p = plan_for(
        &alarm(
            "KMSDecryptFailures",
            json!([]),
            "2026-10-04T02:30:00.000+0000",
            300,
            1,
        ),
        ns,
        lag,
    )
    .expect("plan");
    assert!(!p.matches(&e(&failure)));
    let unowned = alarm(
        "SecondsUntilKeyMaterialExpiration",
        json!([]),
        "2026-10-04T02:50:00.000+0000",
        300,
        1,
    );
    assert!(
        plan_for(&unowned, ns, lag)
            .expect_err("unowned")
            .to_string()
            .contains("no keytrail rule owns")
    );
}

#[test]
fn investigation_is_sanitised_and_rendered() {
    let a = alarm(
        "KMSDecryptFailures",
        json!([]),
        "2026-10-04T02:50:00.000+0000",
        300,
        1,
    );
    let plan = plan_for(&a, "KMSAudit", Duration::minutes(15)).expect("plan");
    let mut evd = Evidence::default();
    let recs: Vec<Record> = (0..3)
        .map(|_| ev(kms("Decrypt", Some("InvalidCiphertextException"))))
        .collect();
    for r in &recs {
        evd.observe(&KmsEvent::analyse(r).expect("e"));
    }
    let inv = build_investigation(
        InvestigationInputs {
            alarm: &a,
            plan: Ok(&plan),
            gather: GatherInfo::default(),
            athena_table: "cloudtrail_logs",
            athena_date_partition: Some("logdate"),
            now: t("2026-10-04T02:51:00Z"),
        },
        evd,
    );
    assert_eq!(inv.count, 3);
    assert_eq!(
        inv.principals[0].principal,
        "arn:aws:iam::111122223333:role/app"
    );
    assert_eq!(inv.principals[0].sessions, ["sess1"]);
    assert_eq!(inv.user_agents[0].value, "evil agent");
    assert_eq!(inv.errors[0].message.as_deref(), Some("line1 line2"));
    assert_eq!(inv.encryption_context[0].value, "tenant=cust-98765");
    assert_eq!(inv.source_ips[0].class, SourceClass::Public);
    let s = notification_subject(&inv);
    assert!(s.len() <= MAX_SUBJECT, "{s}");
    assert_eq!(
        s,
        "[MEDIUM] decrypt_failures: 3 events on key/k1 by role/app"
    );
    let b = notification_body(&inv);
    for needle in [
        "WHO",
        "arn:aws:iam::111122223333:role/app",
        "203.0.113.9",
        "PLAYBOOK",
        "ATHENA QUERY",
        "3 matching events",
    ] {
        assert!(b.contains(needle), "missing {needle} in\n{b}");
    }
    assert!(!b.contains('\u{1b}'));
    let q = inv.athena_query.clone().expect("query");
    assert!(
        q.contains("filter(resources, r -> r.type = 'AWS::KMS::Key')"),
        "{q}"
    );
    assert!(
        q.contains(
            "useridentity.sessioncontext.sessionissuer.arn = 'arn:aws:iam::111122223333:role/app'"
        ),
        "{q}"
    );
    assert!(
        q.contains("BETWEEN '2026-10-04T02:30:00Z' AND '2026-10-04T02:50:00Z'"),
        "{q}"
    );
    assert!(
        q.contains("AND logdate BETWEEN '2026/10/04' AND '2026/10/04'"),
        "{q}"
    );
    let round: Investigation =
        serde_json::from_value(serde_json::to_value(&inv).expect("json")).expect("parse");
    assert_eq!(round.schema, SCHEMA);
}

#[test]
fn not_enriched_and_limits() {
    let mut a = alarm(
        "Whatever",
        json!([]),
        "2026-10-04T02:50:00.000+0000",
        300,
        1,
    );
    a.name = format!("x\u{1b}[2J\nBcc: evil{}", "n".repeat(300));
    let inv = build_investigation(
        InvestigationInputs {
            alarm: &a,
            plan: Err(&PlanError::NotOurs(vec!["KMSAudit/Whatever".into()])),
            gather: GatherInfo::default(),
            athena_table: "t",
            athena_date_partition: None,
            now: t("2026-10-04T02:51:00Z"),
        },
        Evidence::default(),
    );
    assert!(!inv.enriched);
    let s = notification_subject(&inv);
    assert!(
        s.chars().count() <= MAX_SUBJECT && s.contains("not enriched") && !s.contains('\u{1b}'),
        "{s}"
    );
    assert!(notification_body(&inv).contains("NOT ENRICHED"));
    let huge = truncate_body("é".repeat(MAX_BODY_BYTES));
    assert!(huge.len() <= MAX_BODY_BYTES && huge.ends_with("investigation record]\n"));
}

#[test]
fn sql_values_are_escaped() {
    let w = Window {
        start: t("2026-10-04T02:30:00Z"),
        end: t("2026-10-04T02:50:00Z"),
        files_from: t("2026-10-04T02:30:00Z"),
        files_to: t("2026-10-04T03:05:00Z"),
    };
    let q = athena_query(
        "cloudtrail_logs",
        Some("logdate"),
        &w,
        Some("arn:aws:iam::1:user/o'brien"),
        Some("10.0.0.1' OR '1'='1"),
    );
    assert!(q.contains("'arn:aws:iam::1:user/o''brien'"), "{q}");
    assert!(q.contains("'10.0.0.1'' OR ''1''=''1'"), "{q}");
}

#[test]
fn athena_query_reads_only_the_days_of_the_files() {
    // A window across midnight reads the partitions of both days; the files
    // (delivered up to the lag after the end) decide, not the events.
    let w = Window {
        start: t("2026-10-04T23:40:00Z"),
        end: t("2026-10-04T23:55:00Z"),
        files_from: t("2026-10-04T23:40:00Z"),
        files_to: t("2026-10-05T00:10:00Z"),
    };
    let q = athena_query("db.cloudtrail_logs", Some("logdate"), &w, None, None);
    assert!(
        q.contains("WHERE eventsource = 'kms.amazonaws.com'\n  AND logdate BETWEEN '2026/10/04' AND '2026/10/05'\n"),
        "{q}"
    );
    assert!(q.contains("FROM db.cloudtrail_logs\n"), "{q}");
    // No partition column (a table without one), or a name that is not a
    // column: no partition predicate, never injected text.
    for col in [None, Some("logdate; DROP TABLE x"), Some(""), Some("1day")] {
        let q = athena_query("t", col, &w, None, None);
        assert!(!q.contains("logdate") && !q.contains("DROP"), "{q}");
        assert!(
            q.contains("eventtime BETWEEN '2026-10-04T23:40:00Z' AND '2026-10-04T23:55:00Z'"),
            "{q}"
        );
    }
    assert!(is_column_name("logdate") && is_column_name("_d1") && !is_column_name("a-b"));
}

/// An investigation of three decrypt failures, as the enricher builds it.
fn decrypt_investigation() -> Investigation {
    let a = alarm(
        "KMSDecryptFailures",
        json!([]),
        "2026-10-04T02:50:00.000+0000",
        300,
        1,
    );
    let plan = plan_for(&a, "KMSAudit", Duration::minutes(15)).expect("plan");
    let mut evd = Evidence::default();
    let recs: Vec<Record> = (0..3)
        .map(|_| ev(kms("Decrypt", Some("InvalidCiphertextException"))))
        .collect();
    for r in &recs {
        evd.observe(&KmsEvent::analyse(r).expect("e"));
    }
    build_investigation(
        InvestigationInputs {
            alarm: &a,
            plan: Ok(&plan),
            gather: GatherInfo::default(),
            athena_table: "cloudtrail_logs",
            athena_date_partition: Some("logdate"),
            now: t("2026-10-04T02:51:00Z"),
        },
        evd,
    )
}

#[test]
fn chatbot_notification_is_the_custom_schema_and_hostile_values_stay_inert() {
    use super::chatbot::*;
    let mut inv = decrypt_investigation();
    // Values an attacker can shape: a link, a mention and a code-span break-out.
    inv.principals[0].principal =
        "arn:aws:iam::111122223333:role/app`<!channel> [click](https://evil.example)\u{1b}[2J"
            .into();
    for i in 0..6 {
        inv.principals.push(PrincipalRow {
            principal: format!("arn:aws:iam::111122223333:role/extra-{i}"),
            count: 1,
            account: Some("111122223333".into()),
            sessions: Vec::new(),
            service_originated: i == 0,
        });
    }
    inv.keys[0].aliases = vec!["alias/payroll".into()];
    inv.keys[0].state = Some("Enabled".into());
    inv.record_location = Some("s3://out/keytrail/investigations/a.json".into());
    let n = chatbot_notification(&inv);

    assert_eq!(n["version"], "1.0");
    assert_eq!(n["source"], "custom");
    assert_eq!(n["content"]["textType"], "client-markdown");
    assert_eq!(n["metadata"]["eventType"], CHAT_EVENT_TYPE);
    let title = n["content"]["title"].as_str().expect("title");
    assert!(
        title.starts_with("[MEDIUM] decrypt_failures: 3 events on alias/payroll by "),
        "{title}"
    );
    assert!(!title.contains('<') && !title.contains("](") && !title.contains('`'));
    let d = n["content"]["description"].as_str().expect("description");
    for needle in [
        "*Who*",
        "*From*",
        "*Keys*",
        "`203.0.113.9` (public) × 3",
        "`arn:aws:kms:us-east-1:111122223333:key/k1` `alias/payroll` state `Enabled` × 3",
        "… 2 more in the investigation record",
        "(via an AWS service)",
        "3 matching events",
    ] {
        assert!(d.contains(needle), "missing {needle:?} in\n{d}");
    }
    // Every value is in a code span it cannot leave; no link, mention or escape.
    for line in d.lines() {
        assert_eq!(
            line.matches('`').count() % 2,
            0,
            "unbalanced code span: {line}"
        );
    }
    assert!(
        !d.contains('<') && !d.contains('>') && !d.contains("]("),
        "{d}"
    );
    assert!(!d.contains('\u{1b}'), "{d}");
    assert_eq!(
        n["content"]["nextSteps"],
        json!([inv.rule.as_ref().expect("rule").playbook[0]])
    );
    assert_eq!(
        n["content"]["keywords"],
        json!(["keytrail", "medium", "decrypt_failures"])
    );
    assert_eq!(
        n["metadata"]["relatedResources"],
        json!(["arn:aws:kms:us-east-1:111122223333:key/k1"])
    );
    assert_eq!(n["metadata"]["additionalContext"]["events"], "3");
    insta::with_settings!({ omit_expression => true }, {
        insta::assert_snapshot!(
            "chatbot_notification",
            serde_json::to_string_pretty(&n).expect("json")
        );
    });
}

#[test]
fn chatbot_notification_is_capped() {
    use super::chatbot::*;
    let mut inv = decrypt_investigation();
    let long = |c: char| std::iter::repeat_n(c, 2000).collect::<String>();
    inv.alarm.name = long('n');
    for p in &mut inv.principals {
        p.principal = long('p');
    }
    for i in 0..CHAT_ROWS {
        inv.principals.push(PrincipalRow {
            principal: format!("{i}{}", long('p')),
            count: 1,
            account: None,
            sessions: Vec::new(),
            service_originated: false,
        });
        inv.source_ips.push(IpRow {
            ip: format!("{i}{}", long('i')),
            class: SourceClass::Unknown,
            count: 1,
        });
    }
    for k in &mut inv.keys {
        k.key = format!("arn:{}", long('k'));
    }
    let n = chatbot_notification(&inv);
    let d = n["content"]["description"].as_str().expect("description");
    assert!(d.chars().count() <= MAX_CHAT_DESCRIPTION, "{}", d.len());
    assert!(d.ends_with("(cut; see the investigation record)"), "{d}");
    let title = n["content"]["title"].as_str().expect("title");
    assert!(title.chars().count() <= MAX_CHAT_TITLE);
    for r in n["metadata"]["relatedResources"]
        .as_array()
        .expect("resources")
    {
        assert!(r.as_str().expect("arn").chars().count() <= 257);
    }
    assert!(serde_json::to_vec(&n).expect("json").len() < 32 * 1024);

    // Not enriched: no rule, a generic next step.
    let mut inv = decrypt_investigation();
    inv.enriched = false;
    inv.rule = None;
    inv.not_enriched_reason = Some("composite alarm".into());
    let n = chatbot_notification(&inv);
    let d = n["content"]["description"].as_str().expect("description");
    assert!(d.starts_with("*Not enriched*: `composite alarm`"), "{d}");
    assert_eq!(n["content"]["keywords"][2], "none");
    assert!(
        n["content"]["nextSteps"][0]
            .as_str()
            .expect("step")
            .contains("investigation record")
    );
}
