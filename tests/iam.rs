//! Least privilege, checked: each handler runs against moto through the recording
//! proxy, every AWS request it makes is mapped to its IAM action (and, for S3
//! objects, its key), and the template's role for that function must grant exactly
//! those actions: none missing (the function would fail in AWS) and none more (a
//! grant no code path uses). S3 object requests must also fall under one of the
//! granting statement's key patterns, so a grant scoped to `keytrail/summaries/*`
//! does not pass for a read of `keytrail/state/...`.
//!
//! Grants the code never uses itself are named with the reason (the Lambda runtime's
//! logs, the asynchronous-invocation destination, S3's NoSuchKey, and keys used only
//! through a service, `kms:ViaService`); the test checks that each still exists.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use keytrail::{
    ConfigLocation, Processor, ProcessorConfig, ReviewConfig, Reviewer, TuningSource,
    cloudtrail_client, kms_client, s3_client, sns_client,
};
use keytrail_tests::{FaultProxy, Moto, SeenRequest, decrypt_record, delivery_key, gz_log};
use serde_json::json;
use serde_yaml::Value;

const BUCKET: &str = "keytrail-iam-trail";

/// Statements whose actions the function's code does not call, and why.
const GRANTED_FOR_AWS: &[(&str, &str)] = &[
    (
        "WriteOwnLogs",
        "the Lambda runtime writes the function's logs",
    ),
    (
        "OnFailureDestination",
        "Lambda sends a failed asynchronous invocation to the DLQ",
    ),
    (
        "ListTrailBucketForNoSuchKey",
        "S3 answers a missing object with NoSuchKey (404) instead of AccessDenied only with s3:ListBucket",
    ),
    (
        "ListOutputBucketForNoSuchKey",
        "the same, for markers, summaries and the baseline",
    ),
    (
        "ReadUsageTableDefinition",
        "Athena reads the usage table's Glue definition with the caller's credentials",
    ),
    (
        "LocateOutputBucket",
        "Athena locates the bucket of the table and of the query results as the caller",
    ),
    (
        "ReadUsageObjectsAndQueryResults",
        "Athena reads the usage table's Parquet objects and its results as the caller",
    ),
    (
        "WriteQueryResults",
        "Athena writes the query results to the workgroup's location as the caller",
    ),
];

/// Actions of a statement the code calls only when something goes wrong, and when.
const CALLED_ONLY_ON_FAILURE: &[(&str, &str, &str)] = &[(
    "QueryUsageTable",
    "athena:StopQueryExecution",
    "the review stops a usage-table query still running when it gives up waiting",
)];

/// Calls that need no IAM permission (AWS documents GetCallerIdentity as always
/// allowed).
const NEEDS_NO_GRANT: &[&str] = &["sts:GetCallerIdentity"];

/// One statement of a role's inline policies.
#[derive(Debug)]
struct Grant {
    sid: String,
    actions: Vec<String>,
    /// S3 object key patterns of its resources (`AWSLogs/*`); empty for buckets and
    /// other services.
    key_patterns: Vec<String>,
    /// The statement holds only through an AWS service (`kms:ViaService`).
    via_service: bool,
}

fn template() -> Value {
    let path = keytrail_tests::repo_root().join("template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(&path).expect("template")).expect("YAML")
}

fn get<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    v.as_mapping().and_then(|m| m.get(k))
}

/// A tagged value's tag (`If`, `Sub`, ...) and its content.
fn tagged(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_owned(),
            &t.value,
        )),
        _ => None,
    }
}

