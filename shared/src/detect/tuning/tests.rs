use super::*;
use crate::cloudtrail::record::Record;
use serde_json::json;

const GOOD: &str = r#"
trusted_accounts = ["444455556666"]

[rules.data_key_volume]
threshold = 500
severity = "medium"

[rules.key_created]
enabled = false

[[suppressions]]
id = "ingest"
reason = "S3 Bucket Keys generate data keys for every upload"
rules = ["data_key_volume"]
principal = "arn:aws:iam::111122223333:role/ingest-*"

[[suppressions]]
reason = "the scanner VPC"
source_cidr = "10.1.0.0/16"
expires = "2026-10-31"
"#;

fn event_record(extra: serde_json::Value) -> Record {
    let mut v = json!({
        "eventTime": "2026-10-04T03:00:00Z", "eventSource": "kms.amazonaws.com",
        "eventName": "GenerateDataKey", "sourceIPAddress": "10.1.2.3", "userAgent": "aws-sdk-go/1.0",
        "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
            "arn": "arn:aws:sts::111122223333:assumed-role/ingest-prod/i-1",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/ingest-prod"}}},
        "requestParameters": {"keyId": "alias/app", "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::bucket/x"}},
        "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k1"}]
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            o.insert(k.clone(), x.clone());
        }
    }
    Record::from_value(v).expect("record")
}

#[test]
fn a_good_file_changes_rules_and_suppresses() {
    let t = Tuning::parse("k.toml", GOOD).expect("good");
    let dkv = rule("data_key_volume").expect("rule");
    assert_eq!(t.settings(dkv).threshold, 500.0);
    assert_eq!(t.settings(dkv).severity, Severity::Medium);
    assert_eq!(t.settings(dkv).period_secs, dkv.period_secs);
    assert!(!t.settings(rule("key_created").expect("rule")).enabled);
    assert!(t.is_trusted("444455556666"));
    assert_eq!(t.suppressions[0].label, "ingest");
    assert_eq!(t.suppressions[1].label, "#2");

    let r = event_record(json!({}));
    let e = KmsEvent::analyse(&r).expect("event");
    let mut matched = RuleSet::default();
    matched.insert(dkv);
    let mut seen = Vec::new();
    let applied = t.apply(&e, matched, |rule, s| seen.push((rule.id, s.label.clone())));
    assert!(applied.rules.is_empty());
    assert!(applied.suppressed.contains(dkv));
    assert_eq!(seen, vec![("data_key_volume", "ingest".to_owned())]);
}

#[test]
fn each_criterion_must_match() {
    let spec = |extra: &str| {
        Tuning::parse(
            "s.toml",
            &format!("[[suppressions]]\nreason = \"r\"\n{extra}\n"),
        )
        .expect("valid")
        .suppressions
        .remove(0)
    };
    let r = event_record(json!({}));
    let e = KmsEvent::analyse(&r).expect("event");
    for (yes, no) in [
        (
            "principal = \"*ingest-prod\"",
            "principal = \"arn:aws:iam::111122223333:role/other\"",
        ),
        ("account = \"111122223333\"", "account = \"999999999999\""),
        (
            "source_cidr = \"10.0.0.0/8\"",
            "source_cidr = \"192.168.0.0/16\"",
        ),
        ("source_cidr = \"10.1.2.3\"", "source_cidr = \"10.1.2.4\""),
        (
            "key = \"arn:aws:kms:us-east-1:111122223333:key/k1\"",
            "key = \"arn:aws:kms:us-east-1:111122223333:key/k2\"",
        ),
        ("key = \"alias/app\"", "key = \"alias/other\""),
        ("operation = \"GenerateDataKey\"", "operation = \"Decrypt\""),
        ("user_agent = \"aws-sdk-go*\"", "user_agent = \"Boto3*\""),
        (
            "encryption_context = \"aws:s3:arn=arn:aws:s3:::bucket/*\"",
            "encryption_context = \"aws:s3:arn=arn:aws:s3:::other/*\"",
        ),
    ] {
        assert!(spec(yes).matches(&e), "{yes}");
        assert!(!spec(no).matches(&e), "{no}");
    }
    // Two criteria: both must hold.
    assert!(!spec("account = \"111122223333\"\noperation = \"Decrypt\"").matches(&e));
}

#[test]
fn an_expired_suppression_stops_applying() {
    let t = Tuning::parse("k.toml", GOOD).expect("good");
    let s = &t.suppressions[1];
    let on = |day: &str| {
        let r = event_record(json!({"eventTime": format!("{day}T12:00:00Z")}));
        let e = KmsEvent::analyse(&r).expect("event");
        s.matches(&e)
    };
    assert!(on("2026-10-31"), "applies through its last day");
    assert!(!on("2026-11-01"));
    assert!(s.expired("2026-11-01T00:00:00Z".parse().expect("t")));
}

#[test]
fn wildcards() {
    assert!(wildcard("a*c", "abc") && wildcard("a*c", "ac") && wildcard("*", ""));
    assert!(wildcard("*b*", "abc") && !wildcard("a*d", "abc") && !wildcard("abc", "abcd"));
    assert!(wildcard("a**c", "abbc") && wildcard("x", "x"));
}

