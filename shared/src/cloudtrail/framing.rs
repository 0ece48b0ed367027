//! Finding records without parsing them.
//!
//! [`scan_value`] walks one JSON value in place and returns where it ends, checking
//! the grammar of everything outside strings (brackets, colons, commas, literals,
//! number characters) and jumping over string contents with `memchr`. Inside a
//! string every `"` byte is escaped, so the next unescaped quote ends it: the walk
//! never looks at string bytes one at a time. It allocates nothing and copies
//! nothing.
//!
//! While walking a record it also notes the two top-level fields the reader needs
//! to decide what to do with it: whether `eventSource` is `kms.amazonaws.com` (only
//! those records are parsed in full) and whether it has an `eventID` (records
//! without one are never treated as duplicates).
//!
//! What it does not check: escape sequences and UTF-8 inside strings, and the exact
//! form of numbers. It notes escapes, raw control characters and unusual numbers
//! (`Facts::needs_parse`), so that those records are parsed in full, and checked.

/// The `eventSource` of a record, as far as the scan can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// Absent, or anything but `kms.amazonaws.com` and `s3.amazonaws.com`.
    #[default]
    Other,
    /// Exactly `"kms.amazonaws.com"`.
    Kms,
    /// Exactly `"s3.amazonaws.com"`: the reader looks for the SSE-KMS key header in
    /// these records' bytes before it parses any (see `Select::Kms`).
    S3,
    /// A string with escape sequences: only a full parse can tell.
    Escaped,
}

/// What the scan learnt about a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// For an object: its top-level `eventSource`.
    pub source: Source,
    /// For an object: it has a top-level `eventID` that is not null or empty.
    pub has_event_id: bool,
    /// Line breaks (outside strings) in the scanned bytes.
    pub newlines: u64,
    /// Position just after the last line break, if any.
    pub line_start: Option<usize>,
    /// Something only a full parse can check: an escape sequence or a raw control
    /// character in a string, or a number that is not a plain integer or decimal of
    /// ordinary size.
    pub needs_parse: bool,
}

/// The outcome of [`scan_value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The value ends just before `end`.
    Done { end: usize, facts: Facts },
    /// The bytes ran out before the value ended.
    NeedMore,
    /// Not JSON: the problem is at `at`.
    Invalid {
        at: usize,
        message: &'static str,
        facts: Facts,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Value,
    ValueOrEnd,
    Key,
    KeyOrEnd,
    Colon,
    CommaOrEnd,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    EventSource,
    EventId,
}

const KMS: &[u8] = b"kms.amazonaws.com";
const S3: &[u8] = b"s3.amazonaws.com";

/// The end of the string whose opening quote is at `at` (just past its closing
/// quote) and whether only a full parse can check it (it holds an escape sequence
/// or a raw control character, which JSON forbids), or `None` when the bytes run
/// out first.
#[inline]
pub fn string_end(b: &[u8], at: usize) -> Option<(usize, bool)> {
    let mut i = at + 1;
    let mut odd = false;
    loop {
        // 32 bytes at a time (SIMD compares and a bit mask): most strings of a
        // record end within the first block, at a predictable branch.
        let j = match b.get(i..i + 32) {
            Some(block) => {
                let m = special(block);
                if m == 0 {
                    i += 32;
                    continue;
                }
                i + m.trailing_zeros() as usize
            }
            // The last bytes of the window.
            None => {
                i + b
                    .get(i..)?
                    .iter()
                    .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?
            }
        };
        match b[j] {
            b'"' => return Some((j + 1, odd)),
            // A backslash escapes the next byte, whatever it is.
            b'\\' => {
                i = j + 2;
                if i > b.len() {
                    return None;
                }
            }
            // A raw control character: not JSON, left to the parser to report.
            _ => i = j + 1,
        }
        odd = true;
    }
}

/// Bit `k` set when `block[k]` (of 32) is `"`, `\` or a control character.
#[inline(always)]
fn special(block: &[u8]) -> u32 {
    use wide::u8x16;
    let half = |o: usize| {
        let mut lanes = [0u8; 16];
        lanes.copy_from_slice(&block[o..o + 16]);
        let v = u8x16::new(lanes);
        let control = v.min(u8x16::splat(0x1f)).simd_eq(v);
        (v.simd_eq(u8x16::splat(b'"')) | v.simd_eq(u8x16::splat(b'\\')) | control).to_bitmask()
    };
    half(0) | half(16) << 16
}

