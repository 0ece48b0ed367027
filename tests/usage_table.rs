//! The KMS usage table end to end, against moto: a generated organisation tree
//! (`AWSLogs/o-…/<account>/…`, 10 accounts × 3 Regions, with cross-account use
//! inside the organisation and from outside it) goes through the log processor,
//! which sends its rows to a Firehose delivery stream that writes them into S3. The
//! monthly review then runs on both engines:
//!
//! - the summary engine merges the per-file summaries;
//! - the Athena engine sends its query to Athena; moto does not run SQL, so DuckDB
//!   runs the same query text over the rows Firehose wrote (after sqlglot parsed it
//!   as Trino), and moto's Athena returns DuckDB's result to the Lambda's client.
//!
//! Both reports must be the same, and the inventory must span every account and
//! Region (the review assumes the member role in each).

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use keytrail::{
    CloudWatchSink, FileIdentity, Month, ObjectRef, Processor, ProcessorConfig, Report,
    ReviewConfig, Reviewer, S3Store, UsageStream, cloudwatch_client, delivery_id, firehose_client,
    kms_client, month_query, parse_log_key, s3_client,
};
use keytrail_tests::{
    FaultProxy, MOTO_DEFAULT_ACCOUNT, Moto, as_account, duckdb_into_moto, gz_log, usage_stream,
};
use serde_json::{Value, json};

const BUCKET: &str = "keytrail-org-usage";
const ORG: &str = "o-usage00001";
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
const ROLE: &str = "keytrail-inventory-read";
const STREAM: &str = "keytrail-kms-usage";
const TABLE: &str = "keytrail.kms_usage";
/// An account outside the organisation.
const OUTSIDER: &str = "999988887777";

/// A KMS call as CloudTrail logs it in `recipient`'s trail: `caller`'s role `role`
/// on `key` (in resources[]), `shared` naming the call's other copy.
#[allow(clippy::too_many_arguments)]
fn kms_call(
    t: DateTime<Utc>,
    id: &str,
    event: &str,
    caller: &str,
    role: &str,
    recipient: &str,
    key: &str,
    region: &str,
    shared: Option<&str>,
    error: Option<&str>,
) -> Value {
    let mut v = json!({
        "eventVersion": "1.10",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:s", "accountId": caller,
            "arn": format!("arn:aws:sts::{caller}:assumed-role/{role}/s"),
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                "arn": format!("arn:aws:iam::{caller}:role/{role}"), "accountId": caller, "userName": role}}},
        "eventTime": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "eventSource": "kms.amazonaws.com", "eventName": event, "awsRegion": region,
        "sourceIPAddress": format!("10.{}.0.{}", &caller[..2], id.len() % 200), "userAgent": "aws-sdk-rust/1.0",
        "requestParameters": {"encryptionContext": {"app": role}},
        "responseElements": null,
        "requestID": format!("req-{id}"), "eventID": format!("{id}-{recipient}"), "readOnly": true,
        "resources": [{"accountId": recipient, "type": "AWS::KMS::Key", "ARN": key}],
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": recipient,
        "eventCategory": "Management"
    });
    if let Some(s) = shared {
        v["sharedEventID"] = json!(s);
    }
    if let Some(code) = error {
        v["errorCode"] = json!(code);
        v["errorMessage"] = json!("not authorized");
    }
    v
}

fn log_key(account: &str, region: &str, at: DateTime<Utc>, n: &str) -> String {
    format!(
        "AWSLogs/{ORG}/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{}_{n}.json.gz",
        at.format("%Y/%m/%d"),
        at.format("%Y%m%dT%H%MZ")
    )
}

