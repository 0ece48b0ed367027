//! AWS adapters: small traits for what keytrail needs from S3 and CloudWatch, and
//! their SDK implementations. They only call and map; all logic lives in the core.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_cloudwatch::primitives::DateTime as CwDateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use tokio::io::AsyncRead;

use crate::cloudtrail::layout::{log_account_prefix, logs_root};
use crate::cloudtrail::record::is_account_id;
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

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<Listing, AwsError> {
        let mut out = Listing::default();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_owned))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("ListObjectsV2", format!("s3://{bucket}/{prefix}"), e)
                })?;
            out.keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            out.prefixes.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok(out),
            }
        }
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

/// KMS through the SDK.
#[derive(Clone, Debug)]
pub struct KmsDirectory {
    pub client: aws_sdk_kms::Client,
}

impl KeyDirectory for KmsDirectory {
    async fn describe(&self, key: &str) -> Result<KeyMeta, AwsError> {
        let out = self
            .client
            .describe_key()
            .key_id(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeKey", key.to_owned(), e))?;
        let m = out.key_metadata();
        Ok(KeyMeta {
            arn: m.and_then(|m| m.arn()).map(str::to_owned),
            state: m.and_then(|m| m.key_state()).map(|s| s.as_str().to_owned()),
            deletion_date: m.and_then(|m| m.deletion_date()).map(|d| {
                d.fmt(aws_sdk_kms::primitives::DateTimeFormat::DateTime)
                    .unwrap_or_default()
            }),
            description: m
                .and_then(|m| m.description())
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
            manager: m
                .and_then(|m| m.key_manager())
                .map(|s| s.as_str().to_owned()),
        })
    }

    async fn aliases(&self, key: &str) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_aliases()
                .key_id(key)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListAliases", key.to_owned(), e))?;
            names.extend(
                out.aliases()
                    .iter()
                    .filter_map(|a| a.alias_name().map(str::to_owned)),
            );
            match out.next_marker() {
                Some(m) if out.truncated() => marker = Some(m.to_owned()),
                _ => return Ok(names),
            }
        }
    }

    async fn tags(&self, key: &str) -> Result<Vec<(String, String)>, AwsError> {
        let out = self
            .client
            .list_resource_tags()
            .key_id(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListResourceTags", key.to_owned(), e))?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
            .collect())
    }
}

/// SNS through the SDK.
#[derive(Clone, Debug)]
pub struct SnsNotifier {
    pub client: aws_sdk_sns::Client,
}

impl Notifier for SnsNotifier {
    async fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        body: &str,
        attributes: &[(&str, &str)],
    ) -> Result<(), AwsError> {
        let mut req = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(body);
        for (name, value) in attributes {
            let attr = aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(*value)
                .build()
                .map_err(|e| AwsError {
                    operation: "Publish",
                    target: topic_arn.to_owned(),
                    message: e.to_string(),
                    code: None,
                })?;
            req = req.message_attributes(*name, attr);
        }
        req.send()
            .await
            .map_err(|e| AwsError::from_sdk("Publish", topic_arn.to_owned(), e))?;
        Ok(())
    }
}

/// The log roots of a CloudTrail bucket: `[prefix/]AWSLogs/` and, for organization
/// trails, `[prefix/]AWSLogs/o-xxx/`, each with an account found under it (filtered
/// to `accounts` when that is not empty).
pub async fn discover_accounts<S: ObjectStore>(
    store: &S,
    bucket: &str,
    prefix: Option<&str>,
    accounts: &[String],
) -> Result<Vec<(String, String)>, AwsError> {
    let base = logs_root(prefix);
    let last = |p: &str| {
        p.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let mut out = Vec::new();
    for p in store.list(bucket, &base, Some("/")).await?.prefixes {
        let name = last(&p);
        if name.starts_with("o-") {
            for q in store.list(bucket, &p, Some("/")).await?.prefixes {
                out.push((p.clone(), last(&q)));
            }
        } else {
            out.push((base.clone(), name));
        }
    }
    out.retain(|(_, acct)| is_account_id(acct) && (accounts.is_empty() || accounts.contains(acct)));
    Ok(out)
}

/// The regions with CloudTrail logs under `<root><account>/CloudTrail/`, unless
/// `configured` names them.
pub async fn discover_regions<S: ObjectStore>(
    store: &S,
    bucket: &str,
    root: &str,
    account: &str,
    configured: &[String],
) -> Result<Vec<String>, AwsError> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    let listing = store
        .list(bucket, &log_account_prefix(root, account), Some("/"))
        .await?;
    Ok(listing
        .prefixes
        .iter()
        .filter_map(|p| {
            p.trim_end_matches('/')
                .rsplit('/')
                .next()
                .map(str::to_owned)
        })
        .collect())
}

