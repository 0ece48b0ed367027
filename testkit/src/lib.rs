//! keytrail's one generator of synthetic CloudTrail records: the reference workloads
//! of `keytrail generate` (for benchmarks and the before/after equivalence test), the
//! records of the criterion benches (`shared/benches`) and of the enricher bench
//! (`tests/bench_enrich.rs`). Free of the AWS SDK and of keytrail itself.
//!
//! * **W1**: one delivery of 60,000 records (about 70 MB of JSON, 7 MB gzipped), the
//!   file of a busy account.
//! * **W2**: a month of deliveries, 1,440 files of 60 records (every 30 minutes for
//!   30 days), with an hourly digest file, as CloudTrail lays them out in S3.
//!
//! Records are a realistic mix: about a third are KMS calls (most of them Decrypt
//! and GenerateDataKey made by AWS services on a principal's behalf, the key only in
//! `resources[]`), the rest STS, S3, EC2, Lambda, SSM, Secrets Manager, DynamoDB and
//! CloudWatch Logs calls. Callers are assumed roles with per-instance session names,
//! IAM users and AWS services; calls carry encryption contexts; about 2% fail.
//!
//! The share of KMS calls and of failed KMS calls can be changed ([`Mix`]), and the
//! keys can be replaced ([`Generator::use_keys`], e.g. by a key created in a test's
//! KMS); W1 and W2 use the defaults.
//!
//! Same arguments, same bytes: the PRNG is seeded (SplitMix64) and gzip carries no
//! timestamp.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const OTHER_ACCOUNT: &str = "444455556666";
const REGION: &str = "us-east-1";
const TRAIL: &str = "org-trail";
const BUCKET: &str = "aws-cloudtrail-logs-111122223333-keytrail";

/// SplitMix64: tiny, fast and the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    pub fn chance(&mut self, percent_tenths: u64) -> bool {
        self.below(1000) < percent_tenths
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(n);
        s
    }
    pub fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
    pub fn upper(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        (0..n).map(|_| *self.pick(A) as char).collect()
    }
}

/// One record, fields in the order CloudTrail writes them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rec {
    event_version: &'static str,
    user_identity: Value,
    event_time: String,
    event_source: String,
    event_name: String,
    aws_region: &'static str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: String,
    user_agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    request_parameters: Value,
    response_elements: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_event_data: Option<Value>,
    #[serde(rename = "requestID")]
    request_id: String,
    #[serde(rename = "eventID")]
    event_id: String,
    read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<Value>,
    event_type: &'static str,
    management_event: bool,
    recipient_account_id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_event_id: Option<String>,
    event_category: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_details: Option<Value>,
}

/// The fixed cast: keys, roles, sessions, users, buckets.
pub struct World {
    keys: Vec<String>,
    key_arns: Vec<String>,
    aliases: Vec<(String, usize)>,
    roles: Vec<&'static str>,
    instances: Vec<String>,
    users: Vec<&'static str>,
    buckets: Vec<&'static str>,
    secrets: Vec<String>,
    ips: Vec<String>,
}

/// A stable unique id for a name (as IAM gives each role and user one).
fn role_id(name: &str) -> String {
    let mut r = Rng::new(
        name.bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    );
    format!("AROA{}", r.upper(17))
}

/// A stable access key id per session or user.
fn access_key(prefix: &str, owner: &str) -> String {
    let mut r = Rng::new(
        owner
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b))),
    );
    format!("{prefix}{}", r.upper(16))
}

const SERVICES: &[&str] = &[
    "s3.amazonaws.com",
    "secretsmanager.amazonaws.com",
    "ssm.amazonaws.com",
    "dynamodb.amazonaws.com",
    "lambda.amazonaws.com",
    "ec2.amazonaws.com",
];

const SDK_AGENTS: &[&str] = &[
    "aws-sdk-java/2.25.60 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 exec-env/AWS_ECS_FARGATE",
    "Boto3/1.34.120 md/Botocore#1.34.120 ua/2.0 os/linux#5.10.219-208.866.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.120",
    "aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22.4 md/GOOS#linux md/GOARCH#amd64 api/kms#1.35.0",
    "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.92 md/command#kms.decrypt",
    "aws-sdk-rust/1.3.3 os/linux lang/rust/1.79.0",
    "aws-internal/3 aws-sdk-java/1.12.720",
    "Boto3/1.34.120 Python/3.12.3 Linux/5.10 Botocore/1.34.120",
];

