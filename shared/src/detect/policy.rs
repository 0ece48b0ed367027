//! Key policy documents, as `CreateKey` and `PutKeyPolicy` carry them in
//! `requestParameters.policy`: who a policy lets in, and whether a condition keeps
//! the rest of the world out.
//!
//! The policy grammar is IAM's: `Statement` is one object or an array of them;
//! `Principal` is `"*"` or an object of `AWS`, `Service`, `Federated` or
//! `CanonicalUser`, each a string or an array; `NotPrincipal` is the complement;
//! `Condition` maps an operator (`StringEquals`, `ForAnyValue:StringLike`, ...) to
//! condition keys and their values. Condition key names are case-insensitive.
//! CloudTrail records the policy as the JSON text the caller sent; some exporters
//! (and Panther's test records) turn it into an object: both are read.

use serde_json::Value;

use crate::cloudtrail::record::is_account_id;

/// Why a policy could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy is not JSON: {0}")]
    NotJson(String),
    #[error("the policy is {0}, not a JSON object")]
    NotAnObject(&'static str),
    #[error("the policy has no Statement")]
    NoStatement,
    #[error("statement #{0} is not a JSON object")]
    BadStatement(usize),
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// Who a statement names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principals {
    /// `"*"` or `{"AWS": "*"}` (or `*` in an `AWS` array): anyone.
    pub anyone: bool,
    /// The `AWS` principals other than `*`: account ids and IAM ARNs.
    pub aws: Vec<String>,
    /// `Service` principals (`logs.amazonaws.com`, ...).
    pub services: Vec<String>,
}

/// One condition: operator, key (as written) and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

/// One policy statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `Principal`, or with `not_principal` the `NotPrincipal` element.
    pub principals: Principals,
    /// The statement names `NotPrincipal`: it applies to everyone except those.
    pub not_principal: bool,
    /// `Action` (or `NotAction`, see `not_action`) as written.
    pub actions: Vec<String>,
    pub not_action: bool,
    pub conditions: Vec<Condition>,
}

/// The condition keys that confine a statement to known callers: an organisation,
/// an account, a VPC endpoint or an AWS service acting for the key's users. Lower
/// case (keys compare case-insensitively).
pub const RESTRICTING_KEYS: &[&str] = &[
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:sourceaccount",
    "aws:sourcevpce",
    "kms:calleraccount",
    "kms:viaservice",
];

impl Condition {
    /// True when this condition confines the caller: a restricting key
    /// ([`RESTRICTING_KEYS`]) under a positive operator with at least one value that
    /// is not a bare wildcard. `StringNotEquals` and the other negated operators allow
    /// everyone but the named values, `Null` only tests that the key is present, and
    /// `StringLike` with `*` matches anything: none of them restrict.
    pub fn restricts(&self) -> bool {
        let key = self.key.to_ascii_lowercase();
        if !RESTRICTING_KEYS.contains(&key.as_str()) {
            return false;
        }
        // `ForAnyValue:StringEquals`, `StringEqualsIfExists`: the base operator.
        let base = self
            .operator
            .rsplit(':')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if base.contains("not") || base == "null" {
            return false;
        }
        // `...IfExists` passes when the key is absent: a caller outside any
        // organisation has no aws:PrincipalOrgID, so it does not confine.
        if base.ends_with("ifexists") {
            return false;
        }
        self.values.iter().any(|v| !v.trim().is_empty() && v != "*")
    }
}

impl Statement {
    /// An `Allow` that lets anyone in: principal `*` (or `NotPrincipal`, everyone but
    /// a few) with no condition that confines the caller.
    pub fn is_public(&self) -> bool {
        self.effect == Effect::Allow
            && (self.principals.anyone || self.not_principal)
            && !self.conditions.iter().any(Condition::restricts)
    }

    /// The accounts an `Allow` statement names through its `AWS` principals (account
    /// ids, `arn:...:iam::<account>:root|user/..|role/..`, `sts` session ARNs), in
    /// order, once each; placeholders that are not 12-digit accounts are skipped.
    pub fn allowed_accounts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if self.effect != Effect::Allow || self.not_principal {
            return out;
        }
        for p in &self.principals.aws {
            if let Some(a) = principal_account(p)
                && !out.iter().any(|x| x == a)
            {
                out.push(a.to_owned());
            }
        }
        out
    }

    /// The statement's name for notes: its `Sid`, else its position.
    pub fn label(&self, index: usize) -> String {
        match &self.sid {
            Some(s) if !s.is_empty() => format!("statement {s:?}"),
            _ => format!("statement #{}", index + 1),
        }
    }

    /// The cryptographic actions ([`cryptographic_actions`]) the statement's `Action`
    /// covers, or with `NotAction` those it does not exclude; whatever the effect.
    pub fn cryptographic_actions(&self) -> Vec<String> {
        cryptographic_actions()
            .into_iter()
            .filter(|a| {
                let listed = self.actions.iter().any(|p| action_matches(p, a));
                listed != self.not_action
            })
            .collect()
    }

    /// Whether the statement covers every cryptographic action (`kms:*`, `*`, ...).
    pub fn covers_all_cryptographic(&self) -> bool {
        self.cryptographic_actions().len() == cryptographic_actions().len()
    }

    /// `Action` as a short list for notes (`NotAction` is marked).
    pub fn actions_text(&self) -> String {
        let list = if self.actions.is_empty() {
            "(no actions)".to_owned()
        } else {
            self.actions.join(", ")
        };
        if self.not_action {
            format!("all actions except {list}")
        } else {
            list
        }
    }
}

