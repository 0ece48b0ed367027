//! The log-processor handler: CloudTrail log file in S3 -> CloudWatch metrics and a
//! per-file summary, exactly once per object version.
//!
//! Idempotency (see docs/architecture.md): a marker object keyed by a hash of bucket, key
//! and ETag is created with `If-None-Match: *`, so of several deliveries of the same
//! event only one claims the file. The marker doubles as a checkpoint: it records how
//! many PutMetricData batches were sent, so a retry after a failure resumes after the
//! last batch that landed instead of counting it again, and a claim that is older than
//! the lease (a crashed or timed-out invocation) can be taken over.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::io::SyncIoBridge;
use tracing::{info, warn};

use crate::aws::config::{ConfigError, Env};
use crate::aws::ports::{AwsError, BodyReader, MetricSink, ObjectStore, PutOutcome};
use crate::aws::tuning::{TuningLoadError, TuningSource};
use crate::cloudtrail::layout::{LogKey, ObjectKind, classify_key, decode_event_key, marker_key};
use crate::cloudtrail::reader::ReadLimits;
use crate::defaults::DEFAULT_NAMESPACE;
use crate::detect::analysis::{AnalysisOptions, FileAnalysis, analyse};
use crate::detect::metrics::{BAD_LOG_FILES, MAX_DATUMS_PER_CALL, MetricId, MetricOptions};

/// Processor configuration, read once at cold start.
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// `KEYTRAIL_METRIC_NAMESPACE`, default `KMSAudit`.
    pub namespace: String,
    /// `KEYTRAIL_SUMMARY_BUCKET`; default: the bucket the log file is in.
    pub summary_bucket: Option<String>,
    /// `KEYTRAIL_PER_KEY_METRICS`, default false.
    pub per_key_metrics: bool,
    /// `KEYTRAIL_CLAIM_LEASE_SECONDS`, default 900 (the Lambda maximum timeout): how
    /// long a claim holds when the invocation's own deadline is unknown.
    pub claim_lease: Duration,
    /// `KEYTRAIL_MAX_METRIC_AGE_HOURS`, default 336: CloudWatch rejects datums older
    /// than two weeks, so older events are summarised but not published as metrics.
    pub max_metric_age: Duration,
    /// `KEYTRAIL_BASELINE_TTL_SECONDS`, default 3600: how long a warm container keeps
    /// the review's baseline (known source IPs) before reading it again.
    pub baseline_ttl: Duration,
    /// `KEYTRAIL_MAX_RECORD_MIB`, default 4: a record larger than this is counted as
    /// bad and skipped without being held, so one crafted record cannot exhaust the
    /// function's memory.
    pub limits: ReadLimits,
    /// `KEYTRAIL_CONFIG` and `KEYTRAIL_CONFIG_TTL_SECONDS`: the configuration file
    /// (rule settings, suppressions), cached per container.
    pub tuning: Arc<TuningSource>,
    /// `KEYTRAIL_USAGE_STREAM`: the Firehose delivery stream of the KMS usage table
    /// (the template's `EnableUsageTable`); unset or empty: no rows are sent.
    pub usage_stream: Option<String>,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            namespace: DEFAULT_NAMESPACE.into(),
            summary_bucket: None,
            per_key_metrics: false,
            claim_lease: Duration::from_secs(900),
            max_metric_age: Duration::from_secs(336 * 3600),
            baseline_ttl: Duration::from_secs(3600),
            limits: ReadLimits::default(),
            tuning: Arc::default(),
            usage_stream: None,
        }
    }
}

