//! The AWS side: the small traits the handlers use, their SDK adapters, the handlers'
//! configuration and the three handlers (log processor, alarm enricher, monthly review).

pub mod alarm_enricher;
pub mod config;
pub mod log_processor;
pub mod monthly_review;
pub mod services;
