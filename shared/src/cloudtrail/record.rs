//! A tolerant, typed model of the CloudTrail record fields keytrail uses.
//!
//! Real CloudTrail data is messy: `readOnly` arrives as a string, `requestParameters`
//! as the string `"null"`, fields go missing or turn `null`, account ids are
//! placeholders. Every field here is optional and every scalar is read leniently, so
//! one odd field never costs the whole record, let alone the file. A record is only
//! rejected when it is not a JSON object at all (see [`Record::from_value`]).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The `eventSource` of every KMS API call.
pub const KMS_EVENT_SOURCE: &str = "kms.amazonaws.com";

/// The `eventSource` of S3 calls.
pub const S3_EVENT_SOURCE: &str = "s3.amazonaws.com";

/// The request header (a `requestParameters` field of S3 data events) naming the
/// KMS key S3 is to encrypt an object with.
pub const S3_SSE_KMS_KEY_HEADER: &str = "x-amz-server-side-encryption-aws-kms-key-id";

/// The S3 data events whose request can carry [`S3_SSE_KMS_KEY_HEADER`].
pub const S3_SSE_KMS_EVENTS: [&str; 3] = ["PutObject", "CopyObject", "CreateMultipartUpload"];

/// One CloudTrail record, reduced to the fields keytrail reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    #[serde(default, deserialize_with = "lenient_string")]
    pub event_version: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub event_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub event_source: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub event_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub aws_region: Option<String>,
    #[serde(
        default,
        rename = "sourceIPAddress",
        deserialize_with = "lenient_string"
    )]
    pub source_ip_address: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub user_agent: Option<String>,
    #[serde(default, deserialize_with = "lenient_struct")]
    pub user_identity: Option<UserIdentity>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub error_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub error_message: Option<String>,
    #[serde(default, deserialize_with = "lenient_object")]
    pub request_parameters: Option<Value>,
    #[serde(default, deserialize_with = "lenient_object")]
    pub response_elements: Option<Value>,
    #[serde(default, deserialize_with = "lenient_object")]
    pub additional_event_data: Option<Value>,
    #[serde(default, rename = "requestID", deserialize_with = "lenient_string")]
    pub request_id: Option<String>,
    #[serde(default, rename = "eventID", deserialize_with = "lenient_string")]
    pub event_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub read_only: Option<bool>,
    #[serde(default, deserialize_with = "lenient_resources")]
    pub resources: Vec<Resource>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub event_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub recipient_account_id: Option<String>,
    #[serde(default, rename = "sharedEventID", deserialize_with = "lenient_string")]
    pub shared_event_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub vpc_endpoint_id: Option<String>,
}

/// `userIdentity`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub identity_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub principal_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub arn: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub user_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub invoked_by: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub access_key_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_struct")]
    pub session_context: Option<SessionContext>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    #[serde(default, deserialize_with = "lenient_struct")]
    pub session_issuer: Option<SessionIssuer>,
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub issuer_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub arn: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub user_name: Option<String>,
}

/// One entry of `resources[]`. CloudTrail writes `ARN`; some exporters write `arn`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Resource {
    #[serde(rename = "ARN")]
    pub arn: Option<String>,
    #[serde(rename = "accountId")]
    pub account_id: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: Option<String>,
}

/// Why a JSON value is not a record (the reason in the bad-record report).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("record is a JSON {0}, not an object")]
    NotAnObject(&'static str),
    #[error(transparent)]
    Fields(#[from] serde_json::Error),
}

impl Record {
    /// Reads a record from a parsed JSON value. Only a value that is not an object is
    /// rejected; the reason is returned for the bad-record report.
    pub fn from_value(value: Value) -> Result<Record, RecordError> {
        match value {
            Value::Object(mut map) => {
                // Logstash-style exports replace eventTime with @timestamp.
                if !map.contains_key("eventTime")
                    && let Some(ts) = map.remove("@timestamp")
                {
                    map.insert("eventTime".into(), ts);
                }
                Ok(Record::deserialize(Value::Object(map))?)
            }
            other => Err(RecordError::NotAnObject(json_kind(&other))),
        }
    }

    /// True for calls to the KMS API.
    pub fn is_kms(&self) -> bool {
        self.event_source.as_deref() == Some(KMS_EVENT_SOURCE)
    }

    /// An S3 `PutObject`, `CopyObject` or `CreateMultipartUpload` whose request names
    /// an SSE-KMS key (`x-amz-server-side-encryption-aws-kms-key-id`): the only
    /// records of another service the analysis reads.
    pub fn is_s3_sse_kms_request(&self) -> bool {
        self.event_source.as_deref() == Some(S3_EVENT_SOURCE)
            && S3_SSE_KMS_EVENTS.contains(&self.name())
            && self
                .request_str(S3_SSE_KMS_KEY_HEADER)
                .is_some_and(|k| !k.trim().is_empty())
    }

    /// The event name, or `""`.
    pub fn name(&self) -> &str {
        self.event_name.as_deref().unwrap_or("")
    }

    /// True when the call failed (a non-empty errorCode).
    pub fn failed(&self) -> bool {
        self.error_code.as_deref().is_some_and(|c| !c.is_empty())
    }

    /// A string request parameter such as `keyId`.
    pub fn request_str(&self, field: &str) -> Option<&str> {
        self.request_parameters.as_ref()?.get(field)?.as_str()
    }

    /// The encryption context of the request, as sorted `key=value` pairs.
    pub fn encryption_context(&self) -> Vec<(String, String)> {
        let Some(Value::Object(ctx)) = self
            .request_parameters
            .as_ref()
            .and_then(|p| p.get("encryptionContext"))
        else {
            return Vec::new();
        };
        let mut pairs: Vec<(String, String)> = ctx
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect();
        pairs.sort();
        pairs
    }
}

/// The JSON kind of `v`, for reasons ("a JSON object").
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A scalar as [`Scalar`] sees it.
enum Lit<'a> {
    Str(&'a str),
    Bool(bool),
    /// A number, as serde_json prints it.
    Num(serde_json::Number),
}

/// Reads a scalar without building a `Value`: strings, booleans and numbers
/// directly, null as `None`, containers skipped.
struct Scalar<T>(fn(Lit) -> Option<T>);

impl<'de, T> serde::de::Visitor<'de> for Scalar<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<T>, E> {
        Ok((self.0)(Lit::Str(v)))
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Option<T>, E> {
        Ok((self.0)(Lit::Bool(v)))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Option<T>, E> {
        Ok((self.0)(Lit::Num(v.into())))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Option<T>, E> {
        Ok((self.0)(Lit::Num(v.into())))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Option<T>, E> {
        Ok(serde_json::Number::from_f64(v).and_then(|n| (self.0)(Lit::Num(n))))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(None)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Option<T>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// Strings, numbers and booleans become strings; null, empty and anything else become None.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(Scalar(|lit| match lit {
        Lit::Str(s) if !s.is_empty() => Some(s.to_owned()),
        Lit::Str(_) => None,
        Lit::Bool(b) => Some(b.to_string()),
        Lit::Num(n) => Some(n.to_string()),
    }))
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(Scalar(|lit| match lit {
        Lit::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        Lit::Bool(b) => Some(b),
        Lit::Num(_) => None,
    }))
}

/// Objects are kept; `null`, the string "null", and other scalars become None.
/// A string holding a JSON object (seen in some exports) is parsed.
fn lenient_object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        v @ Value::Object(_) => Some(v),
        Value::String(s) if s.trim_start().starts_with('{') => serde_json::from_str::<Value>(&s)
            .ok()
            .filter(Value::is_object),
        _ => None,
    })
}

