//! The monthly review against moto_server: KMS keys, CloudTrail trails, summaries and
//! raw logs in S3, the review topic subscribed by SQS.

use chrono::{DateTime, Duration, Utc};
use keytrail::{AnalysisOptions, analyse};
use keytrail::{
    AwsReviewSources, S3Store, SnsNotifier, cloudtrail_client, kms_client, s3_client, sns_client,
};
use keytrail::{BASELINE_KEY, ReviewConfig, Reviewer};
use keytrail::{Baseline, CheckStatus, Report};
use keytrail_tests::{Moto, decrypt_record, delivery_key, gz_log};
use serde_json::{Value, json};

const BUCKET: &str = "keytrail-review-trail";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
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

async fn get(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let o = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{key}: {e}"));
    o.body.collect().await.expect("body").into_bytes().to_vec()
}

#[tokio::test]
async fn scheduled_review_writes_reports_baseline_and_summary() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let (s3, kms, ct, sns) = (
        s3_client(&sdk),
        kms_client(&sdk),
        cloudtrail_client(&sdk),
        sns_client(&sdk),
    );
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");

    // Keys: used, unused (and missing a tag), pending deletion, rotation off.
    let mut arns = Vec::new();
    for (alias, tags) in [
        (
            "alias/app-data",
            vec![
                ("purpose", "app"),
                ("owner", "team-a"),
                ("classification", "internal"),
            ],
        ),
        (
            "alias/forgotten",
            vec![("purpose", "old"), ("owner", "team-b")],
        ),
        (
            "alias/retiring",
            vec![("purpose", "x"), ("owner", "y"), ("classification", "z")],
        ),
        (
            "alias/no-rotation",
            vec![("purpose", "x"), ("owner", "y"), ("classification", "z")],
        ),
    ] {
        let k = kms.create_key().send().await.expect("key");
        let arn = k
            .key_metadata()
            .and_then(|m| m.arn())
            .expect("arn")
            .to_owned();
        kms.create_alias()
            .alias_name(alias)
            .target_key_id(&arn)
            .send()
            .await
            .expect("alias");
        for (tk, tv) in tags {
            kms.tag_resource()
                .key_id(&arn)
                .tags(
                    aws_sdk_kms::types::Tag::builder()
                        .tag_key(tk)
                        .tag_value(tv)
                        .build()
                        .expect("tag"),
                )
                .send()
                .await
                .expect("tag");
        }
        if alias != "alias/no-rotation" {
            kms.enable_key_rotation()
                .key_id(&arn)
                .send()
                .await
                .expect("rotation");
        }
        arns.push(arn);
    }
    let (used, forgotten, retiring) = (arns[0].clone(), arns[1].clone(), arns[2].clone());
    // moto resolves only the key id here, not the ARN.
    kms.schedule_key_deletion()
        .key_id(retiring.rsplit('/').next().expect("key id"))
        .pending_window_in_days(7)
        .send()
        .await
        .expect("schedule");

    // Trails: one as seed 002 wants it, into a bucket with Object Lock (and so
    // versioning) on; one plain that also excludes KMS events, into a bucket with
    // neither; one that records read-only events only.
    let trail_key = arns[3].clone();
    let locked = "keytrail-test-trail-locked";
    s3.create_bucket()
        .bucket(locked)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("locked bucket");
    ct.create_trail()
        .name("org-audit")
        .s3_bucket_name(locked)
        .kms_key_id(&trail_key)
        .enable_log_file_validation(true)
        .is_multi_region_trail(true)
        .send()
        .await
        .expect("trail");
    ct.start_logging()
        .name("org-audit")
        .send()
        .await
        .expect("logging");
    ct.create_trail()
        .name("plain")
        .s3_bucket_name(BUCKET)
        .send()
        .await
        .expect("trail");
    ct.put_event_selectors()
        .trail_name("plain")
        .event_selectors(
            aws_sdk_cloudtrail::types::EventSelector::builder()
                .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::All)
                .include_management_events(true)
                .exclude_management_event_sources("kms.amazonaws.com")
                .build(),
        )
        .send()
        .await
        .expect("selectors");
    ct.create_trail()
        .name("reads-only")
        .s3_bucket_name(BUCKET)
        .send()
        .await
        .expect("trail");
    ct.put_event_selectors()
        .trail_name("reads-only")
        .event_selectors(
            aws_sdk_cloudtrail::types::EventSelector::builder()
                .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::ReadOnly)
                .include_management_events(true)
                .build(),
        )
        .send()
        .await
        .expect("selectors");

    // The reviewed month is next month, so that the keys moto creates today are old
    // enough (KEYTRAIL_UNUSED_DAYS=20) to count as unused by its end. Days 25-27 have
    // raw logs and summaries (as the log processor writes them), day 28 only raw logs
    // (backfilled), and no other day has deliveries.
    let month = keytrail::Month::previous_of(Utc::now()).next().next();
    for day in 25..=28 {
        let at = t(&format!("{month}-{day:02}T10:05:00Z"));
        let mut records: Vec<Value> = (0..5)
            .map(|i| {
                decrypt_record(
                    at - Duration::minutes(3) + Duration::seconds(i),
                    &format!("d{day}-{i}"),
                    "app-server",
                    "203.0.113.10",
                    &used,
                    None,
                )
            })
            .collect();
        if day == 27 {
            records.push(decrypt_record(
                at - Duration::minutes(2),
                "pending-1",
                "legacy-importer",
                "10.0.21.9",
                &retiring,
                Some((
                    "KMSInvalidStateException",
                    &format!("{retiring} is pending deletion."),
                )),
            ));
        }
        let gz = gz_log(&records);
        let key = delivery_key(at, &format!("day{day}"));
        put(&s3, &key, gz.clone()).await;
        if day <= 27 {
            let a = analyse(&key, &gz[..], &AnalysisOptions::default());
            let lk = keytrail::parse_log_key(&key).expect("layout");
            put(&s3, &lk.summary_key(), a.summary.to_gzip_json()).await;
        }
    }

    let (topic_arn, queue_url) =
        keytrail_tests::topic_with_queue(&sns, &sqs, "keytrail-review", "review-inbox").await;

    let config = ReviewConfig::from_lookup(|k| match k {
        "KEYTRAIL_LOG_BUCKET" => Some(BUCKET.into()),
        "KEYTRAIL_REVIEW_TOPIC_ARN" => Some(topic_arn.clone()),
        "KEYTRAIL_UNUSED_DAYS" => Some("20".into()),
        _ => None,
    })
    .expect("config");
    let reviewer = Reviewer::new(
        S3Store { client: s3.clone() },
        AwsReviewSources {
            kms: kms.clone(),
            cloudtrail: ct.clone(),
            s3: s3.clone(),
        },
        SnsNotifier {
            client: sns.clone(),
        },
        config,
    );
    let out = reviewer
        .handle(&json!({"detail-type": "Scheduled Event", "detail": {"month": month.to_string()}}))
        .await
        .expect("review");
    assert_eq!(out["month"], month.to_string());
    let prefix = format!("keytrail/reviews/{month}");

    let report: Report = serde_json::from_slice(&get(&s3, &format!("{prefix}/report.json")).await)
        .expect("report.json parses");
    let md = String::from_utf8(get(&s3, &format!("{prefix}/report.md")).await).expect("utf8");
    let html = String::from_utf8(get(&s3, &format!("{prefix}/report.html")).await).expect("utf8");
    assert!(md.starts_with(&format!("# KMS key usage review: {month}")));
    assert!(html.contains("<svg") && html.contains("alias/app-data"));

    assert_eq!(report.inventory_source, "kms");
    let day = |d: u32| format!("{month}-{d}");
    assert_eq!(
        report.coverage.days_from_summaries,
        [day(25), day(26), day(27)]
    );
    assert_eq!(report.coverage.days_backfilled, [day(28)]);
    assert_eq!(
        report.coverage.days_without_deliveries.len(),
        month.days().len() - 4
    );
    assert_eq!(report.summary.kms_calls, 21);
    let row = report
        .access_inventory
        .iter()
        .find(|a| a.key == used && a.event_name == "Decrypt")
        .expect("inventory row");
    assert_eq!(
        (row.count, row.principal.as_str()),
        (20, "arn:aws:iam::111122223333:role/app-server")
    );
    let pending = report
        .keys_pending_deletion
        .iter()
        .find(|p| p.key == retiring)
        .expect("pending key");
    assert!(pending.used_in_period && pending.severity == "critical");
    assert!(pending.deletion_date.is_some());
    assert!(
        report
            .unused_keys
            .iter()
            .any(|u| u.key == forgotten && u.aliases == ["alias/forgotten"])
    );
    assert!(!report.unused_keys.iter().any(|u| u.key == used));
    let missing = report
        .keys_missing_tags
        .iter()
        .find(|m| m.key == forgotten)
        .expect("missing tags");
    assert_eq!(missing.missing, ["classification"]);
    let key_row = report
        .keys
        .iter()
        .find(|k| k.key == arns[3])
        .expect("no-rotation key");
    assert_eq!(key_row.rotation_enabled, Some(false));
    // GetKeyLastUsage is not served by moto: degraded, not fatal.
    assert!(
        key_row
            .unavailable
            .iter()
            .any(|u| u.starts_with("GetKeyLastUsage")),
        "{:?}",
        key_row.unavailable
    );

    let check = |trail: &str, name: &str| {
        report
            .trail_checks
            .iter()
            .find(|c| c.trail == trail && c.check == name)
            .map(|c| (c.status, c.detail.as_str()))
            .unwrap_or_else(|| panic!("{trail} {name}"))
    };
    assert_eq!(
        check("org-audit", "kms_encryption").0,
        CheckStatus::Pass,
        "org-audit kms_encryption: {}",
        check("org-audit", "kms_encryption").1
    );
    assert_eq!(
        check("org-audit", "log_file_validation").0,
        CheckStatus::Pass,
        "org-audit log_file_validation: {}",
        check("org-audit", "log_file_validation").1
    );
    assert_eq!(
        check("org-audit", "logging").0,
        CheckStatus::Pass,
        "org-audit logging: {}",
        check("org-audit", "logging").1
    );
    assert_eq!(
        check("org-audit", "kms_events_recorded").0,
        CheckStatus::Pass,
        "org-audit kms_events_recorded: {}",
        check("org-audit", "kms_events_recorded").1
    );
    assert_eq!(
        check("plain", "kms_encryption").0,
        CheckStatus::Fail,
        "plain kms_encryption: {}",
        check("plain", "kms_encryption").1
    );
    assert_eq!(
        check("plain", "kms_events_recorded").0,
        CheckStatus::Fail,
        "plain kms_events_recorded: {}",
        check("plain", "kms_events_recorded").1
    );
    assert_eq!(
        check("plain", "logging").0,
        CheckStatus::Fail,
        "plain logging: {}",
        check("plain", "logging").1
    );
    // 7 rules watch write events a read-only trail never records.
    assert_eq!(
        check("reads-only", "kms_events_recorded").0,
        CheckStatus::Fail,
        "reads-only kms_events_recorded: {}",
        check("reads-only", "kms_events_recorded").1
    );
    // The log buckets (seed 000). Object Lock is read as S3 answers it. moto 5.2
    // answers GetBucketVersioning with a `GetBucketVersioningResponse` root, which the
    // SDK refuses (real S3 sends `VersioningConfiguration`): the versioning and MFA
    // delete checks then say "not checked" and why, as for any unreadable bucket; the
    // unit tests in shared/src/review/trail.rs cover their pass and fail.
    assert_eq!(
        check("org-audit", "log_bucket_object_lock").0,
        CheckStatus::Pass,
        "{}",
        check("org-audit", "log_bucket_object_lock").1
    );
    assert_eq!(
        check("plain", "log_bucket_object_lock").0,
        CheckStatus::Fail,
        "{}",
        check("plain", "log_bucket_object_lock").1
    );
    for (trail, versioning) in [
        ("org-audit", CheckStatus::Pass),
        ("plain", CheckStatus::Fail),
    ] {
        for (name, want) in [
            ("log_bucket_versioning", versioning),
            ("log_bucket_mfa_delete", CheckStatus::Fail),
        ] {
            let (status, detail) = check(trail, name);
            assert!(
                status == want
                    || (status == CheckStatus::NotChecked
                        && detail.contains("GetBucketVersioning")),
                "{trail} {name}: {status:?} {detail}"
            );
        }
    }

    let baseline: Baseline =
        serde_json::from_slice(&get(&s3, BASELINE_KEY).await).expect("baseline parses");
    assert_eq!(baseline.updated_for, Some(month.to_string()));
    let app = &baseline.principals["arn:aws:iam::111122223333:role/app-server"];
    assert!(app.ips.contains("203.0.113.10") && app.prefixes.contains("203.0.113.0/24"));
    assert!(baseline.keys_last_used.contains_key(&used));
    assert_eq!(baseline.months[&month.to_string()].kms_calls, 21);

    let msgs = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("receive");
    assert_eq!(msgs.messages().len(), 1);
    let envelope: Value =
        serde_json::from_str(msgs.messages()[0].body().expect("body")).expect("json");
    let text = envelope["Message"].as_str().expect("message");
    assert!(
        text.contains(&format!("CRITICAL: {retiring} is pending deletion")),
        "{text}"
    );
    assert!(
        text.contains(&format!("s3://keytrail-review-trail/{prefix}/report.html")),
        "{text}"
    );
    assert!(
        envelope["Subject"]
            .as_str()
            .expect("subject")
            .contains(&month.to_string())
    );
}

