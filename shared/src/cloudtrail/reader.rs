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
use std::hash::{Hash, Hasher};
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use xxhash_rust::xxh3::xxh3_64;

use crate::cloudtrail::framing::{Facts, Scan, Source, kind_of, scan_value, string_end};
use crate::cloudtrail::gunzip::Gunzip;
use crate::cloudtrail::lenient;
use crate::cloudtrail::record::{Record, RecordError, json_kind};

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

/// Which records the callback receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// Every record, parsed.
    All,
    /// Only KMS records (`eventSource` `kms.amazonaws.com`), and the S3 data events
    /// that name an SSE-KMS key ([`Record::is_s3_sse_kms_request`]): the records
    /// keytrail's analysis reads. The others are framed, checked, counted and
    /// deduplicated without being parsed; of S3's, only those whose bytes hold the
    /// header's name are parsed, to be sure.
    Kms,
}

/// The largest record the reader keeps by default: 4 MiB. CloudTrail's own events
/// are far smaller (it omits request and response elements larger than 100 KB).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 4 << 20;

/// Bounds on what one file may make the reader hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// A record larger than this is counted as bad ("record larger than N MiB") and
    /// stepped over without being held.
    pub max_record_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// Reads CloudTrail records from `input`, gzip or plain (detected from the magic
/// bytes, not the name), calling `sink` for each. `file` names the input in errors.
pub fn read_records<R: Read>(file: &str, input: R, sink: impl FnMut(Item)) -> ReadSummary {
    read_selected(file, input, Select::All, ReadLimits::default(), sink)
}

/// Like [`read_records`], but only KMS records reach `sink` (and only they are
/// parsed): what every keytrail analysis needs, at close to the speed of gunzip.
pub fn read_kms_records<R: Read>(file: &str, input: R, sink: impl FnMut(Item)) -> ReadSummary {
    read_selected(file, input, Select::Kms, ReadLimits::default(), sink)
}

/// [`read_records`] or [`read_kms_records`] with explicit limits.
pub fn read_with<R: Read>(
    file: &str,
    input: R,
    select: Select,
    limits: ReadLimits,
    sink: impl FnMut(Item),
) -> ReadSummary {
    read_selected(file, input, select, limits, sink)
}

/// The decompressed stream, held in one reusable window. Records are found and
/// checked in place; the window only grows for a record larger than itself.
struct Window<R> {
    src: R,
    buf: Vec<u8>,
    /// Everything before `pos` is done with.
    pos: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// A read error found while looking ahead, returned by the next [`Window::more`].
    pending: Option<io::Error>,
}

const WINDOW: usize = 512 * 1024;

impl<R: Read> Window<R> {
    /// Reads more, first dropping the bytes before `pos` (which becomes 0).
    /// `Ok(false)` at the end of the stream.
    fn more(&mut self) -> io::Result<bool> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.base += self.pos as u64;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).max(WINDOW);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next byte that is not whitespace (left at `pos`), counting lines;
    /// `None` at the end of the stream.
    fn peek(&mut self, lines: &mut Lines) -> io::Result<Option<u8>> {
        loop {
            while self.pos < self.end {
                let c = self.buf[self.pos];
                match c {
                    b' ' | b'\t' | b'\r' => {}
                    b'\n' => lines.newline(self.base + self.pos as u64 + 1),
                    _ => return Ok(Some(c)),
                }
                self.pos += 1;
            }
            if !self.more()? {
                return Ok(None);
            }
        }
    }

    /// Frames the value at `pos`, reading more as needed; a value longer than
    /// `limit` bytes is `TooLarge` (the window then holds at most about twice the
    /// limit: it grows by doubling).
    fn frame(&mut self, limit: usize) -> io::Result<Framed> {
        loop {
            match scan_value(&self.buf[..self.end], self.pos) {
                Scan::NeedMore => {
                    if self.end - self.pos > limit {
                        return Ok(Framed::TooLarge);
                    }
                    if !self.more()? {
                        return Ok(Framed::Eof);
                    }
                }
                // The last read may have brought in the whole of a value over the
                // limit: it is as refused as one that is still arriving.
                Scan::Done { end, .. } if end - self.pos > limit => return Ok(Framed::TooLarge),
                Scan::Done { end, facts } => return Ok(Framed::Done { end, facts }),
                Scan::Invalid { at, message, facts } => {
                    return Ok(Framed::Invalid { at, message, facts });
                }
            }
        }
    }

    /// Steps over the value at `pos` without keeping it (brackets and strings are
    /// followed, nothing else is checked): for a value too large to frame.
    /// `Ok(false)` when the stream ends inside it.
    fn skip_value(&mut self, lines: &mut Lines) -> io::Result<bool> {
        let (mut depth, mut in_string, mut escape, mut started) = (0u64, false, false, false);
        loop {
            while self.pos < self.end {
                let c = self.buf[self.pos];
                self.pos += 1;
                if in_string {
                    if escape {
                        escape = false;
                    } else if c == b'\\' {
                        escape = true;
                    } else if c == b'"' {
                        in_string = false;
                        if depth == 0 {
                            return Ok(true);
                        }
                    }
                    continue;
                }
                match c {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(true);
                        }
                    }
                    b'\n' => {
                        lines.newline(self.base + self.pos as u64);
                        if depth == 0 && started {
                            return Ok(true);
                        }
                    }
                    // The end of a bare number or literal.
                    b',' | b'}' | b']' | b' ' | b'\t' | b'\r' if depth == 0 && started => {
                        self.pos -= 1;
                        return Ok(true);
                    }
                    _ => {}
                }
                started = true;
            }
            if !self.more()? {
                return Ok(false);
            }
        }
    }

    /// Checks for `{ "Records" : [` at `pos` and steps over it.
    fn records_prefix(&mut self) -> io::Result<bool> {
        const WANT: &[u8] = b"{\"Records\":[";
        while self.end - self.pos < 256 {
            match self.more() {
                Ok(true) => {}
                Ok(false) => break,
                // Damage just ahead: look at what arrived before it; the next read
                // reports it, after the records already here have been delivered.
                Err(e) => {
                    self.pending = Some(e);
                    break;
                }
            }
        }
        let mut i = self.pos;
        for &w in WANT {
            while i < self.end && matches!(self.buf[i], b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
            }
            if i >= self.end || self.buf[i] != w {
                return Ok(false);
            }
            i += 1;
        }
        self.pos = i;
        Ok(true)
    }
}