/// The strings a resource value stands for, in the deployment the tests model: no
/// log prefix (the `!If` branch without it), and each `!Sub` as its template text.
fn resource_texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|i| resource_texts(i, out)),
        _ => match tagged(v) {
            Some((tag, inner)) if tag == "Sub" => resource_texts(inner, out),
            Some((tag, inner)) if tag == "If" => {
                // [condition, if true, if false]: the tests deploy without a prefix.
                if let Some(branch) = inner.as_sequence().and_then(|s| s.get(2)) {
                    resource_texts(branch, out);
                }
            }
            Some((tag, _)) => out.push(format!("!{tag}")),
            None => {}
        },
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Every statement of the role's inline policies, conditional ones (`!If`) included.
fn grants(t: &Value, role: &str) -> Vec<Grant> {
    let props = get(t, "Resources")
        .and_then(|r| get(r, role))
        .and_then(|r| get(r, "Properties"))
        .unwrap_or_else(|| panic!("role {role}"));
    let mut out = Vec::new();
    for policy in get(props, "Policies")
        .and_then(Value::as_sequence)
        .expect("Policies")
    {
        let statements = get(policy, "PolicyDocument")
            .and_then(|d| get(d, "Statement"))
            .and_then(Value::as_sequence)
            .expect("Statement");
        for st in statements {
            let st = match tagged(st) {
                // !If [condition, statement, !Ref AWS::NoValue]
                Some((tag, inner)) if tag == "If" => {
                    inner.as_sequence().and_then(|s| s.get(1)).expect("If")
                }
                _ => st,
            };
            let mut resources = Vec::new();
            if let Some(r) = get(st, "Resource") {
                resource_texts(r, &mut resources);
            }
            let key_patterns = resources
                .iter()
                .filter_map(|r| {
                    let r = r
                        .trim_start_matches("arn:${AWS::Partition}:s3:::")
                        .trim_start_matches("${KeytrailBucket.Arn}");
                    let (_, key) = r.split_once('/')?;
                    Some(key.to_owned())
                })
                .collect();
            let via_service = get(st, "Condition")
                .and_then(|c| get(c, "StringEquals"))
                .and_then(|c| get(c, "kms:ViaService"))
                .is_some();
            out.push(Grant {
                sid: get(st, "Sid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                actions: strings(get(st, "Action")),
                key_patterns,
                via_service,
            });
        }
    }
    out
}

/// The IAM action of one request, and the S3 object key it names (if any).
fn action_of(r: &SeenRequest) -> (String, Option<String>) {
    let op = r.operation.as_str();
    if let Some(name) = op.strip_prefix("AWSOrganizationsV20161128.") {
        return (format!("organizations:{name}"), None);
    }
    if let Some(name) = op.strip_prefix("TrentService.") {
        return (format!("kms:{name}"), None);
    }
    if let Some(name) = op.strip_prefix("AmazonAthena.") {
        return (format!("athena:{name}"), None);
    }
    if let Some(name) = op.strip_prefix("Firehose_20150804.") {
        return (format!("firehose:{name}"), None);
    }
    if let Some(name) = op
        .strip_prefix("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.")
        .or_else(|| op.strip_prefix("CloudTrail_20131101."))
    {
        return (format!("cloudtrail:{name}"), None);
    }
    match op {
        "PutMetricData" => return ("cloudwatch:PutMetricData".into(), None),
        "AssumeRole" | "GetCallerIdentity" => return (format!("sts:{op}"), None),
        "Publish" => return ("sns:Publish".into(), None),
        "POST /findings/import" => return ("securityhub:BatchImportFindings".into(), None),
        _ => {}
    }
    let (method, path) = op.split_once(' ').unwrap_or((op, ""));
    let path = path.trim_start_matches('/');
    let (_bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let key = percent_encoding::percent_decode_str(key)
        .decode_utf8_lossy()
        .into_owned();
    let query = r.query.as_str();
    let has = |q: &str| {
        query
            .split('&')
            .any(|p| p == q || p.starts_with(&format!("{q}=")))
    };
    let action = match (method, key.is_empty()) {
        ("GET", true) if has("versioning") => "s3:GetBucketVersioning",
        ("GET", true) if has("object-lock") => "s3:GetBucketObjectLockConfiguration",
        ("GET", true) if has("list-type") => "s3:ListBucket",
        ("GET" | "HEAD", false) => "s3:GetObject",
        ("PUT", false) => "s3:PutObject",
        ("DELETE", false) => "s3:DeleteObject",
        _ => panic!("no IAM action known for {op} ?{query}"),
    };
    (action.to_owned(), (!key.is_empty()).then_some(key))
}

fn glob(pattern: &str, key: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == key,
        Some((head, tail)) => {
            key.starts_with(head) && key.len() >= head.len() + tail.len() && key.ends_with(tail)
        }
    }
}

/// Compares what a handler called with what its role grants.
fn check(role: &str, seen: &[SeenRequest]) {
    let t = template();
    let grants = grants(&t, role);
    let aws_used: BTreeMap<&str, &str> = GRANTED_FOR_AWS.iter().copied().collect();
    let mut problems = Vec::new();
    let mut called: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in seen {
        let (action, key) = action_of(r);
        called.entry(action).or_default().extend(key);
    }
    // Nothing missing, and each object under a granted key pattern.
    for (action, keys) in &called {
        if NEEDS_NO_GRANT.contains(&action.as_str()) {
            continue;
        }
        let granting: Vec<&Grant> = grants
            .iter()
            .filter(|g| !g.via_service && g.actions.contains(action))
            .collect();
        if granting.is_empty() {
            problems.push(format!("{role} calls {action}, which it is not granted"));
            continue;
        }
        for key in keys {
            let allowed = granting
                .iter()
                .any(|g| g.key_patterns.iter().any(|p| glob(p, key)));
            if !allowed {
                problems.push(format!(
                    "{role}: {action} on key {key} is outside the granted resources of {:?}",
                    granting.iter().map(|g| &g.sid).collect::<Vec<_>>()
                ));
            }
        }
    }
    // Nothing more: every action granted for the code is called.
    for g in &grants {
        if g.via_service || aws_used.contains_key(g.sid.as_str()) {
            continue;
        }
        for action in &g.actions {
            let on_failure = CALLED_ONLY_ON_FAILURE
                .iter()
                .any(|(sid, a, _)| *sid == g.sid && a == action);
            if !called.contains_key(action) && !on_failure {
                problems.push(format!(
                    "{role} statement {}: {action} is granted but never called",
                    g.sid
                ));
            }
        }
    }
    // The named exceptions still exist, so this list cannot hide a removed grant.
    for g in &grants {
        if let Some(why) = aws_used.get(g.sid.as_str()) {
            assert!(!why.is_empty());
        }
    }
    assert!(
        problems.is_empty(),
        "{role} disagrees with its calls:\n  {}\ncalled: {:?}",
        problems.join("\n  "),
        called.keys().collect::<Vec<_>>()
    );
}

#[test]
fn the_exceptions_name_statements_of_the_template() {
    let t = template();
    let sids: BTreeSet<String> = ["LogProcessorRole", "AlarmEnricherRole", "MonthlyReviewRole"]
        .iter()
        .flat_map(|r| grants(&t, r).into_iter().map(|g| g.sid))
        .collect();
    for (sid, _) in GRANTED_FOR_AWS {
        assert!(sids.contains(*sid), "{sid} is no longer in the template");
    }
    for (sid, action, _) in CALLED_ONLY_ON_FAILURE {
        let granted = ["LogProcessorRole", "AlarmEnricherRole", "MonthlyReviewRole"]
            .iter()
            .flat_map(|r| grants(&t, r))
            .any(|g| g.sid == *sid && g.actions.iter().any(|a| a == action));
        assert!(granted, "{sid} no longer grants {action}");
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// moto with the recording proxy in front; setup goes to moto directly.
async fn moto_and_proxy() -> (
    Moto,
    FaultProxy,
    aws_config::SdkConfig,
    aws_config::SdkConfig,
) {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let direct = moto.sdk_config().await;
    let through = proxy.sdk_config().await;
    (moto, proxy, direct, through)
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) {
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.into())
        .send()
        .await
        .expect("put");
}

fn s3_event(key: &str) -> serde_json::Value {
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-10-04T10:05:31.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:x"}, "requestParameters": {"sourceIPAddress": "198.51.100.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "x"}, "arn": format!("arn:aws:s3:::{BUCKET}")},
            "object": {"key": key, "size": 1, "eTag": "e", "sequencer": "0"}}}]})
}