/// Copies what Firehose wrote under `keytrail/usage/` to `dir`, its folders kept.
async fn download_usage_rows(s3: &aws_sdk_s3::Client, dir: &Path) -> usize {
    let mut pages = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("keytrail/usage/")
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        for o in page.expect("list").contents() {
            let key = o.key().expect("key");
            let body = s3
                .get_object()
                .bucket(BUCKET)
                .key(key)
                .send()
                .await
                .expect("get")
                .body
                .collect()
                .await
                .expect("body")
                .into_bytes();
            let path = dir.join(key.trim_start_matches("keytrail/usage/"));
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, body).expect("write");
            n += 1;
        }
    }
    n
}

/// The report without what differs by engine or by run: when it ran, and where the
/// coverage says the usage came from.
fn comparable(r: &Report) -> Value {
    let mut v = serde_json::to_value(r).expect("json");
    v["generated_at"] = Value::Null;
    for k in [
        "engine",
        "summaries",
        "days_from_summaries",
        "days_backfilled",
    ] {
        v["coverage"][k] = Value::Null;
    }
    v
}

#[tokio::test]
async fn both_engines_give_the_same_report_of_an_organisation_month() {
    let moto = Moto::start_multi_account();
    let direct = moto.sdk_config().await;

    // The organisation: this account and 9 members.
    let org = aws_sdk_organizations::Client::new(&direct);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("organization");
    let mut accounts = vec![MOTO_DEFAULT_ACCOUNT.to_owned()];
    for i in 0..9 {
        let out = org
            .create_account()
            .account_name(format!("member-{i}"))
            .email(format!("member-{i}@example.com"))
            .send()
            .await
            .expect("account");
        accounts.push(
            out.create_account_status()
                .and_then(|s| s.account_id())
                .expect("account id")
                .to_owned(),
        );
    }
    // A key in every account and Region.
    let mut keys = std::collections::BTreeMap::new();
    for account in &accounts {
        for region in REGIONS {
            let conf = as_account(&direct, account, region, ROLE).await;
            let arn = kms_client(&conf)
                .create_key()
                .send()
                .await
                .expect("key")
                .key_metadata()
                .and_then(|m| m.arn())
                .expect("arn")
                .to_owned();
            keys.insert((account.clone(), region), arn);
        }
    }

    let s3 = s3_client(&direct);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let firehose = firehose_client(&direct);
    usage_stream(&direct, BUCKET, STREAM).await;

    // The month's logs: each account and Region delivers on three days; its app
    // role decrypts with its key (one call denied); account 1's role uses account
    // 0's key in every Region (logged in both accounts, one sharedEventID), and an
    // account outside the organisation uses account 2's (logged there only).
    let month = Month::previous_of(Utc::now());
    let day = |d: u32, h: u32| -> DateTime<Utc> {
        format!("{month}-{d:02}T{h:02}:05:00Z")
            .parse()
            .expect("time")
    };
    let mut uploads: Vec<(String, Vec<Value>)> = Vec::new();
    for (a, account) in accounts.iter().enumerate() {
        for region in REGIONS {
            let key = &keys[&(account.clone(), region)];
            for (f, at) in [day(3, 9), day(14, 15), day(27, 23)]
                .into_iter()
                .enumerate()
            {
                let id = format!("{a}-{region}-{f}");
                let mut records = vec![
                    kms_call(
                        at - Duration::minutes(4),
                        &format!("{id}-d"),
                        "Decrypt",
                        account,
                        "app",
                        account,
                        key,
                        region,
                        None,
                        None,
                    ),
                    kms_call(
                        at - Duration::minutes(3),
                        &format!("{id}-g"),
                        "GenerateDataKey",
                        account,
                        "app",
                        account,
                        key,
                        region,
                        None,
                        None,
                    ),
                ];
                if f == 1 {
                    records.push(kms_call(
                        at - Duration::minutes(2),
                        &format!("{id}-x"),
                        "Decrypt",
                        account,
                        "batch",
                        account,
                        key,
                        region,
                        None,
                        Some("AccessDeniedException"),
                    ));
                }
                if a == 1 {
                    let owner = &accounts[0];
                    let theirs = &keys[&(owner.clone(), region)];
                    let shared = format!("shared-{region}-{f}");
                    records.push(kms_call(
                        at - Duration::minutes(1),
                        &format!("{id}-c"),
                        "Decrypt",
                        account,
                        "reporting",
                        account,
                        theirs,
                        region,
                        Some(&shared),
                        None,
                    ));
                    // The key owner's copy, in account 0's trail.
                    uploads.push((
                        log_key(owner, region, at, &format!("owner{f}")),
                        vec![kms_call(
                            at - Duration::minutes(1),
                            &format!("{id}-c"),
                            "Decrypt",
                            account,
                            "reporting",
                            owner,
                            theirs,
                            region,
                            Some(&shared),
                            None,
                        )],
                    ));
                }
                if a == 2 {
                    records.push(kms_call(
                        at - Duration::minutes(1),
                        &format!("{id}-o"),
                        "Decrypt",
                        OUTSIDER,
                        "partner",
                        account,
                        key,
                        region,
                        Some(&format!("outside-{region}-{f}")),
                        None,
                    ));
                }
                uploads.push((log_key(account, region, at, &format!("f{f}")), records));
            }
        }
    }
    let processor = Processor::new(
        S3Store { client: s3.clone() },
        CloudWatchSink {
            client: cloudwatch_client(&direct),
        },
        ProcessorConfig {
            usage_stream: Some(STREAM.into()),
            max_metric_age: std::time::Duration::from_secs(30 * 365 * 24 * 3600),
            ..ProcessorConfig::default()
        },
    )
    .with_usage_stream(UsageStream {
        client: firehose.clone(),
        name: STREAM.into(),
    });
    for (key, records) in &uploads {
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(gz_log(records).into())
            .send()
            .await
            .expect("upload");
        processor
            .process_object(
                &ObjectRef {
                    bucket: BUCKET.into(),
                    key: key.clone(),
                    raw_key: key.clone(),
                },
                None,
            )
            .await
            .expect("process");
    }
    assert_eq!(uploads.len(), 10 * 3 * 3 + 3 * 3);
    // Firehose delivers at least once: the rows of one file arrive a second time,
    // as a later delivery, and must not count twice.
    let (again_key, again_records) = &uploads[4];
    let lk = parse_log_key(again_key).expect("log key");
    let summary = keytrail::analyse(
        again_key,
        &keytrail_tests::gz_log(again_records)[..],
        &keytrail::AnalysisOptions::default(),
    )
    .summary;
    let later = delivery_id(Utc::now() + Duration::minutes(5));
    UsageStream {
        client: firehose.clone(),
        name: STREAM.into(),
    }
    .send(keytrail::usage_records(
        &summary,
        &FileIdentity {
            file: again_key,
            delivery: &later,
            account: &lk.account,
            region: &lk.region,
            file_date: lk.date,
            delivered: lk.delivered,
        },
        keytrail::MAX_RECORD_BYTES,
    ))
    .await
    .expect("second delivery");

    // The review, on both engines, through the recording proxy.
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let through = proxy.sdk_config().await;
    let reviewer = |usage_table: bool| {
        let config = ReviewConfig::from_lookup(|k| match k {
            "KEYTRAIL_LOG_BUCKET" => Some(BUCKET.into()),
            "KEYTRAIL_MEMBER_ROLE" => Some(ROLE.into()),
            "KEYTRAIL_MEMBER_ACCOUNTS" => Some("logs".into()),
            "KEYTRAIL_USAGE_TABLE" if usage_table => Some(TABLE.into()),
            "KEYTRAIL_ATHENA_WORKGROUP" if usage_table => Some("primary".into()),
            _ => None,
        })
        .expect("config");
        // As the Lambda builds it: with the table and the workgroup, on Athena.
        Reviewer::from_sdk(&through, config)
    };
    let (from_summaries, _) = reviewer(false).review(month).await.expect("summary engine");
    let dir = tempfile::tempdir().expect("tmp");
    let objects = download_usage_rows(&s3, dir.path()).await;
    assert!(objects >= uploads.len(), "Firehose wrote {objects} objects");
    let sql = month_query(TABLE, month).expect("query");
    let result_rows = duckdb_into_moto(dir.path(), &sql, TABLE, &moto.endpoint);
    let before = proxy.seen().len();
    let (from_athena, _) = reviewer(true).review(month).await.expect("Athena engine");

    // The Athena engine sent exactly that query, listed no log or summary object,
    // and read the result Athena (here DuckDB) computed.
    let seen: Vec<_> = proxy.seen().into_iter().skip(before).collect();
    let started: Vec<&keytrail_tests::SeenRequest> = seen
        .iter()
        .filter(|r| r.operation == "AmazonAthena.StartQueryExecution")
        .collect();
    assert_eq!(started.len(), 1, "one query for the month");
    let body = &started[0].json;
    assert_eq!(body["QueryString"], sql.as_str());
    assert_eq!(body["WorkGroup"], "primary");
    let s3_reads: Vec<&str> = seen
        .iter()
        .filter(|r| {
            r.operation.starts_with("GET ") && r.operation.contains("/AWSLogs/")
                || r.query.contains("list-type") && !r.query.contains("prefix=keytrail%2Fstate")
        })
        .map(|r| r.operation.as_str())
        .collect();
    assert!(
        s3_reads.is_empty(),
        "the Athena engine lists and reads no log or summary object: {s3_reads:?}"
    );
    assert!(
        before > 0
            && proxy.seen()[..before]
                .iter()
                .any(|r| r.query.contains("list-type")),
        "the summary engine did list"
    );
    assert!(result_rows > 100, "{result_rows} result rows");
    assert_eq!(from_athena.coverage.engine, "athena");
    assert_eq!(from_summaries.coverage.engine, "summaries");
    assert_eq!(from_athena.coverage.summaries, uploads.len() as u64);

    // The same report.
    assert_eq!(comparable(&from_athena), comparable(&from_summaries));
    // Of the whole organisation: every account and Region's key, the cross-account
    // calls inside the organisation counted once, the outsider named.
    let listed: BTreeSet<&str> = from_athena.keys.iter().map(|k| k.key.as_str()).collect();
    let created: BTreeSet<&str> = keys.values().map(String::as_str).collect();
    assert_eq!(
        listed, created,
        "the inventory spans every account and Region"
    );
    assert_eq!(from_athena.scope.accounts.len(), 10);
    assert_eq!(from_athena.scope.regions.len(), 3);
    assert_eq!(from_athena.summary.calls_counted_once, 9);
    // 10 accounts × 3 Regions × 3 files × 2 calls, 30 denied, 9 inside, 9 outside.
    assert_eq!(from_athena.summary.kms_calls, 180 + 30 + 9 + 9);
    assert!(
        from_athena
            .cross_account_principals
            .iter()
            .any(|c| c.principal.contains(OUTSIDER)),
        "{:?}",
        from_athena.cross_account_principals
    );
}

