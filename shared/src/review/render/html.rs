//! The HTML renderer.

use std::fmt::Write as _;

use crate::review::report::Report;

use super::model::{Block, Inline, Table};
use super::{meta, sections::sections, title};

/// Escapes text for HTML element content and quoted attribute values (HTML and
/// SVG alike). Control characters other than tab and line breaks, which are not
/// allowed in documents, become U+FFFD.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = include_str!("report.css");

/// The report as one self-contained HTML5 page.
pub fn render_html(r: &Report) -> String {
    let secs = sections(r, true);
    let mut out = String::with_capacity(64 * 1024);
    let t = esc(&title(r));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n\
<meta name=\"referrer\" content=\"no-referrer\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"generator\" content=\"keytrail {}\">\n\
<title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{t}</h1>\n<p class=\"meta\">{}</p>\n<nav><ul>",
        esc(env!("CARGO_PKG_VERSION")),
        esc(&meta(r)),
    );
    for s in &secs {
        let _ = write!(out, "<li><a href=\"#{}\">{}</a></li>", s.id, esc(s.title));
    }
    out.push_str("</ul></nav>\n</header>\n<main>\n");
    for s in &secs {
        let _ = writeln!(out, "<section id=\"{}\">\n<h2>{}</h2>", s.id, esc(s.title));
        for b in &s.blocks {
            match b {
                Block::Para(p) => {
                    let _ = writeln!(out, "<p>{}</p>", html_inline(p));
                }
                Block::Warn(p) => {
                    let _ = writeln!(out, "<p class=\"warn\">{}</p>", html_inline(p));
                }
                Block::List(id, items) => {
                    let _ = write!(out, "<ul id=\"{id}\">");
                    for i in items {
                        let _ = write!(out, "<li>{}</li>", esc(i));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Table(tb) => html_table(&mut out, tb),
                Block::Sub(h) => {
                    let _ = writeln!(out, "<h3>{}</h3>", esc(h));
                }
                Block::Chart(svg) => {
                    let _ = writeln!(out, "<figure>{svg}</figure>");
                }
            }
        }
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn html_inline(parts: &Inline) -> String {
    parts
        .iter()
        .map(|(b, t)| {
            if *b {
                format!("<strong>{}</strong>", esc(t))
            } else {
                esc(t)
            }
        })
        .collect()
}

fn html_table(out: &mut String, t: &Table) {
    let _ = write!(
        out,
        "<div class=\"scroll\"><table id=\"{}\" class=\"data\">\n<thead><tr>",
        t.id
    );
    for (h, num) in &t.head {
        let _ = write!(
            out,
            "<th scope=\"col\"{}>{}</th>",
            if *num { " class=\"num\"" } else { "" },
            esc(h)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    if t.rows.is_empty() {
        let _ = writeln!(
            out,
            "<tr><td class=\"empty\" colspan=\"{}\">{}</td></tr>",
            t.head.len().max(1),
            esc(&t.empty)
        );
    }
    for row in &t.rows {
        out.push_str("<tr>");
        for cell in row {
            let class = cell
                .class
                .map(|c| format!(" class=\"{c}\""))
                .unwrap_or_default();
            let text = esc(&cell.text);
            if cell.strong {
                let _ = write!(out, "<td{class}><strong>{text}</strong></td>");
            } else {
                let _ = write!(out, "<td{class}>{text}</td>");
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}