/// A log file, a baseline and a configuration file: the processor reads all three.
#[tokio::test]
async fn the_log_processor_is_granted_exactly_what_it_calls() {
    let (_moto, proxy, direct, through) = moto_and_proxy().await;
    let s3 = s3_client(&direct);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let at = t("2026-10-04T10:05:00Z");
    let key_arn = "arn:aws:kms:us-east-1:111122223333:key/k1";
    let records: Vec<_> = (0..3)
        .map(|i| decrypt_record(at, &format!("e{i}"), "app", "203.0.113.9", key_arn, None))
        .collect();
    let key = delivery_key(at, "iam");
    put(&s3, &key, gz_log(&records)).await;
    put(
        &s3,
        keytrail::BASELINE_KEY,
        br#"{"version": 1, "principals": {}}"#.to_vec(),
    )
    .await;
    put(
        &s3,
        "keytrail/config.toml",
        b"[rules.decrypt_failures]\nthreshold = 3\n".to_vec(),
    )
    .await;
    // The usage table on: the processor sends the file's rows to its stream.
    keytrail_tests::usage_stream(&direct, BUCKET, "keytrail-usage").await;
    // As the Lambda builds it (its Firehose client too, as usage_stream names one).
    let processor = Processor::from_sdk(
        &through,
        ProcessorConfig {
            usage_stream: Some("keytrail-usage".into()),
            max_metric_age: Duration::from_secs(30 * 365 * 24 * 3600),
            tuning: std::sync::Arc::new(TuningSource::new(
                Some(ConfigLocation {
                    bucket: BUCKET.into(),
                    key: "keytrail/config.toml".into(),
                }),
                Duration::from_secs(300),
            )),
            ..ProcessorConfig::default()
        },
    );
    let report = processor
        .handle(&s3_event(&key), None)
        .await
        .expect("handler");
    assert_eq!(
        report["objects"][0]["result"]["outcome"], "processed",
        "{report}"
    );
    assert!(
        proxy
            .seen()
            .iter()
            .any(|r| r.operation == "Firehose_20150804.PutRecordBatch"),
        "the rows were sent"
    );
    check("LogProcessorRole", &proxy.seen());
}

