//! Attacker-controlled strings (user agents, encryption-context values, session names,
//! error messages) end up in e-mails, chat messages and terminals. Before that they lose
//! control characters and ANSI escape sequences, and their length is capped.

/// Removes ANSI escape sequences and control characters (newlines and tabs become a
/// space) and caps the result at `max` characters, marking a cut with `…`.
pub fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max + 4));
    let mut chars = s.chars().peekable();
    let mut count = 0;
    while let Some(c) = chars.next() {
        if c == '\u{1b}' || c == '\u{9b}' {
            skip_escape(c, &mut chars);
            continue;
        }
        let c = if c == '\n' || c == '\r' || c == '\t' {
            ' '
        } else if c.is_control() || is_invisible(c) {
            continue;
        } else {
            c
        };
        if count == max {
            out.push('…');
            return out;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Bidirectional overrides and zero-width characters can disguise text.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fn skip_escape(first: char, chars: &mut std::iter::Peekable<std::str::Chars>) {
    // CSI: ESC [ ... final byte in 0x40..=0x7e (or the 8-bit CSI).
    let csi = first == '\u{9b}' || chars.next_if_eq(&'[').is_some();
    if csi {
        for c in chars.by_ref() {
            if ('\u{40}'..='\u{7e}').contains(&c) {
                break;
            }
        }
        return;
    }
    // OSC: ESC ] ... terminated by BEL or ESC \.
    if chars.next_if_eq(&']').is_some() {
        while let Some(c) = chars.next() {
            if c == '\u{7}' {
                break;
            }
            if c == '\u{1b}' {
                chars.next_if_eq(&'\\');
                break;
            }
        }
        return;
    }
    // Two-character escapes (ESC c, ESC 7, ...).
    chars.next();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi_and_controls() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m text", 100), "red text");
        assert_eq!(clean("a\nb\r\nc\td", 100), "a b  c d");
        assert_eq!(clean("bell\u{7}\u{0}null", 100), "bellnull");
        assert_eq!(clean("\u{1b}]0;title\u{7}after", 100), "after");
        assert_eq!(clean("\u{1b}]8;;http://x\u{1b}\\link", 100), "link");
        assert_eq!(clean("rtl\u{202e}gpj.exe", 100), "rtlgpj.exe");
    }

    #[test]
    fn caps_length_on_char_boundaries() {
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("ééééé", 2), "éé…");
        let big = "x".repeat(1 << 20);
        let out = clean(&big, 256);
        assert_eq!(out.chars().count(), 257);
    }
}
