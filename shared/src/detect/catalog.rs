//! The detection catalog: every rule keytrail knows, defined once.
//!
//! The log processor counts with these rules, the CLI reports with them, the alarm
//! enricher filters with them and the SAM template's alarms are checked against them.
//! A rule is data plus a predicate over an analysed KMS event ([`KmsEvent`]).

use serde::Serialize;
use serde_json::Value;

use crate::cloudtrail::record::{Record, is_account_id};
use crate::detect::event::{ErrorClass, EventKind, KmsEvent};
use crate::detect::key_facts::is_alias_event;
use crate::detect::operations::{Operation, op};
use crate::detect::policy::{PolicyDocument, PolicyError};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// How the alarm compares the period's statistic with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub fn breached(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// The operator, for the docs.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => ">=",
            Comparison::GreaterThanThreshold => ">",
            Comparison::LessThanThreshold => "<",
            Comparison::LessThanOrEqualToThreshold => "<=",
        }
    }
}

/// The CloudWatch statistic of an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Statistic {
    Sum,
    Minimum,
}

impl Statistic {
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Sum => "Sum",
            Statistic::Minimum => "Minimum",
        }
    }
}

/// Where a rule's alarm gets its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum AlarmSource {
    /// The rule's matches: the log processor publishes their count in keytrail's
    /// namespace, and the alarm is its `Sum`.
    Keytrail,
    /// A metric AWS KMS publishes itself in `AWS/KMS`, per `KeyId` (`metric` is its
    /// name). Keytrail publishes nothing for the rule and `scan` raises no finding for
    /// it; the template's alarm watches the metric over all keys, and the rule's
    /// predicate selects the CloudTrail events the enricher gathers for the key,
    /// from `lookback_secs` before the alarm.
    AwsKms {
        statistic: Statistic,
        lookback_secs: u32,
    },
}

/// The namespace AWS KMS publishes its metrics in.
pub const AWS_KMS_NAMESPACE: &str = "AWS/KMS";

/// How the offline evaluation groups events before applying the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One count for the whole trail, as the CloudWatch metric sees it.
    All,
    /// One count per source: normalised principal and source IP.
    Source,
}

/// One detection rule.
#[derive(Debug, Serialize)]
pub struct Rule {
    /// Stable snake_case id.
    pub id: &'static str,
    /// CloudWatch metric name (in the configured namespace, no dimensions).
    pub metric: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub description: &'static str,
    /// Response steps, in order.
    pub playbook: &'static [&'static str],
    /// Where the alarm's metric comes from (keytrail's count, or AWS KMS's metric).
    pub alarm: AlarmSource,
    /// Default alarm: `Sum` (or the [`AlarmSource`]'s statistic) over `period_secs`,
    /// compared with `threshold`.
    pub threshold: f64,
    pub comparison: Comparison,
    pub period_secs: u32,
    /// The alarm looks at this many periods (CloudTrail delivers late: the range must
    /// cover the delivery delay) ...
    pub evaluation_periods: u32,
    /// ... and alarms when at least this many of them breach.
    pub datapoints_to_alarm: u32,
    pub group_by: GroupBy,
    /// What the rule selects, in words: the catalog table in the docs is made of these.
    pub criteria: &'static str,
    /// The rule can only match with the review's baseline loaded (known sources).
    pub needs_baseline: bool,
    /// What a match means, as an AWS Security Finding Format type
    /// (`namespace/category`, in the `TTPs` or `Effects` namespace): the exported
    /// findings' `Types` (ASFF) and `finding_info.types` (OCSF).
    pub finding_type: &'static str,
    /// The calls the rule reads: KMS `eventName`s, or `source:eventName` for other
    /// services (the docs' catalog table lists them).
    pub events: &'static [&'static str],
    /// Whether calls an AWS service made count (see [`ServiceCalls`]).
    pub service_calls: ServiceCalls,
    /// The kind of event the rule reads: KMS API calls, or one of the other records
    /// the analysis lets through (see [`EventKind`]). A rule never sees another kind.
    pub kind: EventKind,
    /// The public rule sets and posture checks that have the same idea (empty: none
    /// of Elastic, Panther, Sigma, Splunk, Datadog, Prowler, Security Hub or CIS).
    pub rule_sets: &'static [&'static str],
    #[serde(skip)]
    predicate: fn(&KmsEvent) -> bool,
    /// Notes that sharpen a match, e.g. that a key policy was made public.
    #[serde(skip)]
    notes: fn(&KmsEvent) -> Vec<String>,
    /// For rules about another account: the account that makes a match "outside"
    /// (several, comma-separated, when a policy names more than one). A match whose
    /// accounts are all in the configuration's `trusted_accounts` does not count (see
    /// [`Rule::outside_account`]).
    #[serde(skip)]
    outside_account: Option<fn(&KmsEvent) -> Option<String>>,
}

/// Which calls made by AWS services a rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceCalls {
    /// Every call: a service failing on a principal's behalf, or changing a key for
    /// it, is still evidence.
    Count,
    /// Not the calls AWS itself makes (`AWSService` identities, CloudTrail's own
    /// account writing logs: [`Principal::aws_internal`](crate::detect::principal::Principal));
    /// calls a principal makes through a service still count.
    ExemptAwsInternal,
    /// Not the calls any AWS service makes (`invokedBy`, a service as source): the
    /// rule is about a principal's own behaviour, such as its volume or its addresses.
    Exempt,
}

impl ServiceCalls {
    /// True when a call by this principal counts for a rule with this setting.
    pub fn counts(self, p: &crate::detect::principal::Principal) -> bool {
        match self {
            ServiceCalls::Count => true,
            ServiceCalls::ExemptAwsInternal => !p.aws_internal,
            ServiceCalls::Exempt => !p.service_originated && !p.aws_internal,
        }
    }

    /// What the docs' catalog table says of it.
    pub fn describe(self) -> &'static str {
        match self {
            ServiceCalls::Count => "",
            ServiceCalls::ExemptAwsInternal => {
                "calls by AWS itself (`AWSService`, CloudTrail's account 086441151436)"
            }
            ServiceCalls::Exempt => "calls an AWS service makes for a principal (`invokedBy`)",
        }
    }
}

impl Rule {
    /// Does this rule select the event? Calls by AWS services that the rule does not
    /// count ([`Rule::service_calls`]) never match.
    pub fn matches(&self, e: &KmsEvent) -> bool {
        e.kind == self.kind && self.service_calls.counts(&e.principal) && (self.predicate)(e)
    }

    /// Notes that sharpen a match, e.g. that a key policy was made public.
    pub fn notes(&self, e: &KmsEvent) -> Vec<String> {
        (self.notes)(e)
    }

    /// The other account a match involves, for rules about other accounts (the
    /// caller's for `cross_account_use`, the grantee's for `grant_to_external`);
    /// `None` for the rest.
    pub fn outside_account(&self, e: &KmsEvent) -> Option<String> {
        self.outside_account.and_then(|f| f(e))
    }

    /// True for rules about another account, which `trusted_accounts` silences.
    pub fn uses_trusted_accounts(&self) -> bool {
        self.outside_account.is_some()
    }

    /// What keeps the rule from matching or alarming, in words (the docs' table).
    pub fn silenced_by(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let svc = self.service_calls.describe();
        if !svc.is_empty() {
            out.push(svc);
        }
        if self.uses_trusted_accounts() {
            out.push("`trusted_accounts`");
        }
        if self.needs_baseline {
            out.push("no baseline loaded");
        }
        out.push("a `[[suppress]]` entry, `enabled = false`, the threshold");
        out
    }

    /// True when keytrail counts the rule's matches (publishes its metric, raises
    /// findings in `scan`); false for rules over an AWS metric ([`AlarmSource`]).
    pub fn is_counted(&self) -> bool {
        self.alarm == AlarmSource::Keytrail
    }

    /// The rule's position in [`RULES`] (report order).
    pub fn index(&'static self) -> usize {
        (self as *const Rule as usize - RULES.as_ptr() as usize) / std::mem::size_of::<Rule>()
    }
}

/// A rule is its catalog entry: two references are equal when they name the same one.
impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Rule {}

/// The rules one event matches, worked out once per event ([`RuleSet::of`]) and read
/// by the metrics, the summary and the offline findings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleSet(u64);

const _: () = assert!(RULES.len() <= 64, "RuleSet holds at most 64 rules");

impl RuleSet {
    /// Runs the predicate of every rule keytrail counts ([`Rule::is_counted`]) on the
    /// event, once.
    pub fn of(e: &KmsEvent) -> RuleSet {
        let mut bits = 0u64;
        for (i, rule) in RULES.iter().enumerate() {
            if rule.is_counted() && rule.matches(e) {
                bits |= 1 << i;
            }
        }
        RuleSet(bits)
    }

    pub fn contains(self, rule: &'static Rule) -> bool {
        self.0 & (1 << rule.index()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn insert(&mut self, rule: &'static Rule) {
        self.0 |= 1 << rule.index();
    }

    /// The matching rules, in catalog order.
    pub fn iter(self) -> impl Iterator<Item = &'static Rule> {
        RULES
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, r)| r)
    }
}

fn grantee_account(e: &KmsEvent) -> Option<String> {
    e.record
        .request_str("granteePrincipal")
        .and_then(crate::detect::keys::arn_account)
        .map(str::to_owned)
}

fn caller_account(e: &KmsEvent) -> Option<String> {
    e.principal.account.clone()
}

fn no_notes(_: &KmsEvent) -> Vec<String> {
    Vec::new()
}

/// `CreateKey`, `PutKeyPolicy` or `ReplicateKey` that succeeded: the calls that set
/// a key policy.
fn sets_policy(e: &KmsEvent) -> bool {
    !e.failed()
        && matches!(
            e.name(),
            op::CREATE_KEY | op::PUT_KEY_POLICY | op::REPLICATE_KEY
        )
}

/// The request's key policy: `None` when the call names none (`CreateKey` without a
/// policy gets the default policy, which only the key's account can use).
fn policy_of(e: &KmsEvent) -> Option<Result<PolicyDocument, PolicyError>> {
    e.record
        .request_parameters
        .as_ref()?
        .get("policy")
        .filter(|v| !v.is_null())
        .map(PolicyDocument::parse)
}

/// The account that owns the key: its ARN's, else the trail's `recipientAccountId`
/// (12-digit accounts only).
fn key_owner<'e>(e: &'e KmsEvent) -> Option<&'e str> {
    e.key_account()
        .filter(|a| is_account_id(a))
        .or(e.record.recipient_account_id.as_deref())
        .filter(|a| is_account_id(a))
}

/// The accounts other than the key's that the request's policy allows.
fn policy_accounts(e: &KmsEvent) -> Vec<String> {
    let Some(owner) = key_owner(e) else {
        return Vec::new();
    };
    match policy_of(e) {
        Some(Ok(doc)) => doc.outside_accounts(Some(owner)),
        _ => Vec::new(),
    }
}

/// The account of the key an S3 request names for SSE-KMS, from its ARN (key or
/// alias). A bare key id or alias names none.
fn s3_key_account(e: &KmsEvent) -> Option<String> {
    e.record
        .request_str(crate::cloudtrail::record::S3_SSE_KMS_KEY_HEADER)
        .map(str::trim)
        .and_then(crate::detect::keys::arn_account)
        .map(str::to_owned)
}

/// The bucket owner of an S3 data event: the account the trail delivered it to, else
/// the account of its object or bucket resource.
fn s3_bucket_owner(r: &Record) -> Option<&str> {
    r.recipient_account_id.as_deref().or_else(|| {
        r.resources
            .iter()
            .filter(|res| {
                res.resource_type
                    .as_deref()
                    .is_some_and(|t| t == "AWS::S3::Object" || t == "AWS::S3::Bucket")
            })
            .find_map(|res| res.account_id.as_deref())
    })
}

