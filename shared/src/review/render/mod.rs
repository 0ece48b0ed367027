//! Renderers for the monthly review [`Report`]: Markdown (for terminals, tickets and
//! pull requests) and one self-contained HTML5 file (inline CSS and SVG charts, no
//! scripts, nothing loaded from anywhere).
//!
//! Every string in a report may come from CloudTrail (principal names, user agents,
//! key aliases, event names) and is therefore attacker-controlled: the Markdown
//! renderer escapes table and inline syntax, the HTML renderer escapes `& < > " '`
//! everywhere, SVG text and attributes included, and the page carries a
//! Content-Security-Policy that forbids scripts and remote loads as a second line of
//! defence.

mod charts;
mod format;
mod html;
mod markdown;
mod model;
mod sections;
#[cfg(test)]
pub(crate) mod tests;
mod text;

pub use html::render_html;
pub use markdown::render_markdown;

use crate::review::report::{Report, ts};

fn title(r: &Report) -> String {
    format!("KMS key usage review: {}", r.month)
}

fn meta(r: &Report) -> String {
    format!(
        "Generated {} (schema {} v{}); key inventory from {}.",
        ts(r.generated_at),
        r.schema,
        r.version,
        r.inventory_source
    )
}
