//! Detection: a KMS record becomes an event (keys, principal, failure class), the one
//! catalog of rules judges it, and the analysis counts it into metrics, the per-file
//! summary and the rule hits that offline alarms evaluate.

pub mod alias_target;
pub mod analysis;
pub mod baseline;
pub mod catalog;
pub mod event;
pub mod findings;
pub mod health;
pub mod key_facts;
pub mod keys;
pub mod marks;
pub mod metrics;
pub mod operations;
pub mod policy;
pub mod principal;
pub mod shared_events;
pub mod summary;
pub mod tuning;
pub mod usage_rows;
