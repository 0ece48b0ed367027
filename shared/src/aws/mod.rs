//! The AWS side: the small traits the handlers use (`ports`), one SDK adapter per
//! service, the account and region discovery over a log bucket, the handlers'
//! configuration, and the three handlers (log processor, alarm enricher, monthly review).

pub mod alarm_enricher;
pub mod athena;
pub mod cloudwatch;
pub mod config;
pub mod discover;
pub mod firehose;
pub mod inventory;
pub mod kms;
pub mod log_processor;
pub mod logging;
pub mod monthly_review;
pub mod organization;
pub mod ports;
pub mod s3;
pub mod sdk;
pub mod securityhub;
pub mod sns;
pub mod tuning;
