//! The S3 key layouts: CloudTrail's, which keytrail reads, and keytrail's own outputs,
//! each written and parsed here only.
//!
//! ```text
//! [prefix/]AWSLogs/[o-xxxx/]<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz
//! keytrail/summaries/<account>/<region>/YYYY/MM/DD/<stem>.json.gz     per-file summary
//! keytrail/markers/<sha256 of bucket, key, ETag>.json                  processing marker
//! keytrail/investigations/YYYY/MM/DD/<alarm>-<state change time>.json  investigation
//! keytrail/reviews/YYYY-MM/report.{json,md,html}                       monthly review
//! keytrail/state/baseline.json                                         the review's baseline
//! ```
//! Digest files live under `CloudTrail-Digest/`, Insights under `CloudTrail-Insight/`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use percent_encoding::percent_decode_str;

use crate::cloudtrail::record::is_account_id;

/// What a key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectKind {
    /// A CloudTrail log file in the standard layout.
    Log(LogKey),
    /// Not a log file; the reason says why.
    Skip(String),
}

/// The parts of a CloudTrail log file key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    pub prefix: Option<String>,
    pub org_id: Option<String>,
    pub account: String,
    pub region: String,
    pub date: NaiveDate,
    pub delivered: DateTime<Utc>,
    /// File name without `.json.gz` / `.json`.
    pub stem: String,
}

/// The prefix of keytrail's own outputs in the bucket; never read as logs.
pub const KEYTRAIL_PREFIX: &str = "keytrail/";

/// Where the baseline lives (in the summary bucket).
pub const BASELINE_KEY: &str = "keytrail/state/baseline.json";

/// The root of a trail's logs in its bucket: `[prefix/]AWSLogs/` (an organization
/// trail adds `o-xxxx/` under it, one folder per account below that).
pub fn logs_root(prefix: Option<&str>) -> String {
    match prefix {
        Some(p) => format!("{p}/AWSLogs/"),
        None => "AWSLogs/".to_owned(),
    }
}

/// The folder of one account's logs under a root (`[prefix/]AWSLogs/[o-id/]`), whose
/// subfolders are regions.
pub fn log_account_prefix(root: &str, account: &str) -> String {
    format!("{root}{account}/CloudTrail/")
}

/// The folder of one account's and region's logs of a month.
pub fn log_month_prefix(root: &str, account: &str, region: &str, year: i32, month: u32) -> String {
    format!("{root}{account}/CloudTrail/{region}/{year:04}/{month:02}/")
}

/// The folder of one account's and region's logs of a day.
pub fn log_day_prefix(root: &str, account: &str, region: &str, day: NaiveDate) -> String {
    format!(
        "{root}{account}/CloudTrail/{region}/{}/",
        day.format("%Y/%m/%d")
    )
}

/// Per-file summaries, under the summary bucket.
pub const SUMMARIES_PREFIX: &str = "keytrail/summaries/";

/// Processing markers (claims and completions), under the summary bucket.
pub const MARKER_PREFIX: &str = "keytrail/markers/";

/// Where an unreadable baseline is set aside, at `now`, before a new one replaces it.
pub fn unreadable_baseline_key(now: DateTime<Utc>) -> String {
    format!(
        "keytrail/state/baseline.unreadable-{}.json",
        now.format("%Y%m%dT%H%M%SZ")
    )
}

