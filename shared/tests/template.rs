//! The SAM template (`template.yaml` at the repository root) agrees with the code:
//!
//! - every catalog rule with a default threshold has exactly one CloudWatch alarm on
//!   its metric, in the namespace parameter, with the rule's comparison, its threshold
//!   from a parameter whose default is the rule's threshold (and the late-data
//!   evaluation range the template documents);
//! - every function's `CodeUri` is a workspace member whose binary has the folder's
//!   name, and no two members build a binary of the same name;
//! - every environment variable a function's code reads is set by the template for
//!   that function, and nothing else is;
//! - every function has an alarm on its errors.
//!
//! The configuration types live behind the `aws` feature, as does this test; it runs
//! under `cargo test --workspace --all-features` (scripts/test.sh).
#![cfg(feature = "aws")]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use keytrail::{
    AlarmSource, DEFAULT_ATHENA_TABLE, DEFAULT_DATE_PARTITION, DEFAULT_NAMESPACE, RULES,
};
use serde_yaml::{Mapping, Value};

/// The environment variables each function's code reads, by crate folder.
fn env_vars_read_by(code_uri: &str) -> Option<&'static [&'static str]> {
    match code_uri {
        "functions/log-processor" => Some(keytrail::ProcessorConfig::ENV_VARS),
        "functions/alarm-enricher" => Some(keytrail::EnricherConfig::ENV_VARS),
        "functions/monthly-review" => Some(keytrail::ReviewConfig::ENV_VARS),
        _ => None,
    }
}

/// Functions the template must deploy.
const FUNCTIONS: [&str; 3] = [
    "functions/log-processor",
    "functions/alarm-enricher",
    "functions/monthly-review",
];

/// CloudTrail's delivery delay the alarms must tolerate (README, template comment).
const DELIVERY_DELAY_SECS: u64 = 15 * 60;

/// Late data: the catalog's alarms raise on one breaching period anywhere in a range
/// that reaches back past CloudTrail's delivery delay.
#[test]
fn catalog_alarms_tolerate_the_delivery_delay() {
    for rule in RULES {
        assert_eq!(rule.datapoints_to_alarm, 1, "{}", rule.id);
        let range = u64::from(rule.evaluation_periods) * u64::from(rule.period_secs);
        assert!(
            range >= u64::from(rule.period_secs) + DELIVERY_DELAY_SECS,
            "rule {}: {} periods of {} s do not cover {} s of delivery delay",
            rule.id,
            rule.evaluation_periods,
            rule.period_secs,
            DELIVERY_DELAY_SECS
        );
    }
}

