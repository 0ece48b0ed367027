//! A KMS event: one CloudTrail record of a KMS call with its keys, operation,
//! principal and failure class worked out once, for the catalog's predicates, the
//! metrics, the summary and the investigation.
//!
//! Two other kinds of record reach the catalog through the same type, marked by
//! [`EventKind`]: KMS network-activity events at a VPC endpoint, and S3 data events
//! that ask for SSE-KMS with a named key. Neither is a KMS API call: only the rules
//! written for their kind read them, and the call counts (`KMSApiCalls`, the
//! summary's usage, `kms_records`) leave them out.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cloudtrail::record::{Record, is_account_id};
use crate::detect::keys::{KeyRef, ResolvedKeys, resolve_keys};
use crate::detect::operations::{OTHER_OPERATION, Operation, operation};
use crate::detect::principal::{Principal, principal_of};

/// The `eventType` of a network-activity event at a VPC endpoint.
pub const VPCE_EVENT_TYPE: &str = "AwsVpceEvent";

/// What a record the analysis reads is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A call to the KMS API: everything keytrail counted before there were others.
    Call,
    /// A KMS network-activity event (`eventType` `AwsVpceEvent`, `eventCategory`
    /// `NetworkActivity`): a request seen at a VPC endpoint, recorded for the
    /// endpoint's owner. Its `eventName` is the API the request asked for, but it is
    /// not that call: a denied one never reached KMS.
    VpceActivity,
    /// An S3 `PutObject`, `CopyObject` or `CreateMultipartUpload` data event whose
    /// request names a KMS key for server-side encryption. The key is S3's to use:
    /// the event is evidence about the object, not a KMS call.
    S3ObjectEncryption,
}

impl EventKind {
    /// The kind of a record, or `None` for records the analysis does not read.
    pub fn of(record: &Record) -> Option<EventKind> {
        if record.is_kms() {
            return Some(if record.event_type.as_deref() == Some(VPCE_EVENT_TYPE) {
                EventKind::VpceActivity
            } else {
                EventKind::Call
            });
        }
        record
            .is_s3_sse_kms_request()
            .then_some(EventKind::S3ObjectEncryption)
    }
}

/// A KMS record with its keys, principal and failure class worked out once.
#[derive(Debug, Clone)]
pub struct KmsEvent<'a> {
    pub record: &'a Record,
    /// A KMS API call, or one of the other records the catalog reads.
    pub kind: EventKind,
    pub time: DateTime<Utc>,
    /// The known operation (`None`: an `eventName` keytrail does not know).
    pub operation: Option<&'static Operation>,
    /// At most [`MAX_KEYS_PER_RECORD`](crate::detect::keys::MAX_KEYS_PER_RECORD).
    pub keys: Vec<KeyRef>,
    /// Key ARNs of `resources[]` past that cap, not in `keys`.
    pub keys_beyond_cap: u64,
    pub principal: Principal,
    pub error_class: Option<ErrorClass>,
    /// Set by the analysis when a baseline is loaded: the call came from a public IP
    /// outside the principal's known sources (see `unfamiliar_source_ip`).
    pub unfamiliar_source: bool,
    /// Set by the analysis for `UpdateAlias` and `CreateAlias`: what the logs read
    /// say about the target key (see `alias_repointed`); `None` where no key facts
    /// were worked out (the enricher, search).
    pub alias_target: Option<crate::detect::alias_target::AliasTarget>,
    /// Set by the analysis: this call completed a burst of distinct read operations
    /// by its principal (see `kms_enumeration`).
    pub completes_enumeration: bool,
    /// Set by the analysis when a baseline is loaded: a cryptographic call at a UTC
    /// hour in which the baseline never saw the principal (see `off_hours_use`).
    pub off_hours: bool,
}