/// Issue 16: the review reads the configuration file from S3 and lists what each
/// suppression silenced (here through the backfill from raw logs, which applies it
/// as the processor does); an invalid file fails the run naming file, line and field.
#[tokio::test]
async fn the_review_lists_suppressions_from_the_configuration_file() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let (s3, kms, ct, sns) = (
        s3_client(&sdk),
        kms_client(&sdk),
        cloudtrail_client(&sdk),
        sns_client(&sdk),
    );
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let at = t("2026-10-04T03:00:00Z");
    let key_arn = "arn:aws:kms:us-east-1:111122223333:key/1a2b3c4d-0000-4000-8000-000000000001";
    let records: Vec<Value> = (0..12)
        .map(|i| {
            let role = if i < 9 { "canary" } else { "app" };
            let err = Some(("InvalidCiphertextException", "bad"));
            decrypt_record(
                at + Duration::seconds(i),
                &format!("e-{i}"),
                role,
                "10.0.0.5",
                key_arn,
                err,
            )
        })
        .collect();
    put(&s3, &delivery_key(at, "a1"), gz_log(&records)).await;
    let reviewer = || {
        let config = ReviewConfig::from_lookup(|k| match k {
            "KEYTRAIL_LOG_BUCKET" => Some(BUCKET.into()),
            "KEYTRAIL_CONFIG" => Some(format!("s3://{BUCKET}/keytrail/config.toml")),
            "KEYTRAIL_CONFIG_TTL_SECONDS" => Some("0".into()),
            _ => None,
        })
        .expect("config");
        Reviewer::new(
            S3Store { client: s3.clone() },
            AwsReviewSources {
                kms: kms.clone(),
                cloudtrail: ct.clone(),
                s3: s3.clone(),
            },
            SnsNotifier {
                client: sns.clone(),
            },
            config,
        )
    };
    let month = keytrail::Month::parse("2026-10").expect("month");

    put(
        &s3,
        "keytrail/config.toml",
        b"[[suppressions]]\nreason = \"r\"\nsource_cidr = \"10.0.0.0/40\"\n".to_vec(),
    )
    .await;
    let err = reviewer()
        .review(month)
        .await
        .expect_err("bad file")
        .to_string();
    assert!(
        err.contains(
            "s3://keytrail-review-trail/keytrail/config.toml: line 1: suppressions[0].source_cidr"
        ),
        "{err}"
    );

    put(
        &s3,
        "keytrail/config.toml",
        b"[[suppressions]]\nid = \"canary\"\nreason = \"the canary decrypts garbage on purpose\"\nprincipal = \"arn:aws:iam::111122223333:role/canary\"\n\n[[suppressions]]\nid = \"stale\"\nreason = \"nothing matches this any more\"\nprincipal = \"arn:aws:iam::111122223333:role/gone\"\nexpires = \"2026-01-31\"\n".to_vec(),
    )
    .await;
    let (report, _) = reviewer().review(month).await.expect("review");
    let uses: Vec<(String, String, u64)> = report
        .suppressions
        .iter()
        .map(|s| (s.suppression.clone(), s.status.clone(), s.matches))
        .collect();
    assert_eq!(
        uses,
        vec![
            ("canary".into(), "active".into(), 9),
            ("stale".into(), "expired".into(), 0)
        ]
    );
    assert_eq!(report.suppressions[0].by_rule["decrypt_failures"], 9);
}

