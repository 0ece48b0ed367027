//! The monthly review: the month and its coverage, the key inventory, the trail checks,
//! the report built from them and a month of summaries, and its rendering as Markdown
//! and HTML.

pub mod access;
pub mod inventory;
pub mod month;
pub mod render;
pub mod report;
pub mod trail;
pub mod usage_table;