/// At least ten kinds of bad file, each named by file, line and field.
#[test]
fn bad_files_name_the_line_and_the_field() {
    let cases: &[(&str, usize, &str, &str)] = &[
        (
            "[rules.data_key_volume]\nthreshold = \"many\"\n",
            2,
            "rules.data_key_volume.threshold",
            "invalid type",
        ),
        (
            "[rules.no_such_rule]\nthreshold = 1\n",
            1,
            "rules.no_such_rule",
            "no rule",
        ),
        (
            "[rules.data_key_volume]\nthreshhold = 1\n",
            2,
            "rules.data_key_volume.threshhold",
            "unknown field",
        ),
        (
            "[rules.data_key_volume]\nperiod_secs = 90\n",
            1,
            "rules.data_key_volume.period_secs",
            "multiple of 60",
        ),
        (
            "[rules.data_key_volume]\nthreshold = -1\n",
            1,
            "rules.data_key_volume.threshold",
            "not a count",
        ),
        (
            "[rules.data_key_volume]\nseverity = \"urgent\"\n",
            2,
            "rules.data_key_volume.severity",
            "unknown variant",
        ),
        (
            "\n[[suppressions]]\nprincipal = \"x\"\n",
            2,
            "suppressions",
            "reason",
        ),
        (
            "[[suppressions]]\nreason = \"  \"\nprincipal = \"x\"\n",
            1,
            "suppressions[0].reason",
            "mandatory",
        ),
        (
            "[[suppressions]]\nreason = \"r\"\nsource_cidr = \"10.0.0.0/33\"\n",
            1,
            "suppressions[0].source_cidr",
            "address range",
        ),
        (
            "[[suppressions]]\nreason = \"r\"\nprincipal = \"x\"\nexpires = \"31/12/2026\"\n",
            1,
            "suppressions[0].expires",
            "YYYY-MM-DD",
        ),
        (
            "[[suppressions]]\nreason = \"r\"\naccount = \"1234\"\n",
            1,
            "suppressions[0].account",
            "12-digit",
        ),
        (
            "[[suppressions]]\nreason = \"r\"\n",
            1,
            "suppressions[0]",
            "names nothing",
        ),
        (
            "[[suppressions]]\nreason = \"r\"\nprincipal = \"x\"\nrules = [\"nope\"]\n",
            1,
            "suppressions[0].rules",
            "no rule",
        ),
        (
            "[[suppressions]]\nreason = \"r\"\nencryption_context = \"novalue\"\n",
            1,
            "suppressions[0].encryption_context",
            "key=value",
        ),
        (
            "[[suppressions]]\nreason = \"r\"\noperation = \"Decript\"\n",
            1,
            "suppressions[0].operation",
            "KMS operation",
        ),
        (
            "trusted_accounts = [\"12\"]\n",
            1,
            "trusted_accounts[0]",
            "12-digit",
        ),
        ("colour = \"blue\"\n", 1, "colour", "unknown field"),
        (
            "[rules.data_key_volume\nthreshold = 1\n",
            1,
            "rules.data_key_volume",
            "unclosed table",
        ),
    ];
    for (text, line, field, words) in cases {
        let err = Tuning::parse("bad.toml", text).expect_err(text);
        let msg = err.to_string();
        assert!(msg.starts_with("bad.toml: line "), "{msg}");
        assert_eq!(err.line, *line, "{text:?}: {msg}");
        assert!(
            err.field.starts_with(field),
            "{text:?}: field {:?}: {msg}",
            err.field
        );
        assert!(msg.contains(words), "{text:?}: {msg}");
    }
}

#[test]
fn defaults_change_nothing() {
    let t = Tuning::default();
    for r in RULES {
        let s = t.settings(r);
        assert_eq!(
            (s.enabled, s.threshold, s.period_secs, s.severity),
            (true, r.threshold, r.period_secs, r.severity)
        );
    }
    let shown = t.show();
    assert_eq!(shown["source"], "(catalog defaults)");
    assert_eq!(
        shown["rules"].as_object().map(|m| m.len()),
        Some(RULES.len())
    );
}

#[test]
fn a_trusted_account_is_inside_for_the_cross_account_rules() {
    let r =
        event_record(json!({"userIdentity": {"type": "AWSAccount", "accountId": "444455556666"}}));
    let e = KmsEvent::analyse(&r).expect("event");
    let cross = rule("cross_account_use").expect("rule");
    assert!(cross.matches(&e));
    let mut matched = RuleSet::default();
    matched.insert(cross);
    let trusting = Tuning::parse("t.toml", "trusted_accounts = [\"444455556666\"]\n").expect("ok");
    assert!(trusting.apply(&e, matched, |_, _| {}).rules.is_empty());
    let other = Tuning::parse("t.toml", "trusted_accounts = [\"999999999999\"]\n").expect("ok");
    assert!(other.apply(&e, matched, |_, _| {}).rules.contains(cross));
}
