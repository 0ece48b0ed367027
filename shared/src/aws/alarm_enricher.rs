//! The alarm-enricher handler: CloudWatch alarm over SNS -> the alarm window's
//! CloudTrail evidence -> an enriched notification on the security topic and an
//! investigation record in S3.

use std::sync::Arc;

use chrono::{Duration, Utc};
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};
use tokio_util::io::SyncIoBridge;
use tracing::{info, warn};

use crate::aws::config::{ConfigError, Env};
use crate::aws::discover::{discover_accounts, discover_regions};
use crate::aws::ports::{AwsError, FindingImporter, KeyDirectory, Notifier, ObjectStore};
use crate::aws::tuning::{TuningLoadError, TuningSource};
use crate::cloudtrail::layout::{investigation_key, parse_log_key};
use crate::cloudtrail::reader::ReadLimits;
use crate::defaults::{DEFAULT_ATHENA_TABLE, DEFAULT_DELIVERY_LAG_MINUTES, DEFAULT_NAMESPACE};
use crate::investigate::alarm::{Alarm, Payload, parse_payload};
use crate::investigate::asff::AsffFinding;
use crate::investigate::athena::date_partition;
use crate::investigate::chatbot::chatbot_notification;
use crate::investigate::evidence::{Evidence, FailedObject, FileEvidence, gather_file};
use crate::investigate::export::Exported;
use crate::investigate::notification::{notification_body, notification_subject};
use crate::investigate::plan::{Plan, day_prefixes, plan_for};
use crate::investigate::record::{
    GatherInfo, Investigation, InvestigationInputs, build_investigation,
};
use crate::investigate::sanitize::clean;

/// Enricher configuration, read once at cold start.
#[derive(Debug, Clone)]
pub struct EnricherConfig {
    /// `KEYTRAIL_LOG_BUCKET` (required): the CloudTrail bucket.
    pub log_bucket: String,
    /// `KEYTRAIL_LOG_PREFIX`: the trail's S3 key prefix, if any.
    pub log_prefix: Option<String>,
    /// `KEYTRAIL_ACCOUNTS`: comma-separated accounts to read; default: discovered.
    pub accounts: Vec<String>,
    /// `KEYTRAIL_REGIONS`: comma-separated regions to read; default: discovered.
    pub regions: Vec<String>,
    /// `KEYTRAIL_ALERT_TOPIC_ARN` (required): where enriched notifications go.
    pub topic_arn: String,
    /// `KEYTRAIL_INVESTIGATION_BUCKET`: default the log bucket.
    pub investigation_bucket: Option<String>,
    /// `KEYTRAIL_DELIVERY_LAG_MINUTES`, default 15.
    pub lag: Duration,
    /// `KEYTRAIL_GATHER_CONCURRENCY`, default 8: log files fetched at once.
    pub concurrency: usize,
    /// `KEYTRAIL_NOTIFY_STATES`, default `ALARM`: the states that are enriched.
    pub notify_states: Vec<String>,
    /// `KEYTRAIL_METRIC_NAMESPACE`, default `KMSAudit`.
    pub namespace: String,
    /// `KEYTRAIL_ATHENA_TABLE`, default `cloudtrail_logs`.
    pub athena_table: String,
    /// `KEYTRAIL_ATHENA_DATE_PARTITION`, default `logdate` (the template's table):
    /// the table's `yyyy/MM/dd` partition column, or `none`.
    pub athena_date_partition: Option<String>,
    /// `KEYTRAIL_SUMMARY_BUCKET`, default the log bucket: where the review's baseline
    /// (`keytrail/state/baseline.json`) is, for `unfamiliar_source_ip` alarms.
    pub summary_bucket: Option<String>,
    /// `KEYTRAIL_CONFIG`, `KEYTRAIL_CONFIG_TTL_SECONDS`: the configuration file whose
    /// suppressions the investigation applies (silenced events are counted apart).
    pub tuning: std::sync::Arc<TuningSource>,
    /// `KEYTRAIL_CHATBOT_TOPIC_ARN`: when set, the investigation is also published
    /// there as an AWS Chatbot custom notification (the template's ChatbotTopic).
    pub chatbot_topic_arn: Option<String>,
    /// `KEYTRAIL_SECURITY_HUB`, default `false`: also import the investigation's
    /// finding into Security Hub (ASFF, `BatchImportFindings`).
    pub security_hub: bool,
}

