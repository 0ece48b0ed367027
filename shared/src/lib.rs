//! keytrail: audit AWS KMS key usage from CloudTrail logs.
//!
//! The library follows the data's way, one folder per stage:
//!
//! - `cloudtrail`: the record model, the streaming reader and its framing, S3 key layouts;
//! - `detect`: the KMS event, the one detection catalog, keys and principals, the
//!   analysis that counts metrics, per-file summaries and rule hits, the baseline;
//! - `investigate`: an alarm turned into an investigation, and the offline search;
//! - `review`: the monthly compliance report and its rendering;
//! - `aws` (feature `aws`): the SDK adapters, the configuration and the three handlers.
//!
//! Each stage imports only the ones before it. The modules are private; what is public
//! is re-exported here.
//! The `aws` feature adds the S3/CloudWatch adapters and the Lambda handlers.

/// For an ordered map keyed by an owned type and looked up through `dyn $view`, a
/// trait that the owned key and a borrowed one both implement (so that a lookup
/// builds no key): given `impl Ord for dyn $view`, written to agree with the owned
/// key's own order, this adds the comparisons that follow from it and
/// `Borrow<dyn $view>` for the owned key.
macro_rules! borrowed_lookup {
    ($view:ident for $owned:ty) => {
        impl PartialOrd for dyn $view + '_ {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl PartialEq for dyn $view + '_ {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other).is_eq()
            }
        }
        impl Eq for dyn $view + '_ {}
        impl<'a> std::borrow::Borrow<dyn $view + 'a> for $owned {
            fn borrow(&self) -> &(dyn $view + 'a) {
                self
            }
        }
    };
}

mod cloudtrail;
mod defaults;
mod detect;
mod investigate;
mod review;

#[cfg(feature = "aws")]
mod aws;

pub use defaults::{
    DEFAULT_ATHENA_TABLE, DEFAULT_DATE_PARTITION, DEFAULT_DELIVERY_LAG_MINUTES, DEFAULT_NAMESPACE,
};

// CloudTrail in.
pub use cloudtrail::framing::{Facts, Scan, Source, kind_of, scan_value, string_end};
pub use cloudtrail::layout::{
    BASELINE_KEY, HIT_INDEX_PREFIX, KEYTRAIL_PREFIX, LogKey, MARKER_PREFIX, ObjectKind,
    SUMMARIES_PREFIX, SummaryKey, classify_key, decode_event_key, has_log_extension,
    hit_index_hour_prefix, hit_index_key, investigation_key, log_account_prefix, log_day_prefix,
    log_key_of_hit, log_month_prefix, logs_root, marker_key, non_log_reason, parse_log_key,
    parse_summary_key, review_prefix, summaries_month_prefix, unreadable_baseline_key,
};
pub use cloudtrail::reader::{
    DEFAULT_MAX_RECORD_BYTES, Item, ReadError, ReadLimits, ReadSummary, Select, read_kms_records,
    read_records, read_with,
};
pub use cloudtrail::record::{
    KMS_EVENT_SOURCE, Record, RecordError, Resource, S3_EVENT_SOURCE, S3_SSE_KMS_EVENTS,
    S3_SSE_KMS_KEY_HEADER, SessionContext, SessionIssuer, UserIdentity, is_account_id, parse_time,
};

// Detection.
pub use detect::analysis::{
    AnalysisOptions, FileAnalysis, MAX_BAD_SAMPLES, MAX_DEFERRED_PER_FILE, analyse,
    for_each_kms_event, for_each_kms_event_with, for_each_marked_event, mark_unfamiliar,
    observe_deferred,
};
pub use detect::baseline::{
    ACTIVE_HOURS_MONTHS, Baseline, KnownSources, MonthHours, MonthTotals, OFF_HOURS_MIN_CALLS,
    OFF_HOURS_MIN_DAYS, ip_prefix,
};
pub use detect::catalog::{
    AWS_KMS_NAMESPACE, AlarmSource, Comparison, GroupBy, RULES, Rule, RuleSet, Severity, Statistic,
    policy_is_public, rule, rule_for_aws_metric, rule_for_metric, rules_table_markdown,
};
pub use detect::event::{ErrorClass, EventKind, KmsEvent, VPCE_EVENT_TYPE};
pub use detect::findings::{
    Finding, Hit, Hits, MAX_CONTEXT_PAIRS, MAX_EVENT_IDS, MAX_VALUES, evaluate_findings,
};
pub use detect::health::{
    HEALTH_ALARMS, HealthAlarm, LOG_FILES_PROCESSED, MissingData, health_alarm_for_metric,
    health_table_markdown,
};
pub use detect::key_facts::{AliasMove, AliasTarget, Exposure, KeyFacts, RECENT_HOURS};
pub use detect::keys::{
    KeyRef, KeyRole, MAX_KEYS_PER_RECORD, ResolvedKeys, arn_account, partition_for_region,
    resolve_keys,
};
pub use detect::marks::{
    ENUMERATION_DISTINCT_OPERATIONS, ENUMERATION_MAX_PRINCIPALS, ENUMERATION_WINDOW_SECS, Marker,
    is_enumeration_operation, mark_off_hours,
};
pub use detect::metrics::{
    BAD_LOG_FILES, Datum, ERROR_CLASS_DIMENSION, EVENT_NAME_DIMENSION, KEY_ARN_DIMENSION,
    KMS_API_CALLS, KMS_FAILURES, KMS_KEY_CALLS, KMS_VPCE_EVENTS, MAX_DATUMS_PER_CALL, MetricId,
    MetricOptions, Metrics, RULE_DIMENSION, SUPPRESSED,
};
pub use detect::operations::{
    OPERATIONS, OTHER_OPERATION, OpKind, Operation, op, operation, operation_dimension,
};
pub use detect::policy::{
    Condition, Effect, PolicyDocument, PolicyError, Principals, RESTRICTING_KEYS, Statement,
    action_matches, cryptographic_actions,
};
pub use detect::principal::{
    Principal, SourceClass, classify_source, is_service_source, principal_of,
};
pub use detect::summary::{
    ActiveHours, CappedSet, DayCounts, MAX_CONTEXT_KEYS_PER_KEY, MAX_IPS_PER_PRINCIPAL, NO_KEY,
    SUMMARY_VERSION, Summary, SummaryError, UsageKey, UsageStats,
};
pub use detect::tuning::{
    Applied, RuleOverride, RuleSettings, Suppression, SuppressionSpec, Tuning, TuningError,
    wildcard,
};
pub use detect::usage_rows::{
    FileIdentity, MAX_RECORD_BYTES, delivery_id, error_class_name, error_class_of,
    records as usage_records,
};