impl<'a> KmsEvent<'a> {
    /// Analyses a KMS record (or an S3 SSE-KMS request, see [`EventKind`]); `None`
    /// for other records or records with no usable time.
    pub fn analyse(record: &'a Record) -> Option<KmsEvent<'a>> {
        let kind = EventKind::of(record)?;
        let time = record.event_time?;
        let ResolvedKeys { keys, beyond_cap } = resolve_keys(record);
        Some(KmsEvent {
            record,
            kind,
            time,
            // Only a call is an operation: a network-activity event named Decrypt
            // is not a Decrypt.
            operation: match kind {
                EventKind::Call => operation(record.name()),
                _ => None,
            },
            keys,
            keys_beyond_cap: beyond_cap,
            principal: principal_of(record),
            error_class: ErrorClass::of(record),
            unfamiliar_source: false,
            alias_target: None,
            completes_enumeration: false,
            off_hours: false,
        })
    }

    /// True for a call to the KMS API (see [`EventKind`]).
    pub fn is_call(&self) -> bool {
        self.kind == EventKind::Call
    }

    pub fn name(&self) -> &str {
        self.record.name()
    }

    /// The `EventName` dimension value of `KMSApiCalls`.
    pub fn operation_dimension(&self) -> &'static str {
        self.operation.map_or(OTHER_OPERATION, Operation::dimension)
    }

    /// A successful KMS API call of the named operation.
    pub fn succeeded(&self, name: &str) -> bool {
        self.is_call() && self.name() == name && !self.failed()
    }

    pub fn failed(&self) -> bool {
        self.error_class.is_some()
    }

    /// The account owning the (first) key, from its ARN.
    pub fn key_account(&self) -> Option<&str> {
        self.keys.iter().find_map(KeyRef::account)
    }

    /// True when the caller's account differs from the key's account.
    pub fn is_cross_account(&self) -> bool {
        match (self.principal.account.as_deref(), self.key_account()) {
            (Some(caller), Some(key)) => {
                is_account_id(caller) && is_account_id(key) && caller != key
            }
            _ => false,
        }
    }
}

/// The bounded set of failure classes used as the `ErrorClass` metric dimension.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
pub enum ErrorClass {
    AccessDenied,
    IncorrectKey,
    InvalidCiphertext,
    Disabled,
    PendingDeletion,
    InvalidState,
    NotFound,
    Throttled,
    Other,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 9] = [
        ErrorClass::AccessDenied,
        ErrorClass::IncorrectKey,
        ErrorClass::InvalidCiphertext,
        ErrorClass::Disabled,
        ErrorClass::PendingDeletion,
        ErrorClass::InvalidState,
        ErrorClass::NotFound,
        ErrorClass::Throttled,
        ErrorClass::Other,
    ];

    /// Classifies a failed call; `None` when the call succeeded.
    pub fn of(r: &Record) -> Option<ErrorClass> {
        let code = r.error_code.as_deref().filter(|c| !c.is_empty())?;
        let msg = r
            .error_message
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        // The message is checked first: KMS reports a key pending deletion with
        // KMSInvalidStateException or DisabledException depending on the API.
        if msg.contains("pending deletion") {
            return Some(ErrorClass::PendingDeletion);
        }
        Some(match code {
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "Client.UnauthorizedOperation" => ErrorClass::AccessDenied,
            "IncorrectKeyException" => ErrorClass::IncorrectKey,
            "InvalidCiphertextException" => ErrorClass::InvalidCiphertext,
            "DisabledException" => ErrorClass::Disabled,
            "KMSInvalidStateException" if msg.contains("is disabled") => ErrorClass::Disabled,
            "KMSInvalidStateException" | "InvalidStateException" => ErrorClass::InvalidState,
            "NotFoundException" => ErrorClass::NotFound,
            "ThrottlingException" | "LimitExceededException" | "RequestLimitExceeded" => {
                ErrorClass::Throttled
            }
            _ => ErrorClass::Other,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::AccessDenied => "AccessDenied",
            ErrorClass::IncorrectKey => "IncorrectKey",
            ErrorClass::InvalidCiphertext => "InvalidCiphertext",
            ErrorClass::Disabled => "Disabled",
            ErrorClass::PendingDeletion => "PendingDeletion",
            ErrorClass::InvalidState => "InvalidState",
            ErrorClass::NotFound => "NotFound",
            ErrorClass::Throttled => "Throttled",
            ErrorClass::Other => "Other",
        }
    }

    pub fn parse(s: &str) -> Option<ErrorClass> {
        ErrorClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
}