/// A review of one month with a trail, keys, summaries, raw logs to backfill, the
/// configuration file and a baseline, and the organisation inventory on (a member
/// role, the accounts from Organizations), as the template's conditional grants are
/// checked as granted.
#[tokio::test]
async fn the_monthly_review_is_granted_exactly_what_it_calls() {
    let moto = Moto::start_multi_account();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let direct = moto.sdk_config().await;
    let through = proxy.sdk_config().await;
    let org = aws_sdk_organizations::Client::new(&direct);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("organization");
    org.create_account()
        .account_name("member")
        .email("member@example.com")
        .send()
        .await
        .expect("account");
    let s3 = s3_client(&direct);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let kms = kms_client(&direct);
    let key = kms.create_key().send().await.expect("key");
    let key_arn = key
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("arn")
        .to_owned();
    kms.create_alias()
        .alias_name("alias/app")
        .target_key_id(&key_arn)
        .send()
        .await
        .expect("alias");
    let ct = cloudtrail_client(&direct);
    ct.create_trail()
        .name("audit")
        .s3_bucket_name(BUCKET)
        .send()
        .await
        .expect("trail");
    let sns = sns_client(&direct);
    let topic = sns
        .create_topic()
        .name("review")
        .send()
        .await
        .expect("topic");
    let topic_arn = topic.topic_arn().expect("arn").to_owned();

    let month = keytrail::Month::previous_of(Utc::now());
    let at = t(&format!("{month}-10T10:05:00Z"));
    let records: Vec<_> = (0..3)
        .map(|i| decrypt_record(at, &format!("r{i}"), "app", "10.0.0.5", &key_arn, None))
        .collect();
    put(&s3, &delivery_key(at, "raw"), gz_log(&records)).await;
    put(
        &s3,
        keytrail::BASELINE_KEY,
        br#"{"version": 1, "principals": {}}"#.to_vec(),
    )
    .await;
    put(
        &s3,
        "keytrail/config.toml",
        b"trusted_accounts = []\n".to_vec(),
    )
    .await;
    let config = ReviewConfig::from_lookup(|k| match k {
        "KEYTRAIL_LOG_BUCKET" => Some(BUCKET.into()),
        "KEYTRAIL_REVIEW_TOPIC_ARN" => Some(topic_arn.clone()),
        "KEYTRAIL_CONFIG" => Some(format!("s3://{BUCKET}/keytrail/config.toml")),
        "KEYTRAIL_MEMBER_ROLE" => Some("keytrail-inventory-read".into()),
        "KEYTRAIL_MEMBER_ACCOUNTS" => Some("organization".into()),
        _ => None,
    })
    .expect("config");
    // As the Lambda builds it.
    let reviewer = Reviewer::from_sdk(&through, config);
    reviewer
        .handle(&json!({"detail-type": "Scheduled Event", "detail": {"month": month.to_string()}}))
        .await
        .expect("review");
    // The Athena engine too (the usage table on): moto's Athena answers with what
    // DuckDB computes over an empty table.
    let empty = tempfile::tempdir().expect("tmp");
    keytrail_tests::duckdb_into_moto(
        empty.path(),
        &keytrail::month_query("keytrail.kms_usage", month).expect("query"),
        "keytrail.kms_usage",
        &moto.endpoint,
    );
    let mut athena = reviewer.config.clone();
    athena.usage_table = Some("keytrail.kms_usage".into());
    athena.athena_workgroup = Some("primary".into());
    let reviewer = Reviewer::from_sdk(&through, athena);
    let (report, _) = reviewer.review(month).await.expect("Athena engine");
    assert_eq!(report.coverage.engine, "athena");
    check("MonthlyReviewRole", &proxy.seen());
}

/// An alarm enriched with the Chatbot and Security Hub options on.
#[tokio::test]
async fn the_alarm_enricher_is_granted_exactly_what_it_calls() {
    let env = crate::enricher::env_full(true, true, true).await;
    let proxy = env.proxy.as_ref().expect("proxy");
    env.enricher
        .handle(&crate::enricher::alarm_event("sns-decrypt-failures.json"))
        .await
        .expect("handler");
    check("AlarmEnricherRole", &proxy.seen());
}