/// The template starts from the library's defaults: the metric namespace, the Athena
/// table, and the table's day partition the enricher's prepared query restricts.
#[test]
fn template_defaults_are_the_librarys() {
    let t = template();
    let default = |param: &str| {
        get(&t, "Parameters")
            .and_then(|p| get(p, param))
            .and_then(|p| get(p, "Default"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    assert_eq!(
        default("MetricNamespace").as_deref(),
        Some(DEFAULT_NAMESPACE)
    );
    assert_eq!(
        default("AthenaTableName").as_deref(),
        Some(DEFAULT_ATHENA_TABLE)
    );
    let text = fs::read_to_string(repo_root().join("template.yaml")).expect("template");
    assert!(
        text.contains(&format!(
            "KEYTRAIL_ATHENA_DATE_PARTITION: {DEFAULT_DATE_PARTITION}"
        )) && text.contains(&format!(
            "projection.{DEFAULT_DATE_PARTITION}.format: yyyy/MM/dd"
        )),
        "the template's table must be partitioned by {DEFAULT_DATE_PARTITION} (yyyy/MM/dd)"
    );
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("shared/ has a parent")
        .to_path_buf()
}

fn template() -> Value {
    let path = repo_root().join("template.yaml");
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping().and_then(|m| m.get(key))
}

/// `(logical id, properties)` of every resource of the given type.
fn resources_of<'a>(t: &'a Value, ty: &str) -> Vec<(String, &'a Value)> {
    let resources = get(t, "Resources")
        .and_then(Value::as_mapping)
        .expect("template has Resources");
    resources
        .iter()
        .filter(|(_, r)| get(r, "Type").and_then(Value::as_str) == Some(ty))
        .map(|(id, r)| {
            (
                id.as_str().expect("logical ids are strings").to_owned(),
                get(r, "Properties").unwrap_or(&Value::Null),
            )
        })
        .collect()
}

/// The name referenced by `!Ref X` (tagged value) or `{"Ref": X}` (long form).
fn ref_target(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "Ref" => t.value.as_str(),
        Value::Mapping(m) if m.len() == 1 => m.get("Ref").and_then(Value::as_str),
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn describe(v: Option<&Value>) -> String {
    match v {
        None => "(missing)".into(),
        Some(v) => serde_yaml::to_string(v)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

/// The template parameter holding a rule's alarm threshold: `decrypt_failures` ->
/// `DecryptFailuresThreshold`.
fn threshold_parameter(rule_id: &str) -> String {
    let mut name: String = rule_id
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    name.push_str("Threshold");
    name
}

#[test]
fn threshold_parameter_names() {
    assert_eq!(
        threshold_parameter("decrypt_failures"),
        "DecryptFailuresThreshold"
    );
    assert_eq!(
        threshold_parameter("unfamiliar_source_ip"),
        "UnfamiliarSourceIpThreshold"
    );
}

#[test]
fn every_rule_has_its_alarm() {
    let t = template();
    let namespace_param = "MetricNamespace";
    assert!(
        get(&t, "Parameters")
            .and_then(|p| get(p, namespace_param))
            .is_some(),
        "template has no {namespace_param} parameter"
    );
    let alarms = resources_of(&t, "AWS::CloudWatch::Alarm");
    let on_namespace: Vec<&(String, &Value)> = alarms
        .iter()
        .filter(|(_, p)| get(p, "Namespace").and_then(ref_target) == Some(namespace_param))
        .collect();

    let mut problems = Vec::new();
    let mut rule_metrics = BTreeSet::new();
    for rule in RULES.iter().filter(|r| r.threshold.is_finite()) {
        if let AlarmSource::AwsKms { statistic, .. } = rule.alarm {
            aws_metric_alarm(&t, &alarms, rule, statistic, &mut problems);
            continue;
        }
        rule_metrics.insert(rule.metric);
        let matching: Vec<&(String, &Value)> = alarms
            .iter()
            .filter(|(_, p)| get(p, "MetricName").and_then(Value::as_str) == Some(rule.metric))
            .collect();
        let [(id, p)] = matching.as_slice() else {
            problems.push(format!(
                "rule {}: expected exactly one alarm on metric {}, found {}",
                rule.id,
                rule.metric,
                matching.len()
            ));
            continue;
        };
        let mut check = |what: &str, ok: bool, got: Option<&Value>, want: String| {
            if !ok {
                problems.push(format!(
                    "rule {} (alarm {id}): {what} is {}, want {want}",
                    rule.id,
                    describe(got)
                ));
            }
        };
        let ns = get(p, "Namespace");
        check(
            "Namespace",
            ns.and_then(ref_target) == Some(namespace_param),
            ns,
            format!("!Ref {namespace_param}"),
        );
        // The threshold is a parameter, so a deployment can tune it; its default is
        // the catalog's.
        let param_name = threshold_parameter(rule.id);
        let threshold = get(p, "Threshold");
        check(
            "Threshold",
            threshold.and_then(ref_target) == Some(param_name.as_str()),
            threshold,
            format!("!Ref {param_name}"),
        );
        let param = get(&t, "Parameters").and_then(|ps| get(ps, &param_name));
        let ty = param.and_then(|q| get(q, "Type"));
        check(
            &format!("parameter {param_name} Type"),
            ty.and_then(Value::as_str) == Some("Number"),
            ty,
            "Number".into(),
        );
        let default = param.and_then(|q| get(q, "Default"));
        check(
            &format!("parameter {param_name} Default"),
            number(default) == Some(rule.threshold),
            default,
            rule.threshold.to_string(),
        );
        let want_cmp = serde_json::to_value(rule.comparison).expect("comparison serialises");
        let want_cmp = want_cmp.as_str().expect("comparison is a string");
        let cmp = get(p, "ComparisonOperator");
        check(
            "ComparisonOperator",
            cmp.and_then(Value::as_str) == Some(want_cmp),
            cmp,
            want_cmp.to_owned(),
        );
        let stat = get(p, "Statistic");
        check(
            "Statistic",
            stat.and_then(Value::as_str) == Some("Sum"),
            stat,
            "Sum".into(),
        );
        let period = get(p, "Period");
        check(
            "Period",
            number(period) == Some(f64::from(rule.period_secs)),
            period,
            rule.period_secs.to_string(),
        );
        let missing = get(p, "TreatMissingData");
        check(
            "TreatMissingData",
            missing.and_then(Value::as_str) == Some("notBreaching"),
            missing,
            "notBreaching".into(),
        );
        // The alarm's shape is the catalog's, exactly as deployed.
        let dta = get(p, "DatapointsToAlarm");
        check(
            "DatapointsToAlarm",
            number(dta) == Some(f64::from(rule.datapoints_to_alarm)),
            dta,
            rule.datapoints_to_alarm.to_string(),
        );
        let evals = get(p, "EvaluationPeriods");
        check(
            "EvaluationPeriods",
            number(evals) == Some(f64::from(rule.evaluation_periods)),
            evals,
            rule.evaluation_periods.to_string(),
        );
        let actions = get(p, "AlarmActions");
        check(
            "AlarmActions",
            actions
                .and_then(Value::as_sequence)
                .is_some_and(|a| a.iter().any(|v| ref_target(v) == Some("AlarmTopic"))),
            actions,
            "[!Ref AlarmTopic]".into(),
        );
    }
    for (id, p) in on_namespace {
        let metric = get(p, "MetricName").and_then(Value::as_str).unwrap_or("");
        if !rule_metrics.contains(metric) && keytrail::health_alarm_for_metric(metric).is_none() {
            problems.push(format!(
                "alarm {id} watches {metric} in the keytrail namespace, which no catalog rule or health alarm publishes"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "alarms disagree with the catalog:\n  {}",
        problems.join("\n  ")
    );
}

/// A rule over a metric AWS KMS publishes per `KeyId` has one Metrics Insights query
/// alarm over every key: the rule's statistic of its metric, from the `AWS/KMS`
/// schema, with the catalog's comparison, period, evaluation range and a threshold
/// parameter whose default is the catalog's.
fn aws_metric_alarm(
    t: &Value,
    alarms: &[(String, &Value)],
    rule: &keytrail::Rule,
    statistic: keytrail::Statistic,
    problems: &mut Vec<String>,
) {
    let want_expr = format!(
        "SELECT {}({}) FROM SCHEMA(\"{}\", KeyId)",
        match statistic {
            keytrail::Statistic::Minimum => "MIN",
            keytrail::Statistic::Sum => "SUM",
        },
        rule.metric,
        keytrail::AWS_KMS_NAMESPACE
    );
    let matching: Vec<&(String, &Value)> = alarms
        .iter()
        .filter(|(_, p)| {
            get(p, "Metrics")
                .and_then(Value::as_sequence)
                .is_some_and(|m| {
                    m.iter().any(|q| {
                        get(q, "Expression").and_then(Value::as_str) == Some(want_expr.as_str())
                    })
                })
        })
        .collect();
    let [(id, p)] = matching.as_slice() else {
        problems.push(format!(
            "rule {}: expected exactly one alarm with the query {want_expr}, found {}",
            rule.id,
            matching.len()
        ));
        return;
    };
    let mut check = |what: &str, ok: bool, want: String| {
        if !ok {
            problems.push(format!(
                "rule {} (alarm {id}): {what} is {}, want {want}",
                rule.id,
                describe(get(p, what))
            ));
        }
    };
    let queries = get(p, "Metrics")
        .and_then(Value::as_sequence)
        .expect("Metrics");
    let q = &queries[0];
    check(
        "Metrics",
        queries.len() == 1
            && get(q, "ReturnData").and_then(Value::as_bool) == Some(true)
            && number(get(q, "Period")) == Some(f64::from(rule.period_secs)),
        format!("one query returning data with Period {}", rule.period_secs),
    );
    let param_name = threshold_parameter(rule.id);
    check(
        "Threshold",
        get(p, "Threshold").and_then(ref_target) == Some(param_name.as_str()),
        format!("!Ref {param_name}"),
    );
    let default = get(t, "Parameters")
        .and_then(|ps| get(ps, &param_name))
        .and_then(|q| get(q, "Default"));
    let default_ok = number(default) == Some(rule.threshold);
    let default_text = describe(default);
    let want_cmp = serde_json::to_value(rule.comparison).expect("comparison serialises");
    check(
        "ComparisonOperator",
        get(p, "ComparisonOperator").and_then(Value::as_str) == want_cmp.as_str(),
        want_cmp.to_string(),
    );
    check(
        "EvaluationPeriods",
        number(get(p, "EvaluationPeriods")) == Some(f64::from(rule.evaluation_periods)),
        rule.evaluation_periods.to_string(),
    );
    check(
        "DatapointsToAlarm",
        number(get(p, "DatapointsToAlarm")) == Some(f64::from(rule.datapoints_to_alarm)),
        rule.datapoints_to_alarm.to_string(),
    );
    check(
        "TreatMissingData",
        get(p, "TreatMissingData").and_then(Value::as_str) == Some("notBreaching"),
        "notBreaching".into(),
    );
    check(
        "AlarmActions",
        get(p, "AlarmActions")
            .and_then(Value::as_sequence)
            .is_some_and(|a| a.iter().any(|v| ref_target(v) == Some("AlarmTopic"))),
        "[!Ref AlarmTopic]".into(),
    );
    if !default_ok {
        problems.push(format!(
            "rule {}: parameter {param_name} Default is {default_text}, want {}",
            rule.id, rule.threshold
        ));
    }
}

/// The pipeline's health alarms (`HEALTH_ALARMS`) are deployed as defined: one alarm
/// per metric, its shape, its missing-data treatment, and the security topic (they
/// must work when the enricher does not).
#[test]
fn every_health_alarm_is_deployed() {
    let t = template();
    let alarms = resources_of(&t, "AWS::CloudWatch::Alarm");
    let mut problems = Vec::new();
    for h in keytrail::HEALTH_ALARMS {
        let matching: Vec<&(String, &Value)> = alarms
            .iter()
            .filter(|(_, p)| get(p, "MetricName").and_then(Value::as_str) == Some(h.metric))
            .collect();
        let [(id, p)] = matching.as_slice() else {
            problems.push(format!(
                "{}: {} alarms on {}",
                h.id,
                matching.len(),
                h.metric
            ));
            continue;
        };
        let mut check = |what: &str, ok: bool, got: Option<&Value>| {
            if !ok {
                problems.push(format!(
                    "{} (alarm {id}): {what} is {}",
                    h.id,
                    describe(got)
                ));
            }
        };
        let v = get(p, "Namespace");
        check(
            "Namespace",
            v.and_then(ref_target) == Some("MetricNamespace"),
            v,
        );
        let v = get(p, "Statistic");
        check("Statistic", v.and_then(Value::as_str) == Some("Sum"), v);
        let v = get(p, "ComparisonOperator");
        check(
            "ComparisonOperator",
            v.and_then(Value::as_str) == Some(h.comparison),
            v,
        );
        let v = get(p, "Threshold");
        check("Threshold", number(v) == Some(h.threshold), v);
        let v = get(p, "Period");
        check("Period", number(v) == Some(f64::from(h.period_secs)), v);
        let missing = serde_json::to_value(h.missing_data).expect("serialises");
        let v = get(p, "TreatMissingData");
        check(
            "TreatMissingData",
            v.and_then(Value::as_str) == missing.as_str(),
            v,
        );
        for key in ["EvaluationPeriods", "DatapointsToAlarm"] {
            let v = get(p, key);
            let ok = match h.periods_parameter {
                Some(param) => {
                    let default = get(&t, "Parameters")
                        .and_then(|ps| get(ps, param))
                        .and_then(|q| get(q, "Default"));
                    v.and_then(ref_target) == Some(param)
                        && number(default) == Some(f64::from(h.evaluation_periods))
                }
                None => number(v) == Some(f64::from(h.evaluation_periods)),
            };
            check(key, ok, v);
        }
        let v = get(p, "AlarmActions");
        check(
            "AlarmActions",
            v.and_then(Value::as_sequence).is_some_and(|a| {
                a.iter()
                    .any(|x| ref_target(x) == Some("SecurityAlertsTopic"))
            }),
            v,
        );
        let v = get(p, "AlarmDescription");
        check(
            "AlarmDescription",
            v.and_then(Value::as_str).is_some_and(|d| d.contains(h.id)),
            v,
        );
    }
    assert!(
        problems.is_empty(),
        "health alarms disagree with HEALTH_ALARMS:
  {}",
        problems.join(
            "
  "
        )
    );
}

/// A function that fails every invocation (e.g. on a bad configuration) is noticed:
/// each function has an alarm on its `AWS/Lambda` `Errors` (Sum >= 1 over 5 minutes)
/// that notifies the security alerts topic (not the alarm topic, whose subscriber, the
/// enricher, may be the function that fails).
#[test]
fn every_function_has_an_errors_alarm() {
    let t = template();
    let alarms = resources_of(&t, "AWS::CloudWatch::Alarm");
    let mut problems = Vec::new();
    for (function, _, _) in functions(&t) {
        let matching: Vec<&(String, &Value)> = alarms
            .iter()
            .filter(|(_, p)| {
                get(p, "Namespace").and_then(Value::as_str) == Some("AWS/Lambda")
                    && get(p, "MetricName").and_then(Value::as_str) == Some("Errors")
                    && get(p, "Dimensions")
                        .and_then(Value::as_sequence)
                        .is_some_and(|d| {
                            d.len() == 1
                                && get(&d[0], "Name").and_then(Value::as_str)
                                    == Some("FunctionName")
                                && get(&d[0], "Value").and_then(ref_target)
                                    == Some(function.as_str())
                        })
            })
            .collect();
        let [(id, p)] = matching.as_slice() else {
            problems.push(format!(
                "function {function}: expected exactly one AWS/Lambda Errors alarm with FunctionName !Ref {function}, found {}",
                matching.len()
            ));
            continue;
        };
        let mut check = |what: &str, ok: bool, want: &str| {
            if !ok {
                problems.push(format!(
                    "function {function} (alarm {id}): {what} is {}, want {want}",
                    describe(get(p, what))
                ));
            }
        };
        let s = |k: &str| get(p, k).and_then(Value::as_str);
        check("Statistic", s("Statistic") == Some("Sum"), "Sum");
        check("Period", number(get(p, "Period")) == Some(300.0), "300");
        check(
            "EvaluationPeriods",
            number(get(p, "EvaluationPeriods")) == Some(1.0),
            "1",
        );
        check("Threshold", number(get(p, "Threshold")) == Some(1.0), "1");
        check(
            "ComparisonOperator",
            s("ComparisonOperator") == Some("GreaterThanOrEqualToThreshold"),
            "GreaterThanOrEqualToThreshold",
        );
        check(
            "TreatMissingData",
            s("TreatMissingData") == Some("notBreaching"),
            "notBreaching",
        );
        check(
            "AlarmActions",
            get(p, "AlarmActions")
                .and_then(Value::as_sequence)
                .is_some_and(|a| a.len() == 1 && ref_target(&a[0]) == Some("SecurityAlertsTopic")),
            "[!Ref SecurityAlertsTopic]",
        );
    }
    assert!(
        problems.is_empty(),
        "function error alarms:\n  {}",
        problems.join("\n  ")
    );
}

/// The Chatbot option: the topic exists only under its condition, the enricher's
/// `KEYTRAIL_CHATBOT_TOPIC_ARN` is that topic or empty, and the enricher may publish to
/// it under the same condition.
#[test]
fn chatbot_topic_is_optional_and_the_enricher_may_publish_to_it() {
    let t = template();
    let cond = "ChatbotNotificationsCond";
    let param = get(&t, "Parameters").and_then(|p| get(p, "ChatbotNotifications"));
    assert_eq!(
        param
            .and_then(|p| get(p, "Default"))
            .and_then(Value::as_str),
        Some("false"),
        "ChatbotNotifications defaults to false"
    );
    let topic = get(&t, "Resources").and_then(|r| get(r, "ChatbotTopic"));
    assert_eq!(
        topic
            .and_then(|r| get(r, "Condition"))
            .and_then(Value::as_str),
        Some(cond)
    );
    let tagged = |v: &Value, tag: &str| -> Option<Value> {
        match v {
            Value::Tagged(x) if x.tag.to_string().trim_start_matches('!') == tag => {
                Some(x.value.clone())
            }
            _ => None,
        }
    };
    let (_, _, enricher) = functions(&t)
        .into_iter()
        .find(|(id, _, _)| id == "AlarmEnricher")
        .expect("AlarmEnricher");
    let var = get(enricher, "Environment")
        .and_then(|e| get(e, "Variables"))
        .and_then(|v| get(v, "KEYTRAIL_CHATBOT_TOPIC_ARN"))
        .expect("KEYTRAIL_CHATBOT_TOPIC_ARN");
    let branches = tagged(var, "If").expect("KEYTRAIL_CHATBOT_TOPIC_ARN is an !If");
    let branches = branches.as_sequence().expect("!If list");
    assert_eq!(branches.len(), 3);
    assert_eq!(branches[0].as_str(), Some(cond));
    assert_eq!(ref_target(&branches[1]), Some("ChatbotTopic"));
    assert_eq!(branches[2].as_str(), Some(""));

    let role = get(&t, "Resources")
        .and_then(|r| get(r, "AlarmEnricherRole"))
        .and_then(|r| get(r, "Properties"))
        .expect("AlarmEnricherRole");
    let statements: Vec<&Value> = get(role, "Policies")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|p| get(p, "PolicyDocument").and_then(|d| get(d, "Statement")))
        .filter_map(Value::as_sequence)
        .flatten()
        .collect();
    let publishes_chatbot = |st: &Value| {
        get(st, "Action").and_then(Value::as_str) == Some("sns:Publish")
            && get(st, "Resource").and_then(ref_target) == Some("ChatbotTopic")
    };
    assert!(
        !statements.iter().any(|s| publishes_chatbot(s)),
        "the enricher's sns:Publish on ChatbotTopic must be under {cond}"
    );
    let conditional = statements.iter().filter_map(|s| tagged(s, "If")).any(|b| {
        b.as_sequence().is_some_and(|b| {
            b.len() == 3 && b[0].as_str() == Some(cond) && publishes_chatbot(&b[1])
        })
    });
    assert!(
        conditional,
        "AlarmEnricherRole has no sns:Publish on ChatbotTopic under {cond}"
    );
}

/// A TOML manifest, parsed.
fn manifest(path: &Path) -> toml::Table {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", path.display()))
}

/// The workspace members of the root manifest.
fn workspace_members() -> Vec<String> {
    let root = manifest(&repo_root().join("Cargo.toml"));
    root.get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .expect("[workspace] members")
        .iter()
        .map(|m| m.as_str().expect("member is a string").to_owned())
        .collect()
}

/// Package name and binary names of a workspace member.
fn member_binaries(member: &str) -> (String, Vec<String>) {
    let dir = repo_root().join(member);
    let m = manifest(&dir.join("Cargo.toml"));
    let package = m
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .unwrap_or_else(|| panic!("{member}/Cargo.toml has no package name"))
        .to_owned();
    let mut bins: Vec<String> = m
        .get("bin")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("name").and_then(toml::Value::as_str))
        .map(str::to_owned)
        .collect();
    if dir.join("src/main.rs").is_file() && !bins.contains(&package) {
        bins.push(package.clone());
    }
    if let Ok(entries) = fs::read_dir(dir.join("src/bin")) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "rs")
                && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
            {
                bins.push(stem.to_owned());
            } else if p.join("main.rs").is_file()
                && let Some(name) = p.file_name().and_then(|s| s.to_str())
            {
                bins.push(name.to_owned());
            }
        }
    }
    bins.sort();
    bins.dedup();
    (package, bins)
}

fn functions(t: &Value) -> Vec<(String, &Value, &Value)> {
    let resources = get(t, "Resources")
        .and_then(Value::as_mapping)
        .expect("template has Resources");
    resources
        .iter()
        .filter(|(_, r)| {
            get(r, "Type").and_then(Value::as_str) == Some("AWS::Serverless::Function")
        })
        .map(|(id, r)| {
            (
                id.as_str().expect("logical ids are strings").to_owned(),
                r,
                get(r, "Properties").unwrap_or(&Value::Null),
            )
        })
        .collect()
}

fn global_function_property<'a>(t: &'a Value, key: &str) -> Option<&'a Value> {
    get(t, "Globals")
        .and_then(|g| get(g, "Function"))
        .and_then(|f| get(f, key))
}

#[test]
fn every_function_is_a_workspace_binary() {
    let t = template();
    let members = workspace_members();

    // Binary names are unique across the workspace, and none is `bootstrap` (cargo
    // lambda puts each binary in target/lambda/<name>/bootstrap).
    let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &members {
        for b in member_binaries(m).1 {
            owners.entry(b).or_default().push(m.clone());
        }
    }
    let clashes: Vec<String> = owners
        .iter()
        .filter(|(b, ms)| ms.len() > 1 || b.as_str() == "bootstrap")
        .map(|(b, ms)| format!("binary {b} in {}", ms.join(", ")))
        .collect();
    assert!(clashes.is_empty(), "binary names clash: {clashes:?}");

    let mut problems = Vec::new();
    let mut deployed = BTreeSet::new();
    for (id, resource, p) in functions(&t) {
        let Some(code_uri) = get(p, "CodeUri").and_then(Value::as_str) else {
            problems.push(format!("{id}: CodeUri is not a plain path"));
            continue;
        };
        let code_uri = code_uri.trim_start_matches("./").trim_end_matches('/');
        deployed.insert(code_uri.to_owned());
        if !members.iter().any(|m| m == code_uri) {
            problems.push(format!(
                "{id}: CodeUri {code_uri} is not a workspace member {members:?}"
            ));
            continue;
        }
        let folder = Path::new(code_uri)
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let (package, bins) = member_binaries(code_uri);
        if package != folder || !bins.iter().any(|b| b == folder) {
            problems.push(format!(
                "{id}: {code_uri} should be package {folder} with binary {folder}; found package {package}, binaries {bins:?}"
            ));
        }
        let metadata = get(resource, "Metadata");
        let method = metadata
            .and_then(|m| get(m, "BuildMethod"))
            .and_then(Value::as_str);
        if method != Some("rust-cargolambda") {
            problems.push(format!(
                "{id}: Metadata.BuildMethod is {method:?}, want rust-cargolambda"
            ));
        }
        if let Some(binary) = metadata
            .and_then(|m| get(m, "BuildProperties"))
            .and_then(|b| get(b, "Binary"))
            && binary.as_str() != Some(folder)
        {
            problems.push(format!(
                "{id}: BuildProperties.Binary is {}, want {folder}",
                describe(Some(binary))
            ));
        }
        let prop = |key: &str| get(p, key).or_else(|| global_function_property(&t, key));
        if prop("Runtime").and_then(Value::as_str) != Some("provided.al2023") {
            problems.push(format!("{id}: Runtime is not provided.al2023"));
        }
        let arm64 = Value::String("arm64".into());
        if prop("Architectures")
            .and_then(Value::as_sequence)
            .map(Vec::as_slice)
            != Some(std::slice::from_ref(&arm64))
        {
            problems.push(format!("{id}: Architectures is not [arm64]"));
        }
        if prop("Handler").and_then(Value::as_str) != Some("bootstrap") {
            problems.push(format!("{id}: Handler is not bootstrap"));
        }
    }
    for f in FUNCTIONS {
        if !deployed.contains(f) {
            problems.push(format!("no function deploys {f}"));
        }
    }
    assert!(
        problems.is_empty(),
        "functions:\n  {}",
        problems.join("\n  ")
    );
}

fn env_keys(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(|e| get(e, "Variables"))
        .and_then(Value::as_mapping)
        .map(Mapping::keys)
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn every_function_sets_exactly_the_variables_its_code_reads() {
    let t = template();
    let globals = env_keys(global_function_property(&t, "Environment"));
    let mut problems = Vec::new();
    for (id, _, p) in functions(&t) {
        let Some(code_uri) = get(p, "CodeUri").and_then(Value::as_str) else {
            continue;
        };
        let code_uri = code_uri.trim_start_matches("./").trim_end_matches('/');
        let Some(read) = env_vars_read_by(code_uri) else {
            problems.push(format!("{id}: no known configuration for {code_uri}"));
            continue;
        };
        let read: BTreeSet<String> = read.iter().map(|s| (*s).to_owned()).collect();
        let mut set = env_keys(get(p, "Environment"));
        set.extend(globals.iter().cloned());
        let unset: Vec<&String> = read.difference(&set).collect();
        let unread: Vec<&String> = set.difference(&read).collect();
        if !unset.is_empty() {
            problems.push(format!(
                "{id}: code reads {unset:?}, template does not set it"
            ));
        }
        if !unread.is_empty() {
            problems.push(format!(
                "{id}: template sets {unread:?}, code does not read it"
            ));
        }
        // The namespace the processor publishes in is the one the alarms watch.
        if let Some(ns) = get(p, "Environment")
            .and_then(|e| get(e, "Variables"))
            .and_then(|v| get(v, "KEYTRAIL_METRIC_NAMESPACE"))
            && ref_target(ns) != Some("MetricNamespace")
        {
            problems.push(format!(
                "{id}: KEYTRAIL_METRIC_NAMESPACE is {}, want !Ref MetricNamespace",
                describe(Some(ns))
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "environment:\n  {}",
        problems.join("\n  ")
    );
}

/// `!Tag value` (short form) as (tag, value).
fn tagged(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_owned(),
            &t.value,
        )),
        _ => None,
    }
}

/// Security Hub is opt-in (SecurityHubExport, default "false"): the enricher's
/// KEYTRAIL_SECURITY_HUB follows the parameter, and only when it is "true" may the
/// role call BatchImportFindings, into this account's own default product only.
#[test]
fn security_hub_import_is_opt_in_and_scoped() {
    let t = template();
    let param = get(&t, "Parameters")
        .and_then(|p| get(p, "SecurityHubExport"))
        .expect("SecurityHubExport parameter");
    assert_eq!(get(param, "Default").and_then(Value::as_str), Some("false"));
    let allowed: Vec<&str> = get(param, "AllowedValues")
        .and_then(Value::as_sequence)
        .expect("AllowedValues")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(allowed, ["true", "false"]);
    let cond = get(&t, "Conditions")
        .and_then(|c| get(c, "SecurityHubExportCond"))
        .and_then(tagged)
        .expect("SecurityHubExportCond");
    assert_eq!(cond.0, "Equals");
    let args = cond.1.as_sequence().expect("[a, b]");
    assert_eq!(ref_target(&args[0]), Some("SecurityHubExport"));
    assert_eq!(args[1].as_str(), Some("true"));

    let env = functions(&t)
        .into_iter()
        .find(|(id, _, _)| id == "AlarmEnricher")
        .and_then(|(_, _, p)| get(p, "Environment"))
        .and_then(|e| get(e, "Variables"))
        .and_then(|v| get(v, "KEYTRAIL_SECURITY_HUB"))
        .and_then(ref_target)
        .map(str::to_owned);
    assert_eq!(env.as_deref(), Some("SecurityHubExport"));

    let (_, role) = resources_of(&t, "AWS::IAM::Role")
        .into_iter()
        .find(|(id, _)| id == "AlarmEnricherRole")
        .expect("AlarmEnricherRole");
    let statements: Vec<&Value> = get(role, "Policies")
        .and_then(Value::as_sequence)
        .expect("policies")
        .iter()
        .filter_map(|p| get(p, "PolicyDocument").and_then(|d| get(d, "Statement")))
        .filter_map(Value::as_sequence)
        .flatten()
        .collect();
    let mentions = |v: &Value| {
        serde_yaml::to_string(v)
            .expect("yaml")
            .contains("securityhub:")
    };
    let mut found = 0;
    for s in statements.iter().filter(|s| mentions(s)) {
        let (tag, value) = tagged(s).expect("a Security Hub statement is under !If");
        let branches = value.as_sequence().expect("[condition, then, else]");
        assert_eq!(tag, "If");
        assert_eq!(branches[0].as_str(), Some("SecurityHubExportCond"));
        assert_eq!(ref_target(&branches[2]), Some("AWS::NoValue"));
        let stmt = &branches[1];
        assert_eq!(get(stmt, "Effect").and_then(Value::as_str), Some("Allow"));
        assert_eq!(
            get(stmt, "Action").and_then(Value::as_str),
            Some("securityhub:BatchImportFindings")
        );
        let (sub, resource) = get(stmt, "Resource").and_then(tagged).expect("!Sub");
        assert_eq!(sub, "Sub");
        assert_eq!(
            resource.as_str(),
            Some(
                "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default"
            )
        );
        found += 1;
    }
    assert_eq!(found, 1, "one BatchImportFindings statement");
}

// ------------------------------------------------------------------ the usage table

/// The usage table's columns, in order, as the log processor's rows
/// (`shared/src/detect/usage_rows.rs`) write them and the SQL reads them.
const USAGE_COLUMNS: [(&str, &str); 36] = [
    ("file", "string"),
    ("delivery", "string"),
    ("part", "int"),
    ("parts", "int"),
    ("account", "string"),
    ("region", "string"),
    ("file_date", "string"),
    ("delivered", "string"),
    ("kind", "string"),
    ("key", "string"),
    ("principal", "string"),
    ("operation", "string"),
    ("error_class", "string"),
    ("service_originated", "boolean"),
    ("n", "bigint"),
    ("first_seen", "bigint"),
    ("last_seen", "bigint"),
    ("day", "string"),
    ("rule", "string"),
    ("label", "string"),
    ("ip", "string"),
    ("context_key", "string"),
    ("truncated", "boolean"),
    ("hour", "int"),
    ("day_number", "int"),
    ("failures", "bigint"),
    ("event_id", "string"),
    ("keys", "string"),
    ("rules", "string"),
    ("records", "bigint"),
    ("kms_records", "bigint"),
    ("bad_records", "bigint"),
    ("keys_beyond_cap", "bigint"),
    ("untracked", "bigint"),
    ("first_event", "bigint"),
    ("last_event", "bigint"),
];

/// Firehose appends `yyyy/MM/dd/HH/` to a prefix without expressions; the table
/// projects those folders as `datehour`.
const USAGE_PREFIX: &str = "keytrail/usage/";

/// A resource by logical id: (its Condition, its Properties).
fn resource<'a>(t: &'a Value, id: &str) -> (Option<&'a str>, &'a Value) {
    let r = get(t, "Resources")
        .and_then(|r| get(r, id))
        .unwrap_or_else(|| panic!("template has no resource {id}"));
    (
        get(r, "Condition").and_then(Value::as_str),
        get(r, "Properties").unwrap_or(&Value::Null),
    )
}

/// The string of `!Sub "..."` (short form, one argument).
fn sub_text(v: Option<&Value>) -> Option<&str> {
    match tagged(v?)? {
        (tag, value) if tag == "Sub" => value.as_str(),
        _ => None,
    }
}

/// The target of `!GetAtt X.Arn` (short form): `X.Arn`.
fn get_att(v: Option<&Value>) -> Option<&str> {
    match tagged(v?)? {
        (tag, value) if tag == "GetAtt" => value.as_str(),
        _ => None,
    }
}

/// `[condition, then, else]` of `!If`.
fn if_branches(v: &Value) -> Option<(&str, &Value, &Value)> {
    let (tag, value) = tagged(v)?;
    let b = value.as_sequence()?;
    if tag != "If" || b.len() != 3 {
        return None;
    }
    Some((b[0].as_str()?, &b[1], &b[2]))
}

/// A plain string value.
fn str_of(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// Every policy statement of a role, each with the condition it is under (`!If`).
fn role_statements<'a>(t: &'a Value, role: &str) -> Vec<(Option<&'a str>, &'a Value)> {
    let (_, p) = resource(t, role);
    get(p, "Policies")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|p| get(p, "PolicyDocument").and_then(|d| get(d, "Statement")))
        .filter_map(Value::as_sequence)
        .flatten()
        .map(|s| match if_branches(s) {
            Some((cond, then, otherwise)) => {
                assert_eq!(
                    ref_target(otherwise),
                    Some("AWS::NoValue"),
                    "{role}: a conditional statement's else is !Ref AWS::NoValue"
                );
                (Some(cond), then)
            }
            None => (None, s),
        })
        .collect()
}

