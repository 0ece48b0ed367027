//! CloudTrail's S3 object layout.
//!
//! ```text
//! [prefix/]AWSLogs/[o-xxxx/]<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz
//! ```
//! Digest files live under `CloudTrail-Digest/`, Insights under `CloudTrail-Insight/`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use percent_encoding::percent_decode_str;

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
    if *service != "CloudTrail" || !is_account(account) {
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

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl LogKey {
    /// Where the log processor writes this file's summary.
    pub fn summary_key(&self) -> String {
        format!(
            "keytrail/summaries/{}/{}/{}/{}.json.gz",
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

    const STD: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/04/111122223333_CloudTrail_us-east-1_20261004T0305Z_AbCdEf0123456789.json.gz";

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