impl ProcessorConfig {
    /// Every environment variable the log processor reads (the template test checks
    /// that template.yaml sets exactly these).
    pub const ENV_VARS: &'static [&'static str] = &[
        "KEYTRAIL_METRIC_NAMESPACE",
        "KEYTRAIL_SUMMARY_BUCKET",
        "KEYTRAIL_PER_KEY_METRICS",
        "KEYTRAIL_CLAIM_LEASE_SECONDS",
        "KEYTRAIL_MAX_METRIC_AGE_HOURS",
        "KEYTRAIL_BASELINE_TTL_SECONDS",
        "KEYTRAIL_MAX_RECORD_MIB",
        "KEYTRAIL_CONFIG",
        "KEYTRAIL_CONFIG_TTL_SECONDS",
        "KEYTRAIL_USAGE_STREAM",
    ];

    /// Reads the environment variables documented in docs/deploy.md.
    pub fn from_env() -> Result<ProcessorConfig, ConfigError> {
        ProcessorConfig::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get` (tests pass a map).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<ProcessorConfig, ConfigError> {
        let d = ProcessorConfig::default();
        let env = Env::new(get);
        let secs = |k: &str, default: u64| env.number(k, default, 0..=u64::MAX / 3600);
        Ok(ProcessorConfig {
            namespace: env.get("KEYTRAIL_METRIC_NAMESPACE").unwrap_or(d.namespace),
            summary_bucket: env.get("KEYTRAIL_SUMMARY_BUCKET"),
            per_key_metrics: env.flag("KEYTRAIL_PER_KEY_METRICS", false)?,
            claim_lease: Duration::from_secs(secs(
                "KEYTRAIL_CLAIM_LEASE_SECONDS",
                d.claim_lease.as_secs(),
            )?),
            max_metric_age: Duration::from_secs(3600 * secs("KEYTRAIL_MAX_METRIC_AGE_HOURS", 336)?),
            baseline_ttl: Duration::from_secs(secs("KEYTRAIL_BASELINE_TTL_SECONDS", 3600)?),
            limits: ReadLimits {
                max_record_bytes: (env.number(
                    "KEYTRAIL_MAX_RECORD_MIB",
                    (d.limits.max_record_bytes >> 20) as u64,
                    1..=1024,
                )? as usize)
                    << 20,
            },
            tuning: Arc::new(TuningSource::from_env(&env)?),
            usage_stream: env.get("KEYTRAIL_USAGE_STREAM"),
        })
    }
}

/// An object named by the triggering event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// URL-decoded key.
    pub key: String,
    /// The key exactly as the event spelt it.
    pub raw_key: String,
}

/// What the invocation payload is.
#[derive(Debug, PartialEq)]
pub enum ProcessorInput {
    Objects(Vec<ObjectRef>),
    /// The `s3:TestEvent` S3 sends when a notification is configured.
    TestEvent,
    /// Anything else; acknowledged and logged, never retried.
    Unrecognised(String),
}

#[derive(Deserialize, Serialize)]
struct EbDetail {
    bucket: EbName,
    object: EbObject,
}
#[derive(Deserialize, Serialize)]
struct EbName {
    name: String,
}
#[derive(Deserialize, Serialize)]
struct EbObject {
    key: String,
}

/// Recognises S3 notifications, EventBridge "Object Created" events and `s3:TestEvent`.
pub fn parse_input(payload: &Value) -> ProcessorInput {
    if payload.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return ProcessorInput::TestEvent;
    }
    if payload.get("Records").is_some() {
        return match serde_json::from_value::<aws_lambda_events::event::s3::S3Event>(
            payload.clone(),
        ) {
            Ok(ev) => ProcessorInput::Objects(
                ev.records
                    .into_iter()
                    .filter_map(|r| {
                        let raw = r.s3.object.key?;
                        Some(ObjectRef {
                            bucket: r.s3.bucket.name?,
                            key: decode_event_key(&raw),
                            raw_key: raw,
                        })
                    })
                    .collect(),
            ),
            // Producers other than S3 may leave out fields the typed event requires:
            // take the bucket and key wherever they are present.
            Err(e) => {
                let objects: Vec<ObjectRef> = payload["Records"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| {
                        let raw = r.pointer("/s3/object/key")?.as_str()?.to_owned();
                        Some(ObjectRef {
                            bucket: r.pointer("/s3/bucket/name")?.as_str()?.to_owned(),
                            key: decode_event_key(&raw),
                            raw_key: raw,
                        })
                    })
                    .collect();
                if objects.is_empty() {
                    ProcessorInput::Unrecognised(format!(
                        "Records present but not an S3 event: {e}"
                    ))
                } else {
                    ProcessorInput::Objects(objects)
                }
            }
        };
    }
    if payload.get("detail-type").and_then(Value::as_str) == Some("Object Created") {
        return match serde_json::from_value::<
            aws_lambda_events::event::eventbridge::EventBridgeEvent<EbDetail>,
        >(payload.clone())
        {
            Ok(ev) => ProcessorInput::Objects(vec![ObjectRef {
                bucket: ev.detail.bucket.name,
                key: decode_event_key(&ev.detail.object.key),
                raw_key: ev.detail.object.key,
            }]),
            Err(e) => ProcessorInput::Unrecognised(format!(
                "EventBridge Object Created event without bucket/key: {e}"
            )),
        };
    }
    ProcessorInput::Unrecognised(
        "neither an S3 notification nor an EventBridge Object Created event".into(),
    )
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Processed {
        records: u64,
        kms_records: u64,
        bad_records: u64,
        duplicates: u64,
        datums: usize,
        metric_batches: usize,
        resumed_from_batch: usize,
        summary_key: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        content_error: Option<String>,
    },
    Skipped {
        reason: String,
    },
    AlreadyProcessed,
}

/// Why an invocation fails (and is retried by Lambda).
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("s3://{bucket}/{key}: reading the object body failed: {message}")]
    Body {
        bucket: String,
        key: String,
        message: String,
    },
    #[error(
        "s3://{bucket}/{key}: another invocation holds the claim until {until}; \
         failing so that Lambda retries after it has finished or expired"
    )]
    Busy {
        bucket: String,
        key: String,
        until: DateTime<Utc>,
    },
    #[error("the analysis task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The configuration file is missing or invalid: every invocation fails until
    /// it is fixed (the function's Errors alarm says so).
    #[error(transparent)]
    Config(#[from] TuningLoadError),
    #[error("cannot serialise: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    state: MarkerState,
    at: DateTime<Utc>,
    /// A claim is void after this instant: the claiming invocation's deadline.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    batches_sent: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MarkerState {
    Claimed,
    Failed,
    Done,
}

/// The handler with its dependencies.
pub struct Processor<S, M> {
    pub store: S,
    pub metrics: M,
    pub config: ProcessorConfig,
    /// The usage table's delivery stream, when configured.
    pub usage_stream: Option<crate::aws::firehose::UsageStream>,
    /// The baseline and when it was read, per warm container.
    baseline: std::sync::Mutex<
        Option<(
            std::time::Instant,
            Option<Arc<crate::detect::baseline::Baseline>>,
        )>,
    >,
}

impl Processor<crate::aws::s3::S3Store, crate::aws::cloudwatch::CloudWatchSink> {
    /// The Lambda's processor: S3 and CloudWatch clients from `sdk`, and the usage
    /// table's Firehose client when `config.usage_stream` names a stream.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, config: ProcessorConfig) -> Self {
        let usage_stream =
            config
                .usage_stream
                .clone()
                .map(|name| crate::aws::firehose::UsageStream {
                    client: crate::aws::firehose::firehose_client(sdk),
                    name,
                });
        let processor = Processor::new(
            crate::aws::s3::S3Store {
                client: crate::aws::s3::s3_client(sdk),
            },
            crate::aws::cloudwatch::CloudWatchSink {
                client: crate::aws::cloudwatch::cloudwatch_client(sdk),
            },
            config,
        );
        match usage_stream {
            Some(stream) => processor.with_usage_stream(stream),
            None => processor,
        }
    }
}

impl<S: ObjectStore, M: MetricSink> Processor<S, M> {
    pub fn new(store: S, metrics: M, config: ProcessorConfig) -> Self {
        Processor {
            store,
            metrics,
            config,
            usage_stream: None,
            baseline: std::sync::Mutex::new(None),
        }
    }

    /// Sends each file's usage-table rows to `stream` too.
    pub fn with_usage_stream(mut self, stream: crate::aws::firehose::UsageStream) -> Self {
        self.usage_stream = Some(stream);
        self
    }

    /// Handles one invocation payload. Returns a report of every object.
    /// `deadline` is the invocation's deadline (from the Lambda context); a claim
    /// expires with it, so a crashed or timed-out attempt never blocks its retries.
    pub async fn handle(
        &self,
        payload: &Value,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Value, ProcessError> {
        match parse_input(payload) {
            ProcessorInput::TestEvent => {
                info!("s3:TestEvent acknowledged");
                Ok(json!({"ignored": "s3:TestEvent"}))
            }
            ProcessorInput::Unrecognised(why) => {
                warn!(reason = %why, "unrecognised payload acknowledged without processing");
                Ok(json!({"ignored": why}))
            }
            ProcessorInput::Objects(objects) => {
                let mut report = Vec::new();
                for obj in &objects {
                    let outcome = self.process_object(obj, deadline).await?;
                    report.push(json!({"bucket": obj.bucket, "key": obj.key, "result": outcome}));
                }
                Ok(json!({"objects": report}))
            }
        }
    }

    /// Processes one object, exactly once per (bucket, key, ETag).
    pub async fn process_object(
        &self,
        obj: &ObjectRef,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Outcome, ProcessError> {
        let log_key = match classify_key(&obj.key) {
            ObjectKind::Log(k) => k,
            ObjectKind::Skip(reason) => {
                info!(bucket = %obj.bucket, key = %obj.key, reason = %reason, "skipped");
                return Ok(Outcome::Skipped { reason });
            }
        };
        let got = match self.store.get(&obj.bucket, &obj.key).await {
            Ok(got) => Ok((obj.key.clone(), got)),
            // EventBridge may deliver the key unencoded; fall back to it verbatim.
            Err(e) if is_missing(&e) && obj.raw_key != obj.key => self
                .store
                .get(&obj.bucket, &obj.raw_key)
                .await
                .map(|got| (obj.raw_key.clone(), got)),
            Err(e) => Err(e),
        };
        let (key, (body, etag)) = match got {
            Ok(got) => got,
            Err(e) if is_missing(&e) => {
                // Deleted before we got to it: retrying cannot help.
                warn!(bucket = %obj.bucket, key = %obj.key, "object no longer exists; nothing to process");
                return Ok(Outcome::Skipped {
                    reason: "object no longer exists".into(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let out_bucket = self
            .config
            .summary_bucket
            .clone()
            .unwrap_or_else(|| obj.bucket.clone());
        let lease =
            chrono::Duration::from_std(self.config.claim_lease).unwrap_or(chrono::Duration::MAX);
        let marker = MarkerRef {
            bucket: out_bucket,
            key: marker_key(&obj.bucket, &key, etag.as_deref().unwrap_or("")),
            // The claim dies with this invocation: a crash or timeout never blocks retries.
            expires_at: deadline.unwrap_or_else(|| Utc::now() + lease)
                + chrono::Duration::seconds(5),
        };
        let resume = match self.claim(&marker).await? {
            Claim::Owned { resume } => resume,
            Claim::Done => {
                info!(bucket = %obj.bucket, key = %key, "already processed; re-delivery ignored");
                return Ok(Outcome::AlreadyProcessed);
            }
            Claim::Busy { until } => {
                // It may be a duplicate running now or an attempt that will fail: either
                // way a later retry settles it (it finds the marker done, or expired).
                return Err(ProcessError::Busy {
                    bucket: obj.bucket.clone(),
                    key,
                    until,
                });
            }
        };
        let mut sent = resume;
        let result = self
            .publish(obj, &key, &log_key, body, &marker, resume, &mut sent)
            .await;
        match result {
            Ok(outcome) => {
                self.write_marker(&marker, MarkerState::Done, sent).await?;
                Ok(outcome)
            }
            Err(e) => {
                // Leave a checkpoint so the retry resumes after the last batch that landed.
                if let Err(m) = self.write_marker(&marker, MarkerState::Failed, sent).await {
                    warn!(error = %m, "could not record the failure in the marker; the claim expires with this invocation");
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn publish(
        &self,
        obj: &ObjectRef,
        key: &str,
        log_key: &LogKey,
        body: BodyReader,
        marker: &MarkerRef,
        resume: usize,
        sent: &mut usize,
    ) -> Result<Outcome, ProcessError> {
        let opts = AnalysisOptions {
            metrics: MetricOptions {
                per_key: self.config.per_key_metrics,
                own_account: Some(log_key.account.clone()),
            },
            baseline: self.baseline(&marker.bucket).await,
            limits: self.config.limits,
            tuning: self.config.tuning.get(&self.store).await?,
            ..AnalysisOptions::default()
        };
        let io_failed = Arc::new(AtomicBool::new(false));
        let reader = FlagOnError {
            inner: SyncIoBridge::new(body),
            failed: io_failed.clone(),
        };
        let name = format!("s3://{}/{}", obj.bucket, key);
        let task_name = name.clone();
        let mut analysis: FileAnalysis =
            tokio::task::spawn_blocking(move || analyse(&task_name, reader, &opts)).await?;
        if io_failed.load(Ordering::SeqCst) {
            return Err(ProcessError::Body {
                bucket: obj.bucket.clone(),
                key: key.to_owned(),
                message: analysis.error.map(|e| e.to_string()).unwrap_or_default(),
            });
        }
        if let Some(reason) = &analysis.not_a_log {
            info!(bucket = %obj.bucket, key = %key, reason = %reason, "skipped: content is not a CloudTrail log");
            return Ok(Outcome::Skipped {
                reason: reason.clone(),
            });
        }
        let content_error = analysis.error.as_ref().map(ToString::to_string);
        if analysis.is_bad() {
            warn!(
                bucket = %obj.bucket, key = %key,
                error = content_error.as_deref().unwrap_or(""),
                bad_records = analysis.bad_records,
                samples = ?analysis.bad_samples,
                "bad log content; good records are still counted"
            );
            analysis
                .metrics
                .add(MetricId::new(BAD_LOG_FILES, &[]), log_key.delivered, 1);
        }
        // The hit index, before the metrics: an alarm this file's metrics raise finds
        // the file under its rule (matches a suppression silenced included, as the
        // investigation counts them too).
        let mut matched: std::collections::BTreeSet<&str> = analysis
            .summary
            .days
            .values()
            .flat_map(|d| d.rules.keys().map(String::as_str))
            .collect();
        matched.extend(analysis.summary.suppressed.keys().map(String::as_str));
        for rule in matched {
            let entry = crate::cloudtrail::layout::hit_index_key(rule, log_key.delivered, key);
            self.store
                .put(
                    &marker.bucket,
                    &entry,
                    Vec::new(),
                    "application/octet-stream",
                    false,
                )
                .await?;
        }
        // The pipeline's pulse: the log_deliveries_stopped alarm fires when it stops.
        analysis.metrics.add(
            MetricId::new(crate::detect::health::LOG_FILES_PROCESSED, &[]),
            log_key.delivered,
            1,
        );
        let max_age =
            chrono::Duration::from_std(self.config.max_metric_age).unwrap_or(chrono::Duration::MAX);
        let dropped = analysis.metrics.drop_before(Utc::now() - max_age);
        if dropped > 0 {
            warn!(key = %key, observations = dropped, "events older than KEYTRAIL_MAX_METRIC_AGE_HOURS are summarised but not sent to CloudWatch");
        }
        let datums = analysis.metrics.datums();
        let batches: Vec<_> = datums.chunks(MAX_DATUMS_PER_CALL).collect();
        for (i, batch) in batches.iter().enumerate().skip(resume) {
            self.metrics
                .put_metric_data(&self.config.namespace, batch)
                .await?;
            *sent = i + 1;
            if i + 1 < batches.len() {
                self.write_marker(marker, MarkerState::Claimed, *sent)
                    .await?;
            }
        }
        let summary_key = log_key.summary_key();
        self.store
            .put(
                &marker.bucket,
                &summary_key,
                analysis.summary.to_gzip_json(),
                "application/gzip",
                false,
            )
            .await?;
        // The usage table's rows, after the summary: a failure fails the file, and
        // its retry sends a new delivery (the review counts one complete delivery).
        let mut usage_records = 0;
        if let Some(stream) = &self.usage_stream {
            let delivery = crate::detect::usage_rows::delivery_id(Utc::now());
            let records = crate::detect::usage_rows::records(
                &analysis.summary,
                &crate::detect::usage_rows::FileIdentity {
                    file: key,
                    delivery: &delivery,
                    account: &log_key.account,
                    region: &log_key.region,
                    file_date: log_key.date,
                    delivered: log_key.delivered,
                },
                crate::detect::usage_rows::MAX_RECORD_BYTES,
            );
            usage_records = records.len();
            stream.send(records).await?;
        }
        info!(
            usage_records,
            bucket = %obj.bucket, key = %key, records = analysis.records, kms_records = analysis.kms_records,
            bad_records = analysis.bad_records, duplicates = analysis.duplicates, datums = datums.len(),
            summary = %summary_key, "processed"
        );
        Ok(Outcome::Processed {
            records: analysis.records,
            kms_records: analysis.kms_records,
            bad_records: analysis.bad_records,
            duplicates: analysis.duplicates,
            datums: datums.len(),
            metric_batches: batches.len(),
            resumed_from_batch: resume,
            summary_key,
            content_error,
        })
    }

    /// The review's baseline, read at most once per TTL. Without one (before the first
    /// review) `unfamiliar_source_ip` is inactive; a read failure is logged, not fatal.
    async fn baseline(&self, bucket: &str) -> Option<Arc<crate::detect::baseline::Baseline>> {
        if let Ok(cache) = self.baseline.lock()
            && let Some((at, b)) = cache.as_ref()
            && at.elapsed() < self.config.baseline_ttl
        {
            return b.clone();
        }
        let loaded = match self
            .store
            .get_small(bucket, crate::cloudtrail::layout::BASELINE_KEY)
            .await
        {
            Ok(Some(bytes)) => {
                match serde_json::from_slice::<crate::detect::baseline::Baseline>(&bytes) {
                    Ok(b) => Some(Arc::new(b)),
                    Err(e) => {
                        warn!(error = %e, "unreadable baseline; unfamiliar_source_ip inactive");
                        None
                    }
                }
            }
            Ok(None) => {
                info!(
                    "no baseline yet (written by the monthly review); unfamiliar_source_ip inactive"
                );
                None
            }
            Err(e) => {
                warn!(error = %e, "baseline not readable; unfamiliar_source_ip inactive until the next attempt");
                return None;
            }
        };
        if let Ok(mut cache) = self.baseline.lock() {
            *cache = Some((std::time::Instant::now(), loaded.clone()));
        }
        loaded
    }

    async fn claim(&self, m: &MarkerRef) -> Result<Claim, ProcessError> {
        let fresh = marker_json(m, MarkerState::Claimed, 0);
        if self
            .store
            .put(&m.bucket, &m.key, fresh, "application/json", true)
            .await?
            == PutOutcome::Written
        {
            return Ok(Claim::Owned { resume: 0 });
        }
        let Some(bytes) = self.store.get_small(&m.bucket, &m.key).await? else {
            // Deleted between our put and get (lifecycle rule): claim it afresh.
            self.write_marker(m, MarkerState::Claimed, 0).await?;
            return Ok(Claim::Owned { resume: 0 });
        };
        let Ok(found) = serde_json::from_slice::<Marker>(&bytes) else {
            warn!(marker = %m.key, "unreadable marker; taking the claim over");
            self.write_marker(m, MarkerState::Claimed, 0).await?;
            return Ok(Claim::Owned { resume: 0 });
        };
        let lease =
            chrono::Duration::from_std(self.config.claim_lease).unwrap_or(chrono::Duration::MAX);
        let until = found.expires_at.unwrap_or(found.at + lease);
        match found.state {
            MarkerState::Done => Ok(Claim::Done),
            MarkerState::Claimed if Utc::now() < until => Ok(Claim::Busy { until }),
            _ => {
                info!(marker = %m.key, batches_sent = found.batches_sent, state = ?found.state, "resuming an earlier attempt");
                self.write_marker(m, MarkerState::Claimed, found.batches_sent)
                    .await?;
                Ok(Claim::Owned {
                    resume: found.batches_sent,
                })
            }
        }
    }

    async fn write_marker(
        &self,
        m: &MarkerRef,
        state: MarkerState,
        sent: usize,
    ) -> Result<(), AwsError> {
        self.store
            .put(
                &m.bucket,
                &m.key,
                marker_json(m, state, sent),
                "application/json",
                false,
            )
            .await
            .map(|_| ())
    }
}

fn is_missing(e: &AwsError) -> bool {
    e.code.as_deref() == Some("NoSuchKey")
}

enum Claim {
    Owned { resume: usize },
    Done,
    Busy { until: DateTime<Utc> },
}

/// Where this attempt's marker lives and when its claim expires.
struct MarkerRef {
    bucket: String,
    key: String,
    expires_at: DateTime<Utc>,
}

fn marker_json(m: &MarkerRef, state: MarkerState, batches_sent: usize) -> Vec<u8> {
    serde_json::to_vec(&Marker {
        state,
        at: Utc::now(),
        expires_at: Some(m.expires_at),
        batches_sent,
    })
    .unwrap_or_default()
}

/// Remembers whether the underlying stream failed, so that a network error while
/// reading S3 fails the invocation instead of passing for a damaged file.
struct FlagOnError<R> {
    inner: R,
    failed: Arc<AtomicBool>,
}

impl<R: Read> Read for FlagOnError<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .inspect_err(|_| self.failed.store(true, Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn event(name: &str) -> Value {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn s3_put_event_fixture() {
        let ProcessorInput::Objects(objs) = parse_input(&event("s3-put.json")) else {
            panic!("objects expected");
        };
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].bucket, "keytrail-test-trail");
        assert!(
            matches!(classify_key(&objs[0].key), ObjectKind::Log(_)),
            "{}",
            objs[0].key
        );
    }

    #[test]
    fn url_encoded_event_fixture_is_decoded() {
        let ProcessorInput::Objects(objs) = parse_input(&event("s3-put-url-encoded.json")) else {
            panic!("objects expected");
        };
        assert!(
            objs.iter()
                .all(|o| !o.key.contains('+') && !o.key.contains('%')),
            "{objs:?}"
        );
        assert!(objs.iter().any(|o| o.key.contains(' ')), "{objs:?}");
    }

    #[test]
    fn eventbridge_fixture() {
        let ProcessorInput::Objects(objs) = parse_input(&event("eventbridge-object-created.json"))
        else {
            panic!("objects expected");
        };
        assert_eq!(objs.len(), 1);
        assert!(objs[0].key.contains("AWSLogs/"));
    }

    #[test]
    fn test_event_and_garbage() {
        assert_eq!(
            parse_input(&event("s3-test-event.json")),
            ProcessorInput::TestEvent
        );
        assert!(matches!(
            parse_input(&json!({"hello": 1})),
            ProcessorInput::Unrecognised(_)
        ));
        assert!(matches!(
            parse_input(&json!({"Records": [{"x": 1}]})),
            ProcessorInput::Unrecognised(_)
        ));
    }

    #[test]
    fn config_from_lookup() {
        let env: HashMap<&str, &str> = [
            ("KEYTRAIL_METRIC_NAMESPACE", "Custom"),
            ("KEYTRAIL_PER_KEY_METRICS", "TRUE"),
            ("KEYTRAIL_CLAIM_LEASE_SECONDS", "60"),
        ]
        .into();
        let c =
            ProcessorConfig::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).expect("valid");
        assert_eq!(c.namespace, "Custom");
        assert!(c.per_key_metrics);
        assert_eq!(c.claim_lease, Duration::from_secs(60));
        let d = ProcessorConfig::from_lookup(|_| None).expect("defaults");
        assert_eq!(d.namespace, "KMSAudit");
        assert!(!d.per_key_metrics);
        let bad = ProcessorConfig::from_lookup(|k| {
            (k == "KEYTRAIL_PER_KEY_METRICS").then(|| "maybe".into())
        });
        assert!(
            bad.expect_err("invalid")
                .to_string()
                .contains("KEYTRAIL_PER_KEY_METRICS")
        );
    }

    #[test]
    fn env_vars_list_is_what_from_lookup_reads() {
        let seen = std::sync::Mutex::new(Vec::new());
        let _ = ProcessorConfig::from_lookup(|k| {
            seen.lock().expect("lock").push(k.to_owned());
            None
        });
        let mut seen = seen.into_inner().expect("lock");
        seen.sort();
        let mut listed: Vec<String> = ProcessorConfig::ENV_VARS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        listed.sort();
        assert_eq!(seen, listed);
    }
}