fn s3_foreign_key_note(e: &KmsEvent) -> Vec<String> {
    let key = e
        .record
        .request_str(crate::cloudtrail::record::S3_SSE_KMS_KEY_HEADER)
        .unwrap_or("");
    let bucket = e.record.request_str("bucketName").unwrap_or("?");
    let object = e.record.request_str("key").unwrap_or("?");
    vec![format!(
        "s3://{bucket}/{object} encrypted with {key} (key account {}, bucket owner {})",
        s3_key_account(e).as_deref().unwrap_or("?"),
        s3_bucket_owner(e.record).unwrap_or("?")
    )]
}

fn vpce_note(e: &KmsEvent) -> Vec<String> {
    vec![format!(
        "VPC endpoint {}, caller account {}",
        e.record.vpc_endpoint_id.as_deref().unwrap_or("?"),
        e.principal.account.as_deref().unwrap_or("?")
    )]
}

fn expiry_note(e: &KmsEvent) -> Vec<String> {
    match e.record.request_str("validTo") {
        Some(t) if e.name() == op::IMPORT_KEY_MATERIAL => {
            vec![format!("key material imported to expire at {t}")]
        }
        _ => Vec::new(),
    }
}

/// [`Rule::outside_account`] of `key_shared_external`: every outside account,
/// comma-separated (the match is silenced only when all are trusted).
fn policy_outside_accounts(e: &KmsEvent) -> Option<String> {
    let accounts = policy_accounts(e);
    (!accounts.is_empty()).then(|| accounts.join(","))
}

fn public_statement_notes(e: &KmsEvent) -> Vec<String> {
    let Some(Ok(doc)) = policy_of(e) else {
        return Vec::new();
    };
    doc.public_statements()
        .map(|(i, s)| {
            let who = if s.not_principal {
                "everyone but its NotPrincipal"
            } else {
                "any principal (\"*\")"
            };
            format!(
                "{} allows {who} with no condition that confines the caller: {}",
                s.label(i),
                s.actions_text()
            )
        })
        .collect()
}

fn shared_account_notes(e: &KmsEvent) -> Vec<String> {
    let Some(Ok(doc)) = policy_of(e) else {
        return Vec::new();
    };
    let owner = key_owner(e);
    let mut out = Vec::new();
    for (i, s) in doc.statements.iter().enumerate() {
        let accounts: Vec<String> = s
            .allowed_accounts()
            .into_iter()
            .filter(|a| Some(a.as_str()) != owner)
            .collect();
        if !accounts.is_empty() {
            out.push(format!(
                "{} allows account {} (the key's account is {}): {}",
                s.label(i),
                accounts.join(", "),
                owner.unwrap_or("unknown"),
                s.actions_text()
            ));
        }
    }
    out
}

/// What `key_policy_changed` adds: a public statement, other accounts, or a policy
/// that could not be read.
fn policy_change_notes(e: &KmsEvent) -> Vec<String> {
    match policy_of(e) {
        None => Vec::new(),
        Some(Err(err)) => vec![format!("the new policy could not be read: {err}")],
        Some(Ok(doc)) => {
            let mut out = Vec::new();
            if doc.is_public() {
                out.push(
                    "policy grants access to any principal (\"*\") with no restricting condition: key made public (see key_made_public)"
                        .to_owned(),
                );
            }
            let accounts = doc.outside_accounts(key_owner(e));
            if key_owner(e).is_some() && !accounts.is_empty() {
                out.push(format!(
                    "policy allows other accounts: {} (see key_shared_external)",
                    accounts.join(", ")
                ));
            }
            out
        }
    }
}

/// `pendingWindowInDays` of a `ScheduleKeyDeletion` request (a number or a numeric
/// string).
fn pending_window_days(e: &KmsEvent) -> Option<i64> {
    let v = e
        .record
        .request_parameters
        .as_ref()?
        .get("pendingWindowInDays")?;
    v.as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn deletion_window_notes(e: &KmsEvent) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(d) = pending_window_days(e) {
        out.push(format!("waiting period {d} days"));
    }
    if let Some(date) = response_str(e, "deletionDate") {
        out.push(format!("deletion date {date}"));
    }
    out
}

/// A string field of `responseElements`.
fn response_str<'e>(e: &'e KmsEvent, field: &str) -> Option<&'e str> {
    e.record.response_elements.as_ref()?.get(field)?.as_str()
}

/// A string field of the request, the response or `additionalEventData`, in that
/// order (CloudTrail puts a custom key store's details in any of them).
fn any_str<'e>(e: &'e KmsEvent, field: &str) -> Option<&'e str> {
    let r = e.record;
    [
        r.request_parameters.as_ref(),
        r.response_elements.as_ref(),
        r.additional_event_data.as_ref(),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.get(field).and_then(Value::as_str))
    .filter(|s| !s.is_empty())
}

/// The key's origin and custom key store, as far as the record says.
fn key_store_notes(e: &KmsEvent) -> Vec<String> {
    let mut out = Vec::new();
    for (field, label) in [
        ("origin", "origin"),
        ("customKeyStoreId", "custom key store"),
        ("customKeyStoreName", "store name"),
        ("customKeyStoreType", "store type"),
        ("clusterId", "CloudHSM cluster"),
        ("cloudHsmClusterId", "CloudHSM cluster"),
        ("xksProxyUriEndpoint", "external key store proxy"),
        (
            "xksProxyVpcEndpointServiceName",
            "proxy VPC endpoint service",
        ),
        ("xksKeyId", "external key"),
    ] {
        if let Some(v) = any_str(e, field) {
            let note = format!("{label} {v}");
            if !out.contains(&note) {
                out.push(note);
            }
        }
    }
    out
}

fn import_notes(e: &KmsEvent) -> Vec<String> {
    let mut out = Vec::new();
    match e.record.request_str("expirationModel") {
        Some("KEY_MATERIAL_DOES_NOT_EXPIRE") => out.push("key material does not expire".into()),
        Some(m) => {
            let to = e
                .record
                .request_str("validTo")
                .unwrap_or("(no ValidTo recorded)");
            out.push(format!("expiration model {m}, valid to {to}"));
        }
        None => {
            if let Some(to) = e.record.request_str("validTo") {
                out.push(format!("valid to {to}"));
            }
        }
    }
    if let Some(t) = e.record.request_str("importType") {
        out.push(format!("import type {t}"));
    }
    out
}

fn region_notes(e: &KmsEvent) -> Vec<String> {
    let from = e.record.aws_region.as_deref().unwrap_or("unknown");
    let mut out = Vec::new();
    if let Some(r) = e.record.request_str("replicaRegion") {
        out.push(format!("replica created in {r} (primary in {from})"));
    }
    if let Some(r) = e.record.request_str("primaryRegion") {
        out.push(format!("primary Region moved to {r} (call made in {from})"));
    }
    out
}

/// [`Rule::outside_account`] of `alias_repointed`: the target key's outside
/// accounts, when they alone make the move dangerous (a new, public or unknown key
/// is dangerous whoever it is shared with).
fn alias_target_accounts(e: &KmsEvent) -> Option<String> {
    e.alias_target
        .as_ref()
        .filter(|t| t.only_shared(e.time))
        .map(|t| t.outside().join(","))
}

fn alias_notes(e: &KmsEvent) -> Vec<String> {
    match &e.alias_target {
        Some(t) => t.notes(e.time),
        None => vec![
            "the target key's age and policy were not worked out here: check them (aws kms describe-key, aws kms get-key-policy)".into(),
        ],
    }
}

fn off_hours_note(e: &KmsEvent) -> Vec<String> {
    use chrono::Timelike;
    vec![format!(
        "{} at {:02}:00-{:02}:59 UTC, an hour the baseline never saw this principal active",
        e.name(),
        e.time.hour(),
        e.time.hour()
    )]
}

fn grantee_note(e: &KmsEvent) -> Vec<String> {
    e.record
        .request_str("granteePrincipal")
        .map(|g| vec![format!("grantee principal {g}")])
        .unwrap_or_default()
}

const PB_PRINCIPAL: &str = "Identify the principal and session in the notification; if the activity is not expected, disable or detach the credentials (deactivate access keys, revoke role sessions with an aws:TokenIssueTime deny policy).";
const PB_AUDIT_DECRYPTS: &str = "Audit every Decrypt and GenerateDataKey call by that principal over the last 90 days (keytrail search, or the prepared Athena query) to scope which data it could read.";
const PB_ROTATE: &str = "If key material may be exposed or misused, rotate the key (RotateKeyOnDemand) or create a replacement key, re-encrypt the data and retire the old key.";
const PB_NOTIFY: &str = "Record the findings in the incident ticket and notify the key owner; if regulated data was decrypted without authorisation, follow the breach-notification process.";

