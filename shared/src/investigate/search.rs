//! Forensic search over KMS events: "every operation involving customer cust-98765".
//!
//! The seed does this with `requestParameters LIKE '%customerId%:cust-98765%'`, which
//! matches substrings anywhere in the serialised JSON (`cust-987650`, another field
//! named customerId). Here an encryption-context filter is an exact, case-sensitive
//! key=value pair, keys match however the caller spelt them, and a role matches all of
//! its sessions.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::detect::event::KmsEvent;
use crate::investigate::sanitize::clean;

/// What to match; every given criterion must hold.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Exact encryption-context pairs; all must be present.
    pub context: Vec<(String, String)>,
    /// A key ARN, a bare key id, an alias name (`alias/x`) or an alias ARN.
    pub key: Option<String>,
    /// A normalised principal (role ARN, user ARN, `account:<id>`) or a session ARN.
    pub principal: Option<String>,
    pub ip: Option<String>,
    pub event_name: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl SearchFilter {
    /// True when no criterion is given: the filter selects every KMS event.
    pub fn is_empty(&self) -> bool {
        self.context.is_empty()
            && self.key.is_none()
            && self.principal.is_none()
            && self.ip.is_none()
            && self.event_name.is_none()
            && self.since.is_none()
            && self.until.is_none()
    }
}

/// An argument that is not `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not KEY=VALUE")]
pub struct NotAPair(pub String);

/// Parses `K=V` (the value may contain `=`).
pub fn parse_pair(s: &str) -> Result<(String, String), NotAPair> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(NotAPair(s.to_owned())),
    }
}

impl SearchFilter {
    pub fn matches(&self, e: &KmsEvent) -> bool {
        let r = e.record;
        if self.since.is_some_and(|t| e.time < t) || self.until.is_some_and(|t| e.time >= t) {
            return false;
        }
        if self.event_name.as_deref().is_some_and(|n| r.name() != n) {
            return false;
        }
        if self
            .ip
            .as_deref()
            .is_some_and(|ip| r.source_ip_address.as_deref().map(str::trim) != Some(ip))
        {
            return false;
        }
        if let Some(p) = self.principal.as_deref() {
            let caller_arn = r.user_identity.as_ref().and_then(|u| u.arn.as_deref());
            if e.principal.id != p && caller_arn != Some(p) {
                return false;
            }
        }
        if let Some(k) = self.key.as_deref()
            && !key_matches(k, e)
        {
            return false;
        }
        if !self.context.is_empty() {
            let ctx = r.encryption_context();
            if !self.context.iter().all(|pair| ctx.contains(pair)) {
                return false;
            }
        }
        true
    }
}

