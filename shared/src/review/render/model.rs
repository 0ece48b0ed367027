//! The document model both renderers walk: sections of paragraphs, lists, tables
//! and (HTML only) charts.

/// One cell: text, optionally emphasised, optionally with a CSS class.
#[derive(Debug, Clone, Default)]
pub(super) struct Cell {
    pub(super) text: String,
    pub(super) strong: bool,
    pub(super) class: Option<&'static str>,
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
    }
}

pub(super) fn strong(text: impl Into<String>, class: &'static str) -> Cell {
    Cell {
        text: text.into(),
        strong: true,
        class: Some(class),
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
