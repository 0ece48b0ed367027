//! The detection catalog: every rule keytrail knows, defined once.
//!
//! The log processor counts with these rules, the CLI reports with them, the alarm
//! enricher filters with them and the SAM template's alarms are checked against them.
//! A rule is data plus a predicate over an analysed KMS event ([`KmsEvent`]).

use serde::Serialize;
use serde_json::Value;

use crate::cloudtrail::record::{Record, is_account_id};
use crate::detect::event::{ErrorClass, KmsEvent};
use crate::detect::operations::{Operation, op};

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

/// How the alarm compares the period's sum with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
}

impl Comparison {
    pub fn breached(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::GreaterThanThreshold => value > threshold,
        }
    }
}

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
    /// Default alarm: `Sum` over `period_secs`, compared with `threshold`.
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
    /// The public rule sets and posture checks that have the same idea (empty: none
    /// of Elastic, Panther, Sigma, Splunk, Datadog, Prowler, Security Hub or CIS).
    pub rule_sets: &'static [&'static str],
    #[serde(skip)]
    predicate: fn(&KmsEvent) -> bool,
    /// Notes that sharpen a match, e.g. that a key policy was made public.
    #[serde(skip)]
    notes: fn(&KmsEvent) -> Vec<String>,
    /// For rules about another account: the account that makes a match "outside".
    /// A match whose account is in the configuration's `trusted_accounts` does not
    /// count (see [`Rule::outside_account`]).
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
                "calls by AWS itself (`AWSService`, `internal.amazonaws.com`)"
            }
            ServiceCalls::Exempt => "calls an AWS service makes for a principal (`invokedBy`)",
        }
    }
}

