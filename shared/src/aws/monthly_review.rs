//! The monthly-review handler: a month of per-file summaries (raw logs only for days
//! that have none), the KMS key inventory and the trail configuration -> report.json,
//! report.md and report.html, an SNS summary, and the updated baseline.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};
use tokio_util::io::SyncIoBridge;
use tracing::{info, warn};

use crate::aws::config::{ConfigError, Env};
use crate::aws::discover::{discover_accounts, discover_regions};
use crate::aws::ports::{AwsError, Notifier, ObjectStore, ReviewSources};
use crate::aws::tuning::{TuningLoadError, TuningSource};
use crate::cloudtrail::layout::{
    BASELINE_KEY, log_month_prefix, parse_log_key, parse_summary_key, review_prefix,
    summaries_month_prefix, unreadable_baseline_key,
};
use crate::detect::analysis::{AnalysisOptions, analyse};
use crate::detect::baseline::Baseline;
use crate::detect::summary::Summary;
use crate::review::month::Month;
use crate::review::report::{Report, ReviewInput, ReviewSettings, build_report, updated_baseline};

/// Review configuration, read once at cold start.
#[derive(Debug, Clone)]
pub struct ReviewConfig {
    /// `KEYTRAIL_LOG_BUCKET` (required).
    pub log_bucket: String,
    /// `KEYTRAIL_LOG_PREFIX`.
    pub log_prefix: Option<String>,
    /// `KEYTRAIL_ACCOUNTS`, default discovered.
    pub accounts: Vec<String>,
    /// `KEYTRAIL_REGIONS`, default discovered.
    pub regions: Vec<String>,
    /// `KEYTRAIL_SUMMARY_BUCKET`, default the log bucket.
    pub summary_bucket: Option<String>,
    /// `KEYTRAIL_REPORT_BUCKET`, default the log bucket.
    pub report_bucket: Option<String>,
    /// `KEYTRAIL_REVIEW_TOPIC_ARN`: optional SNS summary.
    pub topic_arn: Option<String>,
    /// `KEYTRAIL_UNUSED_DAYS` (default 90) and `KEYTRAIL_REQUIRED_TAGS`
    /// (default `purpose,owner,classification`).
    pub settings: ReviewSettings,
    /// `KEYTRAIL_CONFIG`, `KEYTRAIL_CONFIG_TTL_SECONDS`: the configuration file
    /// whose suppressions the report lists (and the backfill applies).
    pub tuning: Arc<TuningSource>,
    /// `KEYTRAIL_MEMBER_ROLE`: the read-only role (name) to assume in each member
    /// account for the key inventory; unset: the function's own account only.
    pub member_role: Option<String>,
    /// `KEYTRAIL_MEMBER_ACCOUNTS`: `logs` (default: the accounts the month's logs
    /// came from) or `organization` (also every active account Organizations lists).
    pub member_accounts: crate::aws::organization::MemberAccounts,
    /// `KEYTRAIL_INVENTORY_CONCURRENCY` (default 8, 1 to 64): accounts × Regions
    /// read at once.
    pub inventory_concurrency: usize,
    /// `KEYTRAIL_USAGE_TABLE` (`database.table`): the KMS usage table. When set, the
    /// month is aggregated by Athena (the Athena engine) instead of merging the
    /// per-file summaries (the summary engine).
    pub usage_table: Option<String>,
    /// `KEYTRAIL_ATHENA_WORKGROUP`: the workgroup the usage-table query runs in
    /// (required with `KEYTRAIL_USAGE_TABLE`).
    pub athena_workgroup: Option<String>,
}

