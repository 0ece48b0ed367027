//! The HTML renderer: maud templates, which escape every interpolated value
//! (`& < > "`; attributes are always double-quoted), so a string from the logs stays
//! text. Only the stylesheet, a constant of this crate, is inserted as is.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::review::report::Report;

use super::model::{Block, Cell, Inline, Table};
use super::text::Text;
use super::{meta, sections::sections, title};

const STYLE: &str = include_str!("report.css");

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// The report as one self-contained HTML5 page.
pub fn render_html(r: &Report) -> String {
    let secs = sections(r, true);
    let t = title(r);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="referrer" content="no-referrer";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content={ "keytrail " (env!("CARGO_PKG_VERSION")) };
                title { (Text(&t)) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { (Text(&t)) }
                    p.meta { (Text(&meta(r))) }
                    nav {
                        ul {
                            @for s in &secs {
                                li { a href={ "#" (s.id) } { (s.title) } }
                            }
                        }
                    }
                }
                main {
                    @for s in &secs {
                        section id=(s.id) {
                            h2 { (s.title) }
                            @for b in &s.blocks {
                                (block(b))
                            }
                        }
                    }
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

fn block(b: &Block) -> Markup {
    html! {
        @match b {
            Block::Para(p) => p { (inline(p)) },
            Block::Warn(p) => p.warn { (inline(p)) },
            Block::List(id, items) => ul id=(id) {
                @for i in items {
                    li { (Text(i)) }
                }
            },
            Block::Table(t) => (table(t)),
            Block::Sub(h) => h3 { (Text(h)) },
            Block::Chart(svg) => figure { (svg) },
        }
    }
}

fn inline(parts: &Inline) -> Markup {
    html! {
        @for (bold, t) in parts {
            @if *bold {
                strong { (Text(t)) }
            } @else {
                (Text(t))
            }
        }
    }
}

fn table(t: &Table) -> Markup {
    html! {
        div.scroll {
            table id=(t.id) class="data" {
                thead {
                    tr {
                        @for (h, num) in &t.head {
                            th scope="col" class=[num.then_some("num")] { (Text(h)) }
                        }
                    }
                }
                tbody {
                    @if t.rows.is_empty() {
                        tr {
                            td.empty colspan=(t.head.len().max(1)) { (Text(&t.empty)) }
                        }
                    }
                    @for row in &t.rows {
                        tr {
                            @for c in row {
                                (cell(c))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn cell(c: &Cell) -> Markup {
    html! {
        td class=[c.class] title=[c.full.as_deref().map(Text)] {
            @if c.strong {
                strong { (Text(&c.text)) }
            } @else {
                (Text(&c.text))
            }
        }
    }
}