impl EnricherConfig {
    /// Every environment variable the enricher reads.
    pub const ENV_VARS: &'static [&'static str] = &[
        "KEYTRAIL_LOG_BUCKET",
        "KEYTRAIL_LOG_PREFIX",
        "KEYTRAIL_ACCOUNTS",
        "KEYTRAIL_REGIONS",
        "KEYTRAIL_ALERT_TOPIC_ARN",
        "KEYTRAIL_INVESTIGATION_BUCKET",
        "KEYTRAIL_DELIVERY_LAG_MINUTES",
        "KEYTRAIL_GATHER_CONCURRENCY",
        "KEYTRAIL_NOTIFY_STATES",
        "KEYTRAIL_METRIC_NAMESPACE",
        "KEYTRAIL_ATHENA_TABLE",
        "KEYTRAIL_ATHENA_DATE_PARTITION",
        "KEYTRAIL_SUMMARY_BUCKET",
        "KEYTRAIL_CONFIG",
        "KEYTRAIL_CONFIG_TTL_SECONDS",
        "KEYTRAIL_CHATBOT_TOPIC_ARN",
        "KEYTRAIL_SECURITY_HUB",
    ];

    pub fn from_env() -> Result<EnricherConfig, ConfigError> {
        EnricherConfig::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<EnricherConfig, ConfigError> {
        let env = Env::new(get);
        let get = |k: &str| env.get(k);
        let list = |k: &str| env.list(k).unwrap_or_default();
        let mut states = list("KEYTRAIL_NOTIFY_STATES");
        if states.is_empty() {
            states.push("ALARM".into());
        }
        for s in &states {
            if !["ALARM", "OK", "INSUFFICIENT_DATA"].contains(&s.as_str()) {
                return Err(ConfigError(format!(
                    "KEYTRAIL_NOTIFY_STATES: unknown state {s:?}"
                )));
            }
        }
        Ok(EnricherConfig {
            log_bucket: env.required("KEYTRAIL_LOG_BUCKET")?,
            log_prefix: get("KEYTRAIL_LOG_PREFIX").map(|p| p.trim_matches('/').to_owned()),
            accounts: list("KEYTRAIL_ACCOUNTS"),
            regions: list("KEYTRAIL_REGIONS"),
            topic_arn: env.required("KEYTRAIL_ALERT_TOPIC_ARN")?,
            investigation_bucket: get("KEYTRAIL_INVESTIGATION_BUCKET"),
            lag: Duration::minutes(env.number(
                "KEYTRAIL_DELIVERY_LAG_MINUTES",
                DEFAULT_DELIVERY_LAG_MINUTES,
                0..=24 * 60,
            )? as i64),
            concurrency: env
                .number("KEYTRAIL_GATHER_CONCURRENCY", 8, 0..=256)?
                .max(1) as usize,
            notify_states: states,
            namespace: get("KEYTRAIL_METRIC_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
            athena_table: get("KEYTRAIL_ATHENA_TABLE")
                .unwrap_or_else(|| DEFAULT_ATHENA_TABLE.into()),
            athena_date_partition: date_partition(get("KEYTRAIL_ATHENA_DATE_PARTITION"))
                .map_err(|e| ConfigError(format!("KEYTRAIL_ATHENA_DATE_PARTITION: {e}")))?,
            summary_bucket: get("KEYTRAIL_SUMMARY_BUCKET"),
            tuning: std::sync::Arc::new(TuningSource::from_env(&env)?),
            chatbot_topic_arn: get("KEYTRAIL_CHATBOT_TOPIC_ARN"),
            security_hub: env.flag("KEYTRAIL_SECURITY_HUB", false)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The configuration file is missing or invalid.
    #[error(transparent)]
    Config(#[from] TuningLoadError),
    #[error("cannot serialise the investigation: {0}")]
    Json(#[from] serde_json::Error),
}

/// The handler with its dependencies.
pub struct Enricher<S, K, N, F> {
    pub store: Arc<S>,
    pub kms: K,
    pub notifier: N,
    /// Security Hub, used when `config.security_hub` is on.
    pub findings: F,
    pub config: EnricherConfig,
}

impl
    Enricher<
        crate::aws::s3::S3Store,
        crate::aws::kms::KmsDirectory,
        crate::aws::sns::SnsNotifier,
        crate::aws::securityhub::SecurityHubImporter,
    >
{
    /// The Lambda's enricher: S3, KMS, SNS and Security Hub clients from `sdk`.
    /// Security Hub is used only with `config.security_hub`; building its client makes
    /// no call.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, config: EnricherConfig) -> Self {
        Enricher::new(
            crate::aws::s3::S3Store {
                client: crate::aws::s3::s3_client(sdk),
            },
            crate::aws::kms::KmsDirectory {
                client: crate::aws::kms::kms_client(sdk),
            },
            crate::aws::sns::SnsNotifier {
                client: crate::aws::sns::sns_client(sdk),
            },
            crate::aws::securityhub::SecurityHubImporter {
                client: crate::aws::securityhub::securityhub_client(sdk),
            },
            config,
        )
    }
}

impl<S: ObjectStore + 'static, K: KeyDirectory, N: Notifier, F: FindingImporter>
    Enricher<S, K, N, F>
{
    pub fn new(store: S, kms: K, notifier: N, findings: F, config: EnricherConfig) -> Self {
        Enricher {
            store: Arc::new(store),
            kms,
            notifier,
            findings,
            config,
        }
    }

    /// Handles one invocation payload.
    pub async fn handle(&self, payload: &Value) -> Result<Value, EnrichError> {
        let alarm = match parse_payload(payload) {
            Payload::Alarm(a) => a,
            Payload::NotAnAlarm(why) => {
                info!(reason = %why, "not an alarm; acknowledged");
                return Ok(json!({"ignored": why}));
            }
            Payload::Malformed(why) => {
                // Retrying cannot make the message readable.
                warn!(reason = %why, "unreadable alarm message; acknowledged");
                return Ok(json!({"ignored": why}));
            }
        };
        if !self.config.notify_states.contains(&alarm.new_state) {
            info!(alarm = %alarm.name, state = %alarm.new_state, "state transition not enriched (KEYTRAIL_NOTIFY_STATES)");
            return Ok(json!({"ignored": format!("{} transition", alarm.new_state)}));
        }
        let mut inv = self.investigate(&alarm).await?;
        let bucket = self
            .config
            .investigation_bucket
            .clone()
            .unwrap_or_else(|| self.config.log_bucket.clone());
        let key = investigation_key(&alarm.name, alarm.state_change_time);
        inv.record_location = Some(format!("s3://{bucket}/{key}"));
        let record = serde_json::to_vec_pretty(&inv)?;
        self.store
            .put(&bucket, &key, record, "application/json", false)
            .await?;
        let subject = notification_subject(&inv);
        let severity = inv
            .rule
            .as_ref()
            .map_or("unknown", |r| r.severity.as_str())
            .to_owned();
        let rule = inv
            .rule
            .as_ref()
            .map_or_else(|| "none".to_owned(), |r| r.id.clone());
        self.notifier
            .publish(
                &self.config.topic_arn,
                &subject,
                &notification_body(&inv),
                &[("severity", severity.as_str()), ("rule", rule.as_str())],
            )
            .await?;
        if let Some(chatbot_topic) = &self.config.chatbot_topic_arn {
            let message = serde_json::to_string(&chatbot_notification(&inv))?;
            self.notifier
                .publish(
                    chatbot_topic,
                    &subject,
                    &message,
                    &[("severity", severity.as_str()), ("rule", rule.as_str())],
                )
                .await?;
        }
        info!(alarm = %alarm.name, rule = %rule, events = inv.count, record = %key, chatbot = self.config.chatbot_topic_arn.is_some(), "enriched notification published");
        let mut out = json!({
            "alarm": inv.alarm.name,
            "enriched": inv.enriched,
            "rule": rule,
            "events": inv.count,
            "files_read": inv.gather.files_read,
            "files_failed": inv.gather.files_failed.len(),
            "record": inv.record_location,
            "subject": subject,
        });
        if self.config.security_hub {
            out["security_hub"] = self.import_finding(&inv).await;
        }
        Ok(out)
    }

    /// Imports the investigation's finding into Security Hub, after the notification:
    /// a failure is logged and reported in the output, and the invocation succeeds
    /// (a retry would send the notification again).
    async fn import_finding(&self, inv: &Investigation) -> Value {
        let exported = match Exported::from_investigation(inv) {
            Ok(e) => e,
            Err(why) => {
                info!(alarm = %inv.alarm.name, reason = %why, "no Security Hub finding");
                return json!({"skipped": why.to_string()});
            }
        };
        let finding = AsffFinding::of(&exported);
        match self.findings.import(std::slice::from_ref(&finding)).await {
            Ok(refused) if refused.is_empty() => {
                info!(id = %finding.id, "finding imported into Security Hub");
                json!({"imported": finding.id})
            }
            Ok(refused) => {
                let why: Vec<String> = refused
                    .iter()
                    .map(|r| clean(&format!("{}: {}", r.code, r.message), 512))
                    .collect();
                warn!(id = %finding.id, refused = ?why, "Security Hub refused the finding");
                json!({"id": finding.id, "refused": why})
            }
            Err(e) => {
                warn!(id = %finding.id, error = %e, "Security Hub import failed; the notification was sent");
                json!({"id": finding.id, "error": clean(&e.to_string(), 512)})
            }
        }
    }

    /// Gathers the evidence and builds the investigation (without storing it).
    pub async fn investigate(&self, alarm: &Alarm) -> Result<Investigation, EnrichError> {
        let mut plan = plan_for(alarm, &self.config.namespace, self.config.lag);
        if let Ok(p) = &mut plan {
            if p.rule().is_some_and(|r| r.needs_baseline) {
                p.baseline = self.baseline().await;
            }
            p.tuning = self.config.tuning.get(self.store.as_ref()).await?;
        }
        let mut gather = GatherInfo {
            source: format!("s3://{}", self.config.log_bucket),
            ..GatherInfo::default()
        };
        let mut evidence = Evidence::default();
        if let Ok(plan) = &plan {
            evidence = self.gather(plan, &mut gather).await?;
        } else if let Err(why) = &plan {
            info!(alarm = %alarm.name, reason = %why, "not enriched");
        }
        let mut inv = build_investigation(
            InvestigationInputs {
                alarm,
                plan: plan.as_ref(),
                gather,
                athena_table: &self.config.athena_table,
                athena_date_partition: self.config.athena_date_partition.as_deref(),
                now: Utc::now(),
            },
            evidence,
        );
        self.describe_keys(&mut inv).await;
        Ok(inv)
    }

    async fn gather(&self, plan: &Plan, info: &mut GatherInfo) -> Result<Evidence, EnrichError> {
        let bucket = self.config.log_bucket.clone();
        let mut keys = self.indexed_files(plan, info).await?;
        let c = &self.config;
        let store = self.store.as_ref();
        // Without index entries (a metric alarm with no rule, or files processed before
        // the index existed), every account and Region of the window is listed.
        let accounts = if keys.is_empty() {
            discover_accounts(store, &bucket, c.log_prefix.as_deref(), &c.accounts).await?
        } else {
            Vec::new()
        };
        for (root, account) in accounts {
            for region in discover_regions(store, &bucket, &root, &account, &c.regions).await? {
                for prefix in day_prefixes(&root, &account, &region, &plan.window) {
                    let listing = self.store.list(&bucket, &prefix, None).await?;
                    info.files_listed += listing.keys.len() as u64;
                    keys.extend(listing.keys.into_iter().filter(|k| {
                        parse_log_key(k).is_some_and(|l| plan.window.wants_delivery(l.delivered))
                    }));
                    info.prefixes.push(prefix);
                }
            }
        }
        info.files_selected = keys.len() as u64;
        let results: Vec<(String, Result<FileEvidence, FetchError>)> = stream::iter(keys)
            .map(|key| {
                let store = Arc::clone(&self.store);
                let bucket = bucket.clone();
                let plan = plan.clone();
                async move {
                    let r = fetch_and_read(store.as_ref(), &bucket, &key, plan).await;
                    (key, r)
                }
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        let mut evidence = Evidence::default();
        for (key, r) in results {
            match r {
                Ok(fe) => {
                    info.files_read += 1;
                    info.records_scanned += fe.records;
                    if let Some(error) = fe.error {
                        warn!(key = %key, error = %error, "damaged log file; its readable events are counted");
                        info.files_failed.push(FailedObject { key, error });
                    }
                    evidence.merge(fe.evidence);
                }
                Err(error) => {
                    warn!(key = %key, error = %error, "log file not readable; the gather is partial");
                    info.files_failed.push(FailedObject {
                        key,
                        error: error.to_string(),
                    });
                }
            }
        }
        info.files_failed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(evidence)
    }

    /// The log files of the window that matched the alarm's rules, from the hit index
    /// the log processor writes (one LIST per rule and hour of the window); empty when
    /// the alarm has no rule or the index holds nothing for the window.
    async fn indexed_files(
        &self,
        plan: &Plan,
        info: &mut GatherInfo,
    ) -> Result<Vec<String>, EnrichError> {
        use crate::cloudtrail::layout::{hit_index_hour_prefix, log_key_of_hit};
        let rules: Option<Vec<&str>> = plan
            .selectors
            .iter()
            .map(|s| s.rule.map(|r| r.id))
            .collect();
        let Some(rules) = rules.filter(|r| !r.is_empty()) else {
            return Ok(Vec::new());
        };
        // A rule over an AWS/KMS metric is never indexed (keytrail does not count it):
        // its week-long window would be a LIST per empty hour.
        if plan
            .selectors
            .iter()
            .any(|s| s.rule.is_some_and(|r| !r.is_counted()))
        {
            return Ok(Vec::new());
        }
        let c = &self.config;
        let index_bucket = c.summary_bucket.as_deref().unwrap_or(&c.log_bucket);
        let mut hours = Vec::new();
        let mut t = plan.window.files_from;
        while t <= plan.window.files_to + chrono::Duration::hours(1) {
            hours.push(t);
            t += chrono::Duration::hours(1);
        }
        let mut files = std::collections::BTreeSet::new();
        let mut prefixes = Vec::new();
        for rule in rules {
            let mut seen_hours = std::collections::BTreeSet::new();
            for hour in &hours {
                let prefix = hit_index_hour_prefix(rule, *hour);
                if !seen_hours.insert(prefix.clone()) {
                    continue;
                }
                let listing = self.store.list(index_bucket, &prefix, None).await?;
                for entry in &listing.keys {
                    let Some(log) = log_key_of_hit(entry, &prefix) else {
                        continue;
                    };
                    let Some(l) = parse_log_key(&log) else {
                        continue;
                    };
                    let wanted = plan.window.wants_delivery(l.delivered)
                        && (c.accounts.is_empty() || c.accounts.contains(&l.account))
                        && (c.regions.is_empty() || c.regions.contains(&l.region))
                        && c.log_prefix.as_deref() == l.prefix.as_deref();
                    if wanted {
                        files.insert(log);
                    }
                }
                prefixes.push(format!("s3://{index_bucket}/{prefix}"));
            }
        }
        if !files.is_empty() {
            info.files_listed += files.len() as u64;
            info.prefixes.extend(prefixes);
        }
        Ok(files.into_iter().collect())
    }

    /// The review's baseline, when there is one (a read failure is logged: the
    /// investigation then finds no unfamiliar source, and says so through its count).
    async fn baseline(&self) -> Option<std::sync::Arc<crate::detect::baseline::Baseline>> {
        let bucket = self
            .config
            .summary_bucket
            .as_deref()
            .unwrap_or(&self.config.log_bucket);
        match self
            .store
            .get_small(bucket, crate::cloudtrail::layout::BASELINE_KEY)
            .await
        {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).ok().map(std::sync::Arc::new),
            Ok(None) => None,
            Err(e) => {
                warn!(error = %e, "baseline not readable");
                None
            }
        }
    }

    /// Adds KMS's view of each key; a refused lookup is recorded as not available.
    async fn describe_keys(&self, inv: &mut Investigation) {
        for row in inv.keys.iter_mut().filter(|k| k.key.starts_with("arn:")) {
            match self.kms.describe(&row.key).await {
                Ok(m) => {
                    row.state = m.state;
                    row.deletion_date = m.deletion_date;
                    row.description = m.description.map(|d| clean(&d, 256));
                }
                Err(e) => row.unavailable.push(unavailable("DescribeKey", &e)),
            }
            if row.key.contains(":alias/") {
                continue;
            }
            match self.kms.aliases(&row.key).await {
                Ok(a) => row.aliases = a.iter().map(|a| clean(a, 256)).collect(),
                Err(e) => row.unavailable.push(unavailable("ListAliases", &e)),
            }
            match self.kms.tags(&row.key).await {
                Ok(t) => {
                    row.tags = t
                        .iter()
                        .map(|(k, v)| (clean(k, 128), clean(v, 256)))
                        .collect()
                }
                Err(e) => row.unavailable.push(unavailable("ListResourceTags", &e)),
            }
        }
    }
}

fn unavailable(op: &str, e: &AwsError) -> String {
    format!(
        "{op}: {}",
        clean(e.code.as_deref().unwrap_or(&e.message), 200)
    )
}

/// A log file the gather could not read at all (a damaged one is read up to the
/// damage, which its [`FileEvidence`] reports). Both messages name the object.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// GetObject failed (its message names the object).
    #[error(transparent)]
    Get(#[from] AwsError),
    /// The blocking task reading the object panicked or was cancelled.
    #[error("{name}: {source}")]
    Read {
        name: String,
        #[source]
        source: tokio::task::JoinError,
    },
}

async fn fetch_and_read<S: ObjectStore>(
    store: &S,
    bucket: &str,
    key: &str,
    plan: Plan,
) -> Result<FileEvidence, FetchError> {
    let (body, _) = store.get(bucket, key).await?;
    let reader = SyncIoBridge::new(body);
    let name = format!("s3://{bucket}/{key}");
    let shown = name.clone();
    tokio::task::spawn_blocking(move || gather_file(&shown, reader, &plan, ReadLimits::default()))
        .await
        .map_err(|source| FetchError::Read { name, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn env_vars_list_is_what_from_lookup_reads() {
        let seen = std::sync::Mutex::new(Vec::new());
        let _ = EnricherConfig::from_lookup(|k| {
            seen.lock().expect("lock").push(k.to_owned());
            Some(
                match k {
                    "KEYTRAIL_NOTIFY_STATES" => "ALARM",
                    "KEYTRAIL_ATHENA_DATE_PARTITION" => "logdate",
                    "KEYTRAIL_CONFIG" => "s3://bucket/keytrail/config.toml",
                    _ => "1",
                }
                .into(),
            )
        });
        let mut seen = seen.into_inner().expect("lock");
        seen.sort();
        seen.dedup();
        let mut listed: Vec<String> = EnricherConfig::ENV_VARS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        listed.sort();
        assert_eq!(seen, listed);
    }

    #[test]
    fn config_requires_bucket_and_topic() {
        let env: HashMap<&str, &str> = [
            ("KEYTRAIL_LOG_BUCKET", "trail"),
            ("KEYTRAIL_ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
            ("KEYTRAIL_ACCOUNTS", "111122223333, 444455556666"),
            ("KEYTRAIL_LOG_PREFIX", "/audit/"),
            ("KEYTRAIL_NOTIFY_STATES", "ALARM,OK"),
        ]
        .into();
        let c =
            EnricherConfig::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).expect("valid");
        assert_eq!(c.accounts, ["111122223333", "444455556666"]);
        assert_eq!(c.log_prefix.as_deref(), Some("audit"));
        assert_eq!(c.lag, Duration::minutes(15));
        assert_eq!(c.concurrency, 8);
        assert_eq!(c.notify_states, ["ALARM", "OK"]);
        assert_eq!(c.athena_date_partition.as_deref(), Some("logdate"));
        assert_eq!(
            c.chatbot_topic_arn, None,
            "Chatbot notifications are off by default"
        );
        assert!(!c.security_hub, "off unless asked for");
        let hub = |v: &'static str| {
            EnricherConfig::from_lookup(|k| match k {
                "KEYTRAIL_LOG_BUCKET" | "KEYTRAIL_ALERT_TOPIC_ARN" => Some("x".into()),
                "KEYTRAIL_SECURITY_HUB" => Some(v.into()),
                _ => None,
            })
        };
        assert!(hub("true").expect("true").security_hub);
        assert!(!hub("false").expect("false").security_hub);
        assert!(hub("maybe").is_err());
        let with = |partition: &'static str| {
            EnricherConfig::from_lookup(|k| match k {
                "KEYTRAIL_LOG_BUCKET" | "KEYTRAIL_ALERT_TOPIC_ARN" => Some("x".into()),
                "KEYTRAIL_ATHENA_DATE_PARTITION" => Some(partition.into()),
                _ => None,
            })
        };
        assert_eq!(with("None").expect("none").athena_date_partition, None);
        assert_eq!(
            with("dt").expect("dt").athena_date_partition.as_deref(),
            Some("dt")
        );
        let err = with("dt' OR 1=1").expect_err("not a column").to_string();
        assert!(err.contains("KEYTRAIL_ATHENA_DATE_PARTITION"), "{err}");
        let missing =
            EnricherConfig::from_lookup(|k| (k == "KEYTRAIL_LOG_BUCKET").then(|| "b".into()));
        assert!(
            missing
                .expect_err("topic")
                .to_string()
                .contains("KEYTRAIL_ALERT_TOPIC_ARN")
        );
        let bad = EnricherConfig::from_lookup(|k| match k {
            "KEYTRAIL_LOG_BUCKET" | "KEYTRAIL_ALERT_TOPIC_ARN" => Some("x".into()),
            "KEYTRAIL_NOTIFY_STATES" => Some("ALARM,MAYBE".into()),
            _ => None,
        });
        assert!(bad.is_err());
    }
}
