//! Which KMS key(s) a record is about.
//!
//! `requestParameters.keyId` is only the caller's spelling (ARN, bare id, alias name or
//! alias ARN) and symmetric `Decrypt` normally has none at all: the ciphertext names the
//! key, and CloudTrail records it in `resources[]`. Reading only `keyId`, as the usual
//! Athena query does, misses most decrypts.

use serde::Serialize;

use crate::cloudtrail::record::Record;
use crate::detect::operations::op;

/// A key reference after normalisation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct KeyRef {
    /// A key ARN when known; otherwise an alias (ARN or `alias/name`) or the raw id.
    pub id: String,
    /// How the reference was used in the call.
    pub role: KeyRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    Key,
    Source,
    Destination,
}

impl KeyRef {
    /// The account that owns the key, when the reference is an ARN.
    pub fn account(&self) -> Option<&str> {
        arn_account(&self.id)
    }
    /// True when this is a key ARN (not an alias or a bare id).
    pub fn is_key_arn(&self) -> bool {
        is_key_arn(&self.id)
    }
}

/// The account field of an ARN (`arn:partition:service:region:account:resource`).
pub fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next()? == "arn").then_some(())?;
    let account = parts.nth(3)?;
    (!account.is_empty()).then_some(account)
}

fn is_key_arn(s: &str) -> bool {
    s.starts_with("arn:") && s.contains(":kms:") && s.contains(":key/")
}

fn is_alias(s: &str) -> bool {
    s.starts_with("alias/") || (s.starts_with("arn:") && s.contains(":alias/"))
}

/// The partition for a region: `aws`, `aws-cn` or `aws-us-gov`.
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// The most key ARNs read from one record's `resources[]`.
///
/// CloudTrail lists there the key a KMS call used (ReEncrypt: its two keys); no KMS
/// operation acts on more. A record listing thousands is forged or broken, and every
/// key it names costs a usage cell, a daily count and a row of the review. 1,000 is
/// far above any real record and keeps one record's cost bounded; the ARNs past it
/// are counted ([`ResolvedKeys::beyond_cap`], `keys_beyond_cap` in the summary, the
/// scan and the review) instead of read.
pub const MAX_KEYS_PER_RECORD: usize = 1_000;

/// The keys a record names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedKeys {
    /// In a stable order: key, source, destination.
    pub keys: Vec<KeyRef>,
    /// Key ARNs of `resources[]` past [`MAX_KEYS_PER_RECORD`], not read.
    pub beyond_cap: u64,
}

/// Resolves the keys a record names, reading at most [`MAX_KEYS_PER_RECORD`] key
/// ARNs of its `resources[]` and counting the others.
pub fn resolve_keys(r: &Record) -> ResolvedKeys {
    let mut resource_arns: Vec<&str> = Vec::new();
    let mut beyond_cap = 0;
    for arn in r
        .resources
        .iter()
        .filter(|res| {
            res.resource_type
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case("AWS::KMS::Key"))
        })
        .filter_map(|res| res.arn.as_deref())
        .filter(|a| is_key_arn(a))
    {
        if resource_arns.len() < MAX_KEYS_PER_RECORD {
            resource_arns.push(arn);
        } else {
            beyond_cap += 1;
        }
    }
    ResolvedKeys {
        keys: keys_of(r, &resource_arns),
        beyond_cap,
    }
}