/// Issue 14 §4: who can use each key (the key policy and grants, read with
/// GetKeyPolicy and ListGrants) against who did. One key names a role in a grant
/// (used: matched), a role in the key policy (never used: can, but did not) and
/// delegates to the account (a role of the account used it with no statement or
/// grant naming it: via IAM); another key's GetKeyPolicy is refused: recorded as
/// unavailable, and the review goes on.
#[tokio::test]
async fn the_review_joins_key_policies_and_grants_with_the_month_s_use() {
    let moto = Moto::start();
    let proxy = keytrail_tests::FaultProxy::start(&moto.endpoint).await;
    let direct = moto.sdk_config().await;
    let through = proxy.sdk_config().await;
    let (s3, kms) = (s3_client(&direct), kms_client(&direct));
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let arn_of = |k: aws_sdk_kms::operation::create_key::CreateKeyOutput| {
        k.key_metadata()
            .and_then(|m| m.arn())
            .expect("arn")
            .to_owned()
    };
    let app_key = arn_of(kms.create_key().send().await.expect("key"));
    let refused_key = arn_of(kms.create_key().send().await.expect("key"));
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Reporting", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:role/reporting"},
         "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "KeyAdmins", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:role/key-admin"},
         "Action": ["kms:Create*", "kms:Put*", "kms:ScheduleKeyDeletion"], "Resource": "*"}
    ]});
    kms.put_key_policy()
        .key_id(&app_key)
        .policy_name("default")
        .policy(policy.to_string())
        .send()
        .await
        .expect("put key policy");
    kms.create_grant()
        .key_id(&app_key)
        .grantee_principal("arn:aws:iam::111122223333:role/app-server")
        .retiring_principal("arn:aws:iam::111122223333:role/deployer")
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .operations(aws_sdk_kms::types::GrantOperation::GenerateDataKey)
        .send()
        .await
        .expect("grant");

    let month = keytrail::Month::previous_of(Utc::now());
    let at = t(&format!("{month}-12T09:00:00Z"));
    let mut records: Vec<Value> = (0..3)
        .map(|i| {
            let at = at + Duration::seconds(i);
            decrypt_record(
                at,
                &format!("a{i}"),
                "app-server",
                "10.0.1.5",
                &app_key,
                None,
            )
        })
        .collect();
    for i in 0..2 {
        let at = at + Duration::minutes(5) + Duration::seconds(i);
        records.push(decrypt_record(
            at,
            &format!("e{i}"),
            "etl",
            "10.0.2.7",
            &app_key,
            None,
        ));
    }
    // A refused call is not a use: reporting stays "can, but did not".
    records.push(decrypt_record(
        at + Duration::minutes(9),
        "r0",
        "reporting",
        "10.0.3.9",
        &app_key,
        Some(("AccessDeniedException", "not authorized")),
    ));
    records.push(decrypt_record(
        at + Duration::minutes(10),
        "x0",
        "etl",
        "10.0.2.7",
        &refused_key,
        None,
    ));
    put(&s3, &delivery_key(at, "access"), gz_log(&records)).await;

    // GetKeyPolicy of the second key is refused (its body names the key, then the
    // policy name).
    proxy.inject(keytrail_tests::Fault {
        marker: format!("{refused_key}\",\"PolicyName\""),
        times: u32::MAX,
        status: 400,
        body: r#"{"__type":"AccessDeniedException","message":"not authorized to perform kms:GetKeyPolicy"}"#.into(),
    });
    let config = ReviewConfig::from_lookup(|k| match k {
        "KEYTRAIL_LOG_BUCKET" => Some(BUCKET.into()),
        _ => None,
    })
    .expect("config");
    let reviewer = Reviewer::new(
        S3Store {
            client: s3_client(&through),
        },
        AwsReviewSources {
            kms: kms_client(&through),
            cloudtrail: cloudtrail_client(&through),
            s3: s3_client(&through),
        },
        SnsNotifier {
            client: sns_client(&through),
        },
        config,
    );
    reviewer
        .handle(&json!({"detail-type": "Scheduled Event", "detail": {"month": month.to_string()}}))
        .await
        .expect("the review runs despite the refusal");
    assert_eq!(proxy.injected(), 1, "one GetKeyPolicy refused");
    assert_eq!(
        proxy.count("TrentService.ListGrants"),
        2,
        "grants read for both keys"
    );
    assert_eq!(proxy.count("TrentService.GetKeyPolicy"), 2);
    let prefix = format!("keytrail/reviews/{month}");
    let report: Report = serde_json::from_slice(&get(&s3, &format!("{prefix}/report.json")).await)
        .expect("report.json parses");
    let access = &report.key_access;
    assert!(access.checked);
    assert!(
        access.basis.contains("this month's logs only"),
        "{}",
        access.basis
    );

    let app = access
        .keys
        .iter()
        .find(|k| k.key == app_key)
        .expect("the app key");
    assert!(app.checked, "{:?}", app.notes);
    assert_eq!(app.iam_delegation, ["111122223333"]);
    assert_eq!(app.named, 2, "reporting (policy) and app-server (grant)");
    let can_not: Vec<(&str, &[String])> = app
        .can_but_did_not
        .iter()
        .map(|c| (c.principal.as_str(), c.via.as_slice()))
        .collect();
    assert_eq!(
        can_not,
        [(
            "arn:aws:iam::111122223333:role/reporting",
            &["statement \"Reporting\"".to_owned()][..]
        )]
    );
    let unnamed: Vec<(&str, u64, keytrail::Via, Option<&str>)> = app
        .did_without_naming
        .iter()
        .map(|d| (d.principal.as_str(), d.calls, d.via, d.statement.as_deref()))
        .collect();
    assert_eq!(
        unnamed,
        [(
            "arn:aws:iam::111122223333:role/etl",
            2,
            keytrail::Via::Iam,
            Some("statement \"Enable IAM User Permissions\"")
        )]
    );

    let refused = access
        .keys
        .iter()
        .find(|k| k.key == refused_key)
        .expect("the refused key");
    assert!(!refused.checked);
    assert!(
        refused.can_but_did_not.is_empty() && refused.did_without_naming.is_empty(),
        "{refused:?}"
    );
    assert!(
        refused
            .notes
            .iter()
            .any(|n| n == "GetKeyPolicy: AccessDeniedException"),
        "{:?}",
        refused.notes
    );
    let row = report
        .keys
        .iter()
        .find(|k| k.key == refused_key)
        .expect("inventory row");
    assert!(
        row.unavailable
            .iter()
            .any(|u| u == "GetKeyPolicy: AccessDeniedException"),
        "{:?}",
        row.unavailable
    );
    assert_eq!(
        (
            report.summary.can_but_did_not,
            report.summary.did_without_naming
        ),
        (1, 1)
    );

    let md = String::from_utf8(get(&s3, &format!("{prefix}/report.md")).await).expect("utf8");
    assert!(
        md.contains("## Who can use each key, against who did"),
        "{md}"
    );
    assert!(md.contains("| via IAM |"), "{md}");
    assert!(md.contains("role/reporting"), "{md}");
}