/// Line numbers for error messages.
#[derive(Default)]
struct Lines {
    count: u64,
    /// Stream offset of the first byte of the current line.
    start: u64,
}

impl Lines {
    fn newline(&mut self, next: u64) {
        self.count += 1;
        self.start = next;
    }
    fn add(&mut self, facts: &Facts, base: u64) {
        self.count += facts.newlines;
        if let Some(s) = facts.line_start {
            self.start = base + s as u64;
        }
    }
}

/// A value found by [`Window::frame`].
enum Framed {
    Done {
        end: usize,
        facts: Facts,
    },
    Invalid {
        at: usize,
        message: &'static str,
        facts: Facts,
    },
    /// The stream ended inside it.
    Eof,
    /// Larger than the limit for one record.
    TooLarge,
}

/// How the framed reader ended.
enum Fast {
    /// The stream ended after whole documents.
    Done,
    /// The content is not a plain `{"Records":[...]}` document from `pos` on.
    Fallback,
    Failed(ReadError),
}

fn read_selected<R: Read>(
    file: &str,
    input: R,
    select: Select,
    limits: ReadLimits,
    mut sink: impl FnMut(Item),
) -> ReadSummary {
    let compressed = Rc::new(Cell::new(0u64));
    let mut raw = BufReader::with_capacity(64 * 1024, input);
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
        Box::new(Gunzip::new(raw, compressed.clone()))
    } else {
        Box::new(raw)
    };
    let mut state = State {
        sink: &mut sink,
        select,
        seen: HashSet::new(),
        summary: ReadSummary::default(),
        index: 0,
    };
    let mut w = Window {
        src: body,
        buf: Vec::new(),
        pos: 0,
        end: 0,
        base: 0,
        eof: false,
        pending: None,
    };
    let stream_error = |offset: u64, source: io::Error| {
        let file = file.to_owned();
        if gz {
            ReadError::Gzip {
                file,
                compressed_offset: compressed.get(),
                offset,
                source,
            }
        } else {
            ReadError::Io {
                file,
                offset,
                source,
            }
        }
    };
    // A UTF-8 byte-order mark (some exporters write one) is not JSON: skip it.
    loop {
        match w.more() {
            Ok(true) if w.end < 3 => continue,
            Ok(_) => break,
            // Damage in the first block: nothing to deliver, the error is the outcome.
            Err(source) => {
                return ReadSummary {
                    error: Some(stream_error(0, source)),
                    ..ReadSummary::default()
                };
            }
        }
    }
    if w.buf[..w.end].starts_with(&[0xef, 0xbb, 0xbf]) {
        w.pos = 3;
    }
    let mut tally = Tally::default();
    let mut fast = Framer {
        file,
        w: &mut w,
        st: &mut state,
        lines: Lines::default(),
        tally: &mut tally,
        limit: limits.max_record_bytes.max(1),
        stream_error: &stream_error,
    };
    let mut error = None;
    match fast.run() {
        Fast::Done => {}
        Fast::Failed(e) => error = Some(e),
        Fast::Fallback => {
            let base = w.base + w.pos as u64;
            let rest = io::Cursor::new(w.buf[w.pos..w.end].to_vec()).chain(w.src);
            let slow = serde_path(file, rest, base, &mut state, &stream_error);
            tally.values += slow.values;
            if tally.not_a_log.is_none() {
                tally.not_a_log = slow.not_a_log;
            }
            tally.stray += slow.stray;
            error = slow.error;
            w.base = slow.end;
            w.pos = 0;
        }
    }
    let mut summary = state.summary;
    summary.bytes = w.base + w.pos as u64;
    if error.is_some() {
        summary.error = error;
    } else if tally.values == 0 {
        summary.not_a_log = Some("empty file".into());
    } else if summary.records == 0 {
        summary.not_a_log = tally.not_a_log;
    }
    if summary.records > 0 && tally.stray > 0 {
        // A non-record value among records (JSON Lines): count it, never drop it silently.
        summary.bad_records += tally.stray;
        summary.records += tally.stray;
    }
    summary
}