/// A nested struct; if it is not an object it is treated as absent. Read in place
/// (no intermediate `Value`): its fields are all lenient, so only a duplicate field
/// can fail it, and that sends the record down the general path (`from_value`),
/// where duplicates are already resolved.
fn lenient_struct<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Nested<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Nested<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Option<T>, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Nested(std::marker::PhantomData))
}

fn lenient_resources<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Resource>, D::Error> {
    let Value::Array(items) = Value::deserialize(d)? else {
        return Ok(Vec::new());
    };
    Ok(items
        .iter()
        .filter_map(|item| {
            let obj = item.as_object()?;
            let field = |names: &[&str]| {
                obj.iter()
                    .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
                    .and_then(|(_, v)| v.as_str())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            Some(Resource {
                arn: field(&["ARN"]),
                account_id: field(&["accountId"]),
                resource_type: field(&["type"]),
            })
        })
        .collect())
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let mut list =
            lenient_resources(Value::Array(vec![v])).map_err(serde::de::Error::custom)?;
        Ok(list.pop().unwrap_or_default())
    }
}

fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    d.deserialize_any(Scalar(|lit| match lit {
        Lit::Str(s) => parse_time(s),
        _ => None,
    }))
}

/// Parses CloudTrail's `2024-01-15T14:32:10Z`, any RFC 3339 time, and the
/// `2023-01-10 20:10:41` form some exporters write (taken as UTC).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

/// A 12-digit AWS account id (placeholders such as `12345` in examples are not).
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odd_field_types_do_not_fail_the_record() {
        let r = Record::from_value(json!({
            "eventTime": "2023-01-10 20:10:41",
            "eventSource": "kms.amazonaws.com",
            "eventName": "Decrypt",
            "readOnly": "true",
            "requestParameters": "null",
            "responseElements": null,
            "userIdentity": "weird",
            "resources": [{"arn": "arn:aws:kms:us-east-1:1:key/k", "type": "AWS::KMS::Key"}, 7],
            "recipientAccountId": 123456789012u64,
            "somethingNew": {"a": 1}
        }))
        .expect("tolerated");
        assert_eq!(r.read_only, Some(true));
        assert_eq!(r.request_parameters, None);
        assert_eq!(r.user_identity, None);
        assert_eq!(r.resources.len(), 1);
        assert_eq!(
            r.resources[0].arn.as_deref(),
            Some("arn:aws:kms:us-east-1:1:key/k")
        );
        assert_eq!(r.recipient_account_id.as_deref(), Some("123456789012"));
        assert_eq!(
            r.event_time.map(|t| t.to_rfc3339()),
            Some("2023-01-10T20:10:41+00:00".to_string())
        );
    }

    #[test]
    fn logstash_timestamp_is_used_when_event_time_is_missing() {
        let r = Record::from_value(json!({"@timestamp": "2020-09-14T01:19:40.000Z"})).expect("ok");
        assert!(r.event_time.is_some());
    }

    #[test]
    fn non_objects_are_rejected_with_a_reason() {
        let err = Record::from_value(json!([1, 2])).expect_err("array is not a record");
        assert!(err.to_string().contains("array"), "{err}");
    }

    #[test]
    fn encryption_context_is_sorted_pairs() {
        let r = Record::from_value(
            json!({"requestParameters": {"encryptionContext": {"b": "2", "a": 1}}}),
        )
        .expect("ok");
        assert_eq!(
            r.encryption_context(),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
    }
}