/// True for a number serde_json reads the same as its text: an integer of at most
/// 18 digits, or one with a short fraction; anything else is left to the parser.
fn plain_number(n: &[u8]) -> bool {
    let digits = n.strip_prefix(b"-").unwrap_or(n);
    let (int, frac) = match memchr::memchr(b'.', digits) {
        Some(i) => (&digits[..i], Some(&digits[i + 1..])),
        None => (digits, None),
    };
    let all_digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    all_digits(int)
        && int.len() <= 18
        && (int.len() == 1 || int[0] != b'0')
        && frac.is_none_or(|f| all_digits(f) && f.len() <= 18)
}

#[inline]
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// The open containers, one bit each (set for an object) while they fit in a word.
#[derive(Default)]
struct Stack {
    bits: u128,
    len: usize,
    deep: Vec<bool>,
}

impl Stack {
    #[inline]
    fn push(&mut self, c: u8) {
        let object = c == b'{';
        if self.len < 128 {
            self.bits = (self.bits & !(1 << self.len)) | (u128::from(object) << self.len);
        } else {
            self.deep.push(object);
        }
        self.len += 1;
    }
    #[inline]
    fn pop(&mut self) {
        if self.len > 128 {
            self.deep.pop();
        }
        self.len = self.len.saturating_sub(1);
    }
    #[inline]
    fn len(&self) -> usize {
        self.len
    }
    #[inline]
    fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The innermost container: `{`, `[`, or `None`.
    #[inline]
    fn last(&self) -> Option<u8> {
        let object = match self.len {
            0 => return None,
            n if n <= 128 => self.bits >> (n - 1) & 1 == 1,
            _ => *self.deep.last()?,
        };
        Some(if object { b'{' } else { b'[' })
    }
}