/// Top-level values seen, and those that were not records.
#[derive(Default)]
struct Tally {
    values: u64,
    /// Why the first value that was not a log was not one.
    not_a_log: Option<String>,
    /// Top-level values that were neither records nor logs.
    stray: u64,
}

impl Tally {
    fn stray(&mut self, reason: String) {
        self.not_a_log.get_or_insert(reason);
        self.stray += 1;
    }
}

/// The framed reader: `{"Records":[...]}` documents, bare arrays of records,
/// JSON Lines and single records, each record found with [`scan_value`] and only
/// the ones [`Select`] asks for parsed. A record that does not parse is a bad
/// record and reading goes on; only damage that loses the framing stops the file.
struct Framer<'a, 'b, R, F> {
    file: &'a str,
    w: &'a mut Window<R>,
    st: &'a mut State<'b, F>,
    lines: Lines,
    tally: &'a mut Tally,
    limit: usize,
    stream_error: &'a dyn Fn(u64, io::Error) -> ReadError,
}

/// `?` for the framed reader: the error ends the file.
macro_rules! ok {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(stop) => return stop,
        }
    };
}

impl<R: Read, F: FnMut(Item)> Framer<'_, '_, R, F> {
    fn json_error(&self, offset: u64, message: &str) -> Fast {
        Fast::Failed(ReadError::Json {
            file: self.file.to_owned(),
            offset,
            line: (self.lines.count + 1) as usize,
            column: (offset.saturating_sub(self.lines.start) + 1) as usize,
            message: message.to_owned(),
        })
    }

    fn io<T>(&self, r: io::Result<T>) -> Result<T, Fast> {
        r.map_err(|source| {
            Fast::Failed((self.stream_error)(self.w.base + self.w.end as u64, source))
        })
    }

    fn eof(&self, what: &str) -> Fast {
        self.json_error(
            self.w.base + self.w.end as u64,
            &format!("EOF while parsing {what}"),
        )
    }

    fn peek(&mut self) -> Result<Option<u8>, Fast> {
        let r = self.w.peek(&mut self.lines);
        self.io(r)
    }

    fn frame(&mut self) -> Result<Framed, Fast> {
        let r = self.w.frame(self.limit);
        self.io(r)
    }

    fn too_large(&self) -> String {
        format!(
            "record larger than {} (the reader's limit for one record), skipped",
            mib(self.limit)
        )
    }

    /// Steps over an oversized value at `pos` without keeping it.
    fn skip(&mut self, what: &str) -> Result<(), Fast> {
        let r = self.w.skip_value(&mut self.lines);
        if self.io(r)? {
            Ok(())
        } else {
            Err(self.eof(what))
        }
    }

    fn run(&mut self) -> Fast {
        loop {
            let c = match ok!(self.peek()) {
                None => return Fast::Done,
                Some(c) => c,
            };
            self.tally.values += 1;
            let prefix = c == b'{' && {
                let r = self.w.records_prefix();
                ok!(self.io(r))
            };
            match c {
                b'{' if prefix => {
                    ok!(self.elements());
                    ok!(self.rest_of_document());
                }
                b'{' => {
                    if let Some(stop) = ok!(self.top_object()) {
                        return stop;
                    }
                }
                b'[' => {
                    self.w.pos += 1;
                    ok!(self.elements());
                }
                _ => match ok!(self.frame()) {
                    Framed::Eof => return self.eof("a value"),
                    Framed::Invalid { at, message, facts } => {
                        self.lines.add(&facts, self.w.base);
                        return self.json_error(self.w.base + at as u64, message);
                    }
                    Framed::TooLarge => {
                        let kind = kind_of(c);
                        self.tally
                            .stray(format!("top-level JSON {kind}, not CloudTrail"));
                        ok!(self.skip("a value"));
                    }
                    Framed::Done { end, facts } => {
                        let kind = kind_of(c);
                        self.tally
                            .stray(format!("top-level JSON {kind}, not CloudTrail"));
                        self.lines.add(&facts, self.w.base);
                        self.w.pos = end;
                    }
                },
            }
        }
    }

    /// The elements of an array of records, from just after its `[` to just after
    /// its `]`.
    fn elements(&mut self) -> Result<(), Fast> {
        let mut first = true;
        loop {
            let Some(c) = self.peek()? else {
                return Err(self.eof("a list"));
            };
            if first && c == b']' {
                self.w.pos += 1;
                return Ok(());
            }
            match self.frame()? {
                Framed::Eof => return Err(self.eof("a value")),
                Framed::Done { end, facts } => {
                    self.element(end, &facts);
                    self.lines.add(&facts, self.w.base);
                    self.w.pos = end;
                }
                Framed::Invalid { at, message, facts } => {
                    self.lines.add(&facts, self.w.base);
                    return Err(self.json_error(self.w.base + at as u64, message));
                }
                Framed::TooLarge => {
                    let index = self.st.next_index();
                    let reason = self.too_large();
                    self.st.bad(index, reason);
                    self.skip("a value")?;
                }
            }
            first = false;
            match self.peek()? {
                Some(b',') => self.w.pos += 1,
                Some(b']') => {
                    self.w.pos += 1;
                    return Ok(());
                }
                Some(_) => {
                    return Err(self.json_error(
                        self.w.base + self.w.pos as u64,
                        "expected `,` or `]` after a record",
                    ));
                }
                None => return Err(self.eof("a list")),
            }
        }
    }