impl Rule {
    /// Does this rule select the event? Calls by AWS services that the rule does not
    /// count ([`Rule::service_calls`]) never match.
    pub fn matches(&self, e: &KmsEvent) -> bool {
        self.service_calls.counts(&e.principal) && (self.predicate)(e)
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
    /// Runs every rule's predicate on the event, once.
    pub fn of(e: &KmsEvent) -> RuleSet {
        let mut bits = 0u64;
        for (i, rule) in RULES.iter().enumerate() {
            if rule.matches(e) {
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

fn public_policy_note(e: &KmsEvent) -> Vec<String> {
    if policy_is_public(e.record) {
        vec![
            "policy grants access to any principal (\"*\") with no condition: key made public"
                .into(),
        ]
    } else {
        Vec::new()
    }
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
        threshold: 10.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "`Decrypt` calls with a non-empty `errorCode`.",
        events: &["Decrypt"],
        service_calls: ServiceCalls::Count,
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
        threshold: 5.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Any KMS call in the `AccessDenied` error class: `errorCode` `AccessDenied`, `AccessDeniedException`, `UnauthorizedOperation` or `Client.UnauthorizedOperation` (so it counts what `KMSFailures{ErrorClass=AccessDenied}` counts).",
        events: &["*"],
        service_calls: ServiceCalls::Count,
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
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Failed calls whose `errorMessage` says the key is pending deletion, whatever the error code (KMS uses `KMSInvalidStateException` or `DisabledException` depending on the API).",
        events: &["*"],
        service_calls: ServiceCalls::Count,
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
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Failed calls with `DisabledException`, or `KMSInvalidStateException` whose message says the key is disabled (not pending deletion).",
        events: &["*"],
        service_calls: ServiceCalls::Count,
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
        severity: Severity::High,
        title: "Key deletion scheduled",
        description: "ScheduleKeyDeletion succeeded (CIS AWS 4.7). After the waiting period, the key and every ciphertext under it are lost for good.",
        playbook: &[
            "Confirm with the key owner that the deletion is intended and approved.",
            "Review the key's usage over the last 90 days (keytrail review) for callers that still depend on it; if any, cancel the deletion.",
            "Consider disabling the key instead of deleting it, and alarm on its use during the waiting period.",
            PB_NOTIFY,
        ],
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `ScheduleKeyDeletion`.",
        events: &["ScheduleKeyDeletion"],
        service_calls: ServiceCalls::Count,
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
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `DisableKey`.",
        events: &["DisableKey"],
        service_calls: ServiceCalls::Count,
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
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `CreateKey`.",
        events: &["CreateKey"],
        service_calls: ServiceCalls::Count,
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
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `PutKeyPolicy`. A note is added when the policy has an `Allow` statement for principal `\"*\"` (or `{\"AWS\": \"*\"}`) with no `Condition`.",
        events: &["PutKeyPolicy"],
        service_calls: ServiceCalls::Count,
        rule_sets: &["Elastic"],
        needs_baseline: false,
        outside_account: None,
        finding_type: "TTPs/Privilege Escalation",
        notes: public_policy_note,
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
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `CreateGrant` whose `granteePrincipal` is an ARN in a 12-digit account other than the key's account (or, when the key's account is unknown, the trail's `recipientAccountId`). Service principals do not match.",
        events: &["CreateGrant"],
        service_calls: ServiceCalls::Count,
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
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Any KMS call, successful or not, where the caller's account and the account in the key's ARN are both 12-digit account ids and differ.",
        events: &["*"],
        service_calls: ServiceCalls::ExemptAwsInternal,
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
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `DeleteImportedKeyMaterial`.",
        events: &["DeleteImportedKeyMaterial"],
        service_calls: ServiceCalls::Count,
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
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Successful `DisableKeyRotation`.",
        events: &["DisableKeyRotation"],
        service_calls: ServiceCalls::Count,
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
        threshold: 1.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        period_secs: 300,
        evaluation_periods: 4,
        datapoints_to_alarm: 1,
        group_by: GroupBy::All,
        criteria: "Any KMS call from a public IP outside the calling principal's known IPs and their /24 (IPv4) or /48 (IPv6) networks, per the baseline the monthly review writes. Calls through AWS services and from private addresses are exempt; inactive without a baseline.",
        events: &["*"],
        service_calls: ServiceCalls::Exempt,
        rule_sets: &[],
        needs_baseline: true,
        outside_account: None,
        finding_type: "TTPs/Initial Access",
        notes: no_notes,
        predicate: |e| e.unfamiliar_source,
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
        let op = match r.comparison {
            Comparison::GreaterThanOrEqualToThreshold => ">=",
            Comparison::GreaterThanThreshold => ">",
        };
        let per_source = match r.group_by {
            GroupBy::All => "",
            GroupBy::Source => " (per source in `scan`)",
        };
        let events = if r.events == ["*"] {
            "any KMS call".to_owned()
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
            "| `{}` | `{}` | {} | Sum {op} {} in {} s, {} of {} periods{per_source} | {events} | {} | {} | {sets} |\n",
            r.id,
            r.metric,
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

/// Looks a rule up by its CloudWatch metric name.
pub fn rule_for_metric(metric: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.metric == metric)
}

/// True when a key policy document grants to `*` in an Allow statement with no Condition.
pub fn policy_is_public(r: &Record) -> bool {
    let Some(policy) = r.request_parameters.as_ref().and_then(|p| p.get("policy")) else {
        return false;
    };
    let doc: Value = match policy {
        Value::String(s) => match serde_json::from_str(s) {
            Ok(v) => v,
            Err(_) => return false,
        },
        other => other.clone(),
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    statements.iter().any(|s| {
        let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
        let unconditioned = s
            .get("Condition")
            .is_none_or(|c| c.as_object().is_some_and(|m| m.is_empty()));
        allow && unconditioned && s.get("Principal").is_some_and(principal_is_star)
    })
}

fn principal_is_star(p: &Value) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Object(m) => m.get("AWS").is_some_and(|v| match v {
            Value::String(s) => s == "*",
            Value::Array(a) => a.iter().any(|x| x.as_str() == Some("*")),
            _ => false,
        }),
        _ => false,
    }
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
                r.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
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
            assert_eq!(set.contains(rule), rule.matches(&e), "{}", rule.id);
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

    #[test]
    fn non_kms_records_are_not_events() {
        let r = Record::from_value(
            json!({"eventSource": "s3.amazonaws.com", "eventTime": "2026-10-04T03:00:00Z"}),
        )
        .expect("r");
        assert!(KmsEvent::analyse(&r).is_none());
    }
}
