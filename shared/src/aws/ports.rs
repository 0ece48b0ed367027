//! The small traits the handlers use for what they need from AWS (objects, metrics,
//! keys, notifications, findings, the review's inventory) and the error of a failed call. The
//! SDK adapters implement them; tests and the core depend only on these.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_s3::error::ProvideErrorMetadata;
use tokio::io::AsyncRead;

use crate::detect::metrics::Datum;

/// An AWS call that failed; the invocation fails so Lambda retries it.
#[derive(Debug, thiserror::Error)]
#[error("{operation} {target}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub target: String,
    pub message: String,
    /// The service's error code, when it sent one (e.g. `NoSuchKey`).
    pub code: Option<String>,
}

impl AwsError {
    pub(crate) fn from_sdk<E, R>(
        operation: &'static str,
        target: String,
        err: aws_sdk_s3::error::SdkError<E, R>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().map(str::to_owned);
        let message = match err.message() {
            Some(m) => format!("{}: {m}", code.as_deref().unwrap_or("error")),
            None => aws_sdk_s3::error::DisplayErrorContext(&err).to_string(),
        };
        AwsError {
            operation,
            target,
            message,
            code,
        }
    }
}

/// The body of an object, as a stream.
pub type BodyReader = Pin<Box<dyn AsyncRead + Send>>;

/// Result of a conditional put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Written,
    /// `if_absent` was set and the object already exists (HTTP 412).
    AlreadyExists,
}

/// What keytrail needs from S3.
pub trait ObjectStore: Send + Sync {
    /// Streams an object; also returns its ETag.
    fn get(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<(BodyReader, Option<String>), AwsError>> + Send;
    /// Reads a small object whole; `None` when it does not exist.
    fn get_small(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, AwsError>> + Send;
    /// Lists every key under `prefix` (all pages), grouping by `delimiter` when given.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> impl Future<Output = Result<Listing, AwsError>> + Send;
    /// Writes an object; with `if_absent`, only when no object has that key.
    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        if_absent: bool,
    ) -> impl Future<Output = Result<PutOutcome, AwsError>> + Send;
}

/// One page-complete listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub keys: Vec<String>,
    /// Common prefixes, when a delimiter was given.
    pub prefixes: Vec<String>,
}

/// What keytrail needs from CloudWatch.
pub trait MetricSink: Send + Sync {
    /// Publishes one batch (at most [`crate::detect::metrics::MAX_DATUMS_PER_CALL`] datums).
    fn put_metric_data(
        &self,
        namespace: &str,
        datums: &[Datum],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// What KMS says about a key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyMeta {
    pub arn: Option<String>,
    pub state: Option<String>,
    pub deletion_date: Option<String>,
    pub description: Option<String>,
    pub manager: Option<String>,
}

/// What keytrail needs from KMS (read-only).
pub trait KeyDirectory: Send + Sync {
    fn describe(&self, key: &str) -> impl Future<Output = Result<KeyMeta, AwsError>> + Send;
    fn aliases(&self, key: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    fn tags(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send;
}

/// What keytrail needs from SNS.
pub trait Notifier: Send + Sync {
    /// Publishes a message with string attributes.
    fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        body: &str,
        attributes: &[(&str, &str)],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// A finding Security Hub did not import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedFinding {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// What keytrail needs from Security Hub.
pub trait FindingImporter: Send + Sync {
    /// Imports (creates or updates, by id) at most 100 findings; returns the ones
    /// Security Hub refused.
    fn import(
        &self,
        findings: &[crate::investigate::asff::AsffFinding],
    ) -> impl Future<Output = Result<Vec<RefusedFinding>, AwsError>> + Send;
}

/// The key inventory of the accounts and Regions reviewed, and those that refused.
#[derive(Debug, Default)]
pub struct Inventory {
    pub keys: Vec<crate::review::inventory::KeyInfo>,
    pub refusals: Vec<crate::review::inventory::InventoryRefusal>,
}

/// Where the monthly review's key inventory and trail checks come from.
pub trait ReviewSources: Send + Sync {
    /// The keys of the caller's own account and Region.
    fn keys(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::review::inventory::KeyInfo>, AwsError>> + Send;
    fn trails(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::review::trail::TrailInfo>, AwsError>> + Send;
    /// The keys of every `(account, Region)` of `scope` (the month's logs) that the
    /// sources can read; by default the caller's own account and Region only.
    fn inventory(
        &self,
        _scope: &[(String, String)],
    ) -> impl Future<Output = Result<Inventory, AwsError>> + Send {
        async move {
            Ok(Inventory {
                keys: self.keys().await?,
                refusals: Vec::new(),
            })
        }
    }
}