    /// Hands the framed element `pos..end` to the state; one that does not parse is
    /// a bad record whose reason gives its position in the file.
    fn element(&mut self, end: usize, facts: &Facts) {
        let at = self.w.pos;
        let index = self.st.next_index();
        if let Err((offset, message)) = self.st.element(index, &self.w.buf[at..end], facts) {
            let before = &self.w.buf[at..at + offset];
            let mut line = self.lines.count + 1;
            let mut start = self.lines.start;
            line += memchr::memchr_iter(b'\n', before).count() as u64;
            if let Some(nl) = memchr::memrchr(b'\n', before) {
                start = self.w.base + (at + nl + 1) as u64;
            }
            let offset = self.w.base + (at + offset) as u64;
            let column = offset.saturating_sub(start) + 1;
            self.st.bad(
                index,
                format!(
                    "malformed JSON at decompressed byte {offset} (line {line}, column {column}): {message}"
                ),
            );
        }
    }

    /// The rest of a document after its Records array: `}`, or more members.
    /// Another Records array is read like the first; anything else is checked and
    /// ignored.
    fn rest_of_document(&mut self) -> Result<(), Fast> {
        loop {
            match self.peek()? {
                Some(b'}') => {
                    self.w.pos += 1;
                    return Ok(());
                }
                Some(b',') => self.w.pos += 1,
                Some(_) => {
                    return Err(
                        self.json_error(self.w.base + self.w.pos as u64, "expected `,` or `}`")
                    );
                }
                None => return Err(self.eof("an object")),
            }
            let mut is_records = false;
            for part in ["key", "value"] {
                match self.peek()? {
                    None => return Err(self.eof("an object")),
                    Some(b'"') => {}
                    Some(_) if part == "key" => {
                        return Err(self
                            .json_error(self.w.base + self.w.pos as u64, "key must be a string"));
                    }
                    Some(b'[') if is_records => {
                        self.w.pos += 1;
                        self.elements()?;
                        continue;
                    }
                    Some(_) => {}
                }
                match self.frame()? {
                    Framed::Eof => return Err(self.eof("an object")),
                    Framed::Done { end, facts } => {
                        is_records =
                            part == "key" && &self.w.buf[self.w.pos..end] == b"\"Records\"";
                        self.lines.add(&facts, self.w.base);
                        self.w.pos = end;
                    }
                    Framed::Invalid { at, message, facts } => {
                        self.lines.add(&facts, self.w.base);
                        return Err(self.json_error(self.w.base + at as u64, message));
                    }
                    // A member that is not records, too large to keep: step over it.
                    Framed::TooLarge => self.skip("an object")?,
                }
                if part == "key" {
                    if self.peek()? != Some(b':') {
                        return Err(
                            self.json_error(self.w.base + self.w.pos as u64, "expected `:`")
                        );
                    }
                    self.w.pos += 1;
                }
            }
        }
    }

    /// A top-level object that does not start `{"Records":[`: a record (JSON Lines),
    /// a document with its members in another order, a digest, or something else.
    /// `Some(Fast::Fallback)` hands the rest of the stream to the serde path.
    fn top_object(&mut self) -> Result<Option<Fast>, Fast> {
        let (end, facts) = match self.frame()? {
            Framed::Eof => {
                let end = self.w.end;
                if self.resync(end, "EOF while parsing an object") {
                    return Ok(None);
                }
                return Err(self.eof("an object"));
            }
            Framed::Invalid { at, message, facts } => {
                if self.resync(at, message) {
                    return Ok(None);
                }
                self.lines.add(&facts, self.w.base);
                return Err(self.json_error(self.w.base + at as u64, message));
            }
            Framed::TooLarge => {
                // A document with its Records after other members streams through
                // the serde path; anything else this large is one oversized record.
                if has_records_key(&self.w.buf[self.w.pos..self.w.end]) {
                    return Ok(Some(Fast::Fallback));
                }
                let index = self.st.next_index();
                let reason = self.too_large();
                self.st.bad(index, reason);
                self.skip("an object")?;
                return Ok(None);
            }
            Framed::Done { end, facts } => (end, facts),
        };
        let bytes = &self.w.buf[self.w.pos..end];
        let parsed = serde_json::from_slice::<Value>(bytes).or_else(|_| lenient::parse(bytes));
        match parsed {
            Ok(Value::Object(mut map)) if map.contains_key("Records") => {
                match map.remove("Records") {
                    Some(Value::Array(items)) => items.into_iter().for_each(|v| self.st.value(v)),
                    Some(Value::Null) | None => {}
                    Some(other) => {
                        let kind = json_kind(&other);
                        self.tally
                            .stray(format!("\"Records\" is a JSON {kind}, not an array"));
                    }
                }
            }
            Ok(Value::Object(map))
                if map.contains_key("digestStartTime") || map.contains_key("logFiles") =>
            {
                self.tally
                    .stray("CloudTrail digest file (no Records)".into());
            }
            Ok(Value::Object(map))
                if ["eventName", "eventSource", "eventVersion", "eventID"]
                    .iter()
                    .any(|k| map.contains_key(*k)) =>
            {
                self.element(end, &facts);
            }
            Ok(_) => self
                .tally
                .stray("JSON object without a Records array".into()),
            // Framed as one object but not JSON inside: a bad record, like any other.
            Err(_) => self.element(end, &facts),
        }
        self.lines.add(&facts, self.w.base);
        self.w.pos = end;
        Ok(None)
    }
}