/// Where the monthly review's key inventory and trail checks come from.
pub trait ReviewSources: Send + Sync {
    fn keys(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::review::report::KeyInfo>, AwsError>> + Send;
    fn trails(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::review::report::TrailInfo>, AwsError>> + Send;
}

/// KMS and CloudTrail through the SDK.
#[derive(Clone, Debug)]
pub struct AwsReviewSources {
    pub kms: aws_sdk_kms::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
}

fn smithy_time(t: &aws_sdk_kms::primitives::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

impl ReviewSources for AwsReviewSources {
    async fn keys(&self) -> Result<Vec<crate::review::report::KeyInfo>, AwsError> {
        use crate::review::report::KeyInfo;
        let mut ids = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .kms
                .list_keys()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListKeys", "kms".into(), e))?;
            ids.extend(
                page.keys()
                    .iter()
                    .filter_map(|k| k.key_arn().map(str::to_owned)),
            );
            match page.next_marker() {
                Some(m) if page.truncated() => marker = Some(m.to_owned()),
                _ => break,
            }
        }
        // One ListAliases for all keys.
        let mut aliases: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut marker: Option<String> = None;
        let mut alias_error = None;
        loop {
            match self
                .kms
                .list_aliases()
                .set_marker(marker.take())
                .send()
                .await
            {
                Ok(page) => {
                    for a in page.aliases() {
                        if let (Some(target), Some(name)) = (a.target_key_id(), a.alias_name()) {
                            aliases
                                .entry(target.to_owned())
                                .or_default()
                                .push(name.to_owned());
                        }
                    }
                    match page.next_marker() {
                        Some(m) if page.truncated() => marker = Some(m.to_owned()),
                        _ => break,
                    }
                }
                Err(e) => {
                    alias_error = Some(format!(
                        "ListAliases: {}",
                        AwsError::from_sdk("ListAliases", "kms".into(), e)
                            .code
                            .unwrap_or_default()
                    ));
                    break;
                }
            }
        }
        let dir = KmsDirectory {
            client: self.kms.clone(),
        };
        let mut out = Vec::new();
        for arn in ids {
            let mut k = KeyInfo {
                arn: arn.clone(),
                ..KeyInfo::default()
            };
            match self.kms.describe_key().key_id(&arn).send().await {
                Ok(d) => {
                    if let Some(m) = d.key_metadata() {
                        k.state = m.key_state().map(|s| s.as_str().to_owned());
                        k.spec = m.key_spec().map(|s| s.as_str().to_owned());
                        k.usage = m.key_usage().map(|s| s.as_str().to_owned());
                        k.manager = m.key_manager().map(|s| s.as_str().to_owned());
                        k.created = m.creation_date().and_then(smithy_time);
                        k.deletion_date = m.deletion_date().and_then(smithy_time);
                        let imported = m.origin().is_some_and(|o| o.as_str() != "AWS_KMS");
                        if imported {
                            k.unavailable.push(
                                "rotation: not applicable (imported or external key material)"
                                    .into(),
                            );
                        }
                    }
                }
                Err(e) => k.unavailable.push(format!(
                    "DescribeKey: {}",
                    AwsError::from_sdk("DescribeKey", arn.clone(), e)
                        .code
                        .unwrap_or_default()
                )),
            }
            let key_id = arn.rsplit('/').next().unwrap_or(&arn).to_owned();
            k.aliases = aliases.get(&key_id).cloned().unwrap_or_default();
            if let Some(e) = &alias_error {
                k.unavailable.push(e.clone());
            }
            if k.is_customer_managed() {
                match dir.tags(&arn).await {
                    Ok(t) => k.tags = t.into_iter().collect(),
                    Err(e) => k
                        .unavailable
                        .push(format!("ListResourceTags: {}", e.code.unwrap_or(e.message))),
                }
                if k.rotation_applies() && k.state.as_deref() == Some("Enabled") {
                    match self.kms.get_key_rotation_status().key_id(&arn).send().await {
                        Ok(r) => k.rotation_enabled = Some(r.key_rotation_enabled()),
                        Err(e) => k.unavailable.push(format!(
                            "GetKeyRotationStatus: {}",
                            AwsError::from_sdk("GetKeyRotationStatus", arn.clone(), e)
                                .code
                                .unwrap_or_default()
                        )),
                    }
                }
                match self.kms.get_key_last_usage().key_id(&arn).send().await {
                    Ok(u) => {
                        k.kms_tracking_start = u.tracking_start_date().and_then(smithy_time);
                        k.kms_last_used = u
                            .key_last_usage()
                            .and_then(|l| l.timestamp())
                            .and_then(smithy_time);
                    }
                    Err(e) => {
                        let e = AwsError::from_sdk("GetKeyLastUsage", arn.clone(), e);
                        k.unavailable.push(format!(
                            "GetKeyLastUsage: {}",
                            e.code.unwrap_or_else(|| "not available".into())
                        ));
                    }
                }
            }
            out.push(k);
        }
        Ok(out)
    }

    async fn trails(&self) -> Result<Vec<crate::review::report::TrailInfo>, AwsError> {
        use crate::review::report::{BasicSelector, FieldSelector, TrailInfo};
        let described = self
            .cloudtrail
            .describe_trails()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeTrails", "cloudtrail".into(), e))?;
        let mut out = Vec::new();
        for t in described.trail_list() {
            let name = t.name().unwrap_or_default().to_owned();
            let id = t.trail_arn().unwrap_or(&name).to_owned();
            let mut info = TrailInfo {
                name: name.clone(),
                arn: t.trail_arn().map(str::to_owned),
                kms_key_id: t.kms_key_id().filter(|k| !k.is_empty()).map(str::to_owned),
                log_file_validation: t.log_file_validation_enabled().unwrap_or(false),
                multi_region: t.is_multi_region_trail().unwrap_or(false),
                ..TrailInfo::default()
            };
            match self.cloudtrail.get_trail_status().name(&id).send().await {
                Ok(s) => info.is_logging = s.is_logging(),
                Err(e) => info.unavailable.push(format!(
                    "GetTrailStatus: {}",
                    AwsError::from_sdk("GetTrailStatus", id.clone(), e)
                        .code
                        .unwrap_or_default()
                )),
            }
            match self
                .cloudtrail
                .get_event_selectors()
                .trail_name(&id)
                .send()
                .await
            {
                Ok(sel) => {
                    info.basic_selectors = sel
                        .event_selectors()
                        .iter()
                        .map(|s| BasicSelector {
                            read_write_type: s.read_write_type().map(|r| r.as_str().to_owned()),
                            include_management_events: s.include_management_events(),
                            exclude_management_event_sources: s
                                .exclude_management_event_sources()
                                .to_vec(),
                        })
                        .collect();
                    info.advanced_selectors = sel
                        .advanced_event_selectors()
                        .iter()
                        .map(|a| {
                            a.field_selectors()
                                .iter()
                                .map(|f| FieldSelector {
                                    field: f.field().to_owned(),
                                    equals: f.equals().to_vec(),
                                    not_equals: f.not_equals().to_vec(),
                                    starts_with: f.starts_with().to_vec(),
                                    not_starts_with: f.not_starts_with().to_vec(),
                                })
                                .collect()
                        })
                        .collect();
                }
                Err(e) => info.unavailable.push(format!(
                    "GetEventSelectors: {}",
                    AwsError::from_sdk("GetEventSelectors", id.clone(), e)
                        .code
                        .unwrap_or_default()
                )),
            }
            out.push(info);
        }
        Ok(out)
    }
}

/// Builds a CloudTrail client.
pub fn cloudtrail_client(sdk: &aws_config::SdkConfig) -> aws_sdk_cloudtrail::Client {
    aws_sdk_cloudtrail::Client::new(sdk)
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

/// Builds a KMS client.
pub fn kms_client(sdk: &aws_config::SdkConfig) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(sdk)
}

/// Builds an SNS client.
pub fn sns_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(sdk)
}

/// Builds a CloudWatch client.
pub fn cloudwatch_client(sdk: &aws_config::SdkConfig) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(sdk)
}
