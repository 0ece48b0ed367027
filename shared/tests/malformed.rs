//! Issue 7: the malformed-input corpus in `tests/data/malformed/`, run through the
//! library. Every case listed in `cases.json` must behave as the manifest says, and
//! none may panic. Payload cases go through the payload parsers.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use keytrail::plan_for;
use keytrail::{AlarmKind, Payload, parse_payload};
use keytrail::{AnalysisOptions, analyse};
use keytrail::{Item, read_records};
use keytrail::{KmsEvent, rule};
use serde_json::Value;

#[path = "../../tests/data/malformed/generated.rs"]
mod generated;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/malformed")
}

fn cases() -> Vec<Value> {
    let text = std::fs::read(dir().join("cases.json")).expect("cases.json");
    let v: Value = serde_json::from_slice(&text).expect("cases.json is JSON");
    v["cases"].as_array().expect("cases").clone()
}

fn file(c: &Value) -> &str {
    c["file"].as_str().expect("file")
}

fn bytes_of(c: &Value) -> Vec<u8> {
    if c["generated"] == true {
        generated::bytes(file(c)).unwrap_or_else(|| panic!("{}: no generator", file(c)))
    } else {
        std::fs::read(dir().join(file(c))).unwrap_or_else(|e| panic!("{}: {e}", file(c)))
    }
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks `error` against `expect.error_contains` (case-insensitive), pushing problems.
fn check_reasons(name: &str, error: Option<&str>, expect: &Value, problems: &mut Vec<String>) {
    let wanted = strs(&expect["error_contains"]);
    match (error, wanted.is_empty()) {
        (None, true) => {}
        (Some(e), true) => problems.push(format!("{name}: unexpected error: {e}")),
        (None, false) => problems.push(format!("{name}: expected an error containing {wanted:?}")),
        (Some(e), false) => {
            let low = e.to_lowercase();
            for w in &wanted {
                if !low.contains(&w.to_lowercase()) {
                    problems.push(format!("{name}: error {e:?} does not contain {w:?}"));
                }
            }
        }
    }
}

fn check_log(c: &Value, problems: &mut Vec<String>) {
    let name = file(c);
    let expect = &c["expect"];
    let data = bytes_of(c);
    let a = match catch_unwind(AssertUnwindSafe(|| {
        analyse(name, &data[..], &AnalysisOptions::default())
    })) {
        Ok(a) => a,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            problems.push(format!("{name}: PANICKED in analyse: {msg}"));
            return;
        }
    };
    for (field, got) in [
        ("records", a.records),
        ("kms_records", a.kms_records),
        ("bad_records", a.bad_records),
        ("duplicates", a.duplicates),
    ] {
        if let Some(want) = expect[field].as_u64()
            && want != got
        {
            problems.push(format!("{name}: {field} = {got}, expected {want}"));
        }
    }
    if expect["not_a_log"] == true {
        let want = expect["reason"].as_str();
        match a.not_a_log.as_deref() {
            None => problems.push(format!("{name}: expected not_a_log, got a log")),
            Some(r) if want.is_some_and(|w| w != r) => {
                problems.push(format!("{name}: not_a_log reason {r:?}, expected {want:?}"))
            }
            Some(_) => {}
        }
    } else if let Some(r) = &a.not_a_log {
        problems.push(format!("{name}: unexpectedly not a log: {r}"));
    }
    let err = a.error.as_ref().map(ToString::to_string);
    if let Some(e) = &err
        && !e.contains(name)
    {
        problems.push(format!("{name}: error does not name the file: {e}"));
    }
    check_reasons(name, err.as_deref(), expect, problems);

    // Per-record expectations: keys, partitions, lenient strings.
    let wants_records = ["keys", "cross_account", "event_names", "principal_arns"]
        .iter()
        .any(|k| !expect[*k].is_null());
    if !wants_records {
        return;
    }
    let mut records = Vec::new();
    read_records(name, &data[..], |item| {
        if let Item::Record(r) = item {
            records.push(*r);
        }
    });
    let mut keys: Vec<String> = Vec::new();
    let cross = rule("cross_account_use").expect("cross_account_use rule");
    for r in &records {
        let Some(e) = KmsEvent::analyse(r) else {
            continue;
        };
        for k in &e.keys {
            if !keys.contains(&k.id) {
                keys.push(k.id.clone());
            }
        }
        if expect["cross_account"] == false && (e.is_cross_account() || cross.matches(&e)) {
            problems.push(format!(
                "{name}: cross_account_use fires for {:?} (principal account {:?}, key account {:?})",
                r.event_id,
                e.principal.account,
                e.key_account()
            ));
        }
    }
    let want_keys = strs(&expect["keys"]);
    if !want_keys.is_empty() && keys != want_keys {
        problems.push(format!("{name}: keys {keys:?}, expected {want_keys:?}"));
    }
    let names: Vec<String> = records
        .iter()
        .filter_map(|r| r.event_name.clone())
        .collect();
    for n in strs(&expect["event_names"]) {
        if !names.contains(&n) {
            problems.push(format!("{name}: eventName {n:?} not read (got {names:?})"));
        }
    }
    let arns: Vec<String> = records
        .iter()
        .filter_map(|r| r.user_identity.as_ref()?.arn.clone())
        .collect();
    for n in strs(&expect["principal_arns"]) {
        if !arns.contains(&n) {
            problems.push(format!(
                "{name}: userIdentity.arn {n:?} not read (got {arns:?})"
            ));
        }
    }
}

