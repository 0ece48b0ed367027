//! Streaming CloudTrail reader.
//!
//! A CloudTrail log file is one JSON object, `{"Records":[...]}`, usually gzipped
//! (possibly as several gzip members). The reader decodes it from any [`Read`] and
//! hands records to a callback one at a time, so memory stays bounded by the largest
//! single record, never by the file. It also accepts JSON Lines (one record per line)
//! and a bare JSON array of records, which exports and test suites use.
//!
//! Damage is reported, never hidden: a record that is not an object is counted as bad
//! and its neighbours are still delivered; a truncated gzip or broken JSON stops the
//! file with an error naming the file and the offset, after every record read before
//! the damage has been delivered.

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use flate2::bufread::MultiGzDecoder;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::model::Record;

/// What the reader hands to the callback.
#[derive(Debug)]
pub enum Item {
    /// A record, deduplicated by `eventID` within the file.
    Record(Box<Record>),
    /// An element of `Records` that could not be understood.
    Bad {
        /// 0-based position of the element in the file.
        index: u64,
        reason: String,
    },
}

/// Why a file stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "{file}: damaged gzip data near compressed byte {compressed_offset} \
         (after {offset} decompressed bytes): {source}"
    )]
    Gzip {
        file: String,
        compressed_offset: u64,
        offset: u64,
        source: io::Error,
    },
    #[error(
        "{file}: malformed JSON at decompressed byte {offset} (line {line}, column {column}): {message}"
    )]
    Json {
        file: String,
        offset: u64,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: read failed at byte {offset}: {source}")]
    Io {
        file: String,
        offset: u64,
        source: io::Error,
    },
}

/// The outcome of reading one file.
#[derive(Debug, Default)]
pub struct ReadSummary {
    /// Records delivered (after dedup), good or bad.
    pub records: u64,
    /// Elements that were not records.
    pub bad_records: u64,
    /// Records dropped because their eventID was already seen in this file.
    pub duplicates: u64,
    /// Set when the content is not a CloudTrail log (digest, empty, ...): the reason.
    pub not_a_log: Option<String>,
    /// Set when the file is damaged; records before the damage were delivered.
    pub error: Option<ReadError>,
    /// Decompressed bytes read.
    pub bytes: u64,
}

