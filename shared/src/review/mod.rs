//! The monthly review: the report built from a month of summaries, the key inventory
//! and the trail checks, and its rendering as Markdown and HTML.

pub mod render;
pub mod report;