fn key_matches(wanted: &str, e: &KmsEvent) -> bool {
    let alias = wanted.starts_with("alias/") || wanted.contains(":alias/");
    if alias {
        // Aliases are matched against how the caller named the key.
        let name = wanted
            .rsplit_once(":alias/")
            .map_or(wanted.to_owned(), |(_, a)| format!("alias/{a}"));
        return [
            "keyId",
            "targetKeyId",
            "sourceKeyId",
            "destinationKeyId",
            "aliasName",
        ]
        .iter()
        .filter_map(|f| e.record.request_str(f))
        .any(|v| v == wanted || v == name || v.ends_with(&format!(":{name}")))
            || e.keys
                .iter()
                .any(|k| k.id == wanted || k.id.ends_with(&format!(":{name}")));
    }
    e.keys.iter().any(|k| {
        k.id == wanted || (!wanted.starts_with("arn:") && k.id.ends_with(&format!(":key/{wanted}")))
    })
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchMatch {
    pub time: String,
    pub event_name: String,
    pub principal: String,
    pub session: Option<String>,
    pub source_ip: Option<String>,
    pub keys: Vec<String>,
    pub encryption_context: Vec<String>,
    pub error_code: Option<String>,
    pub event_id: Option<String>,
    pub file: String,
}

impl SearchMatch {
    pub fn of(e: &KmsEvent, file: &str) -> SearchMatch {
        let r = e.record;
        SearchMatch {
            time: e.time.to_rfc3339_opts(SecondsFormat::Secs, true),
            event_name: r.name().to_owned(),
            principal: e.principal.id.clone(),
            session: e.principal.session_name.as_deref().map(|s| clean(s, 64)),
            source_ip: r.source_ip_address.as_deref().map(|s| clean(s, 64)),
            keys: e.keys.iter().map(|k| k.id.clone()).collect(),
            encryption_context: r
                .encryption_context()
                .into_iter()
                .map(|(k, v)| format!("{}={}", clean(&k, 64), clean(&v, 128)))
                .collect(),
            error_code: r.error_code.as_deref().map(|s| clean(s, 64)),
            event_id: r.event_id.clone(),
            file: file.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::record::Record;
    use serde_json::json;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn rec(ctx: serde_json::Value, key_id: Option<&str>) -> Record {
        let mut v = json!({"eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "eventTime": "2026-10-04T03:00:00Z",
            "sourceIPAddress": "10.0.0.5",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/i-1",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/app"}}},
            "requestParameters": {"encryptionContext": ctx},
            "resources": [{"ARN": KEY, "type": "AWS::KMS::Key"}]});
        if let Some(k) = key_id {
            v["requestParameters"]["keyId"] = json!(k);
        }
        Record::from_value(v).expect("record")
    }

    fn hit(f: &SearchFilter, r: &Record) -> bool {
        f.matches(&KmsEvent::analyse(r).expect("event"))
    }

    #[test]
    fn context_pairs_are_exact_and_case_sensitive() {
        let r = rec(
            json!({"customerId": "cust-98765", "department": "finance"}),
            None,
        );
        let f = |pairs: &[(&str, &str)]| SearchFilter {
            context: pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            ..SearchFilter::default()
        };
        assert!(hit(&f(&[("customerId", "cust-98765")]), &r));
        assert!(hit(
            &f(&[("customerId", "cust-98765"), ("department", "finance")]),
            &r
        ));
        assert!(
            !hit(&f(&[("customerId", "cust-9876")]), &r),
            "no substring match"
        );
        assert!(
            !hit(&f(&[("customerid", "cust-98765")]), &r),
            "keys are case-sensitive"
        );
        assert!(
            !hit(&f(&[("customerId", "CUST-98765")]), &r),
            "values are case-sensitive"
        );
        let other = rec(json!({"customerId": "cust-987650"}), None);
        assert!(!hit(&f(&[("customerId", "cust-98765")]), &other));
    }

    #[test]
    fn key_by_arn_id_or_alias() {
        let r = rec(json!({}), None);
        let f = |k: &str| SearchFilter {
            key: Some(k.into()),
            ..SearchFilter::default()
        };
        assert!(hit(&f(KEY), &r));
        assert!(hit(&f("1234abcd-12ab-34cd-56ef-1234567890ab"), &r));
        assert!(!hit(&f("1234abcd"), &r));
        let by_alias = rec(json!({}), Some("alias/app-data"));
        assert!(hit(&f("alias/app-data"), &by_alias));
        assert!(hit(
            &f("arn:aws:kms:us-east-1:111122223333:alias/app-data"),
            &by_alias
        ));
        assert!(!hit(&f("alias/app"), &by_alias));
    }

    #[test]
    fn role_matches_its_sessions() {
        let r = rec(json!({}), None);
        let f = |p: &str| SearchFilter {
            principal: Some(p.into()),
            ..SearchFilter::default()
        };
        assert!(hit(&f("arn:aws:iam::111122223333:role/app"), &r));
        assert!(hit(
            &f("arn:aws:sts::111122223333:assumed-role/app/i-1"),
            &r
        ));
        assert!(!hit(&f("arn:aws:iam::111122223333:role/other"), &r));
        let ip = SearchFilter {
            ip: Some("10.0.0.5".into()),
            event_name: Some("Decrypt".into()),
            ..SearchFilter::default()
        };
        assert!(hit(&ip, &r));
        let wrong = SearchFilter {
            event_name: Some("decrypt".into()),
            ..SearchFilter::default()
        };
        assert!(!hit(&wrong, &r));
    }

    #[test]
    fn pairs_parse() {
        assert_eq!(parse_pair("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(
            parse_pair("novalue").map_err(|e| e.to_string()),
            Err(r#""novalue" is not KEY=VALUE"#.to_owned())
        );
        assert!(parse_pair("=x").is_err());
    }
}