impl<R: Read, F: FnMut(Item)> Framer<'_, '_, R, F> {
    /// JSON Lines: a line that is not a whole record (cut short, say) costs that
    /// line only. When the damage at `at` lies past the end of the line the object
    /// at `pos` started on, and the next line starts another object, the broken
    /// line is a bad record and reading resumes at the next line. Returns whether
    /// it did.
    fn resync(&mut self, at: usize, message: &str) -> bool {
        let from = self.w.pos;
        let Some(nl) = memchr::memchr(b'\n', &self.w.buf[from..at.min(self.w.end)]) else {
            return false;
        };
        let next = from + nl + 1;
        let starts_object = self.w.buf[next..self.w.end]
            .iter()
            .find(|c| !matches!(c, b' ' | b'\t' | b'\r'))
            == Some(&b'{');
        if !starts_object {
            return false;
        }
        let offset = self.w.base + at as u64;
        let (line, column) = (
            self.lines.count + 1,
            self.w.base + from as u64 - self.lines.start + 1,
        );
        let index = self.st.next_index();
        self.st.bad(
            index,
            format!(
                "malformed JSON in the line starting at decompressed byte {} (line {line}, column {column}), \
                 damage at byte {offset}: {message}; reading resumes at the next line",
                self.w.base + from as u64
            ),
        );
        self.lines.newline(self.w.base + next as u64);
        self.w.pos = next;
        true
    }
}

fn mib(bytes: usize) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Whether the object starting at `b[0]` has a top-level `"Records"` key among the
/// bytes given (which may end inside it).
fn has_records_key(b: &[u8]) -> bool {
    let (mut depth, mut key_next, mut i) = (0usize, false, 0usize);
    while i < b.len() {
        match b[i] {
            b'"' => {
                let Some((end, _)) = string_end(b, i) else {
                    return false;
                };
                if depth == 1 && key_next && &b[i..end] == b"\"Records\"" {
                    return true;
                }
                key_next = false;
                i = end;
                continue;
            }
            b'{' => {
                depth += 1;
                key_next = depth == 1;
            }
            b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' => key_next = depth == 1,
            _ => {}
        }
        i += 1;
    }
    false
}

/// What the serde path saw.
struct Slow {
    values: u64,
    not_a_log: Option<String>,
    stray: u64,
    error: Option<ReadError>,
    /// Stream offset where it stopped.
    end: u64,
}

/// The general reader for everything that is not a plain `{"Records":[...]}`
/// document: JSON Lines, bare arrays, single records, digests, odd member orders.
fn serde_path<R: Read, F: FnMut(Item)>(
    file: &str,
    body: R,
    base: u64,
    state: &mut State<'_, F>,
    stream_error: &dyn Fn(u64, io::Error) -> ReadError,
) -> Slow {
    let decompressed = Rc::new(Cell::new(base));
    // Counted above the buffer, so the count is what the parser has consumed: error
    // offsets point at the damage, not at the end of a 64 KiB read-ahead.
    let counted = Counting {
        inner: BufReader::with_capacity(64 * 1024, body),
        count: decompressed.clone(),
    };
    let mut de = serde_json::Deserializer::from_reader(counted);
    let mut out = Slow {
        values: 0,
        not_a_log: None,
        stray: 0,
        error: None,
        end: base,
    };
    let result: Result<(), serde_json::Error> = (|| {
        loop {
            match de.end() {
                Ok(()) => return Ok(()),
                Err(e) if e.is_io() => return Err(e),
                Err(_) => {} // more input follows
            }
            out.values += 1;
            let shape = TopLevel { state: &mut *state }.deserialize(&mut de)?;
            if let Shape::NotALog(reason) = shape {
                out.not_a_log.get_or_insert(reason);
                out.stray += 1;
            }
        }
    })();
    let offset = decompressed.get();
    out.end = offset;
    if let Err(e) = result {
        out.error = Some(if e.is_io() {
            let source = io::Error::new(
                e.io_error_kind().unwrap_or(io::ErrorKind::Other),
                e.to_string(),
            );
            stream_error(offset, source)
        } else {
            ReadError::Json {
                file: file.to_owned(),
                offset,
                line: e.line(),
                column: e.column(),
                message: strip_position(&e),
            }
        });
    }
    out
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
    select: Select,
    seen: HashSet<u64>,
    summary: ReadSummary,
    index: u64,
}