/// The marker of one version of one object: a digest of bucket, key and ETag (quotes
/// stripped), so a new version of the same key is processed again.
pub fn marker_key(bucket: &str, key: &str, etag: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(bucket.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    h.update([0]);
    h.update(etag.trim_matches('"').as_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{MARKER_PREFIX}{hex}.json")
}

/// Where an investigation is stored: under the day of the alarm's state change, named
/// by the alarm (characters outside `[A-Za-z0-9._-]` replaced, at most 200) and time.
pub fn investigation_key(alarm_name: &str, state_change: DateTime<Utc>) -> String {
    let name: String = alarm_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    format!(
        "keytrail/investigations/{}/{}-{}.json",
        state_change.format("%Y/%m/%d"),
        name,
        state_change.format("%Y%m%dT%H%M%S%.3fZ")
    )
}

/// The folder of one month's review (`month` is `YYYY-MM`): `report.json`, `.md`, `.html`.
pub fn review_prefix(month: &str) -> String {
    format!("keytrail/reviews/{month}/")
}

/// The prefix of one account's and region's summaries of a month (`YYYY/MM`).
pub fn summaries_month_prefix(account: &str, region: &str, year: i32, month: u32) -> String {
    format!("{SUMMARIES_PREFIX}{account}/{region}/{year:04}/{month:02}/")
}

/// The parts of a summary key that [`LogKey::summary_key`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryKey {
    pub account: String,
    pub region: String,
    /// The day of the log file's folder.
    pub date: NaiveDate,
    pub stem: String,
}

/// Parses a key written by [`LogKey::summary_key`]; `None` for anything else.
pub fn parse_summary_key(key: &str) -> Option<SummaryKey> {
    let rest = key.strip_prefix(SUMMARIES_PREFIX)?;
    let parts: Vec<&str> = rest.split('/').collect();
    let [account, region, y, m, d, name] = parts.as_slice() else {
        return None;
    };
    let stem = name.strip_suffix(".json.gz")?;
    let date = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
    if !is_account_id(account) || region.is_empty() || stem.is_empty() {
        return None;
    }
    Some(SummaryKey {
        account: (*account).to_owned(),
        region: (*region).to_owned(),
        date,
        stem: (*stem).to_owned(),
    })
}

/// Decodes a key as it appears in S3 event notifications: `+` is a space, then `%XX`.
pub fn decode_event_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// True for names keytrail reads as CloudTrail content.
pub fn has_log_extension(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [".json.gz", ".json", ".jsonl", ".jsonl.gz"]
        .iter()
        .any(|ext| n.ends_with(ext))
}

fn strip_extension(name: &str) -> &str {
    for ext in [".json.gz", ".jsonl.gz", ".json", ".jsonl"] {
        if name.len() > ext.len() && name.to_ascii_lowercase().ends_with(ext) {
            return &name[..name.len() - ext.len()];
        }
    }
    name
}

/// Classifies an object key (already URL-decoded).
pub fn classify_key(key: &str) -> ObjectKind {
    if key.starts_with(KEYTRAIL_PREFIX) {
        return ObjectKind::Skip("keytrail output, not a CloudTrail log".into());
    }
    if let Some(reason) = non_log_reason(key) {
        return ObjectKind::Skip(reason);
    }
    match parse_log_key(key) {
        Some(k) => ObjectKind::Log(k),
        None => ObjectKind::Skip(
            "not in the CloudTrail log layout (AWSLogs/<account>/CloudTrail/...)".into(),
        ),
    }
}

/// Why a key or path cannot hold CloudTrail records, judged by its name alone:
/// digest and Insights directories, and names that are not `.json`/`.json.gz`.
pub fn non_log_reason(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    if segments.contains(&"CloudTrail-Digest") {
        return Some("CloudTrail digest file".into());
    }
    if segments.contains(&"CloudTrail-Insight") {
        return Some("CloudTrail Insights file".into());
    }
    let name = segments.last().copied().unwrap_or_default();
    (!has_log_extension(name)).then(|| "not a .json or .json.gz file".into())
}

/// Parses a log-file key in the standard or organization-trail layout.
pub fn parse_log_key(key: &str) -> Option<LogKey> {
    let segments: Vec<&str> = key.split('/').collect();
    // Use the last AWSLogs segment: a prefix may itself contain one.
    let at = segments.iter().rposition(|s| *s == "AWSLogs")?;
    let prefix = (at > 0).then(|| segments[..at].join("/"));
    let mut rest = &segments[at + 1..];
    let mut org_id = None;
    if rest.first().is_some_and(|s| s.starts_with("o-")) {
        org_id = Some(rest[0].to_owned());
        rest = &rest[1..];
    }
    let [account, service, region, y, m, d, name] = rest else {
        return None;
    };
    if *service != "CloudTrail" || !is_account_id(account) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
    let stem = strip_extension(name);
    // <account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>
    let expected = format!("{account}_CloudTrail_{region}_");
    let tail = stem.strip_prefix(&expected)?;
    let (stamp, id) = tail.split_once('_')?;
    if id.is_empty() {
        return None;
    }
    let delivered = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ")
        .ok()?
        .and_utc();
    Some(LogKey {
        prefix,
        org_id,
        account: (*account).to_owned(),
        region: (*region).to_owned(),
        date,
        delivered,
        stem: stem.to_owned(),
    })
}

/// The hit index: for each rule a log file matched, the log processor writes an
/// empty object `keytrail/index/<rule id>/<YYYY/MM/DD/HH of delivery>/<log key>`
/// before it publishes the file's metrics. An alarm on a rule then lists the hours
/// of its window under that rule and reads only those files, instead of listing every
/// account and Region of the trail.
pub const HIT_INDEX_PREFIX: &str = "keytrail/index/";

/// The index prefix of `rule`'s files delivered in the hour of `t`.
pub fn hit_index_hour_prefix(rule: &str, t: DateTime<Utc>) -> String {
    format!("{HIT_INDEX_PREFIX}{rule}/{}/", t.format("%Y/%m/%d/%H"))
}

/// The index entry of the log file `log_key` (delivered at `delivered`) for `rule`.
pub fn hit_index_key(rule: &str, delivered: DateTime<Utc>, log_key: &str) -> String {
    format!("{}{log_key}", hit_index_hour_prefix(rule, delivered))
}

/// The log key an index entry names, given the hour prefix it was listed under.
pub fn log_key_of_hit(entry: &str, hour_prefix: &str) -> Option<String> {
    entry
        .strip_prefix(hour_prefix)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

impl LogKey {
    /// Where the log processor writes this file's summary.
    pub fn summary_key(&self) -> String {
        format!(
            "{SUMMARIES_PREFIX}{}/{}/{}/{}.json.gz",
            self.account,
            self.region,
            self.date.format("%Y/%m/%d"),
            self.stem
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_index_entries_name_their_log_file() {
        let t: DateTime<Utc> = "2026-10-04T02:45:00Z".parse().expect("t");
        let log = "AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/us-east-1/2026/10/04/111122223333_CloudTrail_us-east-1_20261004T0245Z_x.json.gz";
        let entry = hit_index_key("decrypt_failures", t, log);
        assert_eq!(
            entry,
            format!("keytrail/index/decrypt_failures/2026/10/04/02/{log}")
        );
        let hour = hit_index_hour_prefix("decrypt_failures", t);
        assert_eq!(log_key_of_hit(&entry, &hour).as_deref(), Some(log));
        assert_eq!(log_key_of_hit(&hour, &hour), None);
    }

    const STD: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/04/111122223333_CloudTrail_us-east-1_20261004T0305Z_AbCdEf0123456789.json.gz";

    #[test]
    fn summary_keys_parse_back() {
        let k = parse_log_key(STD).expect("parses");
        let s = parse_summary_key(&k.summary_key()).expect("summary key");
        assert_eq!(
            (
                s.account.as_str(),
                s.region.as_str(),
                s.date,
                s.stem.as_str()
            ),
            (
                k.account.as_str(),
                k.region.as_str(),
                k.date,
                k.stem.as_str()
            )
        );
        assert!(k.summary_key().starts_with(&summaries_month_prefix(
            "111122223333",
            "us-east-1",
            2026,
            10
        )));
        for bad in [
            "keytrail/summaries/111122223333/us-east-1/2026/10/04/x.json",
            "keytrail/summaries/111122223333/us-east-1/2026/13/04/x.json.gz",
            "keytrail/summaries/1111/us-east-1/2026/10/04/x.json.gz",
            "keytrail/summaries/111122223333/us-east-1/2026/10/x.json.gz",
            "other/111122223333/us-east-1/2026/10/04/x.json.gz",
        ] {
            assert_eq!(parse_summary_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn log_prefixes_are_what_parse_log_key_reads() {
        let k = parse_log_key(STD).expect("parses");
        let root = logs_root(None);
        assert!(STD.starts_with(&log_account_prefix(&root, &k.account)));
        assert!(STD.starts_with(&log_month_prefix(&root, &k.account, &k.region, 2026, 10)));
        assert!(STD.starts_with(&log_day_prefix(&root, &k.account, &k.region, k.date)));
        assert_eq!(logs_root(Some("trails")), "trails/AWSLogs/");
    }

    #[test]
    fn output_keys() {
        let t = DateTime::parse_from_rfc3339("2026-10-04T02:50:00.123Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(
            investigation_key("a", t),
            "keytrail/investigations/2026/10/04/a-20261004T025000.123Z.json"
        );
        assert_eq!(
            investigation_key("KMS alarm/1", t),
            "keytrail/investigations/2026/10/04/KMS_alarm_1-20261004T025000.123Z.json"
        );
        assert_eq!(review_prefix("2026-10"), "keytrail/reviews/2026-10/");
        assert_eq!(
            unreadable_baseline_key(t),
            "keytrail/state/baseline.unreadable-20261004T025000Z.json"
        );
        assert_ne!(
            marker_key("b", "k", "\"e1\""),
            marker_key("b", "k", "\"e2\"")
        );
        assert_eq!(marker_key("b", "k", "\"e1\""), marker_key("b", "k", "e1"));
        assert!(marker_key("b", "k", "e").starts_with(MARKER_PREFIX));
        for out in [
            investigation_key("a", t),
            review_prefix("2026-10"),
            BASELINE_KEY.to_owned(),
            marker_key("b", "k", "e"),
        ] {
            assert!(matches!(classify_key(&out), ObjectKind::Skip(_)), "{out}");
        }
    }

    #[test]
    fn standard_layout() {
        let k = parse_log_key(STD).expect("parses");
        assert_eq!(k.account, "111122223333");
        assert_eq!(k.region, "us-east-1");
        assert_eq!(k.date.to_string(), "2026-10-04");
        assert_eq!(k.delivered.to_rfc3339(), "2026-10-04T03:05:00+00:00");
        assert_eq!(k.prefix, None);
        assert_eq!(k.org_id, None);
        assert_eq!(
            k.summary_key(),
            "keytrail/summaries/111122223333/us-east-1/2026/10/04/111122223333_CloudTrail_us-east-1_20261004T0305Z_AbCdEf0123456789.json.gz"
        );
    }

    #[test]
    fn org_trail_with_prefix() {
        let key = "audit/logs/AWSLogs/o-a1b2c3d4e5/444455556666/CloudTrail/eu-west-1/2026/10/04/444455556666_CloudTrail_eu-west-1_20261004T0410Z_x1.json.gz";
        let k = parse_log_key(key).expect("parses");
        assert_eq!(k.prefix.as_deref(), Some("audit/logs"));
        assert_eq!(k.org_id.as_deref(), Some("o-a1b2c3d4e5"));
        assert_eq!(k.account, "444455556666");
        assert_eq!(k.region, "eu-west-1");
    }

    #[test]
    fn url_encoded_event_keys() {
        assert_eq!(
            decode_event_key("my+logs/AWSLogs/a%3Ab.json.gz"),
            "my logs/AWSLogs/a:b.json.gz"
        );
        assert_eq!(decode_event_key("a%2Bb"), "a+b");
        let encoded = format!("my+prefix%21/{STD}");
        let k = parse_log_key(&decode_event_key(&encoded)).expect("parses");
        assert_eq!(k.prefix.as_deref(), Some("my prefix!"));
    }

    #[test]
    fn non_logs_are_skipped_with_reasons() {
        let digest = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/10/04/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261004T040000Z.json.gz";
        assert_eq!(
            classify_key(digest),
            ObjectKind::Skip("CloudTrail digest file".into())
        );
        let insight = "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/10/04/x.json.gz";
        assert_eq!(
            classify_key(insight),
            ObjectKind::Skip("CloudTrail Insights file".into())
        );
        assert!(
            matches!(classify_key("AWSLogs/x/readme.txt"), ObjectKind::Skip(r) if r.contains(".json"))
        );
        assert!(
            matches!(classify_key("keytrail/summaries/a.json.gz"), ObjectKind::Skip(r) if r.contains("keytrail"))
        );
        assert!(matches!(classify_key(STD), ObjectKind::Log(_)));
    }

    #[test]
    fn malformed_layouts_are_rejected() {
        assert!(parse_log_key("AWSLogs/123/CloudTrail/us-east-1/2026/10/04/x.json.gz").is_none());
        assert!(parse_log_key("AWSLogs/111122223333/CloudTrail/us-east-1/2026/13/04/111122223333_CloudTrail_us-east-1_20261004T0305Z_a.json.gz").is_none());
        assert!(parse_log_key("AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/04/111122223333_CloudTrail_us-east-1_2026_a.json.gz").is_none());
    }
}