/// Reads CloudTrail records from `input`, gzip or plain (detected from the magic
/// bytes, not the name), calling `sink` for each. `file` names the input in errors.
pub fn read_records<R: Read>(file: &str, input: R, mut sink: impl FnMut(Item)) -> ReadSummary {
    let compressed = Rc::new(Cell::new(0u64));
    let decompressed = Rc::new(Cell::new(0u64));
    let mut raw = BufReader::with_capacity(
        64 * 1024,
        Counting {
            inner: input,
            count: compressed.clone(),
        },
    );
    let gz = match raw.fill_buf() {
        Ok(buf) => buf.starts_with(&[0x1f, 0x8b]),
        Err(source) => {
            return ReadSummary {
                error: Some(ReadError::Io {
                    file: file.to_owned(),
                    offset: 0,
                    source,
                }),
                ..ReadSummary::default()
            };
        }
    };
    let body: Box<dyn Read + '_> = if gz {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    // A UTF-8 byte-order mark (some exporters write one) is not JSON: skip it.
    let mut buffered = BufReader::with_capacity(64 * 1024, body);
    match buffered.fill_buf() {
        Ok(head) => {
            if head.starts_with(&[0xef, 0xbb, 0xbf]) {
                buffered.consume(3);
                decompressed.set(3);
            }
        }
        // Damage in the first block: nothing to deliver, the error is the outcome.
        Err(source) => {
            let file = file.to_owned();
            let error = if gz {
                ReadError::Gzip {
                    file,
                    compressed_offset: compressed.get(),
                    offset: 0,
                    source,
                }
            } else {
                ReadError::Io {
                    file,
                    offset: 0,
                    source,
                }
            };
            return ReadSummary {
                error: Some(error),
                ..ReadSummary::default()
            };
        }
    }
    // Counted above the buffer, so the count is what the parser has consumed: error
    // offsets point at the damage, not at the end of a 64 KiB read-ahead.
    let counted = Counting {
        inner: buffered,
        count: decompressed.clone(),
    };
    let mut state = State {
        sink: &mut sink,
        seen: HashSet::new(),
        summary: ReadSummary::default(),
        index: 0,
    };
    let mut de = serde_json::Deserializer::from_reader(counted);
    let mut values = 0u64;
    let mut not_a_log: Option<String> = None;
    let mut stray = 0u64;
    let result: Result<(), serde_json::Error> = (|| {
        loop {
            match de.end() {
                Ok(()) => return Ok(()),
                Err(e) if e.is_io() => return Err(e),
                Err(_) => {} // more input follows
            }
            values += 1;
            let shape = TopLevel { state: &mut state }.deserialize(&mut de)?;
            if let Shape::NotALog(reason) = shape {
                not_a_log.get_or_insert(reason);
                stray += 1;
            }
        }
    })();
    let mut summary = state.summary;
    summary.bytes = decompressed.get();
    if let Err(e) = result {
        let offset = decompressed.get();
        summary.error = Some(if e.is_io() {
            let source = io::Error::new(
                e.io_error_kind().unwrap_or(io::ErrorKind::Other),
                e.to_string(),
            );
            if gz {
                ReadError::Gzip {
                    file: file.to_owned(),
                    compressed_offset: compressed.get(),
                    offset,
                    source,
                }
            } else {
                ReadError::Io {
                    file: file.to_owned(),
                    offset,
                    source,
                }
            }
        } else {
            ReadError::Json {
                file: file.to_owned(),
                offset,
                line: e.line(),
                column: e.column(),
                message: strip_position(&e),
            }
        });
    } else if values == 0 {
        summary.not_a_log = Some("empty file".into());
    } else if summary.records == 0 {
        summary.not_a_log = not_a_log;
    }
    if summary.records > 0 && stray > 0 {
        // A non-record value among records (JSON Lines): count it, never drop it silently.
        summary.bad_records += stray;
        summary.records += stray;
    }
    summary
}

fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

struct State<'a, F> {
    sink: &'a mut F,
    seen: HashSet<u64>,
    summary: ReadSummary,
    index: u64,
}

impl<F: FnMut(Item)> State<'_, F> {
    fn element(&mut self, value: Value) {
        let index = self.index;
        self.index += 1;
        match Record::from_value(value) {
            Ok(record) => {
                if record.event_id.is_some() && !self.seen.insert(identity_hash(&record)) {
                    self.summary.duplicates += 1;
                    return;
                }
                self.summary.records += 1;
                (self.sink)(Item::Record(Box::new(record)));
            }
            Err(reason) => {
                self.summary.records += 1;
                self.summary.bad_records += 1;
                (self.sink)(Item::Bad { index, reason });
            }
        }
    }
}

/// What makes a delivery a duplicate: CloudTrail re-delivers the same event with the
/// same eventID and content. Test suites and docs reuse placeholder eventIDs ("1",
/// "...") for different events, so the id alone would drop real records.
fn identity_hash(r: &Record) -> u64 {
    let mut h = DefaultHasher::new();
    r.event_id.hash(&mut h);
    r.event_time.hash(&mut h);
    r.event_source.hash(&mut h);
    r.event_name.hash(&mut h);
    r.request_id.hash(&mut h);
    r.error_code.hash(&mut h);
    r.source_ip_address.hash(&mut h);
    r.recipient_account_id.hash(&mut h);
    if let Some(ui) = &r.user_identity {
        ui.arn.hash(&mut h);
        ui.principal_id.hash(&mut h);
        ui.account_id.hash(&mut h);
    }
    for res in &r.resources {
        res.arn.hash(&mut h);
    }
    if let Some(p) = &r.request_parameters {
        p.to_string().hash(&mut h);
    }
    h.finish()
}

enum Shape {
    Records,
    NotALog(String),
}

/// Visits one top-level JSON value.
struct TopLevel<'s, 'a, F> {
    state: &'s mut State<'a, F>,
}

