//! Investigation: an alarm becomes a plan (rule, window), the evidence gathered from
//! the logs, an investigation record, a prepared Athena query and the notification
//! text; also the offline event search, and findings exported as ASFF and OCSF.

pub mod alarm;
pub mod asff;
pub mod athena;
pub mod chatbot;
pub mod evidence;
pub mod export;
pub mod notification;
pub mod ocsf;
pub mod plan;
pub mod record;
pub mod sanitize;
pub mod search;

#[cfg(test)]
mod tests;
