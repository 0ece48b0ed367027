//! AWS adapters: small traits for what keytrail needs from S3 and CloudWatch, and
//! their SDK implementations. They only call and map; all logic lives in the core.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_cloudwatch::primitives::DateTime as CwDateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use tokio::io::AsyncRead;

use crate::metrics::Datum;

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
    fn from_sdk<E, R>(
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

/// What keytrail needs from CloudWatch.
pub trait MetricSink: Send + Sync {
    /// Publishes one batch (at most [`crate::metrics::MAX_DATUMS_PER_CALL`] datums).
    fn put_metric_data(
        &self,
        namespace: &str,
        datums: &[Datum],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// S3 through the SDK.
#[derive(Clone, Debug)]
pub struct S3Store {
    pub client: aws_sdk_s3::Client,
}

impl S3Store {
    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, AwsError> {
        self.client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetObject", format!("s3://{bucket}/{key}"), e))
    }
}

impl ObjectStore for S3Store {
    async fn get(&self, bucket: &str, key: &str) -> Result<(BodyReader, Option<String>), AwsError> {
        let out = self.get_object(bucket, key).await?;
        let etag = out.e_tag().map(str::to_owned);
        Ok((Box::pin(out.body.into_async_read()), etag))
    }

    async fn get_small(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        let out = match self.get_object(bucket, key).await {
            Ok(out) => out,
            Err(e) if e.code.as_deref() == Some("NoSuchKey") => return Ok(None),
            Err(e) => return Err(e),
        };
        let bytes = out.body.collect().await.map_err(|e| AwsError {
            operation: "GetObject",
            target: format!("s3://{bucket}/{key}"),
            message: e.to_string(),
            code: None,
        })?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        if_absent: bool,
    ) -> Result<PutOutcome, AwsError> {
        let mut req = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        if if_absent {
            req = req.if_none_match("*");
        }
        match req.send().await {
            Ok(_) => Ok(PutOutcome::Written),
            Err(e)
                if if_absent
                    && matches!(
                        e.code(),
                        Some("PreconditionFailed" | "ConditionalRequestConflict")
                    ) =>
            {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(e) if if_absent && e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(e) => Err(AwsError::from_sdk(
                "PutObject",
                format!("s3://{bucket}/{key}"),
                e,
            )),
        }
    }
}

/// CloudWatch through the SDK.
#[derive(Clone, Debug)]
pub struct CloudWatchSink {
    pub client: aws_sdk_cloudwatch::Client,
}

impl MetricSink for CloudWatchSink {
    async fn put_metric_data(&self, namespace: &str, datums: &[Datum]) -> Result<(), AwsError> {
        let data: Vec<MetricDatum> = datums.iter().map(to_datum).collect();
        self.client
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutMetricData", namespace.to_owned(), e))?;
        Ok(())
    }
}

/// A datum with `Values=[1]`, `Counts=[n]`: n observations of 1, so `Sum` is the
/// call count and `SampleCount` stays meaningful.
fn to_datum(d: &Datum) -> MetricDatum {
    let dims: Vec<Dimension> = d
        .metric
        .dimensions
        .iter()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
        .collect();
    MetricDatum::builder()
        .metric_name(&d.metric.name)
        .set_dimensions((!dims.is_empty()).then_some(dims))
        .timestamp(CwDateTime::from_secs(d.minute.timestamp()))
        .values(1.0)
        .counts(d.count as f64)
        .unit(StandardUnit::Count)
        .build()
}

/// Loads the shared SDK configuration once per cold start. The SDK honours
/// `AWS_ENDPOINT_URL`, which is how tests reach moto.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// Builds an S3 client; path-style addressing when a custom endpoint is set
/// (emulators do not serve virtual-hosted buckets).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Builds a CloudWatch client.
pub fn cloudwatch_client(sdk: &aws_config::SdkConfig) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(sdk)
}