/// Walks the JSON value starting at `b[start]` (leading whitespace allowed).
pub fn scan_value(b: &[u8], start: usize) -> Scan {
    let mut facts = Facts::default();
    // Open containers; only the kind matters. Records nest a handful of levels.
    let mut stack = Stack::default();
    let mut expect = Expect::Value;
    let mut field = Field::None;
    let mut i = start;
    macro_rules! invalid {
        ($msg:expr) => {
            return Scan::Invalid {
                at: i,
                message: $msg,
                facts,
            }
        };
    }
    loop {
        // Whitespace, counting lines for error positions.
        let c = loop {
            let Some(&c) = b.get(i) else {
                return Scan::NeedMore;
            };
            if !is_space(c) {
                break c;
            }
            if c == b'\n' {
                facts.newlines += 1;
                facts.line_start = Some(i + 1);
            }
            i += 1;
        };
        match expect {
            Expect::Value | Expect::ValueOrEnd => {
                let depth = stack.len();
                let this = std::mem::replace(&mut field, Field::None);
                match c {
                    b'{' => {
                        stack.push(b'{');
                        expect = Expect::KeyOrEnd;
                        i += 1;
                        continue;
                    }
                    b'[' => {
                        stack.push(b'[');
                        expect = Expect::ValueOrEnd;
                        i += 1;
                        continue;
                    }
                    b']' if expect == Expect::ValueOrEnd => {
                        stack.pop();
                        i += 1;
                    }
                    b'"' => {
                        let Some((end, escaped)) = string_end(b, i) else {
                            return Scan::NeedMore;
                        };
                        facts.needs_parse |= escaped;
                        if depth == 1 && this != Field::None {
                            let content = &b[i + 1..end - 1];
                            match this {
                                Field::EventSource => {
                                    facts.source = if content == KMS {
                                        Source::Kms
                                    } else if content == S3 {
                                        Source::S3
                                    } else if content.contains(&b'\\') {
                                        Source::Escaped
                                    } else {
                                        Source::Other
                                    };
                                }
                                Field::EventId => facts.has_event_id = !content.is_empty(),
                                Field::None => {}
                            }
                        }
                        i = end;
                    }
                    b't' | b'f' | b'n' => {
                        let word: &[u8] = match c {
                            b't' => b"true",
                            b'f' => b"false",
                            _ => b"null",
                        };
                        let have = &b[i..b.len().min(i + word.len())];
                        if have.len() < word.len() {
                            if word.starts_with(have) {
                                return Scan::NeedMore;
                            }
                            invalid!("invalid literal");
                        }
                        if have != word {
                            invalid!("invalid literal");
                        }
                        if depth == 1 && this == Field::EventSource {
                            facts.source = Source::Other;
                        } else if depth == 1 && this == Field::EventId {
                            facts.has_event_id = c != b'n';
                        }
                        i += word.len();
                    }
                    b'-' | b'0'..=b'9' => {
                        let mut j = i + 1;
                        while let Some(&d) = b.get(j) {
                            if !matches!(d, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                                break;
                            }
                            j += 1;
                        }
                        if j == b.len() {
                            return Scan::NeedMore;
                        }
                        facts.needs_parse |= !plain_number(&b[i..j]);
                        if depth == 1 && this == Field::EventSource {
                            facts.source = Source::Other;
                        } else if depth == 1 && this == Field::EventId {
                            facts.has_event_id = true;
                        }
                        i = j;
                    }
                    _ => invalid!("expected value"),
                }
            }
            Expect::Key | Expect::KeyOrEnd => match c {
                b'"' => {
                    let Some((end, escaped)) = string_end(b, i) else {
                        return Scan::NeedMore;
                    };
                    facts.needs_parse |= escaped;
                    let key = &b[i + 1..end - 1];
                    // The length test first: it rules out almost every key cheaply.
                    if stack.len() == 1 && matches!(key.len(), 7 | 11) {
                        field = match key {
                            b"eventSource" => {
                                facts.source = Source::Other;
                                Field::EventSource
                            }
                            b"eventID" => {
                                facts.has_event_id = false;
                                Field::EventId
                            }
                            _ => Field::None,
                        };
                    }
                    i = end;
                    expect = Expect::Colon;
                    continue;
                }
                b'}' if expect == Expect::KeyOrEnd => {
                    stack.pop();
                    i += 1;
                }
                _ => invalid!("expected a string key"),
            },
            Expect::Colon => {
                if c != b':' {
                    invalid!("expected `:`");
                }
                i += 1;
                expect = Expect::Value;
                continue;
            }
            Expect::CommaOrEnd => {
                match (c, stack.last()) {
                    (b',', Some(b'{')) => expect = Expect::Key,
                    (b',', _) => expect = Expect::Value,
                    (b'}', Some(b'{')) | (b']', Some(b'[')) => {
                        stack.pop();
                        expect = Expect::CommaOrEnd;
                    }
                    _ => invalid!("expected `,` or the end of the container"),
                }
                i += 1;
                if expect != Expect::CommaOrEnd {
                    continue;
                }
            }
        }
        // A value (or a container) just ended.
        if stack.is_empty() {
            return Scan::Done { end: i, facts };
        }
        expect = Expect::CommaOrEnd;
    }
}

