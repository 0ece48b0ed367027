//! Text as the HTML page and its SVG charts write it.

use std::borrow::Cow;

use maud::Render;

/// Text for the page: control characters other than tab and line breaks, which
/// are not allowed in HTML documents, become U+FFFD; maud escapes the rest.
pub(super) struct Text<'a>(pub(super) &'a str);

impl Render for Text<'_> {
    fn render_to(&self, buffer: &mut String) {
        clean(self.0).as_ref().render_to(buffer);
    }
}

fn clean(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
    if s.chars().any(bad) {
        Cow::Owned(
            s.chars()
                .map(|c| if bad(c) { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}