/// The keys of a record, given the key ARNs of its `resources[]`.
fn keys_of(r: &Record, resource_arns: &[&str]) -> Vec<KeyRef> {
    let account = r
        .recipient_account_id
        .as_deref()
        .or_else(|| r.user_identity.as_ref()?.account_id.as_deref());
    let region = r.aws_region.as_deref();
    let normalise = |raw: &str, fallback_arn: Option<&str>| -> String {
        let raw = raw.trim();
        if is_key_arn(raw) {
            return raw.to_owned();
        }
        if is_alias(raw) {
            // An alias is resolved only by a key ARN CloudTrail attached to the call.
            if let Some(arn) = fallback_arn {
                return arn.to_owned();
            }
            if raw.starts_with("alias/")
                && let (Some(acct), Some(reg)) = (account, region)
            {
                return format!("arn:{}:kms:{reg}:{acct}:{raw}", partition_for_region(reg));
            }
            return raw.to_owned();
        }
        // A bare key id: find its ARN in resources, else build it.
        let suffix = format!("key/{raw}");
        if let Some(arn) = resource_arns.iter().find(|a| a.ends_with(&suffix)) {
            return (*arn).to_owned();
        }
        match (account, region) {
            (Some(acct), Some(reg)) if !raw.is_empty() => {
                format!(
                    "arn:{}:kms:{reg}:{acct}:key/{raw}",
                    partition_for_region(reg)
                )
            }
            _ => raw.to_owned(),
        }
    };

    let mut out = Vec::new();
    if r.name() == op::RE_ENCRYPT {
        let src = r.request_str("sourceKeyId");
        let dst = r.request_str("destinationKeyId");
        // resources[] lists the source key then the destination key.
        let src_fallback = resource_arns.first().copied();
        let dst_fallback = resource_arns.get(1).copied().or(src_fallback);
        match src {
            Some(s) => out.push(KeyRef {
                id: normalise(s, src_fallback),
                role: KeyRole::Source,
            }),
            None => {
                // Symmetric ReEncrypt usually omits sourceKeyId: the ciphertext names it.
                if let Some(s) = resource_arns
                    .iter()
                    .find(|a| dst.is_none_or(|d| normalise(d, None) != **a))
                {
                    out.push(KeyRef {
                        id: (*s).to_owned(),
                        role: KeyRole::Source,
                    });
                }
            }
        }
        if let Some(d) = dst {
            let id = if is_alias(d) {
                normalise(d, dst_fallback)
            } else {
                normalise(d, None)
            };
            out.push(KeyRef {
                id,
                role: KeyRole::Destination,
            });
        }
        return out;
    }
    if r.name() == op::CREATE_KEY {
        if let Some(arn) = r
            .response_elements
            .as_ref()
            .and_then(|e| e.pointer("/keyMetadata/arn"))
            .and_then(|v| v.as_str())
        {
            out.push(KeyRef {
                id: arn.to_owned(),
                role: KeyRole::Key,
            });
        }
        return out;
    }
    // An S3 SSE-KMS request names its key in a header (see `EventKind`).
    let requested = if r.is_s3_sse_kms_request() {
        r.request_str(crate::cloudtrail::record::S3_SSE_KMS_KEY_HEADER)
    } else {
        r.request_str("keyId")
            .or_else(|| r.request_str("targetKeyId"))
    }
    .filter(|s| !s.trim().is_empty());
    match requested {
        Some(k) => out.push(KeyRef {
            id: normalise(k, resource_arns.first().copied()),
            role: KeyRole::Key,
        }),
        None => {
            for arn in resource_arns {
                out.push(KeyRef {
                    id: (*arn).to_owned(),
                    role: KeyRole::Key,
                });
            }
            if out.is_empty()
                && let Some(arn) = r
                    .response_elements
                    .as_ref()
                    .and_then(|e| e.get("keyId"))
                    .and_then(|v| v.as_str())
                    .filter(|a| is_key_arn(a))
            {
                // Decrypt's response names the key ARN even when resources[] is absent.
                out.push(KeyRef {
                    id: arn.to_owned(),
                    role: KeyRole::Key,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn rec(v: serde_json::Value) -> Record {
        Record::from_value(v).expect("record")
    }

    fn ids(r: &Record) -> Vec<String> {
        let resolved = resolve_keys(r);
        assert_eq!(resolved.beyond_cap, 0);
        resolved.keys.into_iter().map(|k| k.id).collect()
    }

    #[test]
    fn key_arn_in_request() {
        let r = rec(json!({"eventName": "Encrypt", "requestParameters": {"keyId": ARN}}));
        assert_eq!(ids(&r), vec![ARN]);
    }

    #[test]
    fn bare_id_is_normalised_from_account_and_region() {
        let r = rec(
            json!({"eventName": "Encrypt", "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "requestParameters": {"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}}),
        );
        assert_eq!(ids(&r), vec![ARN]);
        let gov = rec(
            json!({"eventName": "Encrypt", "awsRegion": "us-gov-west-1", "recipientAccountId": "111122223333",
            "requestParameters": {"keyId": "k1"}}),
        );
        assert_eq!(
            ids(&gov),
            vec!["arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/k1"]
        );
    }

    #[test]
    fn bare_id_without_context_stays_raw() {
        let r = rec(json!({"eventName": "Encrypt", "requestParameters": {"keyId": "k1"}}));
        assert_eq!(ids(&r), vec!["k1"]);
    }

    #[test]
    fn alias_resolved_by_resources_or_kept() {
        let r = rec(
            json!({"eventName": "GenerateDataKey", "requestParameters": {"keyId": "alias/app"},
            "resources": [{"ARN": ARN, "type": "AWS::KMS::Key", "accountId": "111122223333"}]}),
        );
        assert_eq!(ids(&r), vec![ARN]);
        let r = rec(
            json!({"eventName": "GenerateDataKey", "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "requestParameters": {"keyId": "alias/app"}}),
        );
        assert_eq!(
            ids(&r),
            vec!["arn:aws:kms:us-east-1:111122223333:alias/app"]
        );
        let alias_arn = "arn:aws:kms:us-east-1:111122223333:alias/app";
        let r = rec(json!({"eventName": "Encrypt", "requestParameters": {"keyId": alias_arn}}));
        assert_eq!(ids(&r), vec![alias_arn]);
    }

    #[test]
    fn decrypt_without_key_id_uses_resources_either_case() {
        let r = rec(
            json!({"eventName": "Decrypt", "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
            "resources": [{"arn": ARN, "type": "AWS::KMS::Key"}]}),
        );
        assert_eq!(ids(&r), vec![ARN]);
        let r = rec(
            json!({"eventName": "Decrypt", "requestParameters": null, "responseElements": {"keyId": ARN}}),
        );
        assert_eq!(ids(&r), vec![ARN]);
    }

    #[test]
    fn reencrypt_source_and_destination() {
        let dst = "arn:aws:kms:us-east-1:111122223333:key/dddd";
        let r = rec(
            json!({"eventName": "ReEncrypt", "requestParameters": {"destinationKeyId": "alias/new"},
            "resources": [{"ARN": ARN, "type": "AWS::KMS::Key"}, {"ARN": dst, "type": "AWS::KMS::Key"}]}),
        );
        let keys = resolve_keys(&r).keys;
        assert_eq!(
            keys[0],
            KeyRef {
                id: ARN.into(),
                role: KeyRole::Source
            }
        );
        assert_eq!(
            keys[1],
            KeyRef {
                id: dst.into(),
                role: KeyRole::Destination
            }
        );
        let r = rec(
            json!({"eventName": "ReEncrypt", "requestParameters": {"sourceKeyId": ARN, "destinationKeyId": dst}}),
        );
        assert_eq!(ids(&r), vec![ARN, dst]);
    }

    #[test]
    fn resources_past_the_cap_are_counted_not_read() {
        let arn = |i: usize| format!("arn:aws:kms:us-east-1:111122223333:key/k{i}");
        let mut resources: Vec<serde_json::Value> = (0..MAX_KEYS_PER_RECORD + 3)
            .map(|i| json!({"ARN": arn(i), "type": "AWS::KMS::Key"}))
            .collect();
        // Other resource types do not count.
        resources.push(json!({"ARN": "arn:aws:s3:::bucket", "type": "AWS::S3::Bucket"}));
        let r = rec(json!({"eventName": "Decrypt", "resources": resources.clone()}));
        let resolved = resolve_keys(&r);
        assert_eq!(resolved.keys.len(), MAX_KEYS_PER_RECORD);
        assert_eq!(resolved.beyond_cap, 3);
        assert_eq!(resolved.keys[0].id, arn(0));
        assert_eq!(
            resolved.keys[MAX_KEYS_PER_RECORD - 1].id,
            arn(MAX_KEYS_PER_RECORD - 1)
        );
        // A record that names its key still resolves it; the list past the cap is counted.
        let r = rec(
            json!({"eventName": "Encrypt", "requestParameters": {"keyId": ARN}, "resources": resources}),
        );
        let resolved = resolve_keys(&r);
        assert_eq!(
            resolved
                .keys
                .iter()
                .map(|k| k.id.as_str())
                .collect::<Vec<_>>(),
            [ARN]
        );
        assert_eq!(resolved.beyond_cap, 3);
    }

    #[test]
    fn create_key_uses_response_metadata() {
        let r = rec(
            json!({"eventName": "CreateKey", "responseElements": {"keyMetadata": {"arn": ARN, "keyId": "x"}}}),
        );
        assert_eq!(ids(&r), vec![ARN]);
        let failed = rec(json!({"eventName": "CreateKey", "errorCode": "AccessDeniedException"}));
        assert!(ids(&failed).is_empty());
    }

    #[test]
    fn arn_account_extraction() {
        assert_eq!(arn_account(ARN), Some("111122223333"));
        assert_eq!(
            arn_account("arn:aws:iam::999988887777:role/x"),
            Some("999988887777")
        );
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
        assert_eq!(arn_account("dynamodb.amazonaws.com"), None);
    }
}