impl<'de, F: FnMut(Item)> DeserializeSeed<'de> for TopLevel<'_, '_, F> {
    type Value = Shape;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Item)> Visitor<'de> for TopLevel<'_, '_, F> {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail log file object, a record, or an array of records")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut saw_records = false;
        let mut other = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "Records" {
                saw_records = true;
                map.next_value_seed(RecordsSeq {
                    state: &mut *self.state,
                })?;
            } else {
                let v: Value = map.next_value()?;
                if !saw_records {
                    other.insert(key, v);
                }
            }
        }
        if saw_records {
            return Ok(Shape::Records);
        }
        if other.contains_key("digestStartTime") || other.contains_key("logFiles") {
            return Ok(Shape::NotALog("CloudTrail digest file (no Records)".into()));
        }
        if ["eventName", "eventSource", "eventVersion", "eventID"]
            .iter()
            .any(|k| other.contains_key(*k))
        {
            self.state.element(Value::Object(other));
            return Ok(Shape::Records);
        }
        Ok(Shape::NotALog("JSON object without a Records array".into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            self.state.element(v);
        }
        Ok(Shape::Records)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::NotALog(
            "top-level JSON string, not CloudTrail".into(),
        ))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::NotALog(
            "top-level JSON number, not CloudTrail".into(),
        ))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::NotALog(
            "top-level JSON number, not CloudTrail".into(),
        ))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::NotALog(
            "top-level JSON number, not CloudTrail".into(),
        ))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::NotALog(
            "top-level JSON boolean, not CloudTrail".into(),
        ))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Shape, E> {
        Ok(Shape::NotALog("top-level JSON null, not CloudTrail".into()))
    }
}

/// Streams the elements of `Records`.
struct RecordsSeq<'s, 'a, F> {
    state: &'s mut State<'a, F>,
}

