//! keytrail's defaults, each defined once: the Lambdas' configuration, the CLI's
//! options and the SAM template's parameters (checked by a test) all start from these.

/// The CloudWatch namespace of keytrail's metrics (`KEYTRAIL_METRIC_NAMESPACE`).
pub const DEFAULT_NAMESPACE: &str = "KMSAudit";
/// The Athena table over the trail that prepared queries read (`KEYTRAIL_ATHENA_TABLE`).
pub const DEFAULT_ATHENA_TABLE: &str = "cloudtrail_logs";
/// That table's `yyyy/MM/dd` partition column (`KEYTRAIL_ATHENA_DATE_PARTITION`).
pub const DEFAULT_DATE_PARTITION: &str = "logdate";
/// Minutes CloudTrail may take to deliver a log file (`KEYTRAIL_DELIVERY_LAG_MINUTES`).
pub const DEFAULT_DELIVERY_LAG_MINUTES: u64 = 15;