impl World {
    pub fn new(rng: &mut Rng) -> World {
        let keys: Vec<String> = (0..24).map(|_| rng.uuid()).collect();
        let aliases = [
            "app-data",
            "s3-default",
            "secrets",
            "ebs",
            "billing",
            "audit",
        ]
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("alias/{a}"), i))
        .collect();
        let key_arns = keys
            .iter()
            .map(|k| format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{k}"))
            .collect();
        World {
            keys,
            key_arns,
            aliases,
            roles: vec![
                "app-server",
                "batch-worker",
                "etl-pipeline",
                "web-frontend",
                "billing-service",
                "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
            ],
            instances: (0..400).map(|_| format!("i-0{}", rng.hex(16))).collect(),
            users: vec!["alice", "bob", "deploy-bot", "ci-runner"],
            buckets: vec!["app-uploads", "data-lake-raw", "billing-exports", "backups"],
            secrets: (0..30)
                .map(|i| format!("prod/service-{i}/db-{}", rng.upper(6)))
                .collect(),
            ips: (0..200)
                .map(|_| {
                    format!(
                        "{}.{}.{}.{}",
                        rng.pick(&[203u64, 198, 54, 52, 3, 18]),
                        rng.below(256),
                        rng.below(256),
                        1 + rng.below(254)
                    )
                })
                .collect(),
        }
    }

    fn key_arn(&self, i: usize) -> String {
        self.key_arns[i % self.key_arns.len()].clone()
    }

    /// The bare key id of key `i`, as a request may name it.
    fn key_id(&self, i: usize) -> String {
        self.keys[i % self.keys.len()].clone()
    }
}

/// What the records are made of, in tenths of a percent.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    /// Records that are KMS calls (the rest: STS, S3, EC2, ...). W1/W2: 330.
    pub kms_permille: u64,
    /// KMS calls made by a principal itself (not by a service on its behalf) that
    /// fail. W1/W2: 20.
    pub failure_permille: u64,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            kms_permille: 330,
            failure_permille: 20,
        }
    }
}

impl Mix {
    /// KMS calls only.
    pub fn kms_only() -> Mix {
        Mix {
            kms_permille: 1000,
            ..Mix::default()
        }
    }
}

/// Generates records for deliveries covering `[start, start + span)`.
pub struct Generator {
    rng: Rng,
    world: World,
    mix: Mix,
}

impl Generator {
    /// The W1/W2 generator: default [`Mix`].
    pub fn new(seed: u64) -> Generator {
        Generator::with_mix(seed, Mix::default())
    }

    pub fn with_mix(seed: u64, mix: Mix) -> Generator {
        let mut rng = Rng::new(seed);
        let world = World::new(&mut rng);
        Generator { rng, world, mix }
    }

