//! Who made a call, normalised so that one workload is one principal.
//!
//! Every assumed-role session has its own ARN (`assumed-role/Role/session`); counting by
//! it would split one application into thousands of principals. keytrail maps a session
//! to its role ARN and keeps the session name as evidence.

use serde::Serialize;

use crate::cloudtrail::record::{Record, UserIdentity};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Role ARN for sessions, user/root ARN, `account:<id>` for cross-account callers
    /// with no ARN, `service:<name>` for AWS services, else the principalId.
    pub id: String,
    /// The caller's account, when known.
    pub account: Option<String>,
    /// The assumed-role session name, kept as evidence.
    pub session_name: Option<String>,
    /// `userIdentity.type`.
    pub identity_type: Option<String>,
    /// True when an AWS service made the call on the principal's behalf.
    pub service_originated: bool,
    /// The service that made the call, when known.
    pub invoked_by: Option<String>,
    /// True when AWS itself is the caller, not a principal acting through a service:
    /// `userIdentity.type` `AWSService`, or an identity of an account AWS owns
    /// ([`AWS_SERVICE_ACCOUNTS`]: CloudTrail's, writing logs). Such a caller's id is
    /// `service:<invokedBy>`.
    #[serde(skip)]
    pub aws_internal: bool,
}

/// Where a call came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SourceClass {
    AwsService,
    Private,
    Public,
    Unknown,
}

/// Classifies `sourceIPAddress`: a service DNS name or `AWS Internal`, a private
/// address, a public one, or something unparseable.
pub fn classify_source(ip: Option<&str>) -> SourceClass {
    let Some(ip) = ip.map(str::trim).filter(|s| !s.is_empty()) else {
        return SourceClass::Unknown;
    };
    if is_service_source(ip) {
        return SourceClass::AwsService;
    }
    // Some exporters join several addresses with commas; the first is the caller.
    let first = ip.split(',').next().unwrap_or(ip).trim();
    match first.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            if v4.is_private() || v4.is_loopback() || v4.is_link_local() || is_cgnat(v4) {
                SourceClass::Private
            } else {
                SourceClass::Public
            }
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let seg = v6.segments()[0];
            if v6.is_loopback() || (seg & 0xfe00) == 0xfc00 || (seg & 0xffc0) == 0xfe80 {
                SourceClass::Private
            } else {
                SourceClass::Public
            }
        }
        Err(_) => SourceClass::Unknown,
    }
}

fn is_cgnat(v4: std::net::Ipv4Addr) -> bool {
    let o = v4.octets();
    o[0] == 100 && (64..128).contains(&o[1])
}

/// `AWS Internal`, `internal.amazonaws.com` or a service DNS name like `s3.amazonaws.com`.
pub fn is_service_source(ip: &str) -> bool {
    let ip = ip.trim();
    ip.eq_ignore_ascii_case("AWS Internal")
        || ip.ends_with(".amazonaws.com")
        || ip.ends_with(".amazonaws.com.cn")
        || ip.ends_with(".amazon.com")
}

/// Accounts AWS owns that appear as callers in customers' trails: CloudTrail's, whose
/// `user/AWSCloudTrail` calls `GenerateDataKey` on a trail's key to write its logs
/// (AWS KMS Developer Guide, "How AWS CloudTrail uses AWS KMS").
pub const AWS_SERVICE_ACCOUNTS: &[&str] = &["086441151436"];

/// Normalises `userIdentity` into a [`Principal`].
pub fn principal_of(r: &Record) -> Principal {
    let none = UserIdentity::default();
    let ui = r.user_identity.as_ref().unwrap_or(&none);
    let invoked_by = ui.invoked_by.clone();
    let source_service = r
        .source_ip_address
        .as_deref()
        .is_some_and(is_service_source);
    let identity_type = ui.identity_type.clone();
    let account = ui.account_id.clone().or_else(|| {
        ui.arn
            .as_deref()
            .and_then(crate::detect::keys::arn_account)
            .map(str::to_owned)
    });
    let mut session_name = None;
    let id = match identity_type.as_deref() {
        Some("AssumedRole") => {
            let issuer = ui
                .session_context
                .as_ref()
                .and_then(|c| c.session_issuer.as_ref())
                .and_then(|i| i.arn.clone());
            session_name = ui.arn.as_deref().and_then(session_of).map(str::to_owned);
            issuer
                .or_else(|| ui.arn.as_deref().and_then(role_arn_from_session))
                .or_else(|| ui.arn.clone())
                .or_else(|| ui.principal_id.clone())
        }
        Some("AWSService") => invoked_by.clone().map(|s| format!("service:{s}")),
        Some("AWSAccount") if ui.arn.is_none() => {
            ui.account_id.as_ref().map(|a| format!("account:{a}"))
        }
        _ => ui.arn.clone().or_else(|| ui.principal_id.clone()),
    }
    .or_else(|| ui.account_id.as_ref().map(|a| format!("account:{a}")))
    .unwrap_or_else(|| "unknown".to_owned());
    // AWS itself: an `AWSService` identity, or an identity of an account AWS owns
    // (CloudTrail's 086441151436 writing the trail's logs with the trail's key). Not
    // `invokedBy: internal.amazonaws.com` alone: older logs carry it for S3 calling
    // KMS on a customer role's behalf (seed 001), and that role is the principal.
    let aws_internal = identity_type.as_deref() == Some("AWSService")
        || account
            .as_deref()
            .is_some_and(|a| AWS_SERVICE_ACCOUNTS.contains(&a));
    let id = if aws_internal && identity_type.as_deref() != Some("AWSService") {
        format!(
            "service:{}",
            invoked_by.as_deref().unwrap_or("internal.amazonaws.com")
        )
    } else {
        id
    };
    Principal {
        id,
        account,
        session_name,
        identity_type,
        aws_internal,
        service_originated: invoked_by.is_some() || source_service,
        invoked_by: invoked_by.or_else(|| {
            r.source_ip_address
                .as_deref()
                .filter(|s| s.ends_with(".amazonaws.com"))
                .map(str::to_owned)
        }),
    }
}

