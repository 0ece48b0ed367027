//! The document model both renderers walk: sections of paragraphs, lists, tables
//! and (HTML only) charts.

/// One cell: text, optionally emphasised, optionally with a CSS class.
#[derive(Debug, Clone, Default)]
pub(super) struct Cell {
    pub(super) text: String,
    pub(super) strong: bool,
    pub(super) class: Option<&'static str>,
    /// The full text when `text` is a short form (an ARN): HTML shows `text` with
    /// this as its tooltip, Markdown shows this.
    pub(super) full: Option<String>,
}

pub(super) fn c(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        ..Cell::default()
    }
}

pub(super) fn n(v: u64) -> Cell {
    Cell {
        text: v.to_string(),
        class: Some("num"),
        ..Cell::default()
    }
}

/// A number that is emphasised when non-zero (something to look at).
pub(super) fn n_alert(v: u64) -> Cell {
    Cell {
        text: v.to_string(),
        strong: v > 0,
        class: Some(if v > 0 { "num alert" } else { "num" }),
        full: None,
    }
}

pub(super) fn strong(text: impl Into<String>, class: &'static str) -> Cell {
    Cell {
        text: text.into(),
        strong: true,
        class: Some(class),
        full: None,
    }
}

/// A date or time, kept on one line.
pub(super) fn time(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        class: Some("time"),
        ..Cell::default()
    }
}

/// An identifier such as a key ARN: the one kind of cell that may wrap anywhere.
pub(super) fn id(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        class: Some("id"),
        ..Cell::default()
    }
}

/// An ARN shown as `short` (kept on one line), the full ARN as its tooltip (HTML)
/// or in place of it (Markdown).
pub(super) fn arn(full: &str, short: String) -> Cell {
    if short == full {
        return id(short);
    }
    Cell {
        text: short,
        class: Some("arn"),
        full: Some(full.to_owned()),
        ..Cell::default()
    }
}

pub(super) struct Table {
    pub(super) id: &'static str,
    /// Column titles; `true` for numeric (right-aligned) columns.
    pub(super) head: Vec<(String, bool)>,
    pub(super) rows: Vec<Vec<Cell>>,
    /// Shown instead of an empty table.
    pub(super) empty: String,
}

/// Inline text: (emphasised, text).
pub(super) type Inline = Vec<(bool, String)>;

pub(super) enum Block {
    Para(Inline),
    /// A paragraph that flags a problem.
    Warn(Inline),
    List(&'static str, Vec<String>),
    Table(Table),
    Sub(String),
    /// HTML only.
    Chart(maud::Markup),
}

pub(super) struct Section {
    pub(super) id: &'static str,
    pub(super) title: &'static str,
    pub(super) blocks: Vec<Block>,
}

pub(super) fn cols(c: &[(&str, bool)]) -> Vec<(String, bool)> {
    c.iter().map(|(t, num)| ((*t).to_owned(), *num)).collect()
}

pub(super) fn plain(s: impl Into<String>) -> Inline {
    vec![(false, s.into())]
}