/// Firehose refuses part of a batch (throttling): the refused records are sent
/// again and the file's rows land once. When it keeps failing, the file fails (its
/// retry sends a new delivery; the review counts one complete delivery per file).
#[tokio::test]
async fn refused_records_are_sent_again_and_a_lasting_failure_fails_the_file() {
    let moto = Moto::start();
    let direct = moto.sdk_config().await;
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let through = proxy.sdk_config().await;
    let s3 = s3_client(&direct);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    usage_stream(&direct, BUCKET, STREAM).await;
    let processor = Processor::new(
        S3Store { client: s3.clone() },
        CloudWatchSink {
            client: cloudwatch_client(&direct),
        },
        ProcessorConfig {
            usage_stream: Some(STREAM.into()),
            max_metric_age: std::time::Duration::from_secs(30 * 365 * 24 * 3600),
            ..ProcessorConfig::default()
        },
    )
    .with_usage_stream(UsageStream {
        client: firehose_client(&through),
        name: STREAM.into(),
    });
    let at: DateTime<Utc> = "2026-10-04T10:05:00Z".parse().expect("time");
    let upload = |n: &str| {
        let key = log_key(MOTO_DEFAULT_ACCOUNT, "us-east-1", at, n);
        let records = vec![kms_call(
            at,
            n,
            "Decrypt",
            MOTO_DEFAULT_ACCOUNT,
            "app",
            MOTO_DEFAULT_ACCOUNT,
            "arn:aws:kms:us-east-1:123456789012:key/k",
            "us-east-1",
            None,
            None,
        )];
        (key, gz_log(&records))
    };
    let object = |key: &str| ObjectRef {
        bucket: BUCKET.into(),
        key: key.into(),
        raw_key: key.into(),
    };
    let rows = || async {
        let out = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix("keytrail/usage/")
            .send()
            .await
            .expect("list");
        let mut lines = Vec::new();
        for o in out.contents() {
            let body = s3
                .get_object()
                .bucket(BUCKET)
                .key(o.key().expect("key"))
                .send()
                .await
                .expect("get")
                .body
                .collect()
                .await
                .expect("body")
                .into_bytes();
            lines.extend(
                String::from_utf8_lossy(&body)
                    .lines()
                    .map(|l| serde_json::from_str::<Value>(l).expect("row")),
            );
        }
        lines
    };

    // The first call's one record is refused (throttled), the second takes it.
    let (key, body) = upload("throttled");
    s3.put_object()
        .bucket(BUCKET)
        .key(&key)
        .body(body.into())
        .send()
        .await
        .expect("put");
    proxy.inject(keytrail_tests::Fault {
        marker: "Firehose_20150804.PutRecordBatch".into(),
        times: 1,
        status: 200,
        body: r#"{"FailedPutCount":1,"Encrypted":false,"RequestResponses":[{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"Slow down."}]}"#.into(),
    });
    processor
        .process_object(&object(&key), None)
        .await
        .expect("processed after one retry");
    assert_eq!(proxy.injected(), 1);
    let landed = rows().await;
    let deliveries: BTreeSet<&str> = landed
        .iter()
        .filter_map(|r| r["delivery"].as_str())
        .collect();
    assert_eq!(deliveries.len(), 1, "one delivery");
    assert_eq!(
        landed.iter().filter(|r| r["kind"] == "file").count(),
        1,
        "its rows once"
    );
    assert!(landed.iter().all(|r| r["file"] == key.as_str()));

    // Firehose keeps refusing: the file fails, naming the stream and the reason.
    let (key, body) = upload("refused");
    s3.put_object()
        .bucket(BUCKET)
        .key(&key)
        .body(body.into())
        .send()
        .await
        .expect("put");
    proxy.inject(keytrail_tests::Fault {
        marker: "Firehose_20150804.PutRecordBatch".into(),
        times: u32::MAX,
        status: 200,
        body: r#"{"FailedPutCount":1,"Encrypted":false,"RequestResponses":[{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"Slow down."}]}"#.into(),
    });
    let e = processor
        .process_object(&object(&key), None)
        .await
        .expect_err("a lasting refusal fails the file");
    let text = e.to_string();
    assert!(
        text.contains("PutRecordBatch") && text.contains(STREAM),
        "{text}"
    );
    assert!(text.contains("ServiceUnavailableException"), "{text}");
    // The retry, once Firehose takes records again, delivers the file's rows.
    proxy.clear();
    processor
        .process_object(&object(&key), None)
        .await
        .expect("the retry");
    let landed = rows().await;
    assert_eq!(
        landed
            .iter()
            .filter(|r| r["kind"] == "file" && r["file"] == key.as_str())
            .count(),
        1
    );
}