impl<F: FnMut(Item)> State<'_, F> {
    /// A parsed element (serde path).
    fn value(&mut self, value: Value) {
        let index = self.index;
        self.index += 1;
        match Record::from_value(value) {
            Ok(record) => self.record(record),
            Err(reason) => self.bad(index, reason.to_string()),
        }
    }

    fn bad(&mut self, index: u64, reason: String) {
        self.summary.records += 1;
        self.summary.bad_records += 1;
        (self.sink)(Item::Bad { index, reason });
    }

    fn record(&mut self, record: Record) {
        if record.event_id.is_some() && !self.seen.insert(identity_hash(&record)) {
            self.summary.duplicates += 1;
            return;
        }
        self.summary.records += 1;
        if self.select == Select::All || record.is_kms() || record.is_s3_sse_kms_request() {
            (self.sink)(Item::Record(Box::new(record)));
        }
    }

    /// The position of the next element.
    fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index - 1
    }

    /// An element found by the framer, at position `index`: `bytes` is the whole
    /// value. `Err` holds the offset in `bytes` and the reason when it is not JSON;
    /// the caller counts it as a bad record.
    fn element(&mut self, index: u64, bytes: &[u8], facts: &Facts) -> Result<(), (usize, String)> {
        if bytes.first() != Some(&b'{') {
            let kind = kind_of(bytes.first().copied().unwrap_or(b'n'));
            self.bad(index, format!("record is a JSON {kind}, not an object"));
            return Ok(());
        }
        if self.select == Select::Kms
            && (facts.source == Source::Other
                || (facts.source == Source::S3 && !names_sse_kms_key(bytes)))
            && !facts.needs_parse
            && simdutf8::basic::from_utf8(bytes).is_ok()
        {
            // Not KMS: checked by the scan (and for UTF-8), never parsed. Records
            // with escapes, control characters or unusual numbers are parsed, so
            // that they are checked. A re-delivered record is byte-for-byte the
            // same, so its bytes are its identity.
            if facts.has_event_id && !self.seen.insert(xxh3_64(bytes)) {
                self.summary.duplicates += 1;
            } else {
                self.summary.records += 1;
            }
            return Ok(());
        }
        match parse_record(bytes)? {
            Ok(record) => self.record(record),
            Err(reason) => self.bad(index, reason.to_string()),
        }
        Ok(())
    }
}

/// Whether an S3 record's bytes hold the SSE-KMS key header's name as a JSON string
/// (the only S3 records [`Select::Kms`] parses). The finder is built once.
fn names_sse_kms_key(bytes: &[u8]) -> bool {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| {
            memchr::memmem::Finder::new(b"\"x-amz-server-side-encryption-aws-kms-key-id\"")
        });
    FINDER.find(bytes).is_some()
}

/// Parses one record object straight into the typed model. The general path (via
/// a `Value`) handles what the typed one refuses: duplicate fields, `@timestamp`,
/// and, through [`lenient`], the valid JSON serde_json refuses (`1e400`, deep
/// nesting, lone surrogates). The outer `Err` is bytes that are not JSON (offset in
/// `bytes`, reason); the inner one a JSON value that is not a record.
fn parse_record(bytes: &[u8]) -> Result<Result<Record, RecordError>, (usize, String)> {
    // Valid UTF-8 as a whole (checked at SIMD speed) lets serde_json read it as a
    // `str`, without checking every string again.
    let typed = match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => serde_json::from_str::<Record>(text),
        Err(_) => serde_json::from_slice::<Record>(bytes),
    };
    if let Ok(r) = typed
        && (r.event_time.is_some() || memchr::memmem::find(bytes, b"\"@timestamp\"").is_none())
    {
        return Ok(Ok(r));
    }
    let value = match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => v,
        Err(_) => lenient::parse(bytes)?,
    };
    Ok(Record::from_value(value))
}

/// What makes a delivery a duplicate: CloudTrail re-delivers the same event with the
/// same eventID and content. Test suites and docs reuse placeholder eventIDs ("1",
/// "...") for different events, so the id alone would drop real records.
/// Feeds a parsed JSON value to `h`, structure and all, without formatting it.
fn hash_value(v: &Value, h: &mut xxhash_rust::xxh3::Xxh3Default) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => (2u8, n.as_u64(), n.as_i64(), n.as_f64().map(f64::to_bits)).hash(h),
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(items) => {
            (4u8, items.len()).hash(h);
            items.iter().for_each(|i| hash_value(i, h));
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(h);
            for (k, v) in map {
                k.hash(h);
                hash_value(v, h);
            }
        }
    }
}