/// `arn:aws:sts::1:assumed-role/Role/session` -> `session`.
fn session_of(arn: &str) -> Option<&str> {
    let (_, res) = arn.split_once(":assumed-role/")?;
    res.split_once('/').map(|(_, s)| s)
}

/// `arn:aws:sts::1:assumed-role/Role/session` -> `arn:aws:iam::1:role/Role` (path unknown).
fn role_arn_from_session(arn: &str) -> Option<String> {
    let (head, res) = arn.split_once(":assumed-role/")?;
    let (role, _) = res.split_once('/')?;
    let mut parts = head.splitn(5, ':');
    let (_, partition, _, _, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: serde_json::Value) -> Principal {
        principal_of(&Record::from_value(v).expect("record"))
    }

    #[test]
    fn assumed_role_maps_to_role_arn_with_session() {
        let got = p(json!({"userIdentity": {"type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/app/i-0abc",
            "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/svc/app"}}}}));
        assert_eq!(got.id, "arn:aws:iam::111122223333:role/svc/app");
        assert_eq!(got.session_name.as_deref(), Some("i-0abc"));
        assert!(!got.service_originated);
    }

    #[test]
    fn assumed_role_without_issuer_derives_role() {
        let got = p(
            json!({"userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/s1"}}),
        );
        assert_eq!(got.id, "arn:aws:iam::111122223333:role/app");
        assert_eq!(got.account.as_deref(), Some("111122223333"));
    }

    #[test]
    fn users_and_root_keep_arn() {
        assert_eq!(
            p(json!({"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/alice"}})).id,
            "arn:aws:iam::1:user/alice"
        );
        assert_eq!(
            p(json!({"userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root"}})).id,
            "arn:aws:iam::1:root"
        );
    }

    #[test]
    fn cross_account_caller_without_arn() {
        let got = p(
            json!({"userIdentity": {"type": "AWSAccount", "principalId": "AROAX:s", "accountId": "444455556666"}}),
        );
        assert_eq!(got.id, "account:444455556666");
        assert_eq!(got.account.as_deref(), Some("444455556666"));
    }

    #[test]
    fn aws_itself_is_one_principal() {
        let cloudtrail = p(
            json!({"sourceIPAddress": "internal.amazonaws.com", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::086441151436:user/AWSCloudTrail", "accountId": "086441151436", "invokedBy": "internal.amazonaws.com"}}),
        );
        assert!(cloudtrail.aws_internal && cloudtrail.service_originated);
        assert_eq!(cloudtrail.id, "service:internal.amazonaws.com");
        let console = p(
            json!({"sourceIPAddress": "AWS Internal", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "invokedBy": "AWS Internal"}}),
        );
        assert!(!console.aws_internal);
        assert_eq!(console.id, "arn:aws:iam::111122223333:user/alice");
        // Seed 001: S3 decrypting for a customer's role, in an older log format.
        let for_role = p(
            json!({"sourceIPAddress": "internal.amazonaws.com", "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
                "arn": "arn:aws:sts::111122223333:assumed-role/Admins/example-user", "invokedBy": "internal.amazonaws.com",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/Admins"}}}}),
        );
        assert!(!for_role.aws_internal && for_role.service_originated);
        assert_eq!(for_role.id, "arn:aws:iam::111122223333:role/Admins");
    }

    #[test]
    fn service_originated_calls() {
        let via = p(
            json!({"sourceIPAddress": "s3.amazonaws.com", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a", "invokedBy": "s3.amazonaws.com"}}),
        );
        assert!(via.service_originated);
        assert_eq!(via.invoked_by.as_deref(), Some("s3.amazonaws.com"));
        let internal = p(
            json!({"sourceIPAddress": "AWS Internal", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a"}}),
        );
        assert!(internal.service_originated);
        let svc = p(
            json!({"sourceIPAddress": "internal.amazonaws.com", "userIdentity": {"type": "AWSService", "invokedBy": "dynamodb.amazonaws.com"}}),
        );
        assert_eq!(svc.id, "service:dynamodb.amazonaws.com");
        assert!(svc.service_originated);
        let direct = p(
            json!({"sourceIPAddress": "192.0.2.1", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a"}}),
        );
        assert!(!direct.service_originated);
    }

    #[test]
    fn missing_identity_is_unknown() {
        assert_eq!(p(json!({})).id, "unknown");
    }

    #[test]
    fn source_classes() {
        assert_eq!(
            classify_source(Some("AWS Internal")),
            SourceClass::AwsService
        );
        assert_eq!(
            classify_source(Some("kms.amazonaws.com")),
            SourceClass::AwsService
        );
        assert_eq!(classify_source(Some("10.1.2.3")), SourceClass::Private);
        assert_eq!(classify_source(Some("203.0.113.9")), SourceClass::Public);
        assert_eq!(classify_source(Some("172.01.01.001")), SourceClass::Unknown);
        assert_eq!(
            classify_source(Some("10.0.0.1, 52.1.1.1")),
            SourceClass::Private
        );
        assert_eq!(classify_source(None), SourceClass::Unknown);
    }
}
