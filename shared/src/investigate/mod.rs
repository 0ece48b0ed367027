//! Investigation: an alarm becomes a plan (rule, window), the evidence gathered from
//! the logs, an investigation record, a prepared Athena query and the notification
//! text; also the offline event search.

pub mod alarm;
pub mod investigation;
pub mod sanitize;
pub mod search;
