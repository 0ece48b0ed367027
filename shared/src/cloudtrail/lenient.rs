//! A forgiving JSON parse for the records serde_json refuses although they are valid
//! JSON, so that one odd value keytrail does not need never costs its record.
//!
//! serde_json refuses three kinds of valid JSON: a number beyond `f64` range
//! (`1e400`), nesting deeper than 128, and a lone surrogate escape (`"\ud800"`).
//! This parser keeps such a number as a string of its digits, replaces a container
//! nested deeper than [`MAX_DEPTH`] by `null`, and decodes a lone surrogate as
//! U+FFFD, as most JSON readers do. Everything that is not JSON is still an error,
//! with its offset: a raw control character or a bad escape in a string, invalid
//! UTF-8, a malformed number or a grammar error.
//!
//! It only runs on records serde_json has refused, so it favours clarity over speed.

use serde_json::{Map, Number, Value};

/// Containers deeper than this become `null`. CloudTrail records nest a handful of
/// levels; nothing keytrail reads is deeper than 10.
pub const MAX_DEPTH: usize = 128;

/// Parses one JSON value filling all of `bytes` (whitespace around it allowed).
/// `Err` holds the offset of the problem and what it is.
pub fn parse(bytes: &[u8]) -> Result<Value, (usize, String)> {
    let mut p = Parser { b: bytes, i: 0 };
    let v = p.value(0)?;
    p.space();
    if p.i != bytes.len() {
        return Err(p.fail("trailing characters after the value"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn fail(&self, what: &str) -> (usize, String) {
        (self.i.min(self.b.len()), what.to_owned())
    }

    fn space(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8, what: &str) -> Result<(), (usize, String)> {
        self.space();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.fail(what))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, (usize, String)> {
        self.space();
        let Some(&c) = self.b.get(self.i) else {
            return Err(self.fail("EOF while parsing a value"));
        };
        match c {
            b'{' | b'[' if depth >= MAX_DEPTH => {
                self.skip_container()?;
                Ok(Value::Null)
            }
            b'{' => {
                self.i += 1;
                let mut map = Map::new();
                self.space();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Object(map));
                }
                loop {
                    self.space();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(self.fail("key must be a string"));
                    }
                    let key = self.string()?;
                    self.eat(b':', "expected `:`")?;
                    let v = self.value(depth + 1)?;
                    map.insert(key, v);
                    self.space();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Object(map));
                        }
                        _ => return Err(self.fail("expected `,` or `}`")),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.space();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.space();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.fail("expected `,` or `]`")),
                    }
                }
            }
            b'"' => Ok(Value::String(self.string()?)),
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.fail("expected value")),
        }
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, (usize, String)> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.fail("invalid literal"))
        }
    }

    /// JSON's number grammar; a number beyond `f64` range is kept as its text.
    fn number(&mut self) -> Result<Value, (usize, String)> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.b.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            p.i - s
        };
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.b[int_start] == b'0') {
            return Err(self.fail("invalid number"));
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(self.fail("invalid number"));
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.fail("invalid number"));
            }
        }
        // ASCII by construction.
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or_default();
        Ok(match text.parse::<Number>() {
            Ok(n) => Value::Number(n),
            Err(_) => Value::String(text.to_owned()),
        })
    }

    fn hex4(&mut self) -> Result<u16, (usize, String)> {
        let h = self
            .b
            .get(self.i..self.i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u16::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.fail("invalid \\u escape"))?;
        self.i += 4;
        Ok(h)
    }

    /// The string whose opening quote is at `i`.
    fn string(&mut self) -> Result<String, (usize, String)> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let run = self.i;
            while self
                .b
                .get(self.i)
                .is_some_and(|&c| c != b'"' && c != b'\\' && c >= 0x20)
            {
                self.i += 1;
            }
            let text = std::str::from_utf8(&self.b[run..self.i]).map_err(|e| {
                (
                    run + e.valid_up_to(),
                    "invalid UTF-8 in a string".to_owned(),
                )
            })?;
            out.push_str(text);
            match self.b.get(self.i) {
                None => return Err(self.fail("EOF while parsing a string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {}
                Some(_) => {
                    return Err(self
                        .fail("control character (\\u0000-\\u001F) found while parsing a string"));
                }
            }
            self.i += 1;
            let Some(&e) = self.b.get(self.i) else {
                return Err(self.fail("EOF while parsing a string"));
            };
            self.i += 1;
            match e {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hi = self.hex4()?;
                    let c = if (0xD800..0xDC00).contains(&hi)
                        && self.b.get(self.i..self.i + 2) == Some(b"\\u")
                    {
                        let save = self.i;
                        self.i += 2;
                        let lo = self.hex4()?;
                        if (0xDC00..0xE000).contains(&lo) {
                            let c = 0x10000
                                + ((u32::from(hi) - 0xD800) << 10)
                                + (u32::from(lo) - 0xDC00);
                            char::from_u32(c)
                        } else {
                            // A lone high surrogate before another escape.
                            self.i = save;
                            None
                        }
                    } else {
                        char::from_u32(u32::from(hi))
                    };
                    out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                _ => {
                    self.i -= 1;
                    return Err(self.fail("invalid escape"));
                }
            }
        }
    }

    /// Steps over a container too deep to keep, checking only its brackets and
    /// strings (the framer has checked its grammar).
    fn skip_container(&mut self) -> Result<(), (usize, String)> {
        let mut depth = 0usize;
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Err(self.fail("EOF while parsing a value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agrees_with_serde_json_on_ordinary_json() {
        let text =
            r#" {"a":[1,-2.5,3e2,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"],"b":{}} "#;
        let want: Value = serde_json::from_str(text).expect("valid");
        assert_eq!(parse(text.as_bytes()), Ok(want));
    }

    #[test]
    fn keeps_what_serde_json_refuses() {
        assert_eq!(
            parse(br#"{"n":1e400,"m":-1E+999}"#),
            Ok(json!({"n":"1e400","m":"-1E+999"}))
        );
        assert_eq!(parse(br#""a\ud800b""#), Ok(json!("a\u{fffd}b")));
        assert_eq!(
            parse(br#""\udc00\ud800\u0041""#),
            Ok(json!("\u{fffd}\u{fffd}A"))
        );
        let deep = format!("{{\"k\":{}1{}, \"x\":2}}", "[".repeat(200), "]".repeat(200));
        let v = parse(deep.as_bytes()).expect("deep nesting is kept");
        assert_eq!(v["x"], json!(2));
    }

    #[test]
    fn still_refuses_what_is_not_json() {
        for (bad, at) in [
            (&b"\"a\nb\""[..], 2),
            (b"\"a\\qb\"", 3),
            (b"\"\xff\"", 1),
            (b"01", 2),
            (b"1.", 2),
            (b"[1,]", 3),
            (b"{\"a\" 1}", 5),
            (b"tru", 0),
            (b"{} x", 3),
        ] {
            let err = parse(bad).expect_err(&String::from_utf8_lossy(bad));
            assert_eq!(err.0, at, "{:?}: {}", String::from_utf8_lossy(bad), err.1);
        }
    }
}