// Investigation.
pub use investigate::alarm::{
    Alarm, AlarmKind, MetricRef, Payload, parse_payload, parse_state_change_time,
};
pub use investigate::asff::{
    ASFF_SCHEMA_VERSION, AsffFinding, AsffRecommendation, AsffRemediation, AsffResource,
    AsffSeverity, severity_label,
};
pub use investigate::athena::{NotAColumnName, athena_query, date_partition, is_column_name};
pub use investigate::chatbot::{
    CHAT_EVENT_TYPE, CHAT_ROWS, MAX_CHAT_DESCRIPTION, MAX_CHAT_TITLE, chatbot_notification,
};
pub use investigate::evidence::{
    Count, ErrorRow, Evidence, FailedObject, FileEvidence, IpRow, KeyEvidenceRow, PrincipalRow,
    gather_file,
};
pub use investigate::export::{CATALOG_URL, ExportError, Exported, Origin, finding_id, rfc3339};
pub use investigate::notification::{notification_body, notification_subject};
pub use investigate::ocsf::{
    CREATE_ACTIVITY, DETECTION_FINDING_CLASS, FINDINGS_CATEGORY, OCSF_VERSION, detection_finding,
};
pub use investigate::plan::{MetricSelector, Plan, PlanError, Window, day_prefixes, plan_for};
pub use investigate::record::{
    AlarmInfo, GatherInfo, Investigation, InvestigationInputs, RuleInfo, build_investigation,
};
pub use investigate::sanitize::clean;
pub use investigate::search::{NotAPair, SearchFilter, SearchMatch, parse_pair};

// Review.
pub use review::access::{
    KeyAccess, KeyAccessReview, MAX_ACCESS_ROWS, UnnamedUse, UnusedAccess, Via, key_access,
};
pub use review::inventory::{
    AllowKind, GrantAccess, InventoryRefusal, KeyAccessRules, KeyInfo, KeyState, PolicyAllow,
    state_name,
};
pub use review::month::{
    Coverage, Month, delivery_coverage, delivery_coverage_counted, keep_month,
};
pub use review::render::{render_html, render_markdown};
pub use review::report::{
    AccessRow, CrossAccount, InventoryRow, LifecycleEntry, LifecycleLevel, MissingTags, PendingKey,
    PendingSeverity, REPORT_SCHEMA, REPORT_VERSION, Report, ReviewInput, ReviewSettings,
    RotationOff, Scope, SuppressionUse, UnusedKey, build_report, updated_baseline,
};
pub use review::trail::{
    BasicSelector, CheckStatus, FieldSelector, TrailCheck, TrailInfo, trail_checks,
};
pub use review::usage_table::{
    LATE_ARRIVAL_DAYS, MonthUsage, MonthUsageBuilder, REVIEW_MONTH_SQL, UsageTableError,
    check_table, month_query, partitions,
};

// The AWS side.
#[cfg(feature = "aws")]
pub use aws::alarm_enricher::{EnrichError, Enricher, EnricherConfig};
#[cfg(feature = "aws")]
pub use aws::athena::{
    AthenaQueries, QueryStats, ResultItem, TableMonth, UsageQueryError, athena_client, read_month,
};
#[cfg(feature = "aws")]
pub use aws::config::ConfigError;
#[cfg(feature = "aws")]
pub use aws::firehose::{UsageStream, firehose_client};
#[cfg(feature = "aws")]
pub use aws::log_processor::{
    ObjectRef, Outcome, ProcessError, Processor, ProcessorConfig, ProcessorInput, parse_input,
};
#[cfg(feature = "aws")]
pub use aws::monthly_review::{ReviewConfig, ReviewError, Reviewer, requested_month, sns_summary};
#[cfg(feature = "aws")]
pub use aws::tuning::{ConfigLocation, TuningLoadError, TuningSource};
#[cfg(feature = "aws")]
pub use aws::{
    cloudwatch::{CloudWatchSink, cloudwatch_client},
    discover::{discover_accounts, discover_regions},
    inventory::{AwsReviewSources, cloudtrail_client},
    kms::{KmsDirectory, kms_client},
    logging::{init_lambda_logging, log_filter},
    organization::{MemberAccounts, OrgReviewSources},
    ports::{
        AwsError, BodyReader, FindingImporter, KeyDirectory, KeyMeta, Listing, MetricSink,
        Notifier, ObjectStore, PutOutcome, RefusedFinding, ReviewSources,
    },
    s3::{S3Store, s3_client},
    sdk::{https_client, load_sdk_config, sdk_defaults},
    securityhub::{SecurityHubImporter, securityhub_client},
    sns::{SnsNotifier, sns_client},
};