/// The actions of a statement (one or a list).
fn actions(statement: &Value) -> Vec<&str> {
    match get(statement, "Action") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Sequence(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The statements of `role` that grant `action`, with their conditions.
fn granting<'a>(t: &'a Value, role: &str, action: &str) -> Vec<(Option<&'a str>, &'a Value)> {
    role_statements(t, role)
        .into_iter()
        .filter(|(_, s)| actions(s).contains(&action))
        .collect()
}

/// The environment variable `var` of function `id`.
fn function_env<'a>(t: &'a Value, id: &str, var: &str) -> &'a Value {
    let (_, p) = resource(t, id);
    get(p, "Environment")
        .and_then(|e| get(e, "Variables"))
        .and_then(|v| get(v, var))
        .unwrap_or_else(|| panic!("{id} does not set {var}"))
}

/// The Glue table of the usage rows: its schema (the columns the writer and the SQL
/// use, in order), Parquet, and the `datehour` projection over Firehose's folders.
#[test]
fn usage_table_schema_and_projection() {
    let t = template();
    let (cond, p) = resource(&t, "UsageTable");
    assert_eq!(cond, Some("UsageTableCond"));
    assert_eq!(
        get(p, "DatabaseName").and_then(ref_target),
        Some("AthenaDatabase")
    );
    let input = get(p, "TableInput").expect("TableInput");
    assert_eq!(
        get(input, "Name").and_then(ref_target),
        Some("UsageTableName")
    );
    assert_eq!(
        get(input, "TableType").and_then(Value::as_str),
        Some("EXTERNAL_TABLE")
    );
    assert!(
        get(input, "Description")
            .and_then(Value::as_str)
            .is_some_and(|d| !d.is_empty()),
        "the usage table has a Description"
    );

    let sd = get(input, "StorageDescriptor").expect("StorageDescriptor");
    let columns: Vec<(&str, &str)> = get(sd, "Columns")
        .and_then(Value::as_sequence)
        .expect("Columns")
        .iter()
        .map(|c| {
            (
                get(c, "Name").and_then(Value::as_str).unwrap_or("?"),
                get(c, "Type").and_then(Value::as_str).unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(columns, USAGE_COLUMNS, "the usage table's columns");
    assert_eq!(
        str_of(get(sd, "InputFormat")),
        Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
    );
    assert_eq!(
        str_of(get(sd, "OutputFormat")),
        Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
    );
    assert_eq!(
        str_of(get(sd, "SerdeInfo").and_then(|i| get(i, "SerializationLibrary"))),
        Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
    );
    let location = format!("s3://${{KeytrailBucket}}/{USAGE_PREFIX}");
    assert_eq!(sub_text(get(sd, "Location")), Some(location.as_str()));

    let keys: Vec<(&str, &str)> = get(input, "PartitionKeys")
        .and_then(Value::as_sequence)
        .expect("PartitionKeys")
        .iter()
        .filter_map(|k| Some((get(k, "Name")?.as_str()?, get(k, "Type")?.as_str()?)))
        .collect();
    assert_eq!(keys, [("datehour", "string")]);

    let params = get(input, "Parameters").expect("Parameters");
    for (name, want) in [
        ("projection.enabled", "true"),
        ("projection.datehour.type", "date"),
        ("projection.datehour.format", "yyyy/MM/dd/HH"),
        ("projection.datehour.range", "2024/01/01/00,NOW"),
        ("projection.datehour.interval", "1"),
        ("projection.datehour.interval.unit", "HOURS"),
    ] {
        assert_eq!(
            get(params, name).and_then(Value::as_str),
            Some(want),
            "UsageTable parameter {name}"
        );
    }
    // ${!datehour} is !Sub's escape for the literal ${datehour} Athena fills in.
    let template = format!("s3://${{KeytrailBucket}}/{USAGE_PREFIX}${{!datehour}}/");
    assert_eq!(
        sub_text(get(params, "storage.location.template")),
        Some(template.as_str())
    );
}

/// The Firehose stream writes Parquet with the usage table's schema where the table
/// reads it, encrypted with the keytrail key.
#[test]
fn usage_stream_converts_into_the_usage_table() {
    let t = template();
    let (cond, p) = resource(&t, "UsageStream");
    assert_eq!(cond, Some("UsageTableCond"));
    let s = str_of;
    assert_eq!(s(get(p, "DeliveryStreamType")), Some("DirectPut"));
    let sse = get(p, "DeliveryStreamEncryptionConfigurationInput").expect("stream SSE");
    assert_eq!(s(get(sse, "KeyType")), Some("CUSTOMER_MANAGED_CMK"));
    assert_eq!(get_att(get(sse, "KeyARN")), Some("KeytrailKey.Arn"));

    let dest =
        get(p, "ExtendedS3DestinationConfiguration").expect("ExtendedS3DestinationConfiguration");
    assert_eq!(get_att(get(dest, "BucketARN")), Some("KeytrailBucket.Arn"));
    assert_eq!(get_att(get(dest, "RoleARN")), Some("UsageStreamRole.Arn"));
    // No expression: Firehose appends yyyy/MM/dd/HH/, the datehour projection.
    assert_eq!(s(get(dest, "Prefix")), Some(USAGE_PREFIX));
    let errors = s(get(dest, "ErrorOutputPrefix")).expect("ErrorOutputPrefix");
    assert!(
        errors.starts_with("keytrail/usage-errors/")
            && (!errors.contains("!{") || errors.contains("!{firehose:error-output-type}")),
        "ErrorOutputPrefix {errors:?}: under keytrail/usage-errors/, with the error type if it has expressions"
    );
    let hints = get(dest, "BufferingHints").expect("BufferingHints");
    assert!(
        number(get(hints, "SizeInMBs")).is_some_and(|n| n >= 64.0),
        "format conversion needs a buffer of at least 64 MiB"
    );
    assert_eq!(s(get(dest, "CompressionFormat")), Some("UNCOMPRESSED"));
    assert_eq!(
        get_att(
            get(dest, "EncryptionConfiguration")
                .and_then(|e| get(e, "KMSEncryptionConfig"))
                .and_then(|k| get(k, "AWSKMSKeyARN"))
        ),
        Some("KeytrailKey.Arn")
    );
    let logging = get(dest, "CloudWatchLoggingOptions").expect("CloudWatchLoggingOptions");
    assert_eq!(get(logging, "Enabled").and_then(Value::as_bool), Some(true));
    assert_eq!(
        get(logging, "LogGroupName").and_then(ref_target),
        Some("UsageStreamLogGroup")
    );

    let conv = get(dest, "DataFormatConversionConfiguration").expect("format conversion");
    assert_eq!(get(conv, "Enabled").and_then(Value::as_bool), Some(true));
    assert!(
        get(conv, "InputFormatConfiguration")
            .and_then(|i| get(i, "Deserializer"))
            .and_then(|d| get(d, "OpenXJsonSerDe"))
            .is_some(),
        "input: OpenX JSON SerDe"
    );
    let parquet = get(conv, "OutputFormatConfiguration")
        .and_then(|o| get(o, "Serializer"))
        .and_then(|s| get(s, "ParquetSerDe"))
        .expect("output: Parquet SerDe");
    assert_eq!(s(get(parquet, "Compression")), Some("SNAPPY"));
    let schema = get(conv, "SchemaConfiguration").expect("SchemaConfiguration");
    assert_eq!(
        get(schema, "DatabaseName").and_then(ref_target),
        Some("AthenaDatabase")
    );
    assert_eq!(
        get(schema, "TableName").and_then(ref_target),
        Some("UsageTable")
    );
    assert_eq!(
        get(schema, "Region").and_then(ref_target),
        Some("AWS::Region")
    );
    assert_eq!(get_att(get(schema, "RoleARN")), Some("UsageStreamRole.Arn"));
    assert_eq!(s(get(schema, "VersionId")), Some("LATEST"));

    // The log group is keytrail's, like the functions'.
    let (cond, group) = resource(&t, "UsageStreamLogGroup");
    assert_eq!(cond, Some("UsageTableCond"));
    assert_eq!(
        get(group, "RetentionInDays").and_then(ref_target),
        Some("LogRetentionDays")
    );
    assert_eq!(get_att(get(group, "KmsKeyId")), Some("KeytrailKey.Arn"));
}

/// Firehose's role writes only the usage prefixes and reads only the table's schema.
#[test]
fn usage_stream_role_is_scoped() {
    let t = template();
    let (cond, _) = resource(&t, "UsageStreamRole");
    assert_eq!(cond, Some("UsageTableCond"));
    let statements = role_statements(&t, "UsageStreamRole");
    let text = |v: &Value| serde_yaml::to_string(v).expect("yaml");
    for (_, st) in &statements {
        for a in actions(st) {
            assert!(!a.contains('*'), "UsageStreamRole: wildcard action {a}");
        }
        assert_ne!(
            get(st, "Resource").and_then(Value::as_str),
            Some("*"),
            "UsageStreamRole: Resource \"*\" in {}",
            text(st)
        );
    }
    let [(_, put)] = granting(&t, "UsageStreamRole", "s3:PutObject")[..] else {
        panic!("one s3:PutObject statement");
    };
    let put = text(put);
    assert!(
        put.contains("/keytrail/usage/*") && put.contains("/keytrail/usage-errors/*"),
        "{put}"
    );
    let [(_, glue)] = granting(&t, "UsageStreamRole", "glue:GetTable")[..] else {
        panic!("one glue:GetTable statement");
    };
    assert!(text(glue).contains(":table/${AthenaDatabaseName}/${UsageTableName}"));
    let [(_, kms)] = granting(&t, "UsageStreamRole", "kms:GenerateDataKey")[..] else {
        panic!("one kms:GenerateDataKey statement");
    };
    assert!(text(kms).contains("kms:ViaService"));
}

/// The processor sends to the stream and the review queries the table only with
/// `EnableUsageTable=true`: their variables and grants are under `UsageTableCond`.
#[test]
fn usage_table_variables_and_grants() {
    let t = template();
    let cond = "UsageTableCond";
    let param = get(&t, "Parameters")
        .and_then(|p| get(p, "EnableUsageTable"))
        .expect("EnableUsageTable");
    assert_eq!(get(param, "Default").and_then(Value::as_str), Some("false"));
    assert_eq!(
        get(&t, "Parameters")
            .and_then(|p| get(p, "UsageTableName"))
            .and_then(|p| get(p, "Default"))
            .and_then(Value::as_str),
        Some("kms_usage")
    );

    let check_if = |id: &str, var: &str, then: &dyn Fn(&Value) -> bool| {
        let (c, yes, no) = if_branches(function_env(&t, id, var))
            .unwrap_or_else(|| panic!("{id} {var} is an !If"));
        assert_eq!(c, cond, "{id} {var}");
        assert!(then(yes), "{id} {var}: {}", describe(Some(yes)));
        assert_eq!(no.as_str(), Some(""), "{id} {var} is empty when off");
    };
    check_if("LogProcessor", "KEYTRAIL_USAGE_STREAM", &|v| {
        ref_target(v) == Some("UsageStream")
    });
    check_if("MonthlyReview", "KEYTRAIL_USAGE_TABLE", &|v| {
        sub_text(Some(v)) == Some("${AthenaDatabaseName}.${UsageTableName}")
    });
    check_if("MonthlyReview", "KEYTRAIL_ATHENA_WORKGROUP", &|v| {
        ref_target(v) == Some("AthenaWorkGroup")
    });

    let only_under = |role: &str, action: &str| -> Vec<&Value> {
        let found = granting(&t, role, action);
        assert!(!found.is_empty(), "{role} has no {action}");
        for (c, st) in &found {
            assert_eq!(
                *c,
                Some(cond),
                "{role}: {action} must be under {cond}: {}",
                describe(Some(st))
            );
        }
        found.into_iter().map(|(_, s)| s).collect()
    };
    let put = only_under("LogProcessorRole", "firehose:PutRecordBatch");
    assert!(
        put.iter()
            .all(|s| get_att(get(s, "Resource")) == Some("UsageStream.Arn")),
        "firehose:PutRecordBatch on the usage stream only"
    );
    for action in [
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StopQueryExecution",
    ] {
        for s in only_under("MonthlyReviewRole", action) {
            assert_eq!(
                sub_text(get(s, "Resource")),
                Some(
                    "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/${AthenaWorkGroup}"
                ),
                "{action} on the keytrail workgroup only"
            );
        }
    }
    for action in ["glue:GetDatabase", "glue:GetTable"] {
        let text = serde_yaml::to_string(&only_under("MonthlyReviewRole", action)).expect("yaml");
        assert!(
            text.contains(":table/${AthenaDatabaseName}/${UsageTableName}"),
            "{action} on the usage table: {text}"
        );
    }
    // Athena reads the table's objects and writes its results as the review.
    let reads = serde_yaml::to_string(&only_under("MonthlyReviewRole", "s3:GetBucketLocation"))
        .expect("yaml");
    assert!(reads.contains("KeytrailBucket.Arn"), "{reads}");
    let gets: Vec<&Value> = granting(&t, "MonthlyReviewRole", "s3:GetObject")
        .into_iter()
        .filter(|(c, _)| *c == Some(cond))
        .map(|(_, s)| s)
        .collect();
    let gets = serde_yaml::to_string(&gets).expect("yaml");
    assert!(
        gets.contains("/keytrail/usage/*") && gets.contains("/keytrail/athena-results/*"),
        "{gets}"
    );
    let puts: Vec<&Value> = granting(&t, "MonthlyReviewRole", "s3:PutObject")
        .into_iter()
        .filter(|(c, _)| *c == Some(cond))
        .map(|(_, s)| s)
        .collect();
    let [put] = puts[..] else {
        panic!("one s3:PutObject under {cond} (the query results)");
    };
    assert_eq!(
        sub_text(get(put, "Resource")),
        Some("${KeytrailBucket.Arn}/keytrail/athena-results/*")
    );
}

/// The Glue database and the workgroup exist for either option, and the workgroup
/// stops a query past the bytes-scanned cutoff.
#[test]
fn workgroup_serves_both_tables_and_caps_bytes_scanned() {
    let t = template();
    let (cond, _) = resource(&t, "AthenaDatabase");
    assert_eq!(cond, Some("AthenaOrUsageTableCond"));
    let (cond, wg) = resource(&t, "AthenaWorkGroup");
    assert_eq!(cond, Some("AthenaOrUsageTableCond"));
    let (tag, either) = get(&t, "Conditions")
        .and_then(|c| get(c, "AthenaOrUsageTableCond"))
        .and_then(tagged)
        .expect("AthenaOrUsageTableCond");
    assert_eq!(tag, "Or");
    let either: BTreeSet<String> = either
        .as_sequence()
        .expect("!Or list")
        .iter()
        .filter_map(tagged)
        .map(|(tag, v)| format!("{tag} {}", v.as_str().unwrap_or("?")))
        .collect();
    assert_eq!(
        either,
        BTreeSet::from([
            "Condition EnableAthenaCond".to_owned(),
            "Condition UsageTableCond".to_owned()
        ])
    );
    // The CloudTrail table and its queries stay with EnableAthena.
    let (cond, _) = resource(&t, "CloudTrailTable");
    assert_eq!(cond, Some("EnableAthenaCond"));

    assert_eq!(
        get(wg, "WorkGroupConfiguration")
            .and_then(|c| get(c, "BytesScannedCutoffPerQuery"))
            .and_then(ref_target),
        Some("AthenaBytesScannedCutoff")
    );
    let param = get(&t, "Parameters")
        .and_then(|p| get(p, "AthenaBytesScannedCutoff"))
        .expect("AthenaBytesScannedCutoff");
    assert_eq!(number(get(param, "Default")), Some(10_737_418_240.0));
    assert_eq!(number(get(param, "MinValue")), Some(10_485_760.0));
}

/// The named query "past usage of a KMS key" is `shared/sql/key_past_usage.sql` (the
/// one source of that SQL), with the template's table and the example values the
/// analyst edits.
#[test]
fn key_past_usage_query_is_the_repository_sql() {
    let path = repo_root().join("shared/sql/key_past_usage.sql");
    let sql =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    for placeholder in ["{table}", "{key}", "{from}", "{to}"] {
        assert!(
            sql.contains(placeholder),
            "{} has no {placeholder}",
            path.display()
        );
    }
    let want = sql
        .replace("{table}", "\"${AthenaDatabaseName}\".\"${UsageTableName}\"")
        .replace(
            "{key}",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        )
        .replace("{from}", "2026/01/01/00")
        .replace("{to}", "2026/01/31/23");
    let t = template();
    let (cond, p) = resource(&t, "QueryKeyPastUsage");
    assert_eq!(cond, Some("UsageTableCond"));
    assert_eq!(
        get(p, "WorkGroup").and_then(ref_target),
        Some("AthenaWorkGroup")
    );
    assert_eq!(
        get(p, "Database").and_then(ref_target),
        Some("AthenaDatabase")
    );
    let got = sub_text(get(p, "QueryString")).expect("QueryString is a !Sub");
    assert_eq!(
        got, want,
        "QueryKeyPastUsage's QueryString is shared/sql/key_past_usage.sql with the template's table and example values"
    );
}
