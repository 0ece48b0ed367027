//! The Markdown renderer.

use std::fmt::Write as _;

use crate::review::report::Report;

use super::model::{Block, Cell, Inline, Table};
use super::{meta, sections::sections, title};

/// Escapes text for Markdown, inside table cells and out: `|` and the characters
/// that start links, code, emphasis or inline HTML are backslash-escaped or
/// replaced by entities, and line breaks become spaces, so a value from the logs
/// cannot break the table or inject markup.
pub fn md_escape(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &ch) in chars.iter().enumerate() {
        match ch {
            '\r' | '\n' | '\u{2028}' | '\u{2029}' => out.push(' '),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '|' | '`' | '*' | '[' | ']' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(ch);
            }
            // An underscore between two alphanumerics never starts emphasis: keep
            // role names such as AWSReservedSSO_Admin readable.
            '_' => {
                let alnum = |j: Option<&char>| j.is_some_and(|c| c.is_alphanumeric());
                if !(i > 0 && alnum(chars.get(i - 1)) && alnum(chars.get(i + 1))) {
                    out.push('\\');
                }
                out.push('_');
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn md_inline(parts: &Inline) -> String {
    parts
        .iter()
        .map(|(b, t)| {
            if *b {
                format!("**{}**", md_escape(t.trim_end())) + if t.ends_with(' ') { " " } else { "" }
            } else {
                md_escape(t)
            }
        })
        .collect()
}

fn md_cell(cell: &Cell) -> String {
    let t = md_escape(cell.full.as_deref().unwrap_or(&cell.text));
    if cell.strong && !t.is_empty() {
        format!("**{t}**")
    } else {
        t
    }
}

fn md_table(out: &mut String, t: &Table) {
    if t.rows.is_empty() {
        let _ = writeln!(out, "{}\n", md_escape(&t.empty));
        return;
    }
    out.push('|');
    for (h, _) in &t.head {
        let _ = write!(out, " {} |", md_escape(h));
    }
    out.push_str("\n|");
    for (_, num) in &t.head {
        out.push_str(if *num { " ---: |" } else { " --- |" });
    }
    out.push('\n');
    for row in &t.rows {
        out.push('|');
        for cell in row {
            let _ = write!(out, " {} |", md_cell(cell));
        }
        out.push('\n');
    }
    out.push('\n');
}

/// The report as Markdown (GitHub-flavoured tables).
pub fn render_markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", md_escape(&title(r)));
    let _ = writeln!(out, "{}\n", md_escape(&meta(r)));
    for s in sections(r, false) {
        let _ = writeln!(out, "## {}\n", s.title);
        for b in &s.blocks {
            match b {
                Block::Para(p) => {
                    let _ = writeln!(out, "{}\n", md_inline(p));
                }
                Block::Warn(p) => {
                    let _ = writeln!(out, "> {}\n", md_inline(p));
                }
                Block::List(_, items) => {
                    for i in items {
                        let _ = writeln!(out, "- {}", md_escape(i));
                    }
                    out.push('\n');
                }
                Block::Table(t) => md_table(&mut out, t),
                Block::Sub(h) => {
                    let _ = writeln!(out, "### {}\n", md_escape(h));
                }
                Block::Chart(_) => {}
            }
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}