/// Whether an IAM action pattern (`kms:Gen*`, `kms:*`, `*`, `kms:Decrypt`) covers
/// `action` (`kms:Decrypt`). IAM compares actions case-insensitively; `*` matches any
/// run of characters and `?` any one.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    fn glob(p: &[u8], a: &[u8]) -> bool {
        // Iterative wildcard match with one backtrack point (the last `*`).
        let (mut pi, mut ai) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ai < a.len() {
            if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&a[ai])) {
                pi += 1;
                ai += 1;
            } else if pi < p.len() && p[pi] == b'*' {
                star = Some((pi, ai));
                pi += 1;
            } else if let Some((sp, sa)) = star {
                pi = sp + 1;
                ai = sa + 1;
                star = Some((sp, sa + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == b'*')
    }
    glob(pattern.trim().as_bytes(), action.as_bytes())
}

/// The KMS operations that use a key's material (`Decrypt`, `Encrypt`, the
/// `GenerateDataKey` family, `ReEncrypt`, `Sign`, `Verify`, the MAC operations, ...),
/// as IAM actions (`kms:Decrypt`). `ReEncrypt` is one API whose IAM actions are
/// `kms:ReEncryptFrom` and `kms:ReEncryptTo`.
pub fn cryptographic_actions() -> Vec<String> {
    let mut out = Vec::new();
    for o in crate::detect::operations::OPERATIONS
        .iter()
        .filter(|o| o.is_cryptographic())
    {
        if o.name == crate::detect::operations::op::RE_ENCRYPT {
            out.push("kms:ReEncryptFrom".to_owned());
            out.push("kms:ReEncryptTo".to_owned());
        } else {
            out.push(format!("kms:{}", o.name));
        }
    }
    out
}

/// The account of an `AWS` principal: a bare 12-digit id or the account field of an
/// IAM or STS ARN.
pub fn principal_account(p: &str) -> Option<&str> {
    let p = p.trim();
    if is_account_id(p) {
        return Some(p);
    }
    let mut parts = p.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next()?;
    let service = parts.next()?;
    let _region = parts.next()?;
    let account = parts.next()?;
    ((service == "iam" || service == "sts") && is_account_id(account)).then_some(account)
}

/// A parsed key policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

impl PolicyDocument {
    /// Reads a policy given as JSON text (CloudTrail's form) or as an object.
    pub fn parse(v: &Value) -> Result<PolicyDocument, PolicyError> {
        match v {
            Value::String(s) => {
                let doc: Value =
                    serde_json::from_str(s).map_err(|e| PolicyError::NotJson(e.to_string()))?;
                PolicyDocument::from_object(&doc)
            }
            other => PolicyDocument::from_object(other),
        }
    }