fn identity_hash(r: &Record) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
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
        hash_value(p, &mut h);
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
            self.state.value(Value::Object(other));
            return Ok(Shape::Records);
        }
        Ok(Shape::NotALog("JSON object without a Records array".into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            self.state.value(v);
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
            self.state.value(v);
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

    /// Reads `data` with every record parsed, and again KMS-only (the fast path that
    /// frames and skips the others): both must count and fail the same way.
    fn collect(name: &str, data: &[u8]) -> (Vec<Record>, Vec<String>, ReadSummary) {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        let summary = read_records(name, data, |item| match item {
            Item::Record(r) => good.push(*r),
            Item::Bad { reason, .. } => bad.push(reason),
        });
        let mut kms = Vec::new();
        let mut kms_bad = Vec::new();
        let fast = read_kms_records(name, data, |item| match item {
            Item::Record(r) => kms.push(*r),
            Item::Bad { reason, .. } => kms_bad.push(reason),
        });
        let all_kms: Vec<&Record> = good
            .iter()
            .filter(|r| r.is_kms() || r.is_s3_sse_kms_request())
            .collect();
        assert_eq!(
            kms.iter().collect::<Vec<_>>(),
            all_kms,
            "KMS records differ"
        );
        assert_eq!(kms_bad, bad, "bad records differ");
        assert_eq!(
            (
                fast.records,
                fast.bad_records,
                fast.duplicates,
                &fast.not_a_log,
                fast.bytes
            ),
            (
                summary.records,
                summary.bad_records,
                summary.duplicates,
                &summary.not_a_log,
                summary.bytes
            ),
            "counts differ"
        );
        assert_eq!(
            fast.error.as_ref().map(ToString::to_string),
            summary.error.as_ref().map(ToString::to_string),
            "errors differ"
        );
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
    fn kms_selection_lets_s3_sse_kms_requests_through() {
        // Shaped on panther-analysis aws_s3_copy_object_cross_account_kms.jsonl.
        let data = br#"{"Records":[
            {"eventSource":"s3.amazonaws.com","eventName":"CopyObject","eventID":"c1","requestParameters":{"bucketName":"b","key":"k","x-amz-server-side-encryption":"aws:kms","x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:us-east-1:999999999999:key/k"}},
            {"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"g1","requestParameters":{"bucketName":"b","key":"k"}},
            {"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"g2","userAgent":"x-amz-server-side-encryption-aws-kms-key-id","requestParameters":{"bucketName":"b","key":"x-amz-server-side-encryption-aws-kms-key-id"}},
            {"eventSource":"ec2.amazonaws.com","eventName":"PutObject","eventID":"e1","requestParameters":{"x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:us-east-1:999999999999:key/k"}},
            {"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventID":"d1"}
        ]}"#;
        let (good, bad, summary) = collect("s3.json", data);
        assert!(bad.is_empty());
        assert_eq!(summary.records, 5);
        let mut selected = Vec::new();
        read_kms_records("s3.json", &data[..], |item| {
            if let Item::Record(r) = item {
                selected.push(r.event_id.clone().unwrap_or_default());
            }
        });
        assert_eq!(selected, ["c1", "d1"]);
        assert_eq!(good.len(), 5);
    }

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
    fn damage_inside_a_multi_line_record_has_its_line_and_column() {
        let data = "{\"Records\":[\n{\"eventSource\":\"kms.amazonaws.com\",\n \"eventName\":\"Decrypt\",\n \"userAgent\":\"a\\qb\"},\n{\"eventID\":\"after\"}]}";
        let (good, bad, s) = collect("m.json", data.as_bytes());
        assert!(s.error.is_none(), "{:?}", s.error);
        assert_eq!(
            (good.len(), bad.len()),
            (1, 1),
            "the record after it is kept"
        );
        assert!(bad[0].contains("(line 4, column "), "{}", bad[0]);
        let column: usize = bad[0]
            .split("column ")
            .nth(1)
            .and_then(|t| t.split(')').next())
            .and_then(|n| n.parse().ok())
            .expect("column in the reason");
        assert!((14..=18).contains(&column), "{}", bad[0]);
    }

    /// Three KMS records, the second with `odd` as its requestParameters.
    fn three_with(odd: &str) -> String {
        let rec = |i: u32, extra: &str| {
            format!(
                r#"{{"eventTime":"2026-10-04T04:21:0{i}Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventID":"e-{i}"{extra}}}"#
            )
        };
        format!(
            r#"{{"Records":[{},{},{}]}}"#,
            rec(1, ""),
            rec(2, &format!(r#","requestParameters":{odd}"#)),
            rec(3, "")
        )
    }

    #[test]
    fn valid_json_serde_refuses_keeps_its_record() {
        let deep = format!(r#"{{"a":{}1{}}}"#, "[".repeat(300), "]".repeat(300));
        for odd in [
            r#"{"numberOfBytes":1e400}"#,
            r#"{"keyId":"k","note":"\ud800"}"#,
            deep.as_str(),
        ] {
            let text = three_with(odd);
            for data in [text.clone().into_bytes(), gz(text.as_bytes())] {
                let (good, bad, s) = collect("odd.json", &data);
                assert_eq!((good.len(), bad.len()), (3, 0), "{odd}: {bad:?}");
                assert!(s.error.is_none(), "{odd}: {:?}", s.error);
            }
        }
        let (good, _, _) = collect(
            "odd.json",
            three_with(r#"{"keyId":"k","n":1e400}"#).as_bytes(),
        );
        let p = good[1].request_parameters.as_ref().expect("kept");
        assert_eq!(p["keyId"], "k");
        assert_eq!(p["n"], "1e400", "kept as its text");
    }

    #[test]
    fn a_raw_line_break_in_a_string_is_one_bad_record_everywhere() {
        let kms = "{\"eventSource\":\"kms.amazonaws.com\",\"eventName\":\"Decrypt\",\"userAgent\":\"a\nb\"}";
        let other = "{\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"userAgent\":\"a\r\nb\"}";
        let good = r#"{"eventSource":"kms.amazonaws.com","eventName":"Encrypt","eventID":"g"}"#;
        for odd in [kms, other] {
            let records = format!("{{\"Records\":[{good},{odd},{good}]}}");
            let lines = format!("{good}\n{odd}\n{good}\n");
            for data in [records, lines] {
                let (kept, bad, s) = collect("cr.json", data.as_bytes());
                assert!(s.error.is_none(), "{data}: {:?}", s.error);
                assert_eq!(bad.len(), 1, "{data}");
                assert!(bad[0].contains("control character"), "{}", bad[0]);
                assert_eq!(kept.len(), 1, "the duplicate good record is dropped, once");
                assert_eq!((s.records, s.duplicates), (2, 1));
            }
        }
    }

    #[test]
    fn records_that_is_not_an_array_is_not_a_log() {
        let (_, _, s) = collect("r.json", br#"{"Records":{"eventName":"Decrypt"}}"#);
        assert!(s.error.is_none(), "{:?}", s.error);
        assert_eq!(
            s.not_a_log.as_deref(),
            Some("\"Records\" is a JSON object, not an array")
        );
        let (_, _, s) = collect("r.json", br#"{"Records":"x"}"#);
        assert_eq!(
            s.not_a_log.as_deref(),
            Some("\"Records\" is a JSON string, not an array")
        );
    }

    fn read_limited(data: &[u8], limit: usize) -> (Vec<Record>, Vec<String>, ReadSummary) {
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        let limits = ReadLimits {
            max_record_bytes: limit,
        };
        let s = read_with("big.json", data, Select::All, limits, |item| match item {
            Item::Record(r) => good.push(*r),
            Item::Bad { reason, .. } => bad.push(reason),
        });
        (good, bad, s)
    }

    #[test]
    fn a_record_over_the_limit_is_bad_and_skipped_without_being_held() {
        let huge = "x".repeat(3 << 20);
        let rec = |id: &str, ua: &str| {
            format!(
                r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventID":"{id}","userAgent":"{ua}"}}"#
            )
        };
        let doc = format!(
            "{{\"Records\":[{},{},{},{}]}}",
            rec("1", "a"),
            rec("2", &huge),
            rec("3", "b"),
            rec("4", "c")
        );
        let lines = format!(
            "{}\n{}\n{}\n",
            rec("1", "a"),
            rec("2", &huge),
            rec("3", "b")
        );
        for (data, kept) in [(doc, 3), (lines, 2)] {
            for data in [data.clone().into_bytes(), gz(data.as_bytes())] {
                let (good, bad, s) = read_limited(&data, 1 << 20);
                assert!(s.error.is_none(), "{:?}", s.error);
                assert_eq!(good.len(), kept);
                assert_eq!(bad.len(), 1, "{bad:?}");
                assert!(bad[0].contains("record larger than 1 MiB"), "{}", bad[0]);
                // Under the default limit the same record is kept.
                let (good, _, _) = read_limited(&data, DEFAULT_MAX_RECORD_BYTES);
                assert_eq!(good.len(), kept + 1);
            }
        }
        // An array nested far beyond the limit, never closed: the error is at the end.
        let mut open = String::from(r#"{"Records":[{"eventID":"1"},"#);
        open.push_str(&"[".repeat(2 << 20));
        let (good, bad, s) = read_limited(open.as_bytes(), 1 << 20);
        assert_eq!((good.len(), bad.len()), (1, 1));
        let err = s.error.expect("unclosed").to_string();
        assert!(err.contains("EOF while parsing"), "{err}");
    }

    #[test]
    fn gzip_damage_after_a_flush_keeps_what_was_decoded() {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(three_with("{}").trim_end_matches("]}").as_bytes())
            .expect("write");
        e.flush().expect("flush");
        let mut data = e.get_ref().clone();
        let flushed = data.len();
        data.extend_from_slice(&[0xa5; 200]);
        let (good, _, s) = collect("g.json.gz", &data);
        assert_eq!(good.len(), 3);
        let err = s.error.expect("damage").to_string();
        let decoded = three_with("{}").len() - 2;
        assert!(
            err.contains(&format!("after {decoded} decompressed bytes")),
            "{err}"
        );
        let near: usize = err
            .split("compressed byte ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("position");
        assert!(
            near >= flushed && near < data.len(),
            "{near} of {}: {err}",
            data.len()
        );
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