/// The JSON kind named by a value's first byte, for bad-record reasons.
pub fn kind_of(first: u8) -> &'static str {
    match first {
        b'"' => "string",
        b'[' => "array",
        b'{' => "object",
        b't' | b'f' => "boolean",
        b'n' => "null",
        _ => "number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(s: &str) -> (usize, Facts) {
        match scan_value(s.as_bytes(), 0) {
            Scan::Done { end, facts } => (end, facts),
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn finds_the_end_and_the_facts() {
        let r = r#"{"eventVersion":"1.09","userIdentity":{"eventSource":"x","a":[1,2,{"b":null}]},"eventSource":"kms.amazonaws.com","eventID":"e-1","n":-1.5e3,"t":true} ,"#;
        let (end, f) = done(r);
        assert_eq!(&r[end - 1..end], "}");
        assert_eq!(f.source, Source::Kms);
        assert!(f.has_event_id);
        let (_, f) = done(r#"{"userIdentity":{"eventSource":"kms.amazonaws.com"},"eventID":""}"#);
        assert_eq!(f.source, Source::Other, "only the top-level field counts");
        assert!(!f.has_event_id, "an empty eventID is no id");
        let (_, f) = done(r#"{"eventSource":"kms\u002eamazonaws.com","eventID":null}"#);
        assert_eq!(f.source, Source::Escaped);
        assert!(!f.has_event_id);
        let (_, f) = done(
            r#"{"eventSource":"kms.amazonaws.com","eventSource":"s3.amazonaws.com","eventID":7}"#,
        );
        assert_eq!(
            f.source,
            Source::S3,
            "the last duplicate wins, as in a parse"
        );
        assert!(f.has_event_id);
        let (_, f) =
            done(r#"{"eventSource":"s3.amazonaws.com","eventSource":"ec2.amazonaws.com"}"#);
        assert_eq!(f.source, Source::Other);
    }

    #[test]
    fn strings_with_escapes_and_brackets() {
        let (end, _) = done(r#"{"a":"}\"],{\\","b":"\\"}"#);
        assert_eq!(end, r#"{"a":"}\"],{\\","b":"\\"}"#.len());
        assert_eq!(done(r#""x\"y""#).0, 6);
        assert!(
            done(r#"{"a":"\u00e9"}"#).1.needs_parse,
            "escapes need a parse"
        );
        assert!(!done(r#"{"a":"b","n":[0,-12,3.25]}"#).1.needs_parse);
        for n in [
            "1e400",
            "01",
            "-",
            "1.",
            "12345678901234567890",
            "1E5",
            "-0.5e1",
        ] {
            assert!(done(&format!("[{n}]")).1.needs_parse, "{n}");
        }
        assert_eq!(done("[]").0, 2);
        assert_eq!(done("{}").0, 2);
        assert_eq!(done("  42 ").0, 4);
    }

    #[test]
    fn string_ends_at_every_length_and_escape_position() {
        for len in 0..100usize {
            let body: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            let s = format!("\"{body}\",");
            assert_eq!(string_end(s.as_bytes(), 0), Some((len + 2, false)), "{len}");
            assert_eq!(string_end(&s.as_bytes()[..len + 1], 0), None, "{len} cut");
            for at in 0..len {
                let mut b = body.clone().into_bytes();
                b[at] = b'\\';
                let t = format!("\"{}\"x\",", String::from_utf8(b).expect("ascii"));
                // The backslash escapes the byte after it (or the quote that
                // follows when it is last), so the string ends at the second quote.
                let want = if at + 1 == len { len + 4 } else { len + 2 };
                let (end, escaped) = string_end(t.as_bytes(), 0).expect("ends");
                assert!(escaped, "{len}/{at}");
                assert_eq!(end, want, "{len}/{at}: {t}");
            }
        }
        assert_eq!(string_end("\"é\"\"".as_bytes(), 0), Some((4, false)));
    }

    #[test]
    fn incomplete_values_need_more() {
        for s in [
            r#"{"a":"#,
            r#"{"a":"bc"#,
            r#"{"a":"b\"#,
            r#"{"a":tr"#,
            r#"{"a":12"#,
            "[1,",
            "",
            "   ",
        ] {
            assert_eq!(scan_value(s.as_bytes(), 0), Scan::NeedMore, "{s}");
        }
    }

    #[test]
    fn grammar_errors_are_found() {
        for (s, at) in [
            (r#"{"eventID": }"#, 12),
            (r#"{"a":1,}"#, 7),
            ("[1,]", 3),
            (r#"{"a" 1}"#, 5),
            (r#"{"a":tru}"#, 5),
            (r#"{a:1}"#, 1),
            ("[1 2]", 3),
            ("}", 0),
            (r#"{"a":1]"#, 6),
        ] {
            match scan_value(s.as_bytes(), 0) {
                Scan::Invalid { at: got, .. } => assert_eq!(got, at, "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
    }

    #[test]
    fn counts_lines() {
        let (_, f) = done("{\n \"a\": [1,\n 2]\n}");
        assert_eq!(f.newlines, 3);
        assert_eq!(f.line_start, Some(16));
    }
}