fn check_alarm(c: &Value, problems: &mut Vec<String>) {
    let name = file(c);
    let expect = &c["expect"];
    let v: Value = serde_json::from_slice(&bytes_of(c)).expect("payload is JSON");
    let payload = match catch_unwind(AssertUnwindSafe(|| parse_payload(&v))) {
        Ok(p) => p,
        Err(_) => {
            problems.push(format!("{name}: PANICKED in parse_payload"));
            return;
        }
    };
    let want = expect["outcome"].as_str().unwrap_or("");
    let alarm = match (&payload, want) {
        (Payload::NotAnAlarm(r), "not_an_alarm") | (Payload::Malformed(r), "malformed") => {
            check_reasons(name, Some(r), expect, problems);
            return;
        }
        (Payload::Alarm(a), "alarm") => a,
        (other, _) => {
            problems.push(format!(
                "{name}: parse_payload gave {other:?}, expected {want}"
            ));
            return;
        }
    };
    let kind = match &alarm.kind {
        AlarmKind::Metric(_) => "metric",
        AlarmKind::MetricMath { .. } => "metric_math",
        AlarmKind::Composite { .. } => "composite",
        AlarmKind::Unknown => "unknown",
    };
    if expect["alarm_kind"].as_str().is_some_and(|k| k != kind) {
        problems.push(format!(
            "{name}: alarm kind {kind}, expected {}",
            expect["alarm_kind"]
        ));
    }
    if let Some(n) = expect["metrics"].as_u64()
        && alarm.metrics().len() as u64 != n
    {
        problems.push(format!(
            "{name}: {} metrics, expected {n}",
            alarm.metrics().len()
        ));
    }
    let plan = catch_unwind(AssertUnwindSafe(|| {
        plan_for(alarm, "KMSAudit", chrono::Duration::minutes(15))
    }));
    match (plan, expect["plan"].as_str()) {
        (Err(_), _) => problems.push(format!("{name}: PANICKED in plan_for")),
        (Ok(Ok(p)), Some("ok")) => {
            if let Some(n) = expect["selectors"].as_u64()
                && p.selectors.len() as u64 != n
            {
                problems.push(format!(
                    "{name}: {} selectors, expected {n}",
                    p.selectors.len()
                ));
            }
        }
        (Ok(Err(e)), Some("error")) => check_reasons(name, Some(&e.to_string()), expect, problems),
        (Ok(other), want) => problems.push(format!(
            "{name}: plan_for gave {other:?}, expected {want:?}"
        )),
    }
}

#[test]
fn corpus_is_complete_and_small() {
    let cases = cases();
    assert!(cases.len() >= 32, "only {} cases", cases.len());
    let listed: Vec<&str> = cases.iter().map(file).collect();
    for c in &cases {
        let path = dir().join(file(c));
        assert_eq!(
            path.exists(),
            c["generated"] != true,
            "{}: stored iff not generated",
            file(c)
        );
        assert!(c["what"].is_string(), "{}: what", file(c));
        assert!(
            ["log", "s3-event", "alarm"].contains(&c["kind"].as_str().unwrap_or("")),
            "{}: kind",
            file(c)
        );
    }
    for entry in std::fs::read_dir(dir()).expect("dir") {
        let entry = entry.expect("entry");
        let n = entry.file_name().to_string_lossy().into_owned();
        let len = entry.metadata().expect("meta").len();
        assert!(len < 200 * 1024, "{n} is {len} bytes");
        if !["cases.json", "README.md", "generate.py", "generated.rs"].contains(&n.as_str()) {
            assert!(listed.contains(&n.as_str()), "{n} is not in cases.json");
        }
    }
}

#[test]
fn log_cases() {
    let mut problems = Vec::new();
    let mut n = 0;
    for c in cases().iter().filter(|c| c["kind"] == "log") {
        check_log(c, &mut problems);
        n += 1;
    }
    assert!(n >= 20, "{n} log cases");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn alarm_cases() {
    let mut problems = Vec::new();
    for c in cases().iter().filter(|c| c["kind"] == "alarm") {
        check_alarm(c, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[cfg(feature = "aws")]
mod aws {
    use super::*;
    use keytrail::{ProcessorInput, parse_input};

    fn check_s3_event(c: &Value, problems: &mut Vec<String>) {
        let name = file(c);
        let expect = &c["expect"];
        let v: Value = serde_json::from_slice(&bytes_of(c)).expect("payload is JSON");
        let input = match catch_unwind(AssertUnwindSafe(|| parse_input(&v))) {
            Ok(i) => i,
            Err(_) => {
                problems.push(format!("{name}: PANICKED in parse_input"));
                return;
            }
        };
        let want = &expect["outcome"];
        match (&input, want) {
            (ProcessorInput::TestEvent, w) if w == "test_event" => {}
            (ProcessorInput::Unrecognised(r), w) if w == "unrecognised" => {
                check_reasons(name, Some(r), expect, problems)
            }
            (ProcessorInput::Objects(objs), w) if w["objects"].is_array() => {
                let got: Vec<(String, String, String)> = objs
                    .iter()
                    .map(|o| (o.bucket.clone(), o.key.clone(), o.raw_key.clone()))
                    .collect();
                let wanted: Vec<(String, String, String)> = w["objects"]
                    .as_array()
                    .expect("objects")
                    .iter()
                    .map(|o| {
                        let f = |k: &str| o[k].as_str().unwrap_or_default().to_owned();
                        (f("bucket"), f("key"), f("raw_key"))
                    })
                    .collect();
                if got != wanted {
                    problems.push(format!("{name}: objects {got:?}, expected {wanted:?}"));
                }
            }
            (other, w) => {
                problems.push(format!("{name}: parse_input gave {other:?}, expected {w}"))
            }
        }
    }

    #[test]
    fn s3_event_cases() {
        let mut problems = Vec::new();
        for c in cases().iter().filter(|c| c["kind"] == "s3-event") {
            check_s3_event(c, &mut problems);
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