impl<'de, F: FnMut(Item)> DeserializeSeed<'de> for RecordsSeq<'_, '_, F> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Item)> Visitor<'de> for RecordsSeq<'_, '_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Records to be an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            self.state.element(v);
        }
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    fn collect(name: &str, data: &[u8]) -> (Vec<Record>, Vec<String>, ReadSummary) {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        let summary = read_records(name, data, |item| match item {
            Item::Record(r) => good.push(*r),
            Item::Bad { reason, .. } => bad.push(reason),
        });
        (good, bad, summary)
    }

    const LOG: &str = r#"{"Records":[
        {"eventID":"a","eventName":"Decrypt","eventSource":"kms.amazonaws.com"},
        "garbage",
        {"eventID":"b","eventName":"Encrypt","eventSource":"kms.amazonaws.com"},
        {"eventID":"a","eventName":"Decrypt","eventSource":"kms.amazonaws.com"},
        {"eventID":"a","eventName":"Encrypt","eventSource":"kms.amazonaws.com"}
    ]}"#;

    #[test]
    fn plain_log_with_bad_element_and_duplicate() {
        let (good, bad, s) = collect("x.json", LOG.as_bytes());
        // The re-delivered "a" is dropped; a different event reusing id "a" is kept.
        assert_eq!(good.len(), 3);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].contains("string"));
        assert_eq!((s.records, s.bad_records, s.duplicates), (4, 1, 1));
        assert!(s.error.is_none() && s.not_a_log.is_none());
    }

    #[test]
    fn multi_member_gzip() {
        let mut data = gz(br#"{"Records":[{"eventID":"1"}]}"#);
        data.extend(gz(br#"{"Records":[{"eventID":"2"},{"eventID":"3"}]}"#));
        let (good, _, s) = collect("m.json.gz", &data);
        assert_eq!(good.len(), 3);
        assert!(s.error.is_none(), "{:?}", s.error);
    }

    #[test]
    fn truncated_gzip_keeps_records_before_the_damage() {
        let mut body = String::from(r#"{"Records":["#);
        for i in 0..2000 {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"eventID":"{i}","eventName":"Decrypt","eventSource":"kms.amazonaws.com","n":"{}"}}"#,
                i * 7919 % 10007
            ));
        }
        body.push_str("]}");
        let data = gz(body.as_bytes());
        let cut = &data[..data.len() / 2];
        let (good, _, s) = collect("AWSLogs/x.json.gz", cut);
        assert!(
            good.len() > 100,
            "only {} records before the damage",
            good.len()
        );
        let err = s.error.expect("truncation is an error").to_string();
        assert!(
            err.starts_with("AWSLogs/x.json.gz: damaged gzip data near compressed byte"),
            "{err}"
        );
    }

    #[test]
    fn corrupt_gzip_is_an_error_naming_the_file() {
        let mut data = gz(LOG.as_bytes());
        let n = data.len();
        for b in &mut data[12..n - 8] {
            *b ^= 0x5a;
        }
        let (_, _, s) = collect("bad.json.gz", &data);
        let err = s.error.expect("corruption is an error").to_string();
        assert!(err.contains("bad.json.gz"), "{err}");
    }

    #[test]
    fn broken_json_reports_offset_after_good_records() {
        let data = br#"{"Records":[{"eventID":"1"},{"eventID":"2"},{"eventID": }]}"#;
        let (good, _, s) = collect("b.json", data);
        assert_eq!(good.len(), 2);
        let err = s.error.expect("error").to_string();
        assert!(
            err.contains("b.json: malformed JSON at decompressed byte"),
            "{err}"
        );
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn error_offset_points_at_the_damage_and_a_bom_is_skipped() {
        let mut data = String::from(r#"{"Records":["#);
        for i in 0..3000 {
            data.push_str(&format!(r#"{{"eventID":"{i}"}},"#));
        }
        let at = data.len();
        data.push_str(r#"{"eventID": }]}"#);
        let (good, _, s) = collect("o.json", data.as_bytes());
        assert_eq!(good.len(), 3000);
        let err = s.error.expect("error").to_string();
        let offset: usize = err
            .split("decompressed byte ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("offset in the message");
        assert!(
            offset >= at && offset <= at + 16,
            "offset {offset}, damage at {at}: {err}"
        );
        let mut bom = vec![0xef, 0xbb, 0xbf];
        bom.extend_from_slice(br#"{"Records":[{"eventID":"a"}]}"#);
        let (good, _, s) = collect("bom.json", &bom);
        assert_eq!(good.len(), 1);
        assert!(s.error.is_none(), "{:?}", s.error);
    }

    #[test]
    fn json_lines_and_arrays() {
        let (good, _, s) = collect(
            "l.jsonl",
            b"{\"eventName\":\"A\"}\n{\"eventName\":\"B\"}\n\n",
        );
        assert_eq!(good.len(), 2);
        assert!(s.not_a_log.is_none());
        let (good, _, s) = collect("a.json", br#"[{"eventName":"A"},{"eventName":"B"}]"#);
        assert_eq!(good.len(), 2);
        assert_eq!(s.bad_records, 0);
        let (good, _, s) = collect("m.jsonl", b"{\"eventName\":\"A\"}\n{\"hello\":1}\n7\n");
        assert_eq!(good.len(), 1);
        assert_eq!(
            (s.records, s.bad_records),
            (3, 2),
            "stray lines are counted as bad"
        );
    }

    #[test]
    fn digest_and_empty_files_are_not_logs() {
        let digest =
            br#"{"awsAccountId":"1","digestStartTime":"2026-01-01T00:00:00Z","logFiles":[]}"#;
        let (_, _, s) = collect("d.json", digest);
        assert_eq!(
            s.not_a_log.as_deref(),
            Some("CloudTrail digest file (no Records)")
        );
        let (_, _, s) = collect("e.json", b"  \n");
        assert_eq!(s.not_a_log.as_deref(), Some("empty file"));
        let (_, _, s) = collect("o.json", br#"{"foo": 1}"#);
        assert!(s.not_a_log.is_some());
    }

    #[test]
    fn records_null_is_an_empty_log() {
        let (good, _, s) = collect("n.json", br#"{"Records":null}"#);
        assert!(good.is_empty());
        assert!(s.error.is_none());
    }
}