impl ReviewConfig {
    /// Every environment variable the review reads.
    pub const ENV_VARS: &'static [&'static str] = &[
        "KEYTRAIL_LOG_BUCKET",
        "KEYTRAIL_LOG_PREFIX",
        "KEYTRAIL_ACCOUNTS",
        "KEYTRAIL_REGIONS",
        "KEYTRAIL_SUMMARY_BUCKET",
        "KEYTRAIL_REPORT_BUCKET",
        "KEYTRAIL_REVIEW_TOPIC_ARN",
        "KEYTRAIL_UNUSED_DAYS",
        "KEYTRAIL_REQUIRED_TAGS",
        "KEYTRAIL_CONFIG",
        "KEYTRAIL_CONFIG_TTL_SECONDS",
        "KEYTRAIL_MEMBER_ROLE",
        "KEYTRAIL_MEMBER_ACCOUNTS",
        "KEYTRAIL_INVENTORY_CONCURRENCY",
        "KEYTRAIL_USAGE_TABLE",
        "KEYTRAIL_ATHENA_WORKGROUP",
    ];

    pub fn from_env() -> Result<ReviewConfig, ConfigError> {
        ReviewConfig::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<ReviewConfig, ConfigError> {
        let env = Env::new(get);
        let get = |k: &str| env.get(k);
        let list = |k: &str| env.list(k);
        let unused_days = env.number("KEYTRAIL_UNUSED_DAYS", 90, 1..=3650)? as i64;
        let defaults = ReviewSettings::default();
        // Every variable is read before any error returns (ENV_VARS is checked
        // against what this reads).
        let member_role = get("KEYTRAIL_MEMBER_ROLE");
        let member_accounts = get("KEYTRAIL_MEMBER_ACCOUNTS");
        let inventory_concurrency = env.number("KEYTRAIL_INVENTORY_CONCURRENCY", 8, 1..=64);
        let usage_table = get("KEYTRAIL_USAGE_TABLE");
        let athena_workgroup = get("KEYTRAIL_ATHENA_WORKGROUP");
        if let Some(t) = &usage_table {
            crate::review::usage_table::check_table(t)
                .map_err(|e| ConfigError(format!("KEYTRAIL_USAGE_TABLE: {e}")))?;
            if athena_workgroup.is_none() {
                return Err(ConfigError(
                    "KEYTRAIL_USAGE_TABLE is set: KEYTRAIL_ATHENA_WORKGROUP is required with it"
                        .into(),
                ));
            }
        }
        Ok(ReviewConfig {
            log_bucket: env.required("KEYTRAIL_LOG_BUCKET")?,
            log_prefix: get("KEYTRAIL_LOG_PREFIX").map(|p| p.trim_matches('/').to_owned()),
            accounts: list("KEYTRAIL_ACCOUNTS").unwrap_or_default(),
            regions: list("KEYTRAIL_REGIONS").unwrap_or_default(),
            summary_bucket: get("KEYTRAIL_SUMMARY_BUCKET"),
            report_bucket: get("KEYTRAIL_REPORT_BUCKET"),
            topic_arn: get("KEYTRAIL_REVIEW_TOPIC_ARN"),
            settings: ReviewSettings {
                unused_days,
                required_tags: list("KEYTRAIL_REQUIRED_TAGS").unwrap_or(defaults.required_tags),
                tuning: Default::default(),
            },
            tuning: Arc::new(TuningSource::from_env(&env)?),
            member_role,
            member_accounts: match member_accounts.as_deref() {
                None | Some("logs") => crate::aws::organization::MemberAccounts::FromLogs,
                Some("organization") => crate::aws::organization::MemberAccounts::Organization,
                Some(other) => {
                    return Err(ConfigError(format!(
                        "KEYTRAIL_MEMBER_ACCOUNTS is {other:?}: expected logs or organization"
                    )));
                }
            },
            inventory_concurrency: inventory_concurrency? as usize,
            usage_table,
            athena_workgroup,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("invalid review request: {0}")]
    Request(String),
    #[error("a backfill task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("cannot serialise: {0}")]
    Json(#[from] serde_json::Error),
    /// The configuration file is missing or invalid.
    #[error(transparent)]
    Config(#[from] TuningLoadError),
}

/// The month an invocation reviews: `detail.month` when given, else the previous month.
pub fn requested_month(payload: &Value, now: DateTime<Utc>) -> Result<Month, ReviewError> {
    match payload
        .pointer("/detail/month")
        .or_else(|| payload.get("month"))
    {
        None | Some(Value::Null) => Ok(Month::previous_of(now)),
        Some(Value::String(s)) => Month::parse(s)
            .ok_or_else(|| ReviewError::Request(format!("month {s:?} is not YYYY-MM"))),
        Some(other) => Err(ReviewError::Request(format!(
            "month {other} is not a YYYY-MM string"
        ))),
    }
}

/// The handler with its dependencies.
pub struct Reviewer<S, R, N> {
    pub store: Arc<S>,
    pub sources: R,
    pub notifier: N,
    pub config: ReviewConfig,
    /// Athena, for the usage table (`KEYTRAIL_USAGE_TABLE`).
    pub athena: Option<crate::aws::athena::AthenaQueries>,
}

/// The month's usage, from either engine, with where it came from.
struct MonthInput {
    usage: Summary,
    coverage: crate::review::month::Coverage,
    /// The accounts and Regions whose logs the month holds.
    scanned: Vec<(String, String)>,
}

/// One day's inputs.
#[derive(Default)]
struct DayFiles {
    logs: Vec<String>,
    summaries: Vec<String>,
}

impl
    Reviewer<
        crate::aws::s3::S3Store,
        crate::aws::organization::OrgReviewSources,
        crate::aws::sns::SnsNotifier,
    >
{
    /// The Lambda's reviewer: its clients from `sdk`; the inventory of the function's
    /// own account and, with `config.member_role`, of every member account and Region
    /// of the month's logs; Athena when both the usage table and the workgroup are
    /// configured.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, config: ReviewConfig) -> Self {
        let athena = match (&config.usage_table, &config.athena_workgroup) {
            (Some(_), Some(workgroup)) => Some(crate::aws::athena::AthenaQueries {
                client: crate::aws::athena::athena_client(sdk),
                workgroup: workgroup.clone(),
            }),
            _ => None,
        };
        // One S3 client for the store and the trail checks (a clone shares it).
        let s3 = crate::aws::s3::s3_client(sdk);
        let sources = crate::aws::organization::OrgReviewSources::new(
            crate::aws::inventory::AwsReviewSources {
                kms: crate::aws::kms::kms_client(sdk),
                cloudtrail: crate::aws::inventory::cloudtrail_client(sdk),
                s3: s3.clone(),
            },
            sdk.clone(),
            config.member_role.clone(),
            config.member_accounts.clone(),
            config.inventory_concurrency,
        );
        let reviewer = Reviewer::new(
            crate::aws::s3::S3Store { client: s3 },
            sources,
            crate::aws::sns::SnsNotifier {
                client: crate::aws::sns::sns_client(sdk),
            },
            config,
        );
        match athena {
            Some(athena) => reviewer.with_athena(athena),
            None => reviewer,
        }
    }
}

impl<S: ObjectStore + 'static, R: ReviewSources, N: Notifier> Reviewer<S, R, N> {
    pub fn new(store: S, sources: R, notifier: N, config: ReviewConfig) -> Self {
        Reviewer {
            store: Arc::new(store),
            sources,
            notifier,
            config,
            athena: None,
        }
    }

    /// Runs the usage-table query (with `KEYTRAIL_USAGE_TABLE`) through `athena`.
    pub fn with_athena(mut self, athena: crate::aws::athena::AthenaQueries) -> Self {
        self.athena = Some(athena);
        self
    }

    fn summary_bucket(&self) -> &str {
        self.config
            .summary_bucket
            .as_deref()
            .unwrap_or(&self.config.log_bucket)
    }

    /// Runs the review for the requested month and stores everything.
    pub async fn handle(&self, payload: &Value) -> Result<Value, ReviewError> {
        let month = requested_month(payload, Utc::now())?;
        let (report, baseline) = self.review(month).await?;
        let bucket = self
            .config
            .report_bucket
            .clone()
            .unwrap_or_else(|| self.config.log_bucket.clone());
        let prefix = review_prefix(&month.to_string());
        let json = serde_json::to_vec_pretty(&report)?;
        self.store
            .put(
                &bucket,
                &format!("{prefix}report.json"),
                json,
                "application/json",
                false,
            )
            .await?;
        self.store
            .put(
                &bucket,
                &format!("{prefix}report.md"),
                crate::review::render::render_markdown(&report).into_bytes(),
                "text/markdown; charset=utf-8",
                false,
            )
            .await?;
        self.store
            .put(
                &bucket,
                &format!("{prefix}report.html"),
                crate::review::render::render_html(&report).into_bytes(),
                "text/html; charset=utf-8",
                false,
            )
            .await?;
        let state = serde_json::to_vec_pretty(&baseline)?;
        self.store
            .put(
                self.summary_bucket(),
                BASELINE_KEY,
                state,
                "application/json",
                false,
            )
            .await?;
        let uris: Vec<String> = ["json", "md", "html"]
            .iter()
            .map(|ext| format!("s3://{bucket}/{prefix}report.{ext}"))
            .collect();
        if let Some(topic) = &self.config.topic_arn {
            let subject = format!("keytrail KMS review {month}: {}", headline(&report));
            let subject: String = subject.chars().take(99).collect();
            self.notifier
                .publish(
                    topic,
                    &subject,
                    &sns_summary(&report, &uris),
                    &[("kind", "review"), ("month", &month.to_string())],
                )
                .await?;
        }
        info!(month = %month, keys = report.summary.keys_in_inventory, calls = report.summary.kms_calls, "review written");
        Ok(json!({"month": month.to_string(), "reports": uris, "summary": report.summary}))
    }

    /// Gathers the inputs and builds the report and the next baseline.
    pub async fn review(&self, month: Month) -> Result<(Report, Baseline), ReviewError> {
        let c = &self.config;
        let store = self.store.as_ref();
        // First: a bad configuration file fails the run before any work.
        let tuning = c.tuning.get(store).await?;
        let settings = ReviewSettings {
            tuning: tuning.clone(),
            ..c.settings.clone()
        };
        let MonthInput {
            mut usage,
            coverage,
            scanned,
        } = match (&c.usage_table, &self.athena) {
            (Some(table), Some(athena)) => self.athena_usage(athena, table, month).await?,
            (Some(_), None) => {
                return Err(ReviewError::Request(
                    "KEYTRAIL_USAGE_TABLE is set but no Athena client was given".into(),
                ));
            }
            (None, _) => self.summary_usage(month, tuning).await?,
        };
        crate::review::month::keep_month(&mut usage, month);

        let (keys, refusals) = match self.sources.inventory(&scanned).await {
            Ok(inv) => (Some(inv.keys), inv.refusals),
            Err(e) => {
                warn!(error = %e, "KMS inventory not available; the inventory comes from the logs");
                (None, Vec::new())
            }
        };
        let trails = match self.sources.trails().await {
            Ok(t) => Some(t),
            Err(e) => {
                warn!(error = %e, "CloudTrail configuration not available; trail checks not run");
                None
            }
        };
        let baseline = self.load_baseline().await?;
        let report = build_report(&ReviewInput {
            month,
            usage: &usage,
            coverage,
            keys,
            trails,
            baseline: baseline.as_ref(),
            settings: &settings,
            generated_at: Utc::now(),
            scope: crate::review::report::Scope::from_pairs(
                scanned.iter().map(|(a, r)| (a.as_str(), r.as_str())),
            ),
            // The reviewer always writes the next baseline (run() above).
            baseline_saved: true,
        });
        let mut report = report;
        report.inventory_refusals = refusals;
        let next = updated_baseline(baseline.as_ref(), month, &usage, &report);
        Ok((report, next))
    }

    /// The summary engine: the month's per-file summaries merged as they stream in,
    /// and the raw logs of files that have none.
    async fn summary_usage(
        &self,
        month: Month,
        tuning: Arc<crate::detect::tuning::Tuning>,
    ) -> Result<MonthInput, ReviewError> {
        let c = &self.config;
        let store = self.store.as_ref();
        let mut days: BTreeMap<String, DayFiles> = BTreeMap::new();
        let mut scanned: Vec<(String, String)> = Vec::new();
        for (root, account) in
            discover_accounts(store, &c.log_bucket, c.log_prefix.as_deref(), &c.accounts).await?
        {
            for region in
                discover_regions(store, &c.log_bucket, &root, &account, &c.regions).await?
            {
                scanned.push((account.clone(), region.clone()));
                let logs = store
                    .list(
                        &c.log_bucket,
                        &log_month_prefix(&root, &account, &region, month.year, month.month),
                        None,
                    )
                    .await?;
                for key in logs.keys {
                    if let Some(k) = parse_log_key(&key) {
                        days.entry(k.date.to_string()).or_default().logs.push(key);
                    }
                }
                let sums = store
                    .list(
                        self.summary_bucket(),
                        &summaries_month_prefix(&account, &region, month.year, month.month),
                        None,
                    )
                    .await?;
                for key in sums.keys {
                    if let Some(k) = parse_summary_key(&key) {
                        days.entry(k.date.to_string())
                            .or_default()
                            .summaries
                            .push(key);
                    }
                }
            }
        }
        let mut coverage = crate::review::month::delivery_coverage(
            month,
            days.values()
                .flat_map(|f| f.logs.iter())
                .filter_map(|k| parse_log_key(k))
                .map(|k| k.delivered),
        );
        // Each log file is counted once: through its summary when the log processor
        // wrote a readable one, else from the raw file (backfill).
        let stem = |k: &str| {
            let name = k.rsplit('/').next().unwrap_or(k);
            name.strip_suffix(".json.gz").unwrap_or(name).to_owned()
        };
        let summary_keys: Vec<String> = days
            .values()
            .flat_map(|f| f.summaries.iter().cloned())
            .collect();
        let (mut usage, summarised) = self.merge_summaries(summary_keys).await?;
        coverage.summaries = summarised.len() as u64;
        let mut backfill_keys = Vec::new();
        for d in month.days() {
            let day = d.to_string();
            let Some(f) = days.get(&day) else { continue };
            let missing: Vec<&String> = f
                .logs
                .iter()
                .filter(|k| !summarised.contains(&stem(k)))
                .collect();
            if !missing.is_empty() {
                coverage.days_backfilled.push(day.clone());
                backfill_keys.extend(missing.into_iter().cloned());
            }
            if f.summaries.iter().any(|k| summarised.contains(&stem(k))) {
                coverage.days_from_summaries.push(day);
            }
        }
        usage.merge_owned(self.backfill(backfill_keys, tuning).await?);
        coverage.engine = "summaries".into();
        Ok(MonthInput {
            usage,
            coverage,
            scanned,
        })
    }

    /// The Athena engine: the month aggregated by one query over the KMS usage
    /// table; no log or summary object is listed or read.
    async fn athena_usage(
        &self,
        athena: &crate::aws::athena::AthenaQueries,
        table: &str,
        month: Month,
    ) -> Result<MonthInput, ReviewError> {
        let m = crate::aws::athena::read_month(athena, table, month)
            .await
            .map_err(|e| match e {
                crate::aws::athena::UsageQueryError::Aws(e) => ReviewError::Aws(e),
                other => ReviewError::Request(other.to_string()),
            })?;
        Ok(MonthInput {
            scanned: m
                .usage
                .scope
                .iter()
                .map(|(a, r, _)| (a.clone(), r.clone()))
                .collect(),
            usage: m.usage.summary,
            coverage: m.coverage,
        })
    }

    async fn load_baseline(&self) -> Result<Option<Baseline>, ReviewError> {
        let Some(bytes) = self
            .store
            .get_small(self.summary_bucket(), BASELINE_KEY)
            .await?
        else {
            info!("no baseline yet: new principals and trends start next month");
            return Ok(None);
        };
        match serde_json::from_slice(&bytes) {
            Ok(b) => Ok(Some(b)),
            Err(e) => {
                // Keep what it held: the review will write a new baseline over it.
                let aside = unreadable_baseline_key(Utc::now());
                self.store
                    .put(
                        self.summary_bucket(),
                        &aside,
                        bytes,
                        "application/json",
                        false,
                    )
                    .await?;
                warn!(error = %e, copy = %aside, "unreadable baseline set aside; starting a new one");
                Ok(None)
            }
        }
    }

    /// Merges the readable summaries; returns them with the stems of the log files
    /// they cover (an unreadable or outdated summary leaves its file to the backfill).
    async fn merge_summaries(
        &self,
        keys: Vec<String>,
    ) -> Result<(Summary, std::collections::BTreeSet<String>), ReviewError> {
        let bucket = self.summary_bucket().to_owned();
        // Each summary is decoded as it arrives and merged at once, so memory holds the
        // merged month and at most SUMMARY_READS summaries in flight, whatever the
        // number of files (an organisation trail delivers millions a month).
        type Fetched = (
            String,
            Result<Option<Result<Summary, crate::detect::summary::SummaryError>>, AwsError>,
        );
        let mut fetched = stream::iter(keys)
            .map(|key| {
                let store = Arc::clone(&self.store);
                let bucket = bucket.clone();
                async move {
                    let r = store
                        .get_small(&bucket, &key)
                        .await
                        .map(|bytes| bytes.map(|b| Summary::from_gzip_json(&b)));
                    (key, r)
                }
            })
            .buffer_unordered(SUMMARY_READS);
        let mut merged = Summary::default();
        let mut covered = std::collections::BTreeSet::new();
        while let Some((key, r)) = fetched.next().await {
            let (key, r): Fetched = (key, r);
            match r? {
                Some(Ok(s)) => {
                    merged.merge_owned(s);
                    let name = key.rsplit('/').next().unwrap_or(&key);
                    covered.insert(name.strip_suffix(".json.gz").unwrap_or(name).to_owned());
                }
                Some(Err(e)) => {
                    warn!(key = %key, error = %e, "summary not usable; its log file is read instead")
                }
                None => warn!(key = %key, "summary disappeared while reading"),
            }
        }
        Ok((merged, covered))
    }

    async fn backfill(
        &self,
        keys: Vec<String>,
        tuning: Arc<crate::detect::tuning::Tuning>,
    ) -> Result<Summary, ReviewError> {
        if !keys.is_empty() {
            info!(
                files = keys.len(),
                "backfilling days without summaries from the raw logs"
            );
        }
        let bucket = self.config.log_bucket.clone();
        let mut results = stream::iter(keys)
            .map(|key| {
                let store = Arc::clone(&self.store);
                let bucket = bucket.clone();
                let opts = AnalysisOptions {
                    tuning: tuning.clone(),
                    ..AnalysisOptions::default()
                };
                async move {
                    let (body, _) = store.get(&bucket, &key).await?;
                    let reader = SyncIoBridge::new(body);
                    let name = format!("s3://{bucket}/{key}");
                    let a = tokio::task::spawn_blocking(move || analyse(&name, reader, &opts))
                        .await?;
                    if let Some(e) = &a.error {
                        warn!(key = %key, error = %e, "damaged log file during backfill; its readable events are counted");
                    }
                    Ok::<Summary, ReviewError>(a.summary)
                }
            })
            .buffer_unordered(8);
        // Merged as each file's summary is ready, not held until all are.
        let mut merged = Summary::default();
        while let Some(r) = results.next().await {
            merged.merge_owned(r?);
        }
        Ok(merged)
    }
}

/// Summaries read at once by the monthly review.
const SUMMARY_READS: usize = 16;

fn headline(r: &Report) -> String {
    let s = &r.summary;
    if s.pending_deletion_used > 0 {
        return format!(
            "{} key(s) pending deletion still in use",
            s.pending_deletion_used
        );
    }
    if s.trail_checks_failed > 0 {
        return format!("{} trail check(s) failed", s.trail_checks_failed);
    }
    format!("{} KMS calls, {} unused keys", s.kms_calls, s.unused_keys)
}

/// The SNS summary: the top items and where the reports are.
pub fn sns_summary(r: &Report, uris: &[String]) -> String {
    use std::fmt::Write;
    let s = &r.summary;
    let mut b = String::new();
    let _ = writeln!(b, "keytrail KMS review for {}", r.month);
    let _ = writeln!(
        b,
        "\n{} KMS calls ({} failed) by {} principals ({} new) on {} keys; {} unused keys; {} pending deletion ({} still used); {} trail checks failed.",
        s.kms_calls,
        s.failures,
        s.principals,
        s.new_principals,
        s.customer_managed_keys,
        s.unused_keys,
        s.keys_pending_deletion,
        s.pending_deletion_used,
        s.trail_checks_failed
    );
    for p in r.keys_pending_deletion.iter().filter(|p| p.used_in_period) {
        let _ = writeln!(
            b,
            "CRITICAL: {} is pending deletion and was used {} times this month",
            p.key, p.uses
        );
    }
    for c in r
        .trail_checks
        .iter()
        .filter(|c| c.status == crate::review::trail::CheckStatus::Fail)
    {
        let _ = writeln!(b, "FAIL {} {}: {}", c.trail, c.check, c.detail);
    }
    for u in r.unused_keys.iter().take(10) {
        let _ = writeln!(b, "unused: {} {}", u.key, u.aliases.join(", "));
    }
    if !r.keys_rotation_disabled.is_empty() {
        let keys: Vec<&str> = r
            .keys_rotation_disabled
            .iter()
            .take(10)
            .map(|k| k.aliases.first().unwrap_or(&k.key).as_str())
            .collect();
        let more = r.keys_rotation_disabled.len().saturating_sub(keys.len());
        let _ = writeln!(
            b,
            "rotation off: {} customer-managed key{}: {}{}",
            r.keys_rotation_disabled.len(),
            if r.keys_rotation_disabled.len() == 1 {
                ""
            } else {
                "s"
            },
            keys.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    if !r.coverage.days_without_deliveries.is_empty() {
        let _ = writeln!(
            b,
            "possible logging gap: no log deliveries on {}",
            r.coverage.days_without_deliveries.join(", ")
        );
    }
    let _ = writeln!(b, "\nReports:");
    for u in uris {
        let _ = writeln!(b, "  {u}");
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sns_summary_names_the_keys_with_rotation_off() {
        let mut r = crate::review::render::tests::fixture();
        let text = sns_summary(&r, &["s3://b/report.html".into()]);
        assert!(
            text.contains("rotation off: 1 customer-managed key: alias/reports\n"),
            "{text}"
        );
        r.keys_rotation_disabled = (0..12)
            .map(|i| crate::review::report::RotationOff {
                key: format!("arn:aws:kms:eu-west-1:111122223333:key/k{i}"),
                aliases: vec![],
                state: None,
            })
            .collect();
        let text = sns_summary(&r, &[]);
        assert!(text.contains(
            "rotation off: 12 customer-managed keys: arn:aws:kms:eu-west-1:111122223333:key/k0,"
        ));
        assert!(text.contains("key/k9 and 2 more\n"), "{text}");
        r.keys_rotation_disabled.clear();
        assert!(!sns_summary(&r, &[]).contains("rotation off"));
    }

    #[test]
    fn month_from_event_or_schedule() {
        let now: DateTime<Utc> = "2026-11-01T06:00:00Z".parse().expect("t");
        assert_eq!(
            requested_month(&json!({"detail": {}}), now)
                .expect("m")
                .to_string(),
            "2026-10"
        );
        assert_eq!(
            requested_month(&json!({"detail": {"month": "2025-12"}}), now)
                .expect("m")
                .to_string(),
            "2025-12"
        );
        let jan: DateTime<Utc> = "2027-01-01T06:00:00Z".parse().expect("t");
        assert_eq!(
            requested_month(&json!({}), jan).expect("m").to_string(),
            "2026-12"
        );
        assert!(requested_month(&json!({"detail": {"month": "2026-13"}}), now).is_err());
        assert!(requested_month(&json!({"detail": {"month": 202610}}), now).is_err());
    }

    #[test]
    fn env_vars_list_is_what_from_lookup_reads() {
        let seen = std::sync::Mutex::new(Vec::new());
        let _ = ReviewConfig::from_lookup(|k| {
            seen.lock().expect("lock").push(k.to_owned());
            Some("7".into())
        });
        let mut seen = seen.into_inner().expect("lock");
        seen.sort();
        seen.dedup();
        let mut listed: Vec<String> = ReviewConfig::ENV_VARS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        listed.sort();
        assert_eq!(seen, listed);
    }
}