    fn from_object(doc: &Value) -> Result<PolicyDocument, PolicyError> {
        let Value::Object(map) = doc else {
            return Err(PolicyError::NotAnObject(kind(doc)));
        };
        let raw: Vec<&Value> = match map.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(s @ Value::Object(_)) => vec![s],
            _ => return Err(PolicyError::NoStatement),
        };
        let mut statements = Vec::with_capacity(raw.len());
        for (i, s) in raw.into_iter().enumerate() {
            statements.push(statement(s).ok_or(PolicyError::BadStatement(i))?);
        }
        Ok(PolicyDocument { statements })
    }

    /// The statements that make the key public, with their positions.
    pub fn public_statements(&self) -> impl Iterator<Item = (usize, &Statement)> {
        self.statements
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_public())
    }

    pub fn is_public(&self) -> bool {
        self.public_statements().next().is_some()
    }

    /// The accounts other than `owner` that an `Allow` statement names, in order,
    /// once each.
    pub fn outside_accounts(&self, owner: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.statements {
            for a in s.allowed_accounts() {
                if Some(a.as_str()) != owner && !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        out
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string or an array of strings (other values as their JSON text).
fn strings(v: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match v {
        Value::Array(a) => a.iter().map(one).collect(),
        Value::Null => Vec::new(),
        other => vec![one(other)],
    }
}

fn principals(v: &Value) -> Principals {
    let mut p = Principals::default();
    match v {
        Value::String(s) => p.anyone = s.trim() == "*",
        Value::Object(m) => {
            for (k, val) in m {
                let list = strings(val);
                match k.as_str() {
                    "AWS" => {
                        for a in list {
                            if a.trim() == "*" {
                                p.anyone = true;
                            } else {
                                p.aws.push(a);
                            }
                        }
                    }
                    "Service" => p.services.extend(list),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    p
}

fn statement(v: &Value) -> Option<Statement> {
    let m = v.as_object()?;
    // IAM reads the effect case-sensitively; anything but "Allow" grants nothing.
    let effect = match m.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        _ => Effect::Deny,
    };
    let (principals, not_principal) = match (m.get("Principal"), m.get("NotPrincipal")) {
        (Some(p), _) => (principals(p), false),
        (None, Some(np)) => (principals(np), true),
        (None, None) => (Principals::default(), false),
    };
    let (actions, not_action) = match (m.get("Action"), m.get("NotAction")) {
        (Some(a), _) => (strings(a), false),
        (None, Some(na)) => (strings(na), true),
        (None, None) => (Vec::new(), false),
    };
    let mut conditions = Vec::new();
    if let Some(Value::Object(ops)) = m.get("Condition") {
        for (operator, keys) in ops {
            if let Value::Object(keys) = keys {
                for (key, values) in keys {
                    conditions.push(Condition {
                        operator: operator.clone(),
                        key: key.clone(),
                        values: strings(values),
                    });
                }
            }
        }
    }
    Some(Statement {
        sid: m.get("Sid").and_then(Value::as_str).map(str::to_owned),
        effect,
        principals,
        not_principal,
        actions,
        not_action,
        conditions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> PolicyDocument {
        PolicyDocument::parse(&Value::String(v.to_string())).expect("policy")
    }

    fn public(statement: Value) -> bool {
        doc(json!({"Version": "2012-10-17", "Statement": [statement]})).is_public()
    }

    #[test]
    fn principal_forms() {
        for p in [
            json!("*"),
            json!({"AWS": "*"}),
            json!({"AWS": ["arn:aws:iam::111122223333:root", "*"]}),
        ] {
            assert!(
                public(json!({"Effect": "Allow", "Principal": p, "Action": "kms:Decrypt"})),
                "{p}"
            );
        }
        assert!(!public(
            json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*"})
        ));
        assert!(!public(
            json!({"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "kms:Encrypt*"})
        ));
        // A Deny for everyone makes nothing public.
        assert!(!public(
            json!({"Effect": "Deny", "Principal": "*", "Action": "kms:*"})
        ));
        // Allow with NotPrincipal: everyone but the named ones.
        assert!(public(
            json!({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*"})
        ));
        // A single statement object, and an object policy (not text).
        let obj =
            json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt"}});
        assert!(PolicyDocument::parse(&obj).expect("object").is_public());
    }

    #[test]
    fn restricting_conditions() {
        let with = |op: &str, key: &str, val: Value| {
            public(
                json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt",
                "Condition": {op: {key: val}}}),
            )
        };
        for (op, key) in [
            ("StringEquals", "aws:PrincipalOrgID"),
            ("StringEquals", "AWS:PRINCIPALORGID"),
            ("StringLike", "aws:PrincipalAccount"),
            ("StringEquals", "aws:SourceAccount"),
            ("StringEquals", "aws:sourceVpce"),
            ("StringEquals", "kms:CallerAccount"),
            ("ForAnyValue:StringEquals", "kms:ViaService"),
        ] {
            assert!(!with(op, key, json!("111122223333")), "{op} {key}");
        }
        // Conditions on other keys, negated operators, Null, IfExists and bare
        // wildcards do not confine the caller.
        assert!(with("Bool", "aws:SecureTransport", json!("true")));
        assert!(with(
            "StringNotEquals",
            "aws:PrincipalAccount",
            json!("111122223333")
        ));
        assert!(with("Null", "aws:PrincipalOrgID", json!("false")));
        assert!(with(
            "StringEqualsIfExists",
            "aws:PrincipalOrgID",
            json!("o-1")
        ));
        assert!(with("StringLike", "aws:PrincipalOrgID", json!("*")));
        assert!(with("StringEquals", "kms:CallerAccount", json!([])));
        // One restricting condition among others is enough.
        assert!(!public(
            json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}, "StringEquals": {"aws:PrincipalOrgID": "o-1"}}})
        ));
    }

    #[test]
    fn accounts_and_labels() {
        let d = doc(json!({"Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*"},
            {"Effect": "Allow", "Principal": {"AWS": ["999988887777", "arn:aws:iam::444455556666:role/x", "arn:aws:sts::444455556666:assumed-role/x/s", "12345"]}, "Action": ["kms:Decrypt", "kms:DescribeKey"]},
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::777788889999:root"}, "Action": "kms:*"}
        ]}));
        assert_eq!(
            d.outside_accounts(Some("111122223333")),
            ["999988887777", "444455556666"]
        );
        assert_eq!(
            d.statements[0].label(0),
            "statement \"Enable IAM User Permissions\""
        );
        assert_eq!(d.statements[1].label(1), "statement #2");
        assert_eq!(
            d.statements[1].actions_text(),
            "kms:Decrypt, kms:DescribeKey"
        );
        assert_eq!(
            principal_account("arn:aws:kms:us-east-1:111122223333:key/x"),
            None
        );
    }

    #[test]
    fn cryptographic_actions_of_a_statement() {
        let st = |action: Value, not: bool| {
            let key = if not { "NotAction" } else { "Action" };
            doc(json!({"Statement": [{"Effect": "Allow", "Principal": "*", key: action}]}))
                .statements
                .remove(0)
        };
        let all = cryptographic_actions();
        assert!(all.contains(&"kms:GenerateDataKeyWithoutPlaintext".to_owned()));
        assert!(all.contains(&"kms:ReEncryptFrom".to_owned()));
        assert!(
            !all.iter()
                .any(|a| a == "kms:DescribeKey" || a == "kms:ReEncrypt")
        );
        for a in [
            json!("kms:*"),
            json!("*"),
            json!("KMS:*"),
            json!(["kms:Describe*", "*"]),
        ] {
            assert!(st(a.clone(), false).covers_all_cryptographic(), "{a}");
        }
        assert_eq!(
            st(json!("kms:Decrypt"), false).cryptographic_actions(),
            ["kms:Decrypt"]
        );
        assert_eq!(
            st(json!("kms:GenerateDataKey*"), false).cryptographic_actions(),
            [
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyPair",
                "kms:GenerateDataKeyPairWithoutPlaintext",
                "kms:GenerateDataKeyWithoutPlaintext"
            ]
        );
        assert_eq!(
            st(json!("kms:Gen*Mac"), false).cryptographic_actions(),
            ["kms:GenerateMac"]
        );
        assert_eq!(
            st(json!("kms:ReEncrypt*"), false).cryptographic_actions(),
            ["kms:ReEncryptFrom", "kms:ReEncryptTo"]
        );
        assert_eq!(
            st(json!("kms:?erify"), false).cryptographic_actions(),
            ["kms:Verify"]
        );
        // Administration only: no cryptographic use.
        let admin = json!([
            "kms:Create*",
            "kms:Describe*",
            "kms:Enable*",
            "kms:List*",
            "kms:Put*",
            "kms:Update*",
            "kms:Revoke*",
            "kms:Disable*",
            "kms:Get*",
            "kms:Delete*",
            "kms:ScheduleKeyDeletion",
            "kms:CancelKeyDeletion"
        ]);
        assert_eq!(
            st(admin, false).cryptographic_actions(),
            Vec::<String>::new()
        );
        // NotAction: everything but the listed ones.
        let na = st(json!(["kms:Decrypt", "kms:ReEncrypt*"]), true).cryptographic_actions();
        assert!(na.contains(&"kms:Encrypt".to_owned()) && !na.contains(&"kms:Decrypt".to_owned()));
        assert!(!na.iter().any(|a| a.starts_with("kms:ReEncrypt")));
        assert!(st(json!("kms:*"), true).cryptographic_actions().is_empty());
        assert!(st(json!("s3:*"), true).covers_all_cryptographic());
        assert!(!action_matches("kms:Decrypt*", "kms:Encrypt"));
        assert!(action_matches("k*s:*crypt", "kms:Decrypt"));
    }

    #[test]
    fn bad_policies_are_errors() {
        assert!(matches!(
            PolicyDocument::parse(&json!("{not json")),
            Err(PolicyError::NotJson(_))
        ));
        assert_eq!(
            PolicyDocument::parse(&json!(["x"])),
            Err(PolicyError::NotAnObject("an array"))
        );
        assert_eq!(
            PolicyDocument::parse(&json!({"Version": "2012-10-17"})),
            Err(PolicyError::NoStatement)
        );
        assert_eq!(
            PolicyDocument::parse(&json!({"Statement": [{"Effect": "Allow"}, 3]})),
            Err(PolicyError::BadStatement(1))
        );
    }
}