/// Every rule, in report order.
pub static RULES: &[Rule] = &[
    Rule {
        id: "decrypt_failures",
        metric: "KMSDecryptFailures",
        severity: Severity::Medium,
        title: "Failed Decrypt calls",
        description: "Decrypt calls that returned an error. A burst means someone holds ciphertext they cannot open: a wrong key, tampered ciphertext, a mismatched encryption context, or a principal probing for access.",
        playbook: &[
            "Group the failures by principal, source IP and error code; IncorrectKey or InvalidCiphertext from one caller usually means a misconfigured client, AccessDenied from an unknown one means probing.",
            PB_PRINCIPAL,
            PB_AUDIT_DECRYPTS,
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 10.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "`Decrypt` calls with a non-empty `errorCode`.",
        events: &["Decrypt"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Discovery",
        notes: no_notes,
        predicate: |e| e.name() == op::DECRYPT && e.failed(),
    },
    Rule {
        id: "access_denied",
        metric: "KMSAccessDenied",
        severity: Severity::High,
        title: "KMS calls denied",
        description: "KMS calls that failed with AccessDenied: a principal tried to use or manage a key its policies do not allow.",
        playbook: &[
            "Read the errorMessage: it names the action and the policy that is missing (identity-based policy, key policy, or an explicit deny).",
            PB_PRINCIPAL,
            PB_AUDIT_DECRYPTS,
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 5.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Any KMS call in the `AccessDenied` error class: `errorCode` `AccessDenied`, `AccessDeniedException`, `UnauthorizedOperation` or `Client.UnauthorizedOperation` (so it counts what `KMSFailures{ErrorClass=AccessDenied}` counts).",
        events: &["*"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Discovery",
        notes: no_notes,
        predicate: |e| e.error_class == Some(ErrorClass::AccessDenied),
    },
    Rule {
        id: "pending_deletion_use",
        metric: "KMSPendingDeletionKeyUse",
        severity: Severity::Critical,
        title: "Use of a key pending deletion",
        description: "A call failed because its key is scheduled for deletion. Something still depends on the key: once the waiting period ends, that data is unrecoverable.",
        playbook: &[
            "Cancel the deletion now (aws kms cancel-key-deletion --key-id <key>) and re-enable the key (aws kms enable-key) while you investigate.",
            "Find every caller of the key over its whole history (keytrail review, or the prepared Athena query) and migrate them before scheduling deletion again.",
            "Confirm who scheduled the deletion and whether that was authorised.",
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Failed calls whose `errorMessage` says the key is pending deletion, whatever the error code (KMS uses `KMSInvalidStateException` or `DisabledException` depending on the API).",
        events: &["*"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "Effects/Denial of Service",
        notes: no_notes,
        predicate: |e| e.error_class == Some(ErrorClass::PendingDeletion),
    },
    Rule {
        id: "disabled_key_use",
        metric: "KMSDisabledKeyUse",
        severity: Severity::High,
        title: "Use of a disabled key",
        description: "A call failed because its key is disabled: a workload still depends on it, or someone disabled a key in use.",
        playbook: &[
            "Confirm who disabled the key and why (look for the DisableKey event).",
            "If the disable was unintended, re-enable the key; if intended, migrate the remaining callers listed here.",
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Failed calls with `DisabledException`, or `KMSInvalidStateException` whose message says the key is disabled (not pending deletion).",
        events: &["*"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "Effects/Denial of Service",
        notes: no_notes,
        predicate: |e| e.error_class == Some(ErrorClass::Disabled),
    },
    Rule {
        id: "key_deletion_scheduled",
        metric: "KMSKeyDeletionScheduled",
        severity: Severity::Medium,
        title: "Key deletion scheduled",
        description: "ScheduleKeyDeletion succeeded (CIS AWS 4.7). After the waiting period, the key and every ciphertext under it are lost for good.",
        playbook: &[
            "Confirm with the key owner that the deletion is intended and approved.",
            "Review the key's usage over the last 90 days (keytrail review) for callers that still depend on it; if any, cancel the deletion.",
            "Consider disabling the key instead of deleting it, and alarm on its use during the waiting period.",
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `ScheduleKeyDeletion`.",
        events: &["ScheduleKeyDeletion"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &[
            "CIS AWS 4.7",
            "Elastic",
            "Panther",
            "Datadog",
            "Prowler",
            "Security Hub KMS.3",
        ],
        needs_baseline: false,
        outside_account: None,
        finding_type: "Effects/Data Destruction",
        notes: no_notes,
        predicate: |e| e.succeeded(op::SCHEDULE_KEY_DELETION),
    },
    Rule {
        id: "key_disabled",
        metric: "KMSKeyDisabled",
        severity: Severity::Medium,
        title: "Key disabled",
        description: "DisableKey succeeded (CIS AWS 4.7). Every workload that uses the key stops working.",
        playbook: &[
            "Confirm with the key owner that the change is intended.",
            "Check for disabled_key_use findings that show workloads still calling the key.",
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `DisableKey`.",
        events: &["DisableKey"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &["CIS AWS 4.7", "Elastic", "Panther", "Datadog", "Prowler"],
        needs_baseline: false,
        outside_account: None,
        finding_type: "Effects/Denial of Service",
        notes: no_notes,
        predicate: |e| e.succeeded(op::DISABLE_KEY),
    },
    Rule {
        id: "key_created",
        metric: "KMSKeyCreation",
        severity: Severity::Low,
        title: "Key created",
        description: "CreateKey succeeded. Unexpected key creation can precede ransomware that encrypts data under an attacker-controlled key policy.",
        playbook: &[
            "Check that the creator and the new key's policy match your provisioning process (infrastructure as code, approved roles).",
            "Inspect the key policy for principals outside your organisation.",
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `CreateKey`.",
        events: &["CreateKey"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Persistence",
        notes: no_notes,
        predicate: |e| e.succeeded(op::CREATE_KEY),
    },
    Rule {
        id: "key_policy_changed",
        metric: "KMSKeyPolicyChanged",
        severity: Severity::High,
        title: "Key policy changed",
        description: "PutKeyPolicy succeeded. A policy that grants \"*\" with no condition makes the key usable by anyone.",
        playbook: &[
            "Diff the new policy against the previous one (GetKeyPolicy, or the previous PutKeyPolicy event).",
            "If the policy grants \"*\" or an unknown account, restore the previous policy immediately.",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `PutKeyPolicy`. Notes say when the new policy is public (as `key_made_public` judges it), which other accounts it allows (as `key_shared_external` reads them), or that it could not be read.",
        events: &["PutKeyPolicy"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &["Elastic"],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Privilege Escalation",
        notes: policy_change_notes,
        predicate: |e| e.succeeded(op::PUT_KEY_POLICY),
    },
    Rule {
        id: "grant_to_external",
        metric: "KMSGrantToExternalAccount",
        severity: Severity::High,
        title: "Grant to another account",
        description: "CreateGrant gave a principal in another account than the key's the right to use the key.",
        playbook: &[
            "Confirm that the grantee account is a known partner or a member of your organisation.",
            "If not, retire or revoke the grant (aws kms revoke-grant --key-id <key> --grant-id <id>).",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `CreateGrant` whose `granteePrincipal` is an ARN in a 12-digit account other than the key's account (or, when the key's account is unknown, the trail's `recipientAccountId`). Service principals do not match.",
        events: &["CreateGrant"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: Some(grantee_account),
        finding_type: "Effects/Data Exposure",
        notes: grantee_note,
        predicate: |e| {
            if !e.succeeded(op::CREATE_GRANT) {
                return false;
            }
            let grantee = e
                .record
                .request_str("granteePrincipal")
                .and_then(crate::detect::keys::arn_account);
            let owner = e.key_account().or(e.record.recipient_account_id.as_deref());
            matches!((grantee, owner), (Some(g), Some(o)) if is_account_id(g) && g != o)
        },
    },
    Rule {
        id: "cross_account_use",
        metric: "KMSCrossAccountUse",
        severity: Severity::Medium,
        title: "Cross-account key use",
        description: "A caller in one account used a key owned by another account.",
        playbook: &[
            "Check that the calling account is expected to use this key (key policy, grants, organisation membership).",
            "If not, remove the account from the key policy and revoke its grants.",
            PB_AUDIT_DECRYPTS,
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Any KMS call, successful or not, where the caller's account and the account in the key's ARN are both 12-digit account ids and differ.",
        events: &["*"],
        service_calls: ServiceCalls::ExemptAwsInternal,
        kind: EventKind::Call,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: Some(caller_account),
        finding_type: "Effects/Data Exposure",
        notes: no_notes,
        predicate: |e| e.is_cross_account(),
    },
    Rule {
        id: "data_key_volume",
        metric: "DataKeyGeneration",
        severity: Severity::Medium,
        title: "High data-key generation volume",
        description: "GenerateDataKey* calls. Hundreds in a few minutes from one source can mean bulk encryption by an attacker or data staging for exfiltration.",
        playbook: &[
            "Compare the volume with the workload's normal rate for this principal and source IP.",
            PB_PRINCIPAL,
            PB_AUDIT_DECRYPTS,
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 100.0,
        comparison: Comparison::GreaterThanThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::Source,
        criteria: "Every `GenerateDataKey*` call (`GenerateDataKey`, `GenerateDataKeyWithoutPlaintext`, `GenerateDataKeyPair`, `GenerateDataKeyPairWithoutPlaintext`), successful or not.",
        events: &[
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
        ],
        service_calls: ServiceCalls::Exempt,
        kind: EventKind::Call,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "Effects/Data Exfiltration",
        notes: no_notes,
        predicate: |e| e.operation.is_some_and(Operation::generates_data_key),
    },
    Rule {
        id: "imported_material_deleted",
        metric: "KMSImportedKeyMaterialDeleted",
        severity: Severity::High,
        title: "Imported key material deleted",
        description: "DeleteImportedKeyMaterial succeeded: the key is unusable until the same material is imported again.",
        playbook: &[
            "Confirm with the key owner that the deletion is intended.",
            "Make sure a copy of the key material is held where your key-management process says it must be.",
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `DeleteImportedKeyMaterial`.",
        events: &["DeleteImportedKeyMaterial"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &["Elastic", "Sigma"],
        needs_baseline: false,
        outside_account: None,
        finding_type: "Effects/Data Destruction",
        notes: no_notes,
        predicate: |e| e.succeeded(op::DELETE_IMPORTED_KEY_MATERIAL),
    },
    Rule {
        id: "rotation_disabled",
        metric: "KMSKeyRotationDisabled",
        severity: Severity::Medium,
        title: "Key rotation disabled",
        description: "DisableKeyRotation succeeded (CIS AWS 3.8 asks for rotation of customer-managed keys).",
        playbook: &[
            "Confirm the change is intended and documented.",
            "Re-enable rotation (aws kms enable-key-rotation --key-id <key>) unless an exception is approved.",
            PB_ROTATE,
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `DisableKeyRotation`.",
        events: &["DisableKeyRotation"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &[
            "CIS AWS 3.6 (posture)",
            "Security Hub KMS.4 (posture)",
            "Prowler (posture)",
            "Panther (posture)",
            "Datadog (posture)",
        ],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Defense Evasion",
        notes: no_notes,
        predicate: |e| e.succeeded(op::DISABLE_KEY_ROTATION),
    },
    Rule {
        id: "key_made_public",
        metric: "KMSKeyMadePublic",
        severity: Severity::Critical,
        title: "Key made public through its policy",
        description: "CreateKey, PutKeyPolicy or ReplicateKey set a key policy that lets any principal (\"*\") use or manage the key, with no condition that confines the caller to an organisation, an account, a VPC endpoint or an AWS service. Anyone with AWS credentials can then call the key.",
        playbook: &[
            "Restore a private policy now: aws kms put-key-policy --key-id <key> --policy-name default --policy file://previous-policy.json (the previous PutKeyPolicy event or your infrastructure code holds it); if the key must stay usable meanwhile, add a Deny for principals outside aws:PrincipalOrgID.",
            "Find the statement that lets \"*\" in (aws kms get-key-policy --key-id <key> --policy-name default; keytrail scan names it in the finding's notes): its actions say what anyone could do (kms:Decrypt and kms:ReEncrypt* expose data, kms:Encrypt and kms:GenerateDataKey* let outsiders encrypt to your key, kms:PutKeyPolicy hands over control).",
            "Search every call to the key since the change by principals outside your organisation (keytrail search --key <key> --since <change time>, or the prepared Athena query) to see whether anyone used the opening.",
            PB_PRINCIPAL,
            PB_ROTATE,
            PB_NOTIFY,
        ],
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `CreateKey`, `PutKeyPolicy` or `ReplicateKey` whose `policy` has an `Allow` statement for `Principal` `\"*\"` or `{\"AWS\": \"*\"}` (a string or in an array), or an `Allow` with `NotPrincipal`, that no condition on `aws:PrincipalOrgID`, `aws:PrincipalAccount`, `aws:SourceAccount`, `aws:SourceVpce`, `kms:CallerAccount` or `kms:ViaService` confines (key names in any case, any positive operator; negated operators, `Null`, `...IfExists` and a bare `*` value do not confine). The notes name the statement and its actions.",
        events: &["CreateKey", "PutKeyPolicy", "ReplicateKey"],
        service_calls: ServiceCalls::Count,
        rule_sets: &[
            "Panther",
            "Splunk",
            "Prowler (posture)",
            "Security Hub KMS.5 (posture)",
        ],
        needs_baseline: false,
        outside_account: None,
        finding_type: "Effects/Data Exposure",
        notes: public_statement_notes,
        kind: EventKind::Call,
        alarm: AlarmSource::Keytrail,
        predicate: |e| {
            sets_policy(e) && policy_of(e).is_some_and(|p| p.is_ok_and(|d| d.is_public()))
        },
    },
    Rule {
        id: "key_shared_external",
        metric: "KMSKeySharedExternal",
        severity: Severity::High,
        title: "Key shared with another account through its policy",
        description: "CreateKey, PutKeyPolicy or ReplicateKey set a key policy that allows an account other than the key's own (as an account id, its root, or one of its roles or users). That account can use the key as its policy statement allows, and can pass it on to its own principals.",
        playbook: &[
            "Check that every other account the new policy names (aws kms get-key-policy --key-id <key> --policy-name default; keytrail scan lists them in the finding's notes) is a partner or a member of your organisation; add the expected ones to trusted_accounts in the configuration file so that they stop raising this.",
            "For an unknown account, remove its statement: aws kms put-key-policy --key-id <key> --policy-name default --policy file://policy-without-it.json, and revoke the grants it holds (aws kms list-grants --key-id <key>, then aws kms revoke-grant).",
            "Search the key's calls by that account since the change (keytrail search --key <key> --since <change time>) to see what it did with the key.",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `CreateKey`, `PutKeyPolicy` or `ReplicateKey` whose `policy` has an `Allow` statement naming, in its `AWS` principals, a 12-digit account other than the key's (from the key's ARN, else the trail's `recipientAccountId`): a bare account id or an `iam`/`sts` ARN of that account. Conditions do not matter: the other account is let in. A match is silenced only when every such account is in `trusted_accounts`.",
        events: &["CreateKey", "PutKeyPolicy", "ReplicateKey"],
        service_calls: ServiceCalls::Count,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: Some(policy_outside_accounts),
        finding_type: "Effects/Data Exposure",
        notes: shared_account_notes,
        kind: EventKind::Call,
        alarm: AlarmSource::Keytrail,
        predicate: |e| sets_policy(e) && !policy_accounts(e).is_empty(),
    },
    Rule {
        id: "policy_lockout_bypass",
        metric: "KMSPolicyLockoutBypass",
        severity: Severity::High,
        title: "Key policy lockout safety check bypassed",
        description: "CreateKey, PutKeyPolicy or ReplicateKey was called with BypassPolicyLockoutSafetyCheck set to true. The check refuses a policy that would lock the caller out of the key; bypassing it is how a key is made unmanageable by its own account (only AWS Support can recover it), a ransomware step.",
        playbook: &[
            "Read the new policy (aws kms get-key-policy --key-id <key> --policy-name default): check that the account root or your key administrators can still call kms:PutKeyPolicy.",
            "If the account is locked out, open an AWS Support case for the key at once; do not schedule its deletion.",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `CreateKey`, `PutKeyPolicy` or `ReplicateKey` with `requestParameters.bypassPolicyLockoutSafetyCheck` `true` (a boolean, or the string `\"true\"`).",
        events: &["CreateKey", "PutKeyPolicy", "ReplicateKey"],
        service_calls: ServiceCalls::Count,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Defense Evasion",
        notes: no_notes,
        kind: EventKind::Call,
        alarm: AlarmSource::Keytrail,
        predicate: |e| {
            sets_policy(e)
                && e.record
                    .request_parameters
                    .as_ref()
                    .and_then(|p| p.get("bypassPolicyLockoutSafetyCheck"))
                    .is_some_and(|v| {
                        v.as_bool() == Some(true)
                            || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
                    })
        },
    },
    Rule {
        id: "key_deletion_short_window",
        metric: "KMSKeyDeletionShortWindow",
        severity: Severity::High,
        title: "Key deletion scheduled with the shortest waiting period",
        description: "ScheduleKeyDeletion succeeded with a waiting period of 7 days, the minimum KMS allows. Routine retirements use the 30-day default; 7 days leaves the least time to notice that something still needs the key, and is what an attacker who wants data lost picks.",
        playbook: &[
            "Confirm with the key owner that the deletion and its short window are intended and approved; if not, cancel it now (aws kms cancel-key-deletion --key-id <key>) and re-enable the key (aws kms enable-key --key-id <key>).",
            "Review the key's usage over the last 90 days (keytrail review) for callers that still depend on it.",
            "Deny kms:ScheduleKeyDeletion to the principal until the change is understood.",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `ScheduleKeyDeletion` whose `requestParameters.pendingWindowInDays` is at most 7 (a number or a numeric string; absent means KMS's default of 30 and does not match).",
        events: &["ScheduleKeyDeletion"],
        service_calls: ServiceCalls::Count,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "Effects/Data Destruction",
        notes: deletion_window_notes,
        kind: EventKind::Call,
        alarm: AlarmSource::Keytrail,
        predicate: |e| {
            e.succeeded(op::SCHEDULE_KEY_DELETION) && pending_window_days(e).is_some_and(|d| d <= 7)
        },
    },
    Rule {
        id: "key_deleted",
        metric: "KMSKeyDeleted",
        severity: Severity::High,
        title: "Key deleted",
        description: "KMS deleted a key at the end of its waiting period (the DeleteKey event KMS itself records). Every ciphertext under the key is now unrecoverable; nothing can undo it.",
        playbook: &[
            "Find the ScheduleKeyDeletion that started the waiting period (keytrail search --key <key> --event ScheduleKeyDeletion) and who made it; if it was not authorised, treat it as destruction of data.",
            "List the data encrypted under the key (the review's access inventory of earlier months, S3 inventory with the key id, EBS and RDS resources) and restore it from backups encrypted under other keys.",
            "For imported key material, a key in a custom key store or a multi-Region replica, check whether a copy of the material still exists elsewhere.",
            PB_NOTIFY,
        ],
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "A `DeleteKey` event without an `errorCode`. KMS records it itself (`userIdentity` with only `accountId` and `invokedBy` `AWS Internal`, `eventType` `AwsServiceEvent`), so calls made by AWS count for this rule.",
        events: &["DeleteKey"],
        service_calls: ServiceCalls::Count,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "Effects/Data Destruction",
        notes: key_store_notes,
        kind: EventKind::Call,
        alarm: AlarmSource::Keytrail,
        predicate: |e| e.succeeded(op::DELETE_KEY),
    },
    Rule {
        id: "key_material_imported",
        metric: "KMSKeyMaterialImported",
        severity: Severity::Medium,
        title: "Key material imported",
        description: "ImportKeyMaterial succeeded: the key now holds material made outside KMS. Whoever holds a copy of that material can decrypt outside AWS, and material that expires makes the key unusable on its ValidTo date.",
        playbook: &[
            "Confirm that the import follows your key-management process (who generated the material, where the copy is held).",
            "Note the expiration model and ValidTo of the import (its request parameters; keytrail scan's notes give them); set an alarm or a reminder before the material expires (SecondsUntilKeyMaterialExpiration).",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `ImportKeyMaterial`. The notes give `expirationModel`, `validTo` and `importType` when the request has them.",
        events: &["ImportKeyMaterial"],
        service_calls: ServiceCalls::Count,
        rule_sets: &["Sigma"],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Persistence",
        notes: import_notes,
        kind: EventKind::Call,
        alarm: AlarmSource::Keytrail,
        predicate: |e| e.succeeded(op::IMPORT_KEY_MATERIAL),
    },
    Rule {
        id: "custom_key_store_changed",
        metric: "KMSCustomKeyStoreChanged",
        severity: Severity::High,
        title: "Custom key store changed",
        description: "A custom key store (CloudHSM or external key store) was created, updated, connected, disconnected or deleted. Keys in a custom key store live outside KMS: whoever controls the store's cluster or external proxy controls the keys, and a disconnected store makes every key in it unusable.",
        playbook: &[
            "Confirm the change with the owner of the key store (its id is in the event's request or response; aws kms describe-custom-key-stores --custom-key-store-id <id>).",
            "For an update, check the new proxy endpoint, VPC endpoint service or cluster: a store pointed at a proxy you do not run hands your keys to someone else.",
            "For a disconnect or delete, list the keys in the store (aws kms list-keys, then describe-key for CustomKeyStoreId) and the workloads that use them.",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `CreateCustomKeyStore`, `UpdateCustomKeyStore`, `ConnectCustomKeyStore`, `DisconnectCustomKeyStore` or `DeleteCustomKeyStore`. The notes give the store's id, name and type, the CloudHSM cluster and the external key store proxy endpoint when the record has them.",
        events: &[
            "CreateCustomKeyStore",
            "UpdateCustomKeyStore",
            "ConnectCustomKeyStore",
            "DisconnectCustomKeyStore",
            "DeleteCustomKeyStore",
        ],
        service_calls: ServiceCalls::Count,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Persistence",
        notes: key_store_notes,
        kind: EventKind::Call,
        alarm: AlarmSource::Keytrail,
        predicate: |e| {
            !e.failed()
                && matches!(
                    e.name(),
                    op::CREATE_CUSTOM_KEY_STORE
                        | op::UPDATE_CUSTOM_KEY_STORE
                        | op::CONNECT_CUSTOM_KEY_STORE
                        | op::DISCONNECT_CUSTOM_KEY_STORE
                        | op::DELETE_CUSTOM_KEY_STORE
                )
        },
    },
    Rule {
        id: "external_key_origin",
        metric: "KMSExternalKeyOrigin",
        severity: Severity::Medium,
        title: "Key created with external key material",
        description: "CreateKey made a key whose material comes from outside KMS: origin EXTERNAL (material you import) or EXTERNAL_KEY_STORE (material held by an external key manager behind a proxy). An attacker who controls that material can read data encrypted to the key, or make it unreadable.",
        playbook: &[
            "Confirm that the key was expected and that its material comes from your own key-management system (the CreateKey request's origin, customKeyStoreId and xksKeyId).",
            "Check which aliases and workloads point at the new key (aws kms list-aliases --key-id <key>).",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `CreateKey` whose `requestParameters.origin` is `EXTERNAL` or `EXTERNAL_KEY_STORE` (`AWS_KMS` and `AWS_CLOUDHSM` do not match).",
        events: &["CreateKey"],
        service_calls: ServiceCalls::Count,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Persistence",
        notes: key_store_notes,
        kind: EventKind::Call,
        alarm: AlarmSource::Keytrail,
        predicate: |e| {
            e.succeeded(op::CREATE_KEY)
                && matches!(
                    e.record.request_str("origin"),
                    Some("EXTERNAL" | "EXTERNAL_KEY_STORE")
                )
        },
    },
    Rule {
        id: "multi_region_replication",
        metric: "KMSMultiRegionReplication",
        severity: Severity::Medium,
        title: "Multi-Region key replicated or its primary moved",
        description: "ReplicateKey made a copy of a multi-Region key in another Region, or UpdatePrimaryRegion moved its primary. The replica shares the key material: data encrypted in one Region can be decrypted in the other, under the replica's own key policy. A replica in a Region nobody watches is a copy of the key there.",
        playbook: &[
            "Check that the Region the key now lives in (requestParameters.replicaRegion or primaryRegion; keytrail scan's notes name it) is one you operate in and that its CloudTrail logs reach keytrail.",
            "Read the replica's key policy in that Region (aws kms get-key-policy --region <region> --key-id <key> --policy-name default): it is set independently of the primary's.",
            "If the replica is not expected, schedule its deletion (aws kms schedule-key-deletion --region <region> --key-id <key>) after checking nothing uses it there.",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `ReplicateKey` or `UpdatePrimaryRegion`, except the copy of `UpdatePrimaryRegion` KMS records in the new primary Region (`invokedBy` `kms.amazonaws.com`), so one change counts once. The notes give the replica Region or the new and old primary Regions.",
        events: &["ReplicateKey", "UpdatePrimaryRegion"],
        service_calls: ServiceCalls::Count,
        rule_sets: &["Prowler (posture)"],
        needs_baseline: false,
        outside_account: None,
        finding_type: "Effects/Data Exposure",
        notes: region_notes,
        kind: EventKind::Call,
        alarm: AlarmSource::Keytrail,
        predicate: |e| {
            (e.succeeded(op::REPLICATE_KEY) || e.succeeded(op::UPDATE_PRIMARY_REGION))
                && e.record
                    .user_identity
                    .as_ref()
                    .and_then(|u| u.invoked_by.as_deref())
                    != Some("kms.amazonaws.com")
        },
    },
    Rule {
        id: "alias_repointed",
        metric: "KMSAliasRepointed",
        severity: Severity::High,
        title: "Alias moved onto a new or shared key",
        description: "An alias moved (UpdateAlias, or DeleteAlias then CreateAlias of the same alias) onto a key created in the last 24 hours, a key whose policy lets another account or anyone in, or a key the logs read say nothing about. Applications that encrypt through the alias then encrypt to that key: with an attacker's key, the data becomes theirs to withhold. KMS keeps an alias and its key in one account, so the danger is in the target key's age and policy.",
        playbook: &[
            "Read the alias event: the alias and its target key (keytrail scan's notes add the key's age and what its policy allows). Check the target key now: aws kms describe-key --key-id <key> (CreationDate, Origin, KeyManager) and aws kms get-key-policy --key-id <key> --policy-name default.",
            "If the move is not an approved change, point the alias back at the previous key (aws kms update-alias --alias-name <alias> --target-key-id <previous key>; for a re-created alias, the key the DeleteAlias named).",
            "Find what was encrypted under the target key since the move (keytrail search --key <key> --since <move time>): that data must be re-encrypted under your key while the target key is still usable; do not disable or delete it first.",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `UpdateAlias`, or `CreateAlias` of an alias that a `DeleteAlias` removed from another key less than 24 hours before, whose target key was created less than 24 hours before the move, or whose policy at the time of the move is public or allows another account (as `key_made_public` and `key_shared_external` read policies). The target key's facts come from the `CreateKey` and `PutKeyPolicy` records of the logs read: `scan` reads the whole tree first, the log processor its one file. When the logs read do not show the target key's creation, the move matches anyway, with a note to check the key (fail-safe). Without key facts (the enricher's evidence, `search`) every successful `UpdateAlias` and `CreateAlias` is selected.",
        events: &[
            "UpdateAlias",
            "CreateAlias",
            "DeleteAlias",
            "CreateKey",
            "PutKeyPolicy",
        ],
        service_calls: ServiceCalls::Count,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: Some(alias_target_accounts),
        finding_type: "Effects/Data Destruction",
        notes: alias_notes,
        kind: EventKind::Call,
        alarm: AlarmSource::Keytrail,
        predicate: |e| match &e.alias_target {
            Some(t) => t.is_dangerous(e.time),
            None => is_alias_event(e),
        },
    },
    Rule {
        id: "unfamiliar_source_ip",
        metric: "KMSUnfamiliarSourceIp",
        severity: Severity::Medium,
        title: "Key use from an unfamiliar source IP",
        description: "A principal the baseline knows called KMS from a public IP outside its known addresses and /24 (/48) networks. Stolen credentials are usually used from somewhere new. Calls made through AWS services and from private addresses are exempt; with no baseline (before the first monthly review) the rule is inactive.",
        playbook: &[
            "Check whether the principal's workload moved (new NAT gateway, new office, new CI runner) before treating it as compromise.",
            PB_PRINCIPAL,
            PB_AUDIT_DECRYPTS,
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Any KMS call from a public IP outside the calling principal's known IPs and their /24 (IPv4) or /48 (IPv6) networks, per the baseline the monthly review writes. Calls through AWS services and from private addresses are exempt; inactive without a baseline.",
        events: &["*"],
        service_calls: ServiceCalls::Exempt,
        kind: EventKind::Call,
        rule_sets: &[],
        needs_baseline: true,
        outside_account: None,
        finding_type: "TTPs/Initial Access",
        notes: no_notes,
        predicate: |e| e.unfamiliar_source,
    },
    Rule {
        id: "s3_foreign_kms_key",
        metric: "KMSS3ForeignKeyEncryption",
        severity: Severity::High,
        title: "S3 object encrypted with another account's KMS key",
        description: "An S3 PutObject, CopyObject or CreateMultipartUpload asked S3 to encrypt the object with a KMS key of another account than the bucket's. Whoever controls that key controls the data: the ransomware pattern of copying objects over themselves under an attacker's key, then revoking access to it.",
        playbook: &[
            "Identify the key's account in the notification; if it is not one of yours, treat it as ransomware in progress: block the principal now (deny s3:PutObject and s3:CopyObject with an SCP or bucket policy statement for it) before more objects are rewritten.",
            "List the objects rewritten under the foreign key (keytrail search <logs> --key <foreign key ARN>, or aws s3api head-object --bucket <bucket> --key <object> and check SSEKMSKeyId) and restore earlier versions (aws s3api list-object-versions, then copy the previous version back) while the foreign key is still usable.",
            "Enforce your own key: a bucket policy that denies s3:PutObject unless s3:x-amz-server-side-encryption-aws-kms-key-id is your key ARN, and default bucket encryption with that key (aws s3api put-bucket-encryption).",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful S3 data events whose `requestParameters` `x-amz-server-side-encryption-aws-kms-key-id` is a key or alias ARN in a 12-digit account other than the bucket owner's (`recipientAccountId`, or the `accountId` of an `AWS::S3::Object`/`AWS::S3::Bucket` resource). A bare key id or alias names a key of the requester's own account and does not match. Needs S3 data events in the trail.",
        events: &[
            "s3.amazonaws.com:PutObject",
            "s3.amazonaws.com:CopyObject",
            "s3.amazonaws.com:CreateMultipartUpload",
        ],
        service_calls: ServiceCalls::Count,
        kind: EventKind::S3ObjectEncryption,
        rule_sets: &["Elastic", "Panther"],
        needs_baseline: false,
        outside_account: Some(s3_key_account),
        finding_type: "Effects/Data Destruction",
        notes: s3_foreign_key_note,
        predicate: |e| {
            !e.failed()
                && matches!(
                    (s3_key_account(e), s3_bucket_owner(e.record)),
                    (Some(k), Some(o)) if is_account_id(&k) && is_account_id(o) && k != o
                )
        },
    },
    Rule {
        id: "vpce_access_denied",
        metric: "KMSVpceAccessDenied",
        severity: Severity::Medium,
        title: "KMS request denied at a VPC endpoint",
        description: "A KMS network-activity event with errorCode VpceAccessDenied: the VPC endpoint's policy refused a request. Credentials from outside your data perimeter, or a workload calling keys it should not, are trying to reach KMS from inside your network.",
        playbook: &[
            "Read the vpcEndpointId and the caller's account in the notification; a caller account outside your organisation means foreign credentials are being used from inside your VPC.",
            "Find the source inside the VPC: the sourceIPAddress is a private address of the VPC; match it to an instance or ENI (aws ec2 describe-network-interfaces --filters Name=addresses.private-ip-address,Values=<ip>).",
            "Check that the endpoint policy denies what it should and nothing it should not (aws ec2 describe-vpc-endpoints --vpc-endpoint-ids <id> --query 'VpcEndpoints[].PolicyDocument').",
            PB_PRINCIPAL,
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "KMS network-activity events (`eventType` `AwsVpceEvent`) with `errorCode` `VpceAccessDenied`. These events are not KMS calls: they are counted in `KMSVpceEvents`, never in `KMSApiCalls` or `KMSFailures`. Needs network activity events for `kms.amazonaws.com` in the trail.",
        events: &["*"],
        service_calls: ServiceCalls::Count,
        kind: EventKind::VpceActivity,
        rule_sets: &["Panther"],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Discovery",
        notes: vpce_note,
        predicate: |e| e.record.error_code.as_deref() == Some("VpceAccessDenied"),
    },
    Rule {
        id: "kms_enumeration",
        metric: "KMSEnumeration",
        severity: Severity::Medium,
        title: "KMS enumeration",
        description: "One principal called many distinct KMS List, Describe and Get operations within a few minutes: the discovery an attacker runs with fresh credentials to learn which keys exist, who may use them and how they are protected.",
        playbook: &[
            "Check whether the principal is an inventory or security tool (AWS Config, a CSPM scanner, Terraform plan); if so, suppress it by principal in the configuration file with a reason.",
            PB_PRINCIPAL,
            "Look for what followed the enumeration from the same principal and source IP: Decrypt, CreateGrant, PutKeyPolicy or ScheduleKeyDeletion on the keys it listed (keytrail search <logs> --principal <arn>).",
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "The call that brings one principal to 8 or more distinct `List*`, `Describe*` and `Get*` KMS operations (reads of the operations table, successful or not) within the 5 minutes ending with it; one match per burst, then none for that principal for 5 minutes. Counted per log file (see the window semantics below).",
        events: &["List*", "Describe*", "Get*"],
        service_calls: ServiceCalls::Exempt,
        kind: EventKind::Call,
        rule_sets: &["Elastic"],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Discovery",
        notes: no_notes,
        predicate: |e| e.completes_enumeration,
    },
    Rule {
        id: "off_hours_use",
        metric: "KMSOffHoursUse",
        severity: Severity::Medium,
        title: "Key use at an unusual hour",
        description: "A principal made a cryptographic KMS call at a UTC hour of day in which the baseline never saw it active. A service that works office hours decrypting at 3 AM is how stolen credentials often show.",
        playbook: &[
            "Compare the call with the principal's schedule: a new batch job, a changed cron or a different time zone explains most matches; if so, the next monthly review learns the hour.",
            PB_PRINCIPAL,
            PB_AUDIT_DECRYPTS,
            PB_NOTIFY,
        ],
        alarm: AlarmSource::Keytrail,
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "A cryptographic KMS call (`OpKind::Cryptographic` in the operations table, successful or not) at a UTC hour in which the baseline's last 3 months never saw the principal call KMS. Principals active on fewer than 5 days or with fewer than 20 calls in those months are not judged; inactive without a baseline.",
        events: &[
            "Decrypt",
            "Encrypt",
            "ReEncrypt",
            "GenerateDataKey*",
            "Sign",
            "Verify",
            "GenerateMac",
            "VerifyMac",
            "DeriveSharedSecret",
        ],
        service_calls: ServiceCalls::Exempt,
        kind: EventKind::Call,
        rule_sets: &[],
        needs_baseline: true,
        outside_account: None,
        finding_type: "TTPs/Initial Access",
        notes: off_hours_note,
        predicate: |e| e.off_hours,
    },
    Rule {
        id: "key_material_expiring",
        metric: "SecondsUntilKeyMaterialExpiration",
        severity: Severity::High,
        title: "Imported key material expiring",
        description: "AWS KMS reports that the imported key material of a key expires within 30 days (AWS/KMS SecondsUntilKeyMaterialExpiration). When it expires, KMS deletes it and the key becomes unusable: every ciphertext under it is unreadable until the same material is imported again.",
        playbook: &[
            "Identify the key (the alarm's KeyId, or the lowest series of the query alarm in the CloudWatch console) and its expiry: aws kms describe-key --key-id <key> --query 'KeyMetadata.[ValidTo,ExpirationModel,Origin]'.",
            "Find the copy of the key material your key-management process keeps; without it the data under the key is lost at expiry.",
            "Re-import the same material with a new expiry (aws kms get-parameters-for-import, then aws kms import-key-material --expiration-model KEY_MATERIAL_EXPIRES --valid-to <date>), or with KEY_MATERIAL_DOES_NOT_EXPIRE if your policy allows.",
            "If nobody owns the key, find its callers before it stops working (keytrail review, or the prepared Athena query) and tell them.",
            PB_NOTIFY,
        ],
        alarm: AlarmSource::AwsKms {
            statistic: Statistic::Minimum,
            lookback_secs: 7 * 86_400,
        },
        threshold: 2_592_000.0,
        comparison: Comparison::LessThanThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "An alarm on the metric AWS KMS publishes for keys with imported material that expires (one Metrics Insights query over every key: `SELECT MIN(SecondsUntilKeyMaterialExpiration) FROM SCHEMA(\"AWS/KMS\", KeyId)`), below 30 days. Keytrail publishes nothing for it; for the enricher, its evidence is the key's successful `ImportKeyMaterial` with `expirationModel` `KEY_MATERIAL_EXPIRES`, `GetParametersForImport` and `DeleteExpiredKeyMaterial` of the 7 days before the alarm.",
        events: &[
            "ImportKeyMaterial",
            "GetParametersForImport",
            "DeleteExpiredKeyMaterial",
        ],
        service_calls: ServiceCalls::Count,
        kind: EventKind::Call,
        rule_sets: &[],
        needs_baseline: false,
        outside_account: None,
        finding_type: "Effects/Denial of Service",
        notes: expiry_note,
        predicate: |e| {
            (e.succeeded(op::IMPORT_KEY_MATERIAL)
                && e.record.request_str("expirationModel") == Some("KEY_MATERIAL_EXPIRES"))
                || e.succeeded(op::GET_PARAMETERS_FOR_IMPORT)
                || e.succeeded(op::DELETE_EXPIRED_KEY_MATERIAL)
        },
    },
];

/// The catalog as a Markdown table (id, metric, severity, default alarm, events,
/// criteria, what silences it, public rule sets): the rule table of
/// `docs/catalog.md`, which a test keeps equal to this.
pub fn rules_table_markdown() -> String {
    let mut out = String::from(
        "| id | metric | severity | default alarm | events | matches | silenced by | public rule sets |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in RULES {
        let op = r.comparison.symbol();
        let (stat, metric) = match r.alarm {
            AlarmSource::Keytrail => ("Sum", format!("`{}`", r.metric)),
            AlarmSource::AwsKms { statistic, .. } => (
                statistic.as_str(),
                format!("`{AWS_KMS_NAMESPACE}` `{}`", r.metric),
            ),
        };
        let per_source = match r.group_by {
            GroupBy::All => "",
            GroupBy::Source => " (per source in `scan`)",
        };
        let events = if r.events == ["*"] {
            match r.kind {
                EventKind::Call => "any KMS call".to_owned(),
                EventKind::VpceActivity => {
                    "any KMS network-activity event (`AwsVpceEvent`)".to_owned()
                }
                EventKind::S3ObjectEncryption => "S3 SSE-KMS requests".to_owned(),
            }
        } else {
            r.events
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sets = if r.rule_sets.is_empty() {
            "none".to_owned()
        } else {
            r.rule_sets.join(", ")
        };
        out.push_str(&format!(
            "| `{}` | {metric} | {} | {stat} {op} {} in {} s, {} of {} periods{per_source} | {events} | {} | {} | {sets} |\n",
            r.id,
            r.severity.as_str(),
            r.threshold,
            r.period_secs,
            r.datapoints_to_alarm,
            r.evaluation_periods,
            r.criteria,
            r.silenced_by().join("; "),
        ));
    }
    out
}

/// Serde for a `&'static Rule` field: written as the rule's id, read back by looking
/// the id up in the catalog (an unknown id is an error).
pub mod rule_by_id {
    use super::{Rule, rule};

    pub fn serialize<S: serde::Serializer>(r: &&'static Rule, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(r.id)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static Rule, D::Error> {
        let id = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        rule(&id).ok_or_else(|| serde::de::Error::custom(format!("unknown rule id {id:?}")))
    }
}

/// Looks a rule up by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Looks a rule up by its CloudWatch metric name (in keytrail's namespace).
pub fn rule_for_metric(metric: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.is_counted() && r.metric == metric)
}

/// Looks a rule up by a metric AWS KMS publishes ([`AlarmSource::AwsKms`]).
pub fn rule_for_aws_metric(namespace: &str, metric: &str) -> Option<&'static Rule> {
    (namespace == AWS_KMS_NAMESPACE)
        .then(|| RULES.iter().find(|r| !r.is_counted() && r.metric == metric))
        .flatten()
}

/// True when the record's key policy (`requestParameters.policy`) makes the key
/// public: an `Allow` for `*` that no condition confines (see
/// [`crate::detect::policy`]). A policy that cannot be read is not public.
pub fn policy_is_public(r: &Record) -> bool {
    r.request_parameters
        .as_ref()
        .and_then(|p| p.get("policy"))
        .is_some_and(|p| PolicyDocument::parse(p).is_ok_and(|d| d.is_public()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn base(name: &str) -> serde_json::Value {
        json!({
            "eventTime": "2026-10-04T03:00:00Z", "eventSource": "kms.amazonaws.com", "eventName": name,
            "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "sourceIPAddress": "203.0.113.7",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"},
            "resources": [{"ARN": KEY, "type": "AWS::KMS::Key", "accountId": "111122223333"}]
        })
    }

    fn with(mut v: serde_json::Value, patch: serde_json::Value) -> serde_json::Value {
        for (k, val) in patch.as_object().expect("object") {
            v[k] = val.clone();
        }
        v
    }

    fn fires(id: &str, v: serde_json::Value) -> bool {
        let r = Record::from_value(v).expect("record");
        let e = KmsEvent::analyse(&r).expect("kms event");
        rule(id).expect("rule").matches(&e)
    }

    #[test]
    fn catalog_ids_and_metrics_are_unique_and_snake_case() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        let mut metrics: Vec<_> = RULES.iter().map(|r| r.metric).collect();
        ids.sort();
        ids.dedup();
        metrics.sort();
        metrics.dedup();
        assert_eq!(ids.len(), RULES.len());
        assert_eq!(metrics.len(), RULES.len());
        for r in RULES {
            assert!(
                r.id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                r.id
            );
            assert!(!r.playbook.is_empty() && r.threshold > 0.0 && r.period_secs % 60 == 0);
        }
    }

    #[test]
    fn finding_types_are_asff_ttps_or_effects() {
        // The categories the ASFF types taxonomy defines for these two namespaces.
        const TTPS: &[&str] = &[
            "Initial Access",
            "Execution",
            "Persistence",
            "Privilege Escalation",
            "Defense Evasion",
            "Credential Access",
            "Discovery",
            "Lateral Movement",
            "Collection",
            "Command and Control",
        ];
        const EFFECTS: &[&str] = &[
            "Data Exposure",
            "Data Exfiltration",
            "Data Destruction",
            "Denial of Service",
            "Resource Consumption",
        ];
        for r in RULES {
            let ok = match r.finding_type.split_once('/') {
                Some(("TTPs", c)) => TTPS.contains(&c),
                Some(("Effects", c)) => EFFECTS.contains(&c),
                _ => false,
            };
            assert!(ok, "{}: {:?}", r.id, r.finding_type);
        }
    }

    #[test]
    fn decrypt_failures() {
        assert!(fires(
            "decrypt_failures",
            with(
                base("Decrypt"),
                json!({"errorCode": "InvalidCiphertextException"})
            )
        ));
        assert!(!fires("decrypt_failures", base("Decrypt")));
        assert!(!fires(
            "decrypt_failures",
            with(
                base("Encrypt"),
                json!({"errorCode": "InvalidCiphertextException"})
            )
        ));
    }

    #[test]
    fn access_denied() {
        assert!(fires(
            "access_denied",
            with(
                base("Encrypt"),
                json!({"errorCode": "AccessDeniedException"})
            )
        ));
        assert!(fires(
            "access_denied",
            with(base("ListKeys"), json!({"errorCode": "AccessDenied"}))
        ));
        assert!(!fires(
            "access_denied",
            with(
                base("Decrypt"),
                json!({"errorCode": "IncorrectKeyException"})
            )
        ));
    }

    #[test]
    fn access_denied_is_the_access_denied_error_class() {
        // KMSAccessDenied and KMSFailures{ErrorClass=AccessDenied} count the same events.
        for (code, msg) in [
            ("AccessDenied", ""),
            ("AccessDeniedException", "not authorized"),
            ("UnauthorizedOperation", ""),
            ("Client.UnauthorizedOperation", ""),
            ("AccessDeniedException", "arn is pending deletion."),
            ("IncorrectKeyException", ""),
            ("ThrottlingException", ""),
        ] {
            let r = Record::from_value(with(
                base("Decrypt"),
                json!({"errorCode": code, "errorMessage": msg}),
            ))
            .expect("r");
            let e = KmsEvent::analyse(&r).expect("e");
            assert_eq!(
                rule("access_denied").expect("rule").matches(&e),
                e.error_class == Some(ErrorClass::AccessDenied),
                "{code} {msg:?}"
            );
        }
        assert!(fires(
            "access_denied",
            with(
                base("Encrypt"),
                json!({"errorCode": "UnauthorizedOperation"})
            )
        ));
    }

    #[test]
    fn rule_sets_hold_exactly_the_matching_rules() {
        let r = Record::from_value(with(
            base("Decrypt"),
            json!({"errorCode": "AccessDeniedException"}),
        ))
        .expect("r");
        let e = KmsEvent::analyse(&r).expect("e");
        let set = RuleSet::of(&e);
        let ids: Vec<&str> = set.iter().map(|r| r.id).collect();
        assert_eq!(ids, ["decrypt_failures", "access_denied"]);
        for rule in RULES {
            assert_eq!(
                set.contains(rule),
                rule.is_counted() && rule.matches(&e),
                "{}",
                rule.id
            );
        }
        for (i, rule) in RULES.iter().enumerate() {
            assert_eq!(rule.index(), i);
        }
    }

    #[test]
    fn pending_deletion_use_matches_message_whatever_the_code() {
        for code in ["KMSInvalidStateException", "DisabledException"] {
            let v = with(
                base("Decrypt"),
                json!({"errorCode": code, "errorMessage": format!("{KEY} is pending deletion.")}),
            );
            assert!(fires("pending_deletion_use", v.clone()), "{code}");
            assert!(!fires("disabled_key_use", v));
        }
        assert!(!fires(
            "pending_deletion_use",
            with(
                base("Decrypt"),
                json!({"errorCode": "KMSInvalidStateException", "errorMessage": "other"})
            )
        ));
    }

    #[test]
    fn disabled_key_use() {
        assert!(fires(
            "disabled_key_use",
            with(
                base("Encrypt"),
                json!({"errorCode": "DisabledException", "errorMessage": format!("{KEY} is disabled.")})
            )
        ));
        assert!(fires(
            "disabled_key_use",
            with(
                base("Encrypt"),
                json!({"errorCode": "KMSInvalidStateException", "errorMessage": format!("{KEY} is disabled.")})
            )
        ));
        assert!(!fires("disabled_key_use", base("Encrypt")));
    }

    #[test]
    fn lifecycle_rules_need_success() {
        for (id, name) in [
            ("key_deletion_scheduled", "ScheduleKeyDeletion"),
            ("key_disabled", "DisableKey"),
            ("key_created", "CreateKey"),
            ("key_policy_changed", "PutKeyPolicy"),
            ("imported_material_deleted", "DeleteImportedKeyMaterial"),
            ("rotation_disabled", "DisableKeyRotation"),
            ("key_material_imported", "ImportKeyMaterial"),
            ("key_deleted", "DeleteKey"),
            ("multi_region_replication", "ReplicateKey"),
        ] {
            assert!(fires(id, base(name)), "{id}");
            assert!(
                !fires(
                    id,
                    with(base(name), json!({"errorCode": "AccessDeniedException"}))
                ),
                "{id} on failure"
            );
            assert!(!fires(id, base("Decrypt")), "{id} on Decrypt");
        }
    }

    #[test]
    fn public_policy_is_flagged() {
        let public = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]});
        let r = Record::from_value(with(base("PutKeyPolicy"), json!({"requestParameters": {"keyId": KEY, "policyName": "default", "policy": public.to_string()}}))).expect("r");
        assert!(policy_is_public(&r));
        let e = KmsEvent::analyse(&r).expect("e");
        assert_eq!(rule("key_policy_changed").expect("rule").notes(&e).len(), 1);
        let conditioned = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}});
        let r = Record::from_value(with(
            base("PutKeyPolicy"),
            json!({"requestParameters": {"policy": conditioned.to_string()}}),
        ))
        .expect("r");
        assert!(!policy_is_public(&r));
    }

    fn put_policy(policy: serde_json::Value) -> serde_json::Value {
        with(
            base("PutKeyPolicy"),
            json!({"requestParameters": {"keyId": KEY, "policyName": "default", "policy": policy.to_string(), "bypassPolicyLockoutSafetyCheck": false}}),
        )
    }

    fn notes_of(id: &str, v: serde_json::Value) -> Vec<String> {
        let r = Record::from_value(v).expect("record");
        let e = KmsEvent::analyse(&r).expect("kms event");
        rule(id).expect("rule").notes(&e)
    }

    #[test]
    fn key_made_public() {
        let public = json!({"Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*"},
            {"Sid": "Allow use of the key", "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["kms:Encrypt", "kms:Decrypt"],
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
        ]});
        assert!(fires("key_made_public", put_policy(public.clone())));
        assert_eq!(
            notes_of("key_made_public", put_policy(public.clone())),
            [
                "statement \"Allow use of the key\" allows any principal (\"*\") with no condition that confines the caller: kms:Encrypt, kms:Decrypt"
            ]
        );
        // The same policy through CreateKey, and key_policy_changed's note.
        let create = with(
            base("CreateKey"),
            json!({"requestParameters": {"policy": public.to_string(), "keySpec": "SYMMETRIC_DEFAULT"}}),
        );
        assert!(fires("key_made_public", create));
        assert!(
            notes_of("key_policy_changed", put_policy(public.clone()))[0]
                .contains("key made public")
        );
        // Near misses: confined by the organisation (key name in another case), failed,
        // a Deny, no policy at all.
        let org = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt",
            "Condition": {"StringEquals": {"AWS:PrincipalOrgId": "o-a1b2c3d4e5"}}}});
        assert!(!fires("key_made_public", put_policy(org)));
        assert!(!fires(
            "key_made_public",
            with(
                put_policy(public),
                json!({"errorCode": "MalformedPolicyDocumentException"})
            )
        ));
        let deny = json!({"Statement": {"Effect": "Deny", "Principal": "*", "Action": "kms:*"}});
        assert!(!fires("key_made_public", put_policy(deny)));
        assert!(!fires("key_made_public", base("CreateKey")));
        // A policy that is not JSON is not public, and key_policy_changed says so.
        let broken = with(
            base("PutKeyPolicy"),
            json!({"requestParameters": {"keyId": KEY, "policy": "{\"Statement\": ["}}),
        );
        assert!(!fires("key_made_public", broken.clone()));
        assert!(fires("key_policy_changed", broken.clone()));
        assert!(
            notes_of("key_policy_changed", broken)[0]
                .starts_with("the new policy could not be read")
        );
    }

    #[test]
    fn key_shared_external() {
        let shared = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*"},
            {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::444455556666:role/etl", "999988887777"]}, "Action": "kms:Decrypt"}
        ]});
        let v = put_policy(shared);
        assert!(fires("key_shared_external", v.clone()));
        assert!(!fires("key_made_public", v.clone()));
        assert_eq!(
            notes_of("key_shared_external", v.clone()),
            [
                "statement \"Partner\" allows account 444455556666, 999988887777 (the key's account is 111122223333): kms:Decrypt"
            ]
        );
        let r = Record::from_value(v).expect("r");
        let e = KmsEvent::analyse(&r).expect("e");
        let rule = rule("key_shared_external").expect("rule");
        assert_eq!(
            rule.outside_account(&e).as_deref(),
            Some("444455556666,999988887777")
        );
        // Trusted accounts silence the match only when every account is trusted.
        let set = RuleSet::of(&e);
        let tuning = |accounts: &[&str]| {
            crate::detect::tuning::Tuning::parse(
                "t.toml",
                &format!("trusted_accounts = {accounts:?}"),
            )
            .expect("tuning")
        };
        let counts =
            |t: &crate::detect::tuning::Tuning| t.apply(&e, set, |_, _| {}).rules.contains(rule);
        assert!(counts(&tuning(&["444455556666"])));
        assert!(!counts(&tuning(&["444455556666", "999988887777"])));
        // Near misses: only the key's own account; placeholder accounts.
        let own = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:role/admin", "111122223333"]}, "Action": "kms:*"}]});
        assert!(!fires("key_shared_external", put_policy(own)));
        let placeholder = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::12345:root"}, "Action": "kms:*"}]});
        assert!(!fires("key_shared_external", put_policy(placeholder)));
    }

    #[test]
    fn policy_lockout_bypass() {
        let bypass = |v: serde_json::Value| {
            with(
                base("PutKeyPolicy"),
                json!({"requestParameters": {"keyId": KEY, "policy": "{}", "bypassPolicyLockoutSafetyCheck": v}}),
            )
        };
        assert!(fires("policy_lockout_bypass", bypass(json!(true))));
        assert!(fires("policy_lockout_bypass", bypass(json!("true"))));
        assert!(!fires("policy_lockout_bypass", bypass(json!(false))));
        assert!(!fires("policy_lockout_bypass", base("PutKeyPolicy")));
        assert!(fires(
            "policy_lockout_bypass",
            with(
                base("CreateKey"),
                json!({"requestParameters": {"bypassPolicyLockoutSafetyCheck": true}})
            )
        ));
    }

    #[test]
    fn deletion_rules() {
        let schedule = |days: serde_json::Value| {
            with(
                base("ScheduleKeyDeletion"),
                json!({"requestParameters": {"keyId": KEY, "pendingWindowInDays": days}}),
            )
        };
        assert!(fires("key_deletion_short_window", schedule(json!(7))));
        assert!(fires("key_deletion_short_window", schedule(json!("7"))));
        assert!(!fires("key_deletion_short_window", schedule(json!(8))));
        assert!(!fires("key_deletion_short_window", schedule(json!(30))));
        assert!(!fires(
            "key_deletion_short_window",
            base("ScheduleKeyDeletion")
        ));
        assert!(fires("key_deletion_scheduled", schedule(json!(30))));
        assert_eq!(
            rule("key_deletion_scheduled").expect("rule").severity,
            Severity::Medium
        );
        // KMS's own DeleteKey record (AWS KMS developer guide, ct-delete-key).
        let deleted = json!({"eventVersion": "1.08", "userIdentity": {"accountId": "111122223333", "invokedBy": "AWS Internal"},
            "eventTime": "2020-07-31T00:07:00Z", "eventSource": "kms.amazonaws.com", "eventName": "DeleteKey", "awsRegion": "us-east-1",
            "sourceIPAddress": "AWS Internal", "userAgent": "AWS Internal", "requestParameters": null, "responseElements": null,
            "resources": [{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": KEY}],
            "eventType": "AwsServiceEvent", "recipientAccountId": "111122223333"});
        assert!(fires("key_deleted", deleted.clone()));
        let r = Record::from_value(deleted).expect("r");
        let e = KmsEvent::analyse(&r).expect("e");
        assert_eq!(e.operation_dimension(), "DeleteKey");
        assert!(!fires("key_deleted", base("ScheduleKeyDeletion")));
    }

    #[test]
    fn key_material_and_key_stores() {
        let import = with(
            base("ImportKeyMaterial"),
            json!({"requestParameters": {"keyId": KEY, "validTo": "Jan 1, 2021 8:00:00 PM", "expirationModel": "KEY_MATERIAL_EXPIRES"}}),
        );
        assert!(fires("key_material_imported", import.clone()));
        assert_eq!(
            notes_of("key_material_imported", import),
            ["expiration model KEY_MATERIAL_EXPIRES, valid to Jan 1, 2021 8:00:00 PM"]
        );
        assert!(!fires(
            "key_material_imported",
            base("GetParametersForImport")
        ));
        for n in [
            "CreateCustomKeyStore",
            "UpdateCustomKeyStore",
            "ConnectCustomKeyStore",
            "DisconnectCustomKeyStore",
            "DeleteCustomKeyStore",
        ] {
            assert!(fires("custom_key_store_changed", base(n)), "{n}");
            assert!(
                !fires(
                    "custom_key_store_changed",
                    with(
                        base(n),
                        json!({"errorCode": "CustomKeyStoreInvalidStateException"})
                    )
                ),
                "{n} failed"
            );
        }
        assert!(!fires(
            "custom_key_store_changed",
            base("DescribeCustomKeyStores")
        ));
        let update = with(
            base("UpdateCustomKeyStore"),
            json!({"requestParameters": {"customKeyStoreId": "cks-1234567890abcdef0", "xksProxyUriEndpoint": "https://xks.example.net"}}),
        );
        assert_eq!(
            notes_of("custom_key_store_changed", update),
            [
                "custom key store cks-1234567890abcdef0",
                "external key store proxy https://xks.example.net"
            ]
        );
        for (origin, want) in [
            ("EXTERNAL", true),
            ("EXTERNAL_KEY_STORE", true),
            ("AWS_CLOUDHSM", false),
            ("AWS_KMS", false),
        ] {
            let v = with(
                base("CreateKey"),
                json!({"requestParameters": {"origin": origin}}),
            );
            assert_eq!(fires("external_key_origin", v), want, "{origin}");
        }
    }

    #[test]
    fn multi_region_replication() {
        let replicate = with(
            base("ReplicateKey"),
            json!({"requestParameters": {"keyId": KEY, "replicaRegion": "us-west-2"}}),
        );
        assert!(fires("multi_region_replication", replicate.clone()));
        assert_eq!(
            notes_of("multi_region_replication", replicate),
            ["replica created in us-west-2 (primary in us-east-1)"]
        );
        let update = with(
            base("UpdatePrimaryRegion"),
            json!({"requestParameters": {"keyId": KEY, "primaryRegion": "ap-northeast-1"}}),
        );
        assert!(fires("multi_region_replication", update.clone()));
        // KMS's own copy in the new primary Region is the same change.
        let mut copy = update;
        copy["userIdentity"]["invokedBy"] = json!("kms.amazonaws.com");
        assert!(!fires("multi_region_replication", copy));
        assert!(!fires(
            "multi_region_replication",
            base("SynchronizeMultiRegionKey")
        ));
    }

    #[test]
    fn alias_repointed() {
        use crate::detect::key_facts::{AliasMove, AliasTarget, Exposure};
        let update = with(
            base("UpdateAlias"),
            json!({"requestParameters": {"aliasName": "alias/payments", "targetKeyId": KEY}}),
        );
        let r = Record::from_value(update.clone()).expect("r");
        let mut e = KmsEvent::analyse(&r).expect("e");
        let rule = rule("alias_repointed").expect("rule");
        // Without key facts (enricher, search): every alias move is evidence.
        assert!(rule.matches(&e));
        let target = |hours_old: Option<i64>, outside: &[&str]| AliasTarget {
            alias: "alias/payments".into(),
            key: Some(KEY.into()),
            moved: AliasMove::Updated,
            created: hours_old.map(|h| e.time - chrono::Duration::hours(h)),
            exposure: hours_old.map(|_| Exposure {
                outside: outside.iter().map(|a| a.to_string()).collect(),
                ..Exposure::default()
            }),
        };
        let judged = |t: AliasTarget| {
            let mut e = e.clone();
            e.alias_target = Some(t);
            (rule.matches(&e), rule.outside_account(&e), rule.notes(&e))
        };
        assert!(judged(target(Some(2), &[])).0, "a key made 2 hours before");
        assert!(!judged(target(Some(24 * 40), &[])).0, "an old private key");
        let (m, outside, _) = judged(target(Some(24 * 40), &["999988887777"]));
        assert!(m);
        assert_eq!(outside.as_deref(), Some("999988887777"));
        let (m, outside, notes) = judged(target(None, &[]));
        assert!(
            m && outside.is_none(),
            "unknown key: fail-safe, not silenced"
        );
        assert!(notes[1].starts_with("target key's age and policy were not in the logs read"));
        let mut new_alias = target(Some(2), &[]);
        new_alias.moved = AliasMove::New;
        assert!(
            !judged(new_alias).0,
            "a new alias on a new key is provisioning"
        );
        // Near misses: a failed UpdateAlias, another event.
        e.alias_target = None;
        assert!(!fires(
            "alias_repointed",
            with(update, json!({"errorCode": "NotFoundException"}))
        ));
        assert!(!fires("alias_repointed", base("DeleteAlias")));
    }

    #[test]
    fn grant_to_external() {
        let ext = with(
            base("CreateGrant"),
            json!({"requestParameters": {"keyId": KEY, "granteePrincipal": "arn:aws:iam::999988887777:role/x", "operations": ["Decrypt"]}}),
        );
        assert!(fires("grant_to_external", ext));
        let internal = with(
            base("CreateGrant"),
            json!({"requestParameters": {"keyId": KEY, "granteePrincipal": "arn:aws:iam::111122223333:role/x"}}),
        );
        assert!(!fires("grant_to_external", internal));
        let service = with(
            base("CreateGrant"),
            json!({"requestParameters": {"keyId": KEY, "granteePrincipal": "dynamodb.us-east-1.amazonaws.com"}}),
        );
        assert!(!fires("grant_to_external", service));
    }

    #[test]
    fn cross_account_use() {
        let foreign = with(
            base("GenerateDataKey"),
            json!({"userIdentity": {"type": "AWSAccount", "accountId": "444455556666", "principalId": "AROA:x"}}),
        );
        assert!(fires("cross_account_use", foreign));
        assert!(!fires("cross_account_use", base("GenerateDataKey")));
        // Placeholder account ids in fixtures ("12345") are not evidence.
        let placeholder = with(
            base("Decrypt"),
            json!({"userIdentity": {"type": "IAMUser", "accountId": "12345", "arn": "arn:aws:iam::12345:user/a"}}),
        );
        assert!(!fires("cross_account_use", placeholder));
    }

    #[test]
    fn service_calls_do_not_fire_rules_about_a_principals_own_behaviour() {
        // 150 GenerateDataKey calls S3 makes for a role are S3's, not the role's burst.
        let via_s3 = with(
            base("GenerateDataKey"),
            json!({"sourceIPAddress": "s3.amazonaws.com", "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/s", "accountId": "111122223333", "invokedBy": "s3.amazonaws.com"}}),
        );
        assert!(!fires("data_key_volume", via_s3.clone()));
        assert!(fires("data_key_volume", base("GenerateDataKey")));
        // CloudTrail's own account writing logs with the trail's key (AWS KMS
        // developer guide, services-cloudtrail example).
        let cloudtrail = with(
            base("GenerateDataKey"),
            json!({"sourceIPAddress": "internal.amazonaws.com", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::086441151436:user/AWSCloudTrail", "accountId": "086441151436", "invokedBy": "internal.amazonaws.com"}}),
        );
        assert!(!fires("cross_account_use", cloudtrail));
        // A role of another account using the key through S3 is still cross-account.
        let foreign_via_s3 = with(
            base("GenerateDataKey"),
            json!({"sourceIPAddress": "s3.amazonaws.com", "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::444455556666:assumed-role/app/s", "accountId": "444455556666", "invokedBy": "s3.amazonaws.com"}}),
        );
        assert!(fires("cross_account_use", foreign_via_s3));
        // Failures on a principal's behalf still count.
        let failing = with(
            via_s3,
            json!({"eventName": "Decrypt", "errorCode": "AccessDeniedException"}),
        );
        assert!(fires("access_denied", failing));
    }

    #[test]
    fn data_key_volume_counts_all_variants() {
        for n in [
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
        ] {
            assert!(fires("data_key_volume", base(n)), "{n}");
        }
        assert!(!fires("data_key_volume", base("Encrypt")));
    }

    #[test]
    fn error_classes() {
        let class = |code: &str, msg: &str| {
            ErrorClass::of(
                &Record::from_value(json!({"errorCode": code, "errorMessage": msg})).expect("r"),
            )
        };
        assert_eq!(
            class("AccessDeniedException", ""),
            Some(ErrorClass::AccessDenied)
        );
        assert_eq!(
            class("IncorrectKeyException", ""),
            Some(ErrorClass::IncorrectKey)
        );
        assert_eq!(
            class("KMSInvalidStateException", "x is pending deletion."),
            Some(ErrorClass::PendingDeletion)
        );
        assert_eq!(
            class("KMSInvalidStateException", "x"),
            Some(ErrorClass::InvalidState)
        );
        assert_eq!(
            class("ThrottlingException", ""),
            Some(ErrorClass::Throttled)
        );
        assert_eq!(class("Weird", ""), Some(ErrorClass::Other));
        assert_eq!(ErrorClass::of(&Record::default()), None);
        for c in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(c.as_str()), Some(c));
        }
    }

    /// Shaped on panther-analysis `aws_s3_copy_object_cross_account_kms.jsonl`.
    fn s3_copy(key_id: &str) -> serde_json::Value {
        json!({
            "eventVersion": "1.08", "eventTime": "2024-01-15T10:45:23Z", "eventSource": "s3.amazonaws.com",
            "eventName": "CopyObject", "awsRegion": "us-east-1", "sourceIPAddress": "1.2.3.4",
            "userIdentity": {"type": "AssumedRole", "accountId": "111111111111",
                "arn": "arn:aws:sts::111111111111:assumed-role/r/attacker"},
            "requestParameters": {"bucketName": "victim-data-bucket", "key": "important-file.txt",
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": key_id},
            "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::victim-data-bucket/important-file.txt"}],
            "eventType": "AwsApiCall", "managementEvent": false, "recipientAccountId": "111111111111"
        })
    }

    fn event_fires(id: &str, v: serde_json::Value) -> bool {
        let r = Record::from_value(v).expect("record");
        KmsEvent::analyse(&r).is_some_and(|e| rule(id).expect("rule").matches(&e))
    }

    #[test]
    fn s3_foreign_kms_key() {
        let foreign = s3_copy("arn:aws:kms:us-east-1:999999999999:key/attacker-key-id");
        assert!(event_fires("s3_foreign_kms_key", foreign.clone()));
        let r = Record::from_value(foreign.clone()).expect("r");
        let e = KmsEvent::analyse(&r).expect("e");
        assert_eq!(e.kind, EventKind::S3ObjectEncryption);
        let rule = rule("s3_foreign_kms_key").expect("rule");
        assert_eq!(rule.outside_account(&e).as_deref(), Some("999999999999"));
        assert!(rule.notes(&e)[0].contains("s3://victim-data-bucket/important-file.txt"));
        // It is no KMS call: no other rule sees it.
        let ids: Vec<&str> = RuleSet::of(&e).iter().map(|r| r.id).collect();
        assert_eq!(ids, ["s3_foreign_kms_key"]);
        for name in ["PutObject", "CreateMultipartUpload"] {
            assert!(
                event_fires(
                    "s3_foreign_kms_key",
                    with(foreign.clone(), json!({"eventName": name}))
                ),
                "{name}"
            );
        }
        // Near misses: the bucket owner's own key, an alias ARN of the owner, a bare
        // key id, a failed request, another S3 call, and the owner from resources.
        assert!(!event_fires(
            "s3_foreign_kms_key",
            s3_copy("arn:aws:kms:us-east-1:111111111111:key/developer")
        ));
        assert!(!event_fires(
            "s3_foreign_kms_key",
            s3_copy("arn:aws:kms:us-east-1:111111111111:alias/app")
        ));
        assert!(!event_fires(
            "s3_foreign_kms_key",
            s3_copy("1234abcd-12ab-34cd-56ef-1234567890ab")
        ));
        assert!(!event_fires(
            "s3_foreign_kms_key",
            with(foreign.clone(), json!({"errorCode": "AccessDenied"}))
        ));
        assert!(!event_fires(
            "s3_foreign_kms_key",
            with(foreign.clone(), json!({"eventName": "GetObject"}))
        ));
        let mut owner_in_resources = foreign.clone();
        owner_in_resources
            .as_object_mut()
            .expect("o")
            .remove("recipientAccountId");
        owner_in_resources["resources"][0]["accountId"] = json!("999999999999");
        assert!(!event_fires(
            "s3_foreign_kms_key",
            owner_in_resources.clone()
        ));
        owner_in_resources["resources"][0]["accountId"] = json!("111111111111");
        assert!(event_fires("s3_foreign_kms_key", owner_in_resources));
    }

    /// Shaped on panther-analysis `aws_vpce_access_denied.jsonl` (a network-activity
    /// event) with KMS as the source, as the CloudTrail guide's network activity
    /// events describe for `kms.amazonaws.com`.
    fn vpce(patch: serde_json::Value) -> serde_json::Value {
        with(
            json!({"eventVersion": "1.09", "eventCategory": "NetworkActivity", "eventType": "AwsVpceEvent",
                "eventTime": "2026-10-04T03:00:00Z", "awsRegion": "us-east-1", "eventSource": "kms.amazonaws.com",
                "eventName": "Decrypt", "sourceIPAddress": "10.0.0.1",
                "userIdentity": {"type": "AWSAccount", "principalId": "AROAEXAMPLE:session-name", "accountId": "444455556666"},
                "recipientAccountId": "111122223333", "requestParameters": null, "responseElements": null,
                "vpcEndpointId": "vpce-EXAMPLE08c1b6b9b7", "vpcEndpointAccountId": "111122223333"}),
            patch,
        )
    }

    #[test]
    fn vpce_events_are_not_calls() {
        let denied = vpce(
            json!({"errorCode": "VpceAccessDenied", "errorMessage": "The request was denied due to a VPC endpoint policy"}),
        );
        assert!(event_fires("vpce_access_denied", denied.clone()));
        let r = Record::from_value(denied).expect("r");
        let e = KmsEvent::analyse(&r).expect("e");
        assert_eq!(e.kind, EventKind::VpceActivity);
        assert_eq!(e.operation, None);
        let ids: Vec<&str> = RuleSet::of(&e).iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            ["vpce_access_denied"],
            "not a Decrypt failure, not cross-account use"
        );
        let note = &rule("vpce_access_denied").expect("rule").notes(&e)[0];
        assert!(
            note.contains("vpce-EXAMPLE08c1b6b9b7") && note.contains("444455556666"),
            "{note}"
        );
        // Allowed at the endpoint, and a KMS call that was denied, do not match.
        assert!(!event_fires("vpce_access_denied", vpce(json!({}))));
        assert!(!event_fires(
            "vpce_access_denied",
            with(base("Decrypt"), json!({"errorCode": "VpceAccessDenied"}))
        ));
    }

    #[test]
    fn enumeration_and_off_hours_read_their_marks() {
        let r = Record::from_value(base("ListKeys")).expect("r");
        let mut e = KmsEvent::analyse(&r).expect("e");
        assert!(!rule("kms_enumeration").expect("rule").matches(&e));
        e.completes_enumeration = true;
        assert!(rule("kms_enumeration").expect("rule").matches(&e));
        let r = Record::from_value(base("Decrypt")).expect("r");
        let mut e = KmsEvent::analyse(&r).expect("e");
        assert!(!rule("off_hours_use").expect("rule").matches(&e));
        e.off_hours = true;
        assert!(rule("off_hours_use").expect("rule").matches(&e));
        // A service's call never is the principal's off-hours use.
        e.principal.service_originated = true;
        assert!(!rule("off_hours_use").expect("rule").matches(&e));
    }

    #[test]
    fn key_material_expiring_is_an_aws_metric_with_import_evidence() {
        let r = rule("key_material_expiring").expect("rule");
        assert!(!r.is_counted());
        assert_eq!(
            rule_for_aws_metric("AWS/KMS", r.metric).map(|r| r.id),
            Some(r.id)
        );
        assert_eq!(
            rule_for_metric(r.metric),
            None,
            "not in keytrail's namespace"
        );
        assert!(Comparison::LessThanThreshold.breached(518_400.0, r.threshold));
        assert!(!Comparison::LessThanThreshold.breached(r.threshold, r.threshold));
        assert!(Comparison::LessThanOrEqualToThreshold.breached(r.threshold, r.threshold));
        // AWS KMS Developer Guide ImportKeyMaterial example (ct-importkeymaterial).
        let import = with(
            base("ImportKeyMaterial"),
            json!({"requestParameters": {"keyId": KEY, "validTo": "Jan 1, 2027, 12:00:00 AM",
                "expirationModel": "KEY_MATERIAL_EXPIRES"}}),
        );
        assert!(fires("key_material_expiring", import.clone()));
        let rec = Record::from_value(import.clone()).expect("r");
        let e = KmsEvent::analyse(&rec).expect("e");
        assert!(r.notes(&e)[0].contains("Jan 1, 2027"));
        assert!(!RuleSet::of(&e).contains(r), "keytrail does not count it");
        assert!(!fires(
            "key_material_expiring",
            with(
                base("ImportKeyMaterial"),
                json!({"requestParameters": {"keyId": KEY, "expirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}})
            )
        ));
        assert!(fires(
            "key_material_expiring",
            base("GetParametersForImport")
        ));
        assert!(fires(
            "key_material_expiring",
            base("DeleteExpiredKeyMaterial")
        ));
        assert!(!fires("key_material_expiring", base("Decrypt")));
    }

    #[test]
    fn non_kms_records_are_not_events() {
        let r = Record::from_value(
            json!({"eventSource": "s3.amazonaws.com", "eventTime": "2026-10-04T03:00:00Z"}),
        )
        .expect("r");
        assert!(KmsEvent::analyse(&r).is_none());
    }
}
