//! Property tests over generated inputs (issue 7).
//!
//! The number of cases per property comes from `KEYTRAIL_PROPTEST_CASES` (default 256,
//! so CI stays short); `scripts/fuzz.sh` runs the same properties with many more.
//! Every property counts its executions and prints `keytrail-proptest: <name> cases=<n>`
//! when it ends (pass or fail), which `scripts/fuzz.sh` sums.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use keytrail::clean;
use keytrail::{
    Evidence, GatherInfo, InvestigationInputs, build_investigation, notification_body,
    notification_subject, plan_for,
};
use keytrail::{Item, ReadLimits, ReadSummary, Select, read_kms_records, read_records, read_with};
use keytrail::{ObjectKind, classify_key, decode_event_key, parse_log_key};
use keytrail::{Payload, parse_payload, parse_state_change_time};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------- harness

fn cases() -> u32 {
    std::env::var("KEYTRAIL_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.trim().replace('_', "").parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        // Keep the long runs from writing regression files into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs `f` (one proptest property), then prints how many cases it executed, also
/// when it failed, and re-raises the failure.
fn run(name: &str, counter: &AtomicU64, f: fn()) {
    let result = catch_unwind(AssertUnwindSafe(f));
    println!(
        "keytrail-proptest: {name} cases={} status={}",
        counter.load(Ordering::Relaxed),
        if result.is_ok() { "ok" } else { "FAILED" }
    );
    if let Err(e) = result {
        resume_unwind(e);
    }
}

fn tick(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).expect("write");
    e.finish().expect("finish")
}

/// Reads `data`, returning the summary and the number of items the sink received.
/// Reads it again KMS-only (the fast path, which frames the other records without
/// parsing them) and checks that it agrees: it never finds damage the full reader
/// does not (the full reader may also refuse raw control characters and deep nesting
/// inside records the fast path skips), and when neither does, it delivers the same
/// KMS records and the same element counts.
fn read(name: &str, data: &[u8]) -> (ReadSummary, u64, u64) {
    let (mut good, mut bad) = (0u64, 0u64);
    let mut kms = Vec::new();
    let s = read_records(name, data, |item| match item {
        Item::Record(r) => {
            good += 1;
            if r.is_kms() {
                kms.push(r);
            }
        }
        Item::Bad { .. } => bad += 1,
    });
    let mut fast_kms = Vec::new();
    let fast = read_kms_records(name, data, |item| {
        if let Item::Record(r) = item {
            fast_kms.push(r);
        }
    });
    if s.error.is_none() {
        assert!(
            fast.error.is_none(),
            "{name}: only the fast path failed: {:?}",
            fast.error
        );
    }
    if s.error.is_none() && fast.error.is_none() {
        assert_eq!(fast_kms, kms, "{name}: KMS records differ");
        assert_eq!(
            fast.bad_records, s.bad_records,
            "{name}: bad records differ"
        );
        assert_eq!(fast.not_a_log, s.not_a_log, "{name}: not_a_log differs");
        assert_eq!(
            fast.records + fast.duplicates,
            s.records + s.duplicates,
            "{name}: element counts differ"
        );
    }
    (s, good, bad)
}

fn check_summary_invariants(s: &ReadSummary, good: u64, bad: u64) -> Result<(), TestCaseError> {
    prop_assert!(
        s.records >= s.bad_records,
        "records {} < bad {}",
        s.records,
        s.bad_records
    );
    prop_assert!(
        good + bad <= s.records,
        "sink got {} items, summary says {}",
        good + bad,
        s.records
    );
    prop_assert!(bad <= s.bad_records);
    Ok(())
}

// ---------------------------------------------------------------- strategies

/// A recursive JSON value with small, awkward leaves.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".*".prop_map(Value::String),
        prop_oneof![
            Just("2026-10-04T03:12:00.123+0000"),
            Just("ALARM"),
            Just("Notification"),
            Just("KMSDecryptFailures"),
            Just("KMSAudit"),
            Just(""),
            Just("{"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    let key = prop_oneof![
        ".{0,8}",
        prop_oneof![
            Just("Records"),
            Just("Sns"),
            Just("Type"),
            Just("Message"),
            Just("AlarmName"),
            Just("NewStateValue"),
            Just("StateChangeTime"),
            Just("Trigger"),
            Just("Metrics"),
            Just("MetricStat"),
            Just("Metric"),
            Just("MetricName"),
            Just("Namespace"),
            Just("Dimensions"),
            Just("name"),
            Just("value"),
            Just("Period"),
            Just("EvaluationPeriods"),
            Just("Threshold"),
            Just("AlarmRule"),
            Just("ReturnData"),
            Just("Expression"),
            Just("eventID"),
            Just("eventName"),
        ]
        .prop_map(String::from),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A CloudTrail-ish record object with the given eventID and generated other fields.
fn record_with_id(id: String) -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop_oneof![
            Just(json!("Decrypt")),
            Just(json!("Encrypt")),
            Just(json!("GenerateDataKey")),
            Just(json!(7)),
            ".{0,10}".prop_map(Value::String),
        ]),
        prop::option::of(prop_oneof![
            Just(json!("kms.amazonaws.com")),
            Just(json!("s3.amazonaws.com")),
            Just(json!(null))
        ]),
        prop::option::of(json_value()),
    )
        .prop_map(move |(name, source, extra)| {
            let mut m = Map::new();
            m.insert("eventID".into(), Value::String(id.clone()));
            if let Some(n) = name {
                m.insert("eventName".into(), n);
            }
            if let Some(s) = source {
                m.insert("eventSource".into(), s);
            }
            if let Some(x) = extra {
                m.insert("requestParameters".into(), x);
            }
            Value::Object(m)
        })
}

/// `{"Records":[...]}` with N records whose eventIDs are distinct.
fn valid_log() -> impl Strategy<Value = (usize, Vec<u8>)> {
    prop::collection::btree_set("[a-zA-Z0-9-]{1,12}", 0..40)
        .prop_flat_map(|ids| ids.into_iter().map(record_with_id).collect::<Vec<_>>())
        .prop_map(|records| {
            let n = records.len();
            (n, json!({ "Records": records }).to_string().into_bytes())
        })
}

/// JSON-ish text from a small grammar of record fragments, valid records and junk.
fn jsonish() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just(r#"{"Records":["#.to_owned()),
        Just("]}".to_owned()),
        Just(",".to_owned()),
        Just("\n".to_owned()),
        Just(" ".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("null".to_owned()),
        Just("7".to_owned()),
        Just("-1e999".to_owned()),
        Just("\"garbage\"".to_owned()),
        Just(r#"{"Records":null}"#.to_owned()),
        Just(r#"{"Records":7}"#.to_owned()),
        Just(r#"{"digestStartTime":"x","logFiles":[]}"#.to_owned()),
        Just(
            r#"{"eventID":"a","eventName":"Decrypt","eventSource":"kms.amazonaws.com"}"#.to_owned()
        ),
        Just(r#"{"eventID":"a","eventName":"Encrypt"}"#.to_owned()),
        Just(r#"{"eventName":"A"}"#.to_owned()),
        Just(r#"{"eventID":5,"eventTime":true}"#.to_owned()),
        Just(r#""eventID":"#.to_owned()),
        Just("\u{feff}".to_owned()),
        "[a-zA-Z0-9]{1,8}".prop_map(|s| format!("{{\"eventID\":\"{s}\"}}")),
        json_value().prop_map(|v| v.to_string()),
        ".{0,6}",
    ];
    prop::collection::vec(fragment, 0..24).prop_map(|v| v.concat())
}

// ---------------------------------------------------------------- 1. reader

static READER_BYTES: AtomicU64 = AtomicU64::new(0);
static READER_GZIP_BYTES: AtomicU64 = AtomicU64::new(0);
static READER_JSONISH: AtomicU64 = AtomicU64::new(0);
static READER_VALID: AtomicU64 = AtomicU64::new(0);
static READER_TRUNCATED: AtomicU64 = AtomicU64::new(0);

proptest! {
    #![proptest_config(config())]

    fn p_reader_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        tick(&READER_BYTES);
        let (s, good, bad) = read("fuzz.json", &data);
        check_summary_invariants(&s, good, bad)?;
        // The same bytes behind a gzip magic number.
        let mut magic = vec![0x1f, 0x8b];
        magic.extend_from_slice(&data);
        let (s, good, bad) = read("fuzz.json.gz", &magic);
        check_summary_invariants(&s, good, bad)?;
    }

    fn p_reader_gzip_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        tick(&READER_GZIP_BYTES);
        let (s, good, bad) = read("fuzz.json.gz", &gz(&data));
        check_summary_invariants(&s, good, bad)?;
    }

    fn p_reader_jsonish(text in jsonish(), gzipped in any::<bool>()) {
        tick(&READER_JSONISH);
        let data = if gzipped { gz(text.as_bytes()) } else { text.clone().into_bytes() };
        let (s, good, bad) = read("grammar.json", &data);
        check_summary_invariants(&s, good, bad)?;
        if let Some(e) = &s.error {
            prop_assert!(e.to_string().starts_with("grammar.json: "), "{e}");
        }
    }

    fn p_reader_valid_log((n, data) in valid_log(), gzipped in any::<bool>()) {
        tick(&READER_VALID);
        let data = if gzipped { gz(&data) } else { data };
        let (s, good, bad) = read("valid.json", &data);
        prop_assert!(s.error.is_none(), "unexpected error: {:?}", s.error);
        prop_assert_eq!(s.records, n as u64, "summary {:?}", s);
        prop_assert_eq!(good + bad, n as u64);
        prop_assert_eq!(s.duplicates, 0);
        check_summary_invariants(&s, good, bad)?;
    }

    fn p_reader_truncated_gzip((_, data) in valid_log(), cut in any::<prop::sample::Index>()) {
        tick(&READER_TRUNCATED);
        let data = gz(&data);
        let (whole, _, _) = read("AWSLogs/t.json.gz", &data);
        prop_assert!(whole.error.is_none(), "{:?}", whole.error);
        // Cut at 1..len: a 0-byte prefix is an empty file, not a damaged one.
        let at = 1 + cut.index(data.len() - 1);
        let (s, good, bad) = read("AWSLogs/t.json.gz", &data[..at]);
        check_summary_invariants(&s, good, bad)?;
        prop_assert!(s.records <= whole.records, "cut at {}: {} > {}", at, s.records, whole.records);
        if s.records < whole.records {
            let e = s.error.as_ref().map(ToString::to_string);
            prop_assert!(
                e.as_deref().is_some_and(|e| e.contains("AWSLogs/t.json.gz")),
                "cut at {}/{}: lost {} records but error is {:?} (not_a_log {:?})",
                at, data.len(), whole.records - s.records, e, s.not_a_log
            );
        }
    }
}

// ---------------------------------------------------------------- 1b. reader, issue 17

/// The records of a valid log, each as its JSON text.
fn valid_records() -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set("[a-zA-Z0-9-]{1,12}", 1..30)
        .prop_flat_map(|ids| ids.into_iter().map(record_with_id).collect::<Vec<_>>())
        .prop_map(|records| records.iter().map(Value::to_string).collect())
}

/// Valid JSON serde_json refuses.
fn odd_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (309u32..5000).prop_map(|e| format!("1e{e}")),
        (309u32..5000).prop_map(|e| format!("-2.5E+{e}")),
        Just(r#""\ud800""#.to_owned()),
        Just(r#""x\udfff\ud800y""#.to_owned()),
        (129usize..400).prop_map(|d| format!("{}7{}", "[".repeat(d), "]".repeat(d))),
        (129usize..400).prop_map(|d| format!("{}7{}", r#"{"a":"#.repeat(d), "}".repeat(d))),
    ]
}

static READER_FLUSH_DAMAGE: AtomicU64 = AtomicU64::new(0);
static READER_ODD_VALUES: AtomicU64 = AtomicU64::new(0);
static READER_HUGE_RECORD: AtomicU64 = AtomicU64::new(0);

proptest! {
    #![proptest_config(config())]

    /// Gzip good up to a flush point, then damaged (garbage appended, or one bit of
    /// the rest flipped): every record before the flush point is kept.
    fn p_reader_gzip_damage_after_flush(
        records in valid_records(),
        split in any::<prop::sample::Index>(),
        garbage in prop::collection::vec(any::<u8>(), 1..64),
        flip in any::<Option<(prop::sample::Index, u8)>>(),
    ) {
        tick(&READER_FLUSH_DAMAGE);
        let k = 1 + split.index(records.len());
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        let head = format!(r#"{{"Records":[{},"#, records[..k].join(","));
        e.write_all(head.as_bytes()).expect("write");
        e.flush().expect("flush");
        let flushed = e.get_ref().len();
        let data = match flip {
            None => {
                let mut d = e.get_ref().clone();
                d.extend_from_slice(&garbage);
                d
            }
            Some((at, bit)) => {
                let tail = format!("{}]}}", records[k..].join(","));
                e.write_all(format!("{{\"eventID\":\"tail\"}}{}{tail}", if tail.len() > 2 { "," } else { "" }).as_bytes()).expect("write");
                let mut d = e.finish().expect("finish");
                let i = flushed + at.index(d.len() - flushed);
                d[i] ^= 1 << (bit % 8);
                d
            }
        };
        let (s, good, bad) = read("AWSLogs/f.json.gz", &data);
        check_summary_invariants(&s, good, bad)?;
        prop_assert!(s.records >= k as u64, "kept {} of the {} records before the flush: {:?}", s.records, k, s.error);
    }

    /// One record holds a valid value serde_json refuses: no record is lost, none is
    /// bad, and the file has no error.
    fn p_reader_odd_values(
        records in valid_records(),
        which in any::<prop::sample::Index>(),
        odd in odd_value(),
        gzipped in any::<bool>(),
    ) {
        tick(&READER_ODD_VALUES);
        let mut records = records;
        let i = which.index(records.len());
        let r = &records[i];
        records[i] = format!(r#"{},"requestParameters":{{"v":{odd}}}}}"#, &r[..r.len() - 1])
            .replace(r#""requestParameters":"#, r#""odd":"#)
            .replacen(r#""odd":"#, r#""requestParameters":"#, 1);
        let text = format!(r#"{{"Records":[{}]}}"#, records.join(","));
        let data = if gzipped { gz(text.as_bytes()) } else { text.into_bytes() };
        let (s, good, bad) = read("odd.json", &data);
        prop_assert!(s.error.is_none(), "{:?}", s.error);
        prop_assert_eq!((s.records, s.bad_records, bad), (records.len() as u64, 0, 0));
        prop_assert_eq!(good, records.len() as u64);
    }

    /// One record is larger than the limit: it alone is bad, the rest are kept.
    fn p_reader_huge_record(
        records in valid_records(),
        which in any::<prop::sample::Index>(),
        size in 65_537usize..300_000,
        lines in any::<bool>(),
        gzipped in any::<bool>(),
    ) {
        tick(&READER_HUGE_RECORD);
        let mut records = records;
        let i = which.index(records.len());
        let r = &records[i];
        records[i] = format!(r#"{},"userAgent":"{}"}}"#, &r[..r.len() - 1], "u".repeat(size));
        let text = if lines {
            records.join("\n")
        } else {
            format!(r#"{{"Records":[{}]}}"#, records.join(","))
        };
        let data = if gzipped { gz(text.as_bytes()) } else { text.into_bytes() };
        let limits = ReadLimits { max_record_bytes: 64 << 10 };
        for select in [Select::All, Select::Kms] {
            let mut bad = Vec::new();
            let s = read_with("huge.json", &data[..], select, limits, |item| {
                if let Item::Bad { reason, .. } = item {
                    bad.push(reason);
                }
            });
            prop_assert!(s.error.is_none(), "{:?}", s.error);
            prop_assert_eq!(s.records, records.len() as u64);
            prop_assert_eq!(bad.len(), 1, "{:?}", bad);
            prop_assert!(bad[0].contains("record larger than 64 KiB") || bad[0].contains("record larger than 65536 bytes"), "{}", bad[0]);
        }
    }
}

static READER_MANY_KEYS: AtomicU64 = AtomicU64::new(0);

proptest! {
    #![proptest_config(config())]

    /// One Decrypt naming N distinct keys in resources[]: at most the cap is read,
    /// the rest counted, never dropped silently.
    fn p_reader_many_keys(n in 0usize..2_500, gzipped in any::<bool>()) {
        tick(&READER_MANY_KEYS);
        let resources: Vec<Value> = (0..n)
            .map(|i| json!({"ARN": format!("arn:aws:kms:us-east-1:111122223333:key/k{i}"), "type": "AWS::KMS::Key"}))
            .collect();
        let text = json!({"Records": [{
            "eventTime": "2026-10-04T03:00:00Z", "eventSource": "kms.amazonaws.com",
            "eventName": "Decrypt", "eventID": "many", "resources": resources,
        }]}).to_string();
        let data = if gzipped { gz(text.as_bytes()) } else { text.into_bytes() };
        let mut events = Vec::new();
        read_records("many.json", &data[..], |item| {
            if let Item::Record(r) = item
                && let Some(e) = keytrail::KmsEvent::analyse(&r)
            {
                events.push((e.keys.len(), e.keys_beyond_cap));
            }
        });
        let cap = keytrail::MAX_KEYS_PER_RECORD;
        prop_assert_eq!(events, vec![(n.min(cap), n.saturating_sub(cap) as u64)]);
    }
}

#[test]
fn reader_many_keys_in_one_record() {
    run(
        "reader_many_keys_in_one_record",
        &READER_MANY_KEYS,
        p_reader_many_keys,
    );
}

#[test]
fn reader_gzip_damage_after_a_flush_point() {
    run(
        "reader_gzip_damage_after_a_flush_point",
        &READER_FLUSH_DAMAGE,
        p_reader_gzip_damage_after_flush,
    );
}

#[test]
fn reader_valid_but_odd_values() {
    run(
        "reader_valid_but_odd_values",
        &READER_ODD_VALUES,
        p_reader_odd_values,
    );
}

#[test]
fn reader_huge_record() {
    run(
        "reader_huge_record",
        &READER_HUGE_RECORD,
        p_reader_huge_record,
    );
}

#[test]
fn reader_arbitrary_bytes() {
    run("reader_arbitrary_bytes", &READER_BYTES, p_reader_bytes);
}
#[test]
fn reader_arbitrary_gzipped_bytes() {
    run(
        "reader_arbitrary_gzipped_bytes",
        &READER_GZIP_BYTES,
        p_reader_gzip_bytes,
    );
}
#[test]
fn reader_jsonish_grammar() {
    run("reader_jsonish_grammar", &READER_JSONISH, p_reader_jsonish);
}
#[test]
fn reader_valid_log_counts() {
    run("reader_valid_log_counts", &READER_VALID, p_reader_valid_log);
}
#[test]
fn reader_truncated_gzip() {
    run(
        "reader_truncated_gzip",
        &READER_TRUNCATED,
        p_reader_truncated_gzip,
    );
}

// ---------------------------------------------------------------- 2. s3key

#[derive(Debug, Clone)]
struct KeyParts {
    prefix: Option<String>,
    org_id: Option<String>,
    account: String,
    region: String,
    date: NaiveDate,
    stamp: chrono::NaiveDateTime,
    id: String,
    ext: &'static str,
}

fn format_key(p: &KeyParts) -> String {
    let mut k = String::new();
    if let Some(prefix) = &p.prefix {
        k.push_str(prefix);
        k.push('/');
    }
    k.push_str("AWSLogs/");
    if let Some(o) = &p.org_id {
        k.push_str(o);
        k.push('/');
    }
    k.push_str(&format!(
        "{a}/CloudTrail/{r}/{d}/{a}_CloudTrail_{r}_{t}_{id}{ext}",
        a = p.account,
        r = p.region,
        d = p.date.format("%Y/%m/%d"),
        t = p.stamp.format("%Y%m%dT%H%MZ"),
        id = p.id,
        ext = p.ext,
    ));
    k
}

fn key_parts() -> impl Strategy<Value = KeyParts> {
    let date = (1970i32..=2099, 1u32..=12, 1u32..=31)
        .prop_filter_map("valid date", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d));
    (
        // Prefix segments: anything without '/', including "AWSLogs" itself, never empty
        // overall, never the keytrail output prefix or a digest/insight directory.
        prop::option::of(
            prop::collection::vec(
                prop_oneof![
                    "[a-zA-Z0-9 _.!-]{1,10}",
                    Just("AWSLogs".to_owned()),
                    Just("".to_owned())
                ],
                1..4,
            )
            .prop_map(|v| v.join("/"))
            .prop_filter("non-empty, not keytrail/", |p| {
                !p.is_empty() && p != "keytrail" && !p.starts_with("keytrail/")
            }),
        ),
        prop::option::of("o-[a-z0-9]{10,32}"),
        "[0-9]{12}",
        "[a-z]{2}(-gov)?-[a-z]{4,9}-[0-9]",
        date,
        (1970i32..=2099, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60),
        "[A-Za-z0-9_]{1,20}",
        prop::sample::select(vec![".json.gz", ".json", ".jsonl", ".jsonl.gz", ".JSON.GZ"]),
    )
        .prop_map(
            |(prefix, org_id, account, region, date, (y, mo, d, h, mi), id, ext)| KeyParts {
                prefix,
                org_id,
                account,
                region,
                date,
                stamp: NaiveDate::from_ymd_opt(y, mo, d)
                    .and_then(|d| d.and_hms_opt(h, mi, 0))
                    .expect("valid stamp"),
                id,
                ext,
            },
        )
}

/// Form-style encoding: space as '+', unreserved ASCII as is, every other byte %XX.
fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

static S3_ROUNDTRIP: AtomicU64 = AtomicU64::new(0);
static S3_CLASSIFY: AtomicU64 = AtomicU64::new(0);
static S3_DECODE: AtomicU64 = AtomicU64::new(0);

proptest! {
    #![proptest_config(config())]

    fn p_s3_roundtrip(p in key_parts()) {
        tick(&S3_ROUNDTRIP);
        let key = format_key(&p);
        let k = parse_log_key(&key);
        prop_assert!(k.is_some(), "did not parse: {key}");
        let k = k.expect("checked");
        prop_assert_eq!(&k.prefix, &p.prefix, "{}", key);
        prop_assert_eq!(&k.org_id, &p.org_id, "{}", key);
        prop_assert_eq!(&k.account, &p.account);
        prop_assert_eq!(&k.region, &p.region);
        prop_assert_eq!(k.date, p.date);
        prop_assert_eq!(k.delivered, Utc.from_utc_datetime(&p.stamp));
        let stem = format!(
            "{a}_CloudTrail_{r}_{t}_{id}",
            a = p.account, r = p.region, t = p.stamp.format("%Y%m%dT%H%MZ"), id = p.id
        );
        prop_assert_eq!(&k.stem, &stem);
        prop_assert_eq!(classify_key(&key), ObjectKind::Log(k.clone()), "{}", key);
        // Through an S3 event notification and back.
        prop_assert_eq!(parse_log_key(&decode_event_key(&form_encode(&key))), Some(k));
    }

    fn p_s3_classify(key in prop_oneof![
        ".*",
        "[a-zA-Z0-9/_.-]{0,80}",
        prop::collection::vec(
            prop_oneof![
                Just("AWSLogs"), Just("CloudTrail"), Just("o-abc"), Just("111122223333"),
                Just("us-east-1"), Just("2026"), Just("10"), Just("04"), Just(""), Just("keytrail"),
                Just("111122223333_CloudTrail_us-east-1_20261004T0305Z_x.json.gz"),
                Just("111122223333_CloudTrail_us-east-1_.json"), Just(".json"), Just("é.JSON"),
                Just("CloudTrail-Digest"),
            ],
            0..12,
        ).prop_map(|v| v.join("/")),
    ]) {
        tick(&S3_CLASSIFY);
        let _ = classify_key(&key);
        let _ = parse_log_key(&key);
        let _ = keytrail::non_log_reason(&key);
    }

    fn p_s3_decode(raw in ".*", junk in "[%+0-9a-fA-Fé ]{0,40}") {
        tick(&S3_DECODE);
        let _ = decode_event_key(&raw);
        let _ = decode_event_key(&junk);
        prop_assert_eq!(decode_event_key(&form_encode(&raw)), raw);
    }
}

#[test]
fn s3key_roundtrip() {
    run("s3key_roundtrip", &S3_ROUNDTRIP, p_s3_roundtrip);
}
#[test]
fn s3key_classify_never_panics() {
    run("s3key_classify_never_panics", &S3_CLASSIFY, p_s3_classify);
}
#[test]
fn s3key_decode_event_key() {
    run("s3key_decode_event_key", &S3_DECODE, p_s3_decode);
}

// ---------------------------------------------------------------- 3. alarm

fn time_string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".*",
        "[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}T[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{0,12})?([+-][0-9]{4}|Z|[+-][0-9]{2}:[0-9]{2})?",
        "[ \t]*[0-9T:.+Z-]{0,30}[ \t]*",
    ]
}

fn alarm_json() -> impl Strategy<Value = Value> {
    let field = || prop_oneof![3 => json_value(), 1 => time_string().prop_map(Value::String)];
    (json_value(), field(), field(), field(), json_value()).prop_map(
        |(base, name, state, time, trigger)| {
            let mut m = match base {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            m.insert("AlarmName".into(), name);
            m.insert("NewStateValue".into(), state);
            m.insert("StateChangeTime".into(), time);
            m.insert("Trigger".into(), trigger);
            Value::Object(m)
        },
    )
}

static ALARM_JSON: AtomicU64 = AtomicU64::new(0);
static ALARM_SNS: AtomicU64 = AtomicU64::new(0);
static ALARM_TIME: AtomicU64 = AtomicU64::new(0);

proptest! {
    #![proptest_config(config())]

    fn p_alarm_json(
        v in prop_oneof![
            json_value(),
            alarm_json(),
            alarm_json().prop_map(|a| json!({"Records": [{"Sns": {"Type": "Notification", "Message": a.to_string()}}]})),
        ]
    ) {
        tick(&ALARM_JSON);
        let _ = parse_payload(&v);
    }

    fn p_alarm_sns(
        message in prop_oneof![".*", json_value().prop_map(|v| v.to_string()), alarm_json().prop_map(|v| v.to_string())],
        kind in prop_oneof![Just(json!("Notification")), Just(json!("SubscriptionConfirmation")), json_value()],
        wrapped in any::<bool>(),
    ) {
        tick(&ALARM_SNS);
        let sns = json!({"Type": kind, "Message": message});
        let v = if wrapped { json!({"Records": [{"EventSource": "aws:sns", "Sns": sns}]}) } else { sns };
        let _ = parse_payload(&v);
    }

    fn p_alarm_time(t in time_string()) {
        tick(&ALARM_TIME);
        let _ = parse_state_change_time(&t);
    }
}

#[test]
fn alarm_parse_payload_never_panics() {
    run(
        "alarm_parse_payload_never_panics",
        &ALARM_JSON,
        p_alarm_json,
    );
}
#[test]
fn alarm_sns_envelope_never_panics() {
    run("alarm_sns_envelope_never_panics", &ALARM_SNS, p_alarm_sns);
}
#[test]
fn alarm_state_change_time_never_panics() {
    run(
        "alarm_state_change_time_never_panics",
        &ALARM_TIME,
        p_alarm_time,
    );
}

// ---------------------------------------------------------------- 4. sanitiser

/// Strings rich in the characters the sanitiser must handle.
fn nasty_string() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        any::<char>(),
        prop::sample::select(vec![
            '\u{1b}', '\u{9b}', '[', ']', '\\', '\u{7}', '\n', '\r', '\t', '\0', '\u{7f}',
            '\u{85}', '\u{9f}', '\u{200b}', '\u{202e}', '\u{2066}', '\u{feff}', '…', 'm', '0', ';',
            'é', '\u{2028}', '\u{2029}', '\u{ad}', '\u{180e}',
        ]),
    ];
    prop::collection::vec(c, 0..64).prop_map(|v| v.into_iter().collect())
}

static SANITIZE: AtomicU64 = AtomicU64::new(0);

proptest! {
    #![proptest_config(config())]

    fn p_sanitize(s in prop_oneof![".*", nasty_string()], n in prop_oneof![0usize..4, 0usize..80, Just(1024usize)]) {
        tick(&SANITIZE);
        let out = clean(&s, n);
        prop_assert!(out.chars().count() <= n + 1, "{} chars > {}: {:?}", out.chars().count(), n + 1, out);
        for c in out.chars() {
            prop_assert!(!matches!(c, '\n' | '\r' | '\t' | '\u{1b}'), "{:?} in {:?}", c, out);
            prop_assert!(!c.is_control(), "control {:?} in {:?}", c, out);
            prop_assert!(!('\u{80}'..='\u{9f}').contains(&c), "C1 {:?} in {:?}", c, out);
        }
        prop_assert_eq!(clean(&out, n + 1), out);
    }
}

#[test]
fn sanitize_clean() {
    run("sanitize_clean", &SANITIZE, p_sanitize);
}

// ---------------------------------------------------------------- 5. notifications

static NOTIFY: AtomicU64 = AtomicU64::new(0);

proptest! {
    #![proptest_config(config())]

    fn p_notification(
        name in prop_oneof![".+", nasty_string().prop_filter("non-empty", |s| !s.is_empty()), ".{200,400}"],
        reason in prop::option::of(prop_oneof![".*", nasty_string(), ".{1000,3000}"]),
        // Enriched (catalog metrics) and not-enriched alarms; the metric name itself is
        // not arbitrary here (see `notification_other_alarm_fields`).
        metric in prop::sample::select(vec!["KMSDecryptFailures", "KMSAccessDenied", "KMSKeyDisabled", "KMSApiCalls", "KMSFailures", "Whatever"]).prop_map(String::from),
        composite in any::<bool>(),
        minute in 0i64..(60 * 24 * 365 * 20),
    ) {
        tick(&NOTIFY);
        let when = (Utc.with_ymd_and_hms(2010, 1, 1, 0, 0, 0).single().expect("t") + Duration::minutes(minute))
            .format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
        let mut v = json!({"AlarmName": name, "NewStateValue": "ALARM", "OldStateValue": "OK",
            "StateChangeTime": when, "AWSAccountId": "111122223333",
            "Trigger": {"MetricName": metric, "Namespace": "KMSAudit", "Dimensions": [],
                "Period": 300, "EvaluationPeriods": 1}});
        if let Some(r) = &reason {
            v["NewStateReason"] = json!(r);
        }
        if composite {
            v["AlarmRule"] = json!("ALARM(\"a\")");
        }
        let alarm = match parse_payload(&v) {
            Payload::Alarm(a) => *a,
            other => return Err(TestCaseError::fail(format!("not an alarm: {other:?}"))),
        };
        let plan = plan_for(&alarm, "KMSAudit", Duration::minutes(15));
        let inv = build_investigation(
            InvestigationInputs {
                alarm: &alarm,
                plan: plan.as_ref(),
                gather: GatherInfo::default(),
                athena_table: "cloudtrail_logs",
                athena_date_partition: Some("logdate"),
                now: alarm.state_change_time + Duration::minutes(1),
            },
            Evidence::default(),
        );
        let s = notification_subject(&inv);
        prop_assert!(s.chars().count() <= 100, "subject {} chars: {:?}", s.chars().count(), s);
        prop_assert!(!s.chars().any(char::is_control), "control char in subject {:?}", s);
        let b = notification_body(&inv);
        prop_assert!(b.len() <= 256 * 1024, "body {} bytes", b.len());
        prop_assert!(!b.contains('\u{1b}'), "ESC in body");
    }
}

#[test]
fn notification_subject_and_body() {
    run("notification_subject_and_body", &NOTIFY, p_notification);
}

// Beyond issue 7's brief: every other alarm field a notification prints, arbitrary.
// Ignored because it fails today (see the issue-7 report); run it with
// `cargo test -p keytrail --test properties -- --ignored` or through scripts/fuzz.sh.
static NOTIFY_OTHER: AtomicU64 = AtomicU64::new(0);

fn other_config() -> ProptestConfig {
    ProptestConfig {
        max_shrink_iters: 100_000,
        ..config()
    }
}

proptest! {
    #![proptest_config(other_config())]

    fn p_notification_other(
        state in prop_oneof![Just("ALARM".to_owned()), ".{1,120}"],
        old in prop::option::of(".{1,20}"),
        account in prop::option::of(".{1,20}"),
        region in prop::option::of(".{1,20}"),
        metric in prop_oneof![Just("KMSDecryptFailures".to_owned()), ".{1,20}"],
        namespace in prop_oneof![Just("KMSAudit".to_owned()), ".{1,20}"],
        dim in prop::option::of((".{1,10}", ".{0,10}")),
        rule in prop::option::of(".{1,20}"),
    ) {
        tick(&NOTIFY_OTHER);
        let mut v = json!({"AlarmName": "a", "NewStateValue": state,
            "StateChangeTime": "2026-10-04T02:50:00.000+0000",
            "Trigger": {"MetricName": metric, "Namespace": namespace, "Period": 300, "EvaluationPeriods": 1,
                "Dimensions": dim.map(|(n, v)| vec![json!({"name": n, "value": v})]).unwrap_or_default()}});
        for (k, x) in [("OldStateValue", old), ("AWSAccountId", account), ("Region", region), ("AlarmRule", rule)] {
            if let Some(x) = x {
                v[k] = json!(x);
            }
        }
        let Payload::Alarm(alarm) = parse_payload(&v) else {
            return Ok(()); // e.g. a whitespace-only state is still an alarm; others are not our concern
        };
        let plan = plan_for(&alarm, "KMSAudit", Duration::minutes(15));
        let inv = build_investigation(
            InvestigationInputs {
                alarm: &alarm,
                plan: plan.as_ref(),
                gather: GatherInfo::default(),
                athena_table: "cloudtrail_logs",
                athena_date_partition: Some("logdate"),
                now: alarm.state_change_time + Duration::minutes(1),
            },
            Evidence::default(),
        );
        let s = notification_subject(&inv);
        prop_assert!(s.chars().count() <= 100, "subject {} chars: {:?}", s.chars().count(), s);
        prop_assert!(!s.chars().any(char::is_control), "control char in subject {:?}", s);
        let b = notification_body(&inv);
        prop_assert!(b.len() <= 256 * 1024, "body {} bytes", b.len());
        prop_assert!(!b.contains('\u{1b}'), "ESC in body: {:?}", b.lines().find(|l| l.contains('\u{1b}')));
    }
}

#[test]
fn notification_other_alarm_fields() {
    run(
        "notification_other_alarm_fields",
        &NOTIFY_OTHER,
        p_notification_other,
    );
}