    /// Use these key ARNs (at least one) instead of the generated keys; the aliases
    /// point at them in turn. Draws nothing from the PRNG.
    pub fn use_keys(&mut self, arns: &[String]) {
        if arns.is_empty() {
            return;
        }
        self.world.keys = arns
            .iter()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_owned())
            .collect();
        self.world.key_arns = arns.to_vec();
    }

    fn time(&mut self, start: DateTime<Utc>, span_s: i64) -> String {
        let t = start + Duration::seconds(self.rng.below(span_s.max(1) as u64) as i64);
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    fn assumed_role(&mut self, t: &str) -> (Value, String) {
        let w = &self.world;
        let role = *self.rng.pick(&w.roles);
        let session = if role.starts_with("AWSReserved") {
            format!("{}@example.com", self.rng.pick(&w.users))
        } else {
            self.rng.pick(&w.instances).clone()
        };
        let account = if self.rng.chance(15) {
            OTHER_ACCOUNT
        } else {
            ACCOUNT
        };
        let role_id = role_id(role);
        let ui = json!({
            "type": "AssumedRole",
            "principalId": format!("{role_id}:{session}"),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
            "accountId": account,
            "accessKeyId": access_key("ASIA", &session),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": format!("arn:aws:iam::{account}:role/{role}"),
                    "accountId": account,
                    "userName": role
                },
                "attributes": {"creationDate": t, "mfaAuthenticated": "false"}
            }
        });
        (ui, self.rng.pick(SDK_AGENTS).to_string())
    }

    fn iam_user(&mut self, t: &str) -> (Value, String) {
        let user = *self.rng.pick(&self.world.users);
        let ui = json!({
            "type": "IAMUser",
            "principalId": format!("AIDA{}", &role_id(user)[4..]),
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/{user}"),
            "accountId": ACCOUNT,
            "accessKeyId": access_key("AKIA", user),
            "userName": user,
            "sessionContext": {"attributes": {"creationDate": t, "mfaAuthenticated": "true"}}
        });
        (ui, self.rng.pick(SDK_AGENTS).to_string())
    }

    fn tls(&mut self, host: &str) -> Value {
        json!({
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": host
        })
    }

    fn base(&mut self, t: String, source: &str, name: &str) -> Rec {
        let (ui, agent) = if self.rng.chance(150) {
            self.iam_user(&t)
        } else {
            self.assumed_role(&t)
        };
        let ip = self.rng.pick(&self.world.ips).clone();
        let host = format!(
            "{}.{REGION}.amazonaws.com",
            source.trim_end_matches(".amazonaws.com")
        );
        let tls = Some(self.tls(&host));
        Rec {
            event_version: "1.09",
            user_identity: ui,
            event_time: t,
            event_source: source.to_owned(),
            event_name: name.to_owned(),
            aws_region: REGION,
            source_ip_address: ip,
            user_agent: agent,
            error_code: None,
            error_message: None,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            additional_event_data: None,
            request_id: self.rng.uuid(),
            event_id: self.rng.uuid(),
            read_only: true,
            resources: None,
            event_type: "AwsApiCall",
            management_event: true,
            recipient_account_id: ACCOUNT,
            shared_event_id: None,
            event_category: "Management",
            tls_details: tls,
        }
    }

    /// A context as the calling service writes it.
    fn context(&mut self, service: &str) -> Value {
        match service {
            "s3.amazonaws.com" => {
                let b = self.rng.pick(&self.world.buckets);
                json!({"aws:s3:arn": format!("arn:aws:s3:::{b}/data/{}/part-{}.parquet", self.rng.below(90), self.rng.below(1000))})
            }
            "secretsmanager.amazonaws.com" => {
                let s = self.rng.pick(&self.world.secrets).clone();
                json!({"SecretARN": format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{s}"), "SecretVersionId": self.rng.uuid()})
            }
            "ebs" | "ec2.amazonaws.com" => {
                json!({"aws:ebs:id": format!("vol-0{}", self.rng.hex(16))})
            }
            "lambda.amazonaws.com" => {
                json!({"aws:lambda:FunctionArn": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker-{}", self.rng.below(20))})
            }
            _ => json!({
                "customerId": format!("cust-{}", self.rng.below(5000)),
                "department": self.rng.pick(&["sales", "finance", "ops", "research"]).to_string()
            }),
        }
    }

    fn kms(&mut self, t: String) -> Rec {
        let roll = self.rng.below(1000);
        let name = match roll {
            0..550 => "Decrypt",
            550..800 => "GenerateDataKey",
            800..880 => "Encrypt",
            880..930 => "DescribeKey",
            930..950 => "GenerateDataKeyWithoutPlaintext",
            950..965 => "ReEncrypt",
            965..975 => "CreateGrant",
            975..985 => "RetireGrant",
            985..993 => "ListAliases",
            993..997 => "GetKeyPolicy",
            997 => "CreateKey",
            998 => "ScheduleKeyDeletion",
            _ => "DisableKey",
        };
        let mut r = self.base(t, "kms.amazonaws.com", name);
        let ki = self.rng.below(self.world.keys.len() as u64) as usize;
        let key_arn = self.world.key_arn(ki);
        let by_service = matches!(name, "Decrypt" | "GenerateDataKey") && self.rng.chance(700);
        let service = if by_service {
            (*self.rng.pick(SERVICES)).to_owned()
        } else {
            "app".to_owned()
        };
        if by_service {
            if let Some(ui) = r.user_identity.as_object_mut() {
                ui.insert("invokedBy".into(), Value::String(service.clone()));
            }
            r.source_ip_address = service.clone();
            r.user_agent = service.clone();
            r.tls_details = None;
        }
        r.resources =
            Some(json!([{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn}]));
        r.request_parameters = match name {
            "Decrypt" => json!({
                "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "encryptionContext": self.context(&service)
            }),
            "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
                let key_id = match self.rng.below(3) {
                    0 => key_arn.clone(),
                    1 => self.world.key_id(ki),
                    _ => {
                        let (a, i) = self.rng.pick(&self.world.aliases).clone();
                        r.resources = Some(
                            json!([{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": self.world.key_arn(i)}]),
                        );
                        a
                    }
                };
                json!({"keyId": key_id, "keySpec": "AES_256", "encryptionContext": self.context(&service)})
            }
            "Encrypt" => json!({
                "keyId": key_arn,
                "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "encryptionContext": self.context("app")
            }),
            "ReEncrypt" => {
                let dest = self
                    .world
                    .key_arn(self.rng.below(self.world.keys.len() as u64) as usize);
                r.resources = Some(json!([
                    {"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn},
                    {"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": dest}
                ]));
                json!({"destinationKeyId": dest, "sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                       "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
            }
            "CreateGrant" => json!({
                "keyId": key_arn,
                "granteePrincipal": format!("arn:aws:iam::{ACCOUNT}:role/batch-worker"),
                "operations": ["Decrypt", "GenerateDataKeyWithoutPlaintext"],
                "constraints": {"encryptionContextSubset": {"aws:ebs:id": format!("vol-0{}", self.rng.hex(16))}}
            }),
            "RetireGrant" => json!({"keyId": key_arn, "grantId": self.rng.hex(64)}),
            "ListAliases" => {
                r.resources = None;
                json!({"limit": 100})
            }
            "CreateKey" => {
                let new = self.rng.uuid();
                r.resources = Some(json!([{"accountId": ACCOUNT, "type": "AWS::KMS::Key",
                    "ARN": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{new}")}]));
                r.response_elements = json!({"keyMetadata": {
                    "AWSAccountId": ACCOUNT, "keyId": new,
                    "arn": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{new}"),
                    "keyState": "Enabled", "keyUsage": "ENCRYPT_DECRYPT", "keySpec": "SYMMETRIC_DEFAULT",
                    "origin": "AWS_KMS", "keyManager": "CUSTOMER", "multiRegion": false}});
                json!({"keyUsage": "ENCRYPT_DECRYPT", "keySpec": "SYMMETRIC_DEFAULT",
                       "description": "generated key", "origin": "AWS_KMS", "bypassPolicyLockoutSafetyCheck": false})
            }
            "ScheduleKeyDeletion" => {
                r.response_elements = json!({"keyId": key_arn, "keyState": "PendingDeletion", "pendingWindowInDays": 7});
                json!({"keyId": self.world.key_id(ki), "pendingWindowInDays": 7})
            }
            _ => json!({"keyId": key_arn}),
        };
        r.read_only = matches!(name, "DescribeKey" | "ListAliases" | "GetKeyPolicy");
        if !by_service && self.rng.chance(self.mix.failure_permille) {
            let (code, msg) = *self.rng.pick(&[
                ("AccessDenied", "User is not authorized to perform: kms:Decrypt on this resource because no resource-based policy allows the kms:Decrypt action"),
                ("InvalidCiphertextException", ""),
                ("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation."),
                ("ThrottlingException", "Rate exceeded"),
            ]);
            r.error_code = Some(code.to_owned());
            if !msg.is_empty() {
                r.error_message = Some(msg.to_owned());
            }
        }
        if by_service && self.rng.chance(300) {
            r.user_identity = json!({"type": "AWSService", "invokedBy": service});
            r.shared_event_id = Some(self.rng.uuid());
            r.event_type = "AwsServiceEvent";
        }
        r
    }

    fn other(&mut self, t: String) -> Rec {
        let roll = self.rng.below(100);
        let (source, name) = match roll {
            0..20 => ("sts.amazonaws.com", "AssumeRole"),
            20..40 => ("s3.amazonaws.com", "GetBucketAcl"),
            40..55 => ("ec2.amazonaws.com", "DescribeInstances"),
            55..65 => ("secretsmanager.amazonaws.com", "GetSecretValue"),
            65..75 => ("ssm.amazonaws.com", "GetParameter"),
            75..85 => ("dynamodb.amazonaws.com", "DescribeTable"),
            85..93 => ("lambda.amazonaws.com", "GetFunction"),
            _ => ("logs.amazonaws.com", "CreateLogStream"),
        };
        let mut r = self.base(t, source, name);
        match name {
            "AssumeRole" => {
                let role = *self.rng.pick(&self.world.roles);
                let session = self.rng.pick(&self.world.instances).clone();
                r.request_parameters = json!({
                    "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                    "roleSessionName": session, "durationSeconds": 3600});
                r.response_elements = json!({
                    "credentials": {"accessKeyId": format!("ASIA{}", self.rng.upper(16)),
                        "expiration": "Oct 1, 2026, 1:00:00 PM"},
                    "assumedRoleUser": {"assumedRoleId": format!("{}:{session}", role_id(role)),
                        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")}});
                r.resources = Some(json!([{"accountId": ACCOUNT, "type": "AWS::IAM::Role",
                    "ARN": format!("arn:aws:iam::{ACCOUNT}:role/{role}")}]));
                r.shared_event_id = Some(self.rng.uuid());
            }
            "GetBucketAcl" => {
                let b = *self.rng.pick(&self.world.buckets);
                r.request_parameters =
                    json!({"bucketName": b, "Host": format!("{b}.s3.amazonaws.com"), "acl": ""});
                r.additional_event_data = Some(json!({"SignatureVersion": "SigV4",
                    "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0,
                    "AuthenticationMethod": "AuthHeader", "x-amz-id-2": self.rng.hex(24),
                    "bytesTransferredOut": 550}));
                r.resources = Some(
                    json!([{"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{b}")}]),
                );
            }
            "DescribeInstances" => {
                r.request_parameters = json!({"instancesSet": {"items": [{"instanceId": self.rng.pick(&self.world.instances)}]},
                    "filterSet": {}});
            }
            "GetSecretValue" => {
                let s = self.rng.pick(&self.world.secrets).clone();
                r.request_parameters = json!({"secretId": format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{s}")});
            }
            "GetParameter" => {
                r.request_parameters = json!({"name": format!("/prod/app/config-{}", self.rng.below(50)), "withDecryption": true});
            }
            "DescribeTable" => {
                r.request_parameters =
                    json!({"tableName": format!("orders-{}", self.rng.below(8))});
            }
            "GetFunction" => {
                r.request_parameters =
                    json!({"functionName": format!("worker-{}", self.rng.below(20))});
            }
            _ => {
                r.read_only = false;
                r.request_parameters = json!({"logGroupName": format!("/aws/lambda/worker-{}", self.rng.below(20)),
                    "logStreamName": format!("2026/10/01/[$LATEST]{}", self.rng.hex(32))});
            }
        }
        if self.rng.chance(15) {
            r.error_code = Some("AccessDenied".into());
            r.error_message = Some(format!(
                "User: {} is not authorized to perform this action",
                r.user_identity["arn"].as_str().unwrap_or("unknown")
            ));
            r.response_elements = Value::Null;
        }
        r
    }

    /// The next record, at a time in `[start, start + span_s)`.
    fn next_rec(&mut self, start: DateTime<Utc>, span_s: i64) -> Rec {
        let t = self.time(start, span_s);
        if self.rng.chance(self.mix.kms_permille) {
            self.kms(t)
        } else {
            self.other(t)
        }
    }

    /// The records of one delivery, as the JSON text of a CloudTrail log file.
    pub fn delivery(&mut self, start: DateTime<Utc>, span_s: i64, records: usize) -> Vec<u8> {
        self.delivery_until(start, span_s, |n, _| n < records)
    }

    /// One delivery of at least `bytes` bytes of JSON (records are added until it is).
    pub fn delivery_of_size(&mut self, start: DateTime<Utc>, span_s: i64, bytes: usize) -> Vec<u8> {
        self.delivery_until(start, span_s, |_, len| len < bytes)
    }

    /// Adds records while `more(records so far, bytes so far)`.
    fn delivery_until(
        &mut self,
        start: DateTime<Utc>,
        span_s: i64,
        mut more: impl FnMut(usize, usize) -> bool,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 << 16);
        out.extend_from_slice(b"{\"Records\":[");
        let mut n = 0;
        while more(n, out.len()) {
            if n > 0 {
                out.push(b',');
            }
            let rec = self.next_rec(start, span_s);
            // Serialising a struct of strings and Values into a Vec cannot fail.
            serde_json::to_writer(&mut out, &rec).unwrap_or_default();
            n += 1;
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// `records` records as JSON values (the same records [`Generator::delivery`]
    /// writes, for a caller that builds its own files or parses them directly).
    pub fn records(&mut self, start: DateTime<Utc>, span_s: i64, records: usize) -> Vec<Value> {
        (0..records)
            .map(|_| serde_json::to_value(self.next_rec(start, span_s)).unwrap_or_default())
            .collect()
    }
}

/// How many records a delivery holds: its JSON text parsed back.
pub fn record_count(delivery: &[u8]) -> usize {
    serde_json::from_slice::<Value>(delivery)
        .ok()
        .and_then(|v| v["Records"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// Gzip with no timestamp in the header: the same bytes every time.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::with_capacity(data.len() / 8), Compression::default());
    // Writing into a Vec cannot fail.
    e.write_all(data).unwrap_or_default();
    e.finish().unwrap_or_default()
}

/// Gzip as several concatenated members (as some writers produce), a member every
/// `member_bytes` of uncompressed input: the boundaries usually fall inside a
/// record, so a reader must treat the members as one stream.
pub fn gzip_members(data: &[u8], member_bytes: usize) -> Vec<u8> {
    data.chunks(member_bytes.max(1)).flat_map(gzip).collect()
}

fn annotate(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: cannot {what}: {e}", path.display()))
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| annotate(e, "create", dir))?;
    }
    let mut f = BufWriter::new(fs::File::create(path).map_err(|e| annotate(e, "create", path))?);
    f.write_all(bytes)
        .and_then(|()| f.flush())
        .map_err(|e| annotate(e, "write", path))
}

fn log_path(out: &Path, delivered: DateTime<Utc>, rng: &mut Rng) -> (String, PathBuf) {
    let key = format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{}/{ACCOUNT}_CloudTrail_{REGION}_{}_{}.json.gz",
        delivered.format("%Y/%m/%d"),
        delivered.format("%Y%m%dT%H%MZ"),
        {
            let mut id = String::new();
            for _ in 0..16 {
                id.push(
                    *rng.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                        as char,
                );
            }
            id
        }
    );
    let path = out.join(&key);
    (key, path)
}

/// What was written.
#[derive(Debug, Default, Serialize)]
pub struct Written {
    pub files: u64,
    pub digest_files: u64,
    pub records: u64,
    pub uncompressed_bytes: u64,
    pub compressed_bytes: u64,
}

/// How big the one delivery of [`single_with`] is.
#[derive(Clone, Copy, Debug)]
pub enum Size {
    Records(usize),
    /// At least this many bytes of JSON.
    Bytes(usize),
}

/// W1 (or a smaller single delivery): one file of `records` records.
pub fn single(out: &Path, records: usize, seed: u64) -> io::Result<Written> {
    single_with(out, Size::Records(records), None, seed).map(|(w, _)| w)
}

/// One delivery of `size`, gzipped as one member or (`member_bytes`) as several;
/// returns what was written and the file's path.
pub fn single_with(
    out: &Path,
    size: Size,
    member_bytes: Option<usize>,
    seed: u64,
) -> io::Result<(Written, PathBuf)> {
    let mut g = Generator::new(seed);
    let start = Utc
        .with_ymd_and_hms(2026, 10, 1, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let (body, records) = match size {
        Size::Records(n) => (g.delivery(start, 300, n), n),
        Size::Bytes(b) => {
            let body = g.delivery_of_size(start, 300, b);
            let n = record_count(&body);
            (body, n)
        }
    };
    let gz = match member_bytes {
        Some(m) => gzip_members(&body, m),
        None => gzip(&body),
    };
    let (_, path) = log_path(out, start + Duration::minutes(5), &mut g.rng);
    write_file(&path, &gz)?;
    let written = Written {
        files: 1,
        digest_files: 0,
        records: records as u64,
        uncompressed_bytes: body.len() as u64,
        compressed_bytes: gz.len() as u64,
    };
    Ok((written, path))
}

/// W2: `days` days of deliveries every 30 minutes, `records` records each, with an
/// hourly digest file naming the hour's log files and their SHA-256.
pub fn month(out: &Path, days: u32, records: usize, seed: u64) -> io::Result<Written> {
    use sha2::{Digest, Sha256};
    let mut g = Generator::new(seed);
    let first = Utc
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut w = Written::default();
    let mut hour_files: Vec<Value> = Vec::new();
    let deliveries = i64::from(days) * 48;
    for n in 0..deliveries {
        let start = first + Duration::minutes(30 * n);
        let body = g.delivery(start, 1800, records);
        let gz = gzip(&body);
        let delivered = start + Duration::minutes(30 + 5);
        let (key, path) = log_path(out, delivered, &mut g.rng);
        write_file(&path, &gz)?;
        w.files += 1;
        w.records += records as u64;
        w.uncompressed_bytes += body.len() as u64;
        w.compressed_bytes += gz.len() as u64;
        hour_files.push(json!({
            "s3Bucket": BUCKET, "s3Object": key,
            "hashValue": format!("{:x}", Sha256::digest(&body)), "hashAlgorithm": "SHA-256",
            "newestEventTime": (start + Duration::seconds(1799)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "oldestEventTime": start.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        }));
        if n % 2 == 1 {
            let end = start + Duration::minutes(30);
            let digest = json!({
                "awsAccountId": ACCOUNT,
                "digestStartTime": (end - Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "digestEndTime": end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "digestS3Bucket": BUCKET,
                "digestS3Object": "",
                "digestPublicKeyFingerprint": g.rng.hex(32),
                "digestSignatureAlgorithm": "SHA256withRSA",
                "newestEventTime": (end - Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "oldestEventTime": (end - Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "previousDigestS3Bucket": BUCKET,
                "previousDigestHashValue": g.rng.hex(64),
                "previousDigestHashAlgorithm": "SHA-256",
                "previousDigestSignature": g.rng.hex(512),
                "logFiles": std::mem::take(&mut hour_files)
            });
            let path = out.join(format!(
                "AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/{}/{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_{}.json.gz",
                end.format("%Y/%m/%d"),
                end.format("%Y%m%dT%H%M%SZ")
            ));
            write_file(&path, &gzip(&serde_json::to_vec(&digest)?))?;
            w.digest_files += 1;
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_records_and_a_kms_share() {
        let start = Utc
            .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
            .single()
            .expect("t");
        let a = Generator::new(7).delivery(start, 300, 500);
        let b = Generator::new(7).delivery(start, 300, 500);
        assert_eq!(a, b);
        let c = Generator::new(8).delivery(start, 300, 500);
        assert_ne!(a, c);
        let v: Value = serde_json::from_slice(&a).expect("valid JSON");
        let recs = v["Records"].as_array().expect("Records");
        assert_eq!(recs.len(), 500);
        let kms = recs
            .iter()
            .filter(|r| r["eventSource"] == "kms.amazonaws.com")
            .count();
        assert!((100..250).contains(&kms), "{kms} KMS records of 500");
        let per_record = a.len() / 500;
        assert!(
            (900..1500).contains(&per_record),
            "{per_record} bytes per record"
        );
    }

    #[test]
    fn members_decompress_to_the_same_stream() {
        use std::io::Read;
        let start = Utc
            .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
            .single()
            .expect("t");
        let body = Generator::new(1).delivery_of_size(start, 300, 50_000);
        assert!(body.len() >= 50_000);
        assert!(serde_json::from_slice::<Value>(&body).is_ok());
        let gz = gzip_members(&body, 7_000);
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, body);
    }

    #[test]
    fn mixes_and_keys() {
        let start = Utc
            .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
            .single()
            .expect("t");
        let arn = "arn:aws:kms:us-east-1:123456789012:key/abc".to_owned();
        let mut g = Generator::with_mix(2, Mix::kms_only());
        g.use_keys(std::slice::from_ref(&arn));
        let recs = g.records(start, 300, 300);
        assert!(recs.iter().all(|r| r["eventSource"] == "kms.amazonaws.com"));
        let on_key = recs
            .iter()
            .filter(|r| r["resources"][0]["ARN"] == arn.as_str())
            .count();
        assert!(on_key > 250, "{on_key} of 300 on the one key");
    }
}
