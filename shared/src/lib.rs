//! keytrail: audit AWS KMS key usage from CloudTrail logs.
//!
//! The core is synchronous and free of AWS SDK types: the streaming [`reader`], the
//! tolerant [`model`], [`keys`] and [`principal`] normalisation, the detection
//! [`catalog`], [`metrics`] aggregation, per-file [`summary`]s, the [`analysis`]
//! engine that ties them together and offline threshold evaluation in [`findings`].
//! The `aws` feature adds the S3/CloudWatch adapters and the Lambda handlers.

pub mod alarm;
pub mod analysis;
pub mod catalog;
pub mod enrich;
pub mod findings;
pub mod framing;
pub mod keys;
pub mod metrics;
pub mod model;
pub mod principal;
pub mod reader;
pub mod render;
pub mod review;
pub mod s3key;
pub mod sanitize;
pub mod search;
pub mod summary;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod enricher;
#[cfg(feature = "aws")]
pub mod processor;
#[cfg(feature = "aws")]
pub mod reviewer;
